//! Shutting a ring down: [`Ring::close`] and `Drop`.

use super::table::SlotState;
use super::Ring;
use crate::buf::IoBufMut;
use crate::error::Error;
use crate::sys::Errno;
use std::time::Duration;

impl<B: IoBufMut, T> Ring<B, T> {
    /// Closes the ring: refuses new requests, cancels queued ones, wakes every thread
    /// blocked in [`Ring::wait`], and waits until every request in flight has completed.
    /// Completions not yet reaped can still be collected with [`Ring::wait`].
    ///
    /// # Errors
    /// [`Error::WrongThread`] on a single-issuer ring from another thread (nothing is
    /// closed); [`Error::Sys`] if the engine fails while draining; the ring then keeps (leaks)
    /// the buffers of whatever may still be in flight rather than free them early.
    ///
    /// # Examples
    /// ```
    /// use aiolos::{EngineKind, Error, Fd, Op, Ring};
    /// let ring: Ring<Vec<u8>> = Ring::builder().engine(EngineKind::Threads).build()?;
    /// let file = Fd::from(std::fs::File::open("/dev/zero")?);
    /// ring.push(Op::read(&file, Vec::with_capacity(8), 0))?;
    /// ring.submit()?;
    /// ring.close()?; // waits for the read
    /// assert!(ring.push(Op::read(&file, Vec::new(), 0)).is_err()); // closed
    /// assert_eq!(ring.wait(0, 8, None)?.len(), 1); // still collectable
    /// assert!(matches!(ring.wait(1, 8, None), Err(Error::Closed)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "io_destroy")]
    pub fn close(&self) -> Result<(), Error> {
        if self.check_pid().is_err() {
            // A fork child shares the parent's io_uring queues: it must not cancel or wake
            // anything there. The kernel does not write into the child's copy of the
            // buffers, so there is nothing to wait for either.
            return Ok(());
        }
        self.check_thread()?;
        let mut st = self.lock();
        if !st.closed {
            st.closed = true;
            while let Some(index) = st.queued.pop_front() {
                st.finish(index, -i64::from(Errno::CANCELED.0));
            }
            // Ask the engine to cancel what it can (polls never finish on their own);
            // file I/O that cannot be cancelled is waited for below.
            for index in 0..st.slots.len() {
                let slot = &mut st.slots[index];
                if slot.state == SlotState::InFlight {
                    slot.cancel_requested = true;
                    let user_data = super::table::user_data(index as u32, slot.generation);
                    self.engine.cancel(index as u32, user_data);
                }
            }
        }
        // Get a reaper blocked in the engine out once: with the ring closed it waits only
        // for requests in flight, which complete on their own. (Waking it on every pass
        // made the two threads spin until they did: found by the loom model.)
        self.engine.wake();
        while st.in_flight > 0 {
            let (g, r) = self.turn(st, 1, Some(Duration::from_secs(1)));
            st = g;
            if let Err(Error::Sys(_, e)) = r {
                self.unlock(st);
                return Err(Error::Sys("draining the ring", e));
            }
        }
        self.unlock(st);
        Ok(())
    }
}

impl<B: IoBufMut, T> Drop for Ring<B, T> {
    fn drop(&mut self) {
        let drained = self.close().is_ok();
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if !drained && st.in_flight > 0 {
            // Never free memory the kernel may still write: leak the in-flight buffers.
            for slot in st.slots.iter_mut() {
                if slot.state == SlotState::InFlight {
                    std::mem::forget(slot.op.take());
                    std::mem::forget(std::mem::take(&mut slot.iovecs));
                }
            }
        }
    }
}
