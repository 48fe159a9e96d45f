//! `O_DIRECT` reads and writes of the emulated engines, on kernel AIO.
//!
//! Kernel AIO is asynchronous for `O_DIRECT`: such a request is in the device when
//! `io_submit` returns and its completion is written to the ring from the device's
//! interrupt, which wakes a thread sleeping for it directly. Sent to the engine instead, it
//! crossed to the engine thread and its completion crossed back (two thread wake-ups per
//! request, see the crate's README), and on `threads` it held a worker for its whole
//! length. So an emulated context sends its `O_DIRECT` reads and writes to a kernel AIO
//! context of its own, made at its first such request (the answers are then the kernel's
//! by construction), and the rest to the engine as before.
//!
//! - **Requests.** Each goes to the kernel as a copy of the program's iocb (checked first,
//!   in the kernel's order, as every request is) whose `aio_data` names a slot that keeps
//!   the program's iocb address, `aio_data` and eventfd, and whose eventfd is the context's
//!   own ([`Direct::efd`]). Consecutive such requests of one `io_submit` go to the kernel
//!   in one `io_submit`.
//! - **Completions** reach the context's ring through [`Ctx::harvest`], which copies them
//!   out of the kernel context's ring in shared memory (one consumer at a time) and
//!   publishes them as the engine's are. Whoever is waiting harvests: a thread in
//!   `io_getevents` sleeps in `ppoll` on the context's eventfd, which the kernel signals
//!   from the interrupt (one wake-up, as on kernel AIO), and on its own eventfd, which
//!   the engine's publications signal. A thread of the library's own (`aiolos-kaio`)
//!   harvests too, woken through epoll by every context's eventfd, for programs that read
//!   the ring themselves or wait on their own eventfd and never call `io_getevents`.
//! - **Limits.** The kernel context is made for the program's `nr`, so it holds whatever
//!   the emulated context accepts; it counts against `fs.aio-max-nr` like any context.
//!   Where it cannot be made (`EAGAIN` over `fs.aio-max-nr`, kernel AIO denied, no
//!   descriptor for its eventfd), the context's `O_DIRECT` requests go to the engine.
//!   `AIOLOS_DIRECT=engine` sends them there always.
//!
//! # Safety
//!
//! The kernel context's ring is read only while `Ctx::direct`'s lock is held and the
//! state names the context: `io_destroy` runs only after the state has been replaced under
//! that lock.
#![allow(unsafe_code)]

use super::shared::ResFd;
use super::{lock, Ctx, Mask};
use crate::abi::{IoEvent, Iocb};
use aiolos::sys::aio::{self as kaio, AioContext};
use aiolos::sys::Errno;
use rustix::event::epoll;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Whether `O_DIRECT` requests go to kernel AIO (`AIOLOS_DIRECT` is not `engine`).
pub(super) fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    !cfg!(miri)
        && *ON.get_or_init(|| std::env::var_os("AIOLOS_DIRECT").is_none_or(|v| v != "engine"))
}

/// A context's kernel side.
pub(super) enum State {
    /// No `O_DIRECT` request yet.
    Untried,
    /// It could not be set up: `O_DIRECT` goes to the engine.
    Off,
    On(Direct),
}

/// What a request sent to the kernel keeps of the program's iocb.
struct Slot {
    iocb: u64,
    data: u64,
    resfd: Option<ResFd>,
}

pub(super) struct Direct {
    ctx: AioContext,
    /// Every request's `IOCB_FLAG_RESFD` eventfd.
    efd: Arc<OwnedFd>,
    /// The harvesting thread's epoll instance, and its name for this context.
    epoll: Arc<OwnedFd>,
    token: u64,
    /// Threads sleeping in [`Ctx::sleep_direct`]: while there are any, the harvesting
    /// thread is not woken for this context (they harvest).
    sleeping: u32,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
}

impl Direct {
    fn setup(ctx: &Arc<Ctx>) -> Result<Direct, Errno> {
        let nr = ctx.sizes.max_reqs;
        let efd = Arc::new(crate::sys::eventfd()?);
        let kctx = kaio::io_setup(nr)?;
        let (epoll, token) = match harvester::register(ctx, &efd) {
            Ok(r) => r,
            Err(e) => {
                let _ = kaio::io_destroy(kctx);
                return Err(e);
            }
        };
        Ok(Direct {
            ctx: kctx,
            efd,
            epoll,
            token,
            sleeping: 0,
            slots: Vec::new(),
            free: Vec::new(),
        })
    }

    /// Has the harvesting thread woken by this context's eventfd (`true`), or not. Armed
    /// again while the eventfd is readable, it is woken at once.
    fn arm(&self, on: bool) {
        let flags = if on {
            epoll::EventFlags::IN | epoll::EventFlags::ET
        } else {
            epoll::EventFlags::empty()
        };
        let _ = epoll::modify(
            &*self.epoll,
            &*self.efd,
            epoll::EventData::new_u64(self.token),
            flags,
        );
    }

    fn put(&mut self, slot: Slot) -> u64 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                u64::from(i)
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u64
            }
        }
    }

    fn take(&mut self, i: u64) -> Option<Slot> {
        let s = self.slots.get_mut(usize::try_from(i).ok()?)?.take();
        if s.is_some() {
            self.free.push(i as u32);
        }
        s
    }
}

/// Requests of one `io_submit` on their way to the kernel: copies of the program's iocbs.
#[derive(Default)]
pub(super) struct Batch {
    cbs: Vec<Iocb>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.cbs.len()
    }
}

impl Ctx {
    /// Adds a checked `O_DIRECT` read or write to `batch` for the kernel (its slot in the
    /// context already taken), setting the kernel context up at the first. Returns `false`
    /// when the context has no kernel side: the request is then the engine's.
    pub(super) fn direct_add(self: &Arc<Self>, iocb: usize, cb: &Iocb, batch: &mut Batch) -> bool {
        let mut st = lock(&self.direct);
        if matches!(*st, State::Untried) {
            *st = match Direct::setup(self) {
                Ok(d) => State::On(d),
                Err(_) => State::Off,
            };
        }
        let State::On(d) = &mut *st else {
            return false;
        };
        let resfd =
            (cb.aio_flags & kaio::IOCB_FLAG_RESFD != 0).then(|| ResFd::take(cb.aio_resfd as RawFd));
        let token = d.put(Slot {
            iocb: iocb as u64,
            data: cb.aio_data,
            resfd,
        });
        let mut copy = *cb;
        copy.aio_data = token;
        copy.aio_key = 0;
        copy.aio_flags |= kaio::IOCB_FLAG_RESFD;
        copy.aio_resfd = d.efd.as_raw_fd() as u32;
        batch.cbs.push(copy);
        true
    }

    /// Sends `batch` to the kernel. Returns how many it took; the rest are given back
    /// (their slots freed), and the kernel's error is returned if it took none.
    pub(super) fn direct_flush(&self, batch: &mut Batch) -> Result<usize, Errno> {
        let n = batch.cbs.len();
        if n == 0 {
            return Ok(0);
        }
        let kctx = match &*lock(&self.direct) {
            State::On(d) => d.ctx,
            // Not reached: the kernel side goes only when nothing is in flight, and the
            // batched requests hold their slots.
            _ => {
                batch.cbs.clear();
                for _ in 0..n {
                    self.unreserve();
                }
                return Err(Errno::INVAL);
            }
        };
        // Counted before the kernel has them: a completion may be harvested before
        // io_submit returns, and a harvester that saw none in the kernel would skip it.
        self.in_kernel.fetch_add(n as u32, Ordering::SeqCst);
        let ptrs: Vec<*mut Iocb> = batch.cbs.iter_mut().map(std::ptr::from_mut).collect();
        // The copies live in `batch` until this returns: the kernel reads them and writes
        // their aio_key inside io_submit, never afterwards.
        // SAFETY: the copies are live (above); their buffers are the program's, under
        // io_submit's contract; kctx is live while this context has requests in flight.
        let r = unsafe { kaio::io_submit(kctx, &ptrs) };
        let took = *r.as_ref().unwrap_or(&0);
        if took < n {
            self.in_kernel
                .fetch_sub((n - took) as u32, Ordering::SeqCst);
            let mut st = lock(&self.direct);
            if let State::On(d) = &mut *st {
                for cb in &batch.cbs[took..] {
                    d.take(cb.aio_data);
                }
            }
            drop(st);
            for _ in took..n {
                self.unreserve();
            }
        }
        batch.cbs.clear();
        r
    }

    /// Moves the kernel context's completions to the context's ring. Returns how many.
    pub(super) fn harvest(&self) -> usize {
        if self.in_kernel.load(Ordering::SeqCst) == 0 {
            return 0;
        }
        let mut st = lock(&self.direct);
        let State::On(d) = &mut *st else {
            return 0;
        };
        let mut evs = [IoEvent::default(); 64];
        let mut total = 0;
        loop {
            // SAFETY: d.ctx is live (io_destroy runs only after the state has been replaced
            // under this lock); holding the lock makes this the ring's only consumer.
            let n = unsafe { kaio::ring_reap(d.ctx, &mut evs) };
            if n == 0 {
                break;
            }
            let slots: Vec<(Slot, i64)> = evs[..n]
                .iter()
                .filter_map(|ev| Some((d.take(ev.data)?, ev.res)))
                .collect();
            let done: Vec<_> = slots
                .iter()
                .map(|(s, res)| (s.data, s.iocb, *res, s.resfd.as_ref().map(ResFd::raw)))
                .collect();
            self.publish_many(&done);
            self.in_kernel.fetch_sub(n as u32, Ordering::SeqCst);
            total += n;
        }
        total
    }

    /// Whether requests of this context are in the kernel.
    pub(super) fn in_kernel(&self) -> bool {
        self.in_kernel.load(Ordering::SeqCst) > 0
    }

    /// `io_getevents`' sleep while requests are in the kernel: until the kernel signals the
    /// context's eventfd, the engine publishes (the thread's eventfd), `timeout`, or a
    /// signal handler runs (`EINTR`), with `mask` in effect while it sleeps.
    ///
    /// While a thread sleeps here the harvesting thread is not woken for this context: the
    /// sleeper harvests when it wakes (the caller's next look), and the last sleeper to
    /// leave arms the harvesting thread again, which wakes it at once if a completion came
    /// after the sleeper's wake-up. (Waking both for every completion cost a tenth of the
    /// IOPS at one request in flight.)
    pub(super) fn sleep_direct(&self, timeout: Option<Duration>, mask: Mask) -> Result<(), Errno> {
        let efd = match &mut *lock(&self.direct) {
            State::On(d) => {
                d.sleeping += 1;
                if d.sleeping == 1 {
                    d.arm(false);
                }
                Arc::clone(&d.efd)
            }
            _ => return Ok(()),
        };
        let r = self.sleep_on(&efd, timeout, mask);
        if let State::On(d) = &mut *lock(&self.direct) {
            d.sleeping -= 1;
            if d.sleeping == 0 {
                d.arm(true);
            }
        }
        r
    }

    fn sleep_on(&self, efd: &OwnedFd, timeout: Option<Duration>, mask: Mask) -> Result<(), Errno> {
        let wake = super::wake_fd();
        if let Some(w) = wake {
            lock(&self.masked).push(w);
        }
        // Registered, then a last look: a publication after it signals `wake`, a kernel
        // completion after the harvest signals `efd`.
        self.harvest();
        let r = if self.ring.pending() > 0 || self.destroyed() {
            Ok(0)
        } else {
            let m = match mask {
                Mask::None => None,
                Mask::Thread(m) | Mask::Call(m) => Some(m),
            };
            match wake {
                Some(w) => crate::sigmask::ppoll_fds(&[efd.as_raw_fd(), w], timeout, m),
                // No descriptor to spare for the thread: the engine's publications are
                // noticed within a millisecond.
                None => {
                    let t = timeout.map_or(LOOK_AGAIN, |t| t.min(LOOK_AGAIN));
                    crate::sigmask::ppoll_fds(&[efd.as_raw_fd()], Some(t), m)
                }
            }
        };
        if let Some(w) = wake {
            lock(&self.masked).retain(|&x| x != w);
        }
        match r {
            Err(Errno::INTR) => Err(Errno::INTR),
            Ok(ready) => {
                if ready & 1 != 0 {
                    crate::sys::eventfd_drain(efd.as_fd());
                }
                if let (true, Some(w)) = (ready & 2 != 0, wake) {
                    if let Ok(fd) = crate::fds::borrow(w) {
                        crate::sys::eventfd_drain(fd);
                    }
                }
                Ok(())
            }
            Err(_) => Ok(()),
        }
    }

    /// At `io_destroy`, once nothing is in flight: the kernel context goes.
    pub(super) fn direct_teardown(&self) {
        let old = std::mem::replace(&mut *lock(&self.direct), State::Off);
        if let State::On(d) = old {
            harvester::unregister(d.token, &d.efd);
            let _ = kaio::io_destroy(d.ctx);
        }
    }
}

/// The longest sleep of a thread without an eventfd of its own.
const LOOK_AGAIN: Duration = Duration::from_millis(1);

/// The thread that harvests every context's kernel completions as they come.
mod harvester {
    use super::*;
    use crate::forklocal::ForkLocal;

    struct Harvester {
        epoll: Option<Arc<OwnedFd>>,
        ctxs: HashMap<u64, Weak<Ctx>>,
        next: u64,
    }

    /// A fork child starts with none ([`ForkLocal`]): the parent's thread does not exist
    /// there, nor its contexts.
    static HARVESTER: ForkLocal<Mutex<Option<Harvester>>> = ForkLocal::new(|| Mutex::new(None));

    /// Has the thread harvest `ctx` whenever `efd` is signalled (starting the thread at
    /// the first context). Returns its epoll instance and the context's token.
    pub fn register(ctx: &Arc<Ctx>, efd: &OwnedFd) -> Result<(Arc<OwnedFd>, u64), Errno> {
        let mut h = lock(HARVESTER.get());
        if h.is_none() {
            let ep = Arc::new(epoll::create(epoll::CreateFlags::CLOEXEC)?);
            let thread_ep = Arc::clone(&ep);
            std::thread::Builder::new()
                .name("aiolos-kaio".into())
                .spawn(move || run(&thread_ep))
                .map_err(|_| Errno::AGAIN)?;
            *h = Some(Harvester {
                epoll: Some(ep),
                ctxs: HashMap::new(),
                next: 0,
            });
        }
        let h = h.as_mut().expect("set up above");
        let token = h.next;
        let ep = h.epoll.as_ref().expect("set up above");
        epoll::add(
            &**ep,
            efd,
            epoll::EventData::new_u64(token),
            epoll::EventFlags::IN | epoll::EventFlags::ET,
        )?;
        h.next += 1;
        h.ctxs.insert(token, Arc::downgrade(ctx));
        Ok((Arc::clone(ep), token))
    }

    pub fn unregister(token: u64, efd: &OwnedFd) {
        let Some(h) = HARVESTER.peek() else {
            return;
        };
        if let Some(h) = lock(h).as_mut() {
            if h.ctxs.remove(&token).is_some() {
                if let Some(ep) = &h.epoll {
                    let _ = epoll::delete(&**ep, efd);
                }
            }
        }
    }

    fn run(ep: &OwnedFd) {
        crate::sys::block_signals();
        let mut events = [epoll::Event {
            flags: epoll::EventFlags::empty(),
            data: epoll::EventData::new_u64(0),
        }; 32];
        loop {
            let n = match epoll::wait(ep, &mut events[..], None) {
                Ok(n) => n,
                Err(_) => continue,
            };
            for ev in &events[..n] {
                let ctx = lock(HARVESTER.get())
                    .as_ref()
                    .and_then(|h| h.ctxs.get(&ev.data.u64()).and_then(Weak::upgrade));
                if let Some(ctx) = ctx {
                    ctx.harvest();
                }
            }
        }
    }
}
