//! Kernel AIO: `io_setup`, `io_submit`, `io_getevents`, `io_cancel`, `io_destroy`, with
//! the kernel's `iocb`, `io_event` and `aio_ring` layouts, and the completion ring read in
//! shared memory. [`raw`] has the same calls (and `io_pgetevents`) taking C's pointers
//! unchanged, for the drop-in `libaio.so.1`.
//!
//! No crate has these: `libc` has only `iocb`, and `rustix` no kernel AIO at all.
//!
//! The structures are the kernel's (`include/uapi/linux/aio_abi.h`): `iocb` is 64 bytes and
//! `io_event` 32 bytes on every ABI, whatever `_FILE_OFFSET_BITS` says.
//!
//! # References
//! `io_setup(2)`, `io_submit(2)`, `io_getevents(2)`, `io_cancel(2)`, `io_destroy(2)`.

pub mod raw;

use super::Errno;
use linux_raw_sys::general as nr;
use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// `IOCB_CMD_PREAD`: read into one buffer.
pub const IOCB_CMD_PREAD: u16 = 0;
/// `IOCB_CMD_PWRITE`: write from one buffer.
pub const IOCB_CMD_PWRITE: u16 = 1;
/// `IOCB_CMD_FSYNC`: `fsync` the file.
pub const IOCB_CMD_FSYNC: u16 = 2;
/// `IOCB_CMD_FDSYNC`: `fdatasync` the file.
pub const IOCB_CMD_FDSYNC: u16 = 3;
/// `IOCB_CMD_POLL`: wait for poll events on the descriptor (Linux 4.18).
pub const IOCB_CMD_POLL: u16 = 5;
/// `IOCB_CMD_NOOP`: do nothing.
pub const IOCB_CMD_NOOP: u16 = 6;
/// `IOCB_CMD_PREADV`: read into an `iovec` array.
pub const IOCB_CMD_PREADV: u16 = 7;
/// `IOCB_CMD_PWRITEV`: write from an `iovec` array.
pub const IOCB_CMD_PWRITEV: u16 = 8;

/// `IOCB_FLAG_RESFD`: signal the eventfd in `aio_resfd` when the request completes.
pub const IOCB_FLAG_RESFD: u32 = 1 << 0;
/// `IOCB_FLAG_IOPRIO`: `aio_reqprio` holds an I/O priority (`ioprio_set(2)` format).
pub const IOCB_FLAG_IOPRIO: u32 = 1 << 1;

/// `AIO_RING_MAGIC`: the magic number at the start of a kernel (or emulated) AIO ring.
pub const AIO_RING_MAGIC: u32 = 0xa10a_10a1;

/// The kernel's `struct iocb` (64 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Iocb {
    /// Returned unchanged in `io_event::data`.
    pub aio_data: u64,
    /// Set by the kernel to `KIOCB_KEY` on submit (little-endian layout).
    #[cfg(target_endian = "little")]
    pub aio_key: u32,
    /// Per-request `RWF_*` flags (`rustix::io::ReadWriteFlags`).
    #[cfg(target_endian = "little")]
    pub aio_rw_flags: i32,
    /// Per-request `RWF_*` flags (big-endian layout).
    #[cfg(target_endian = "big")]
    pub aio_rw_flags: i32,
    /// Set by the kernel on submit (big-endian layout).
    #[cfg(target_endian = "big")]
    pub aio_key: u32,
    /// One of the `IOCB_CMD_*` values.
    pub aio_lio_opcode: u16,
    /// I/O priority, when `IOCB_FLAG_IOPRIO` is set.
    pub aio_reqprio: i16,
    /// The file descriptor.
    pub aio_fildes: u32,
    /// Buffer address, or `iovec` array address for the vectored commands.
    pub aio_buf: u64,
    /// Buffer length, or `iovec` count for the vectored commands; poll events for POLL.
    pub aio_nbytes: u64,
    /// File offset.
    pub aio_offset: i64,
    /// Reserved: must be zero.
    pub aio_reserved2: u64,
    /// `IOCB_FLAG_*`.
    pub aio_flags: u32,
    /// The eventfd to signal when `IOCB_FLAG_RESFD` is set.
    pub aio_resfd: u32,
}

/// The kernel's `struct io_event` (32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoEvent {
    /// The `aio_data` of the request.
    pub data: u64,
    /// The user-space address of the submitted `iocb`.
    pub obj: u64,
    /// Result: bytes transferred, or a negated errno.
    pub res: i64,
    /// Secondary result (zero for file I/O).
    pub res2: i64,
}

/// The header of the completion ring the kernel maps at the context's address.
#[repr(C)]
#[derive(Debug)]
pub struct AioRingHeader {
    /// Kernel-internal ring id.
    pub id: u32,
    /// Number of `io_event` slots.
    pub nr: u32,
    /// Consumer index (written by user space or the kernel's `io_getevents`).
    pub head: u32,
    /// Producer index (written by the kernel).
    pub tail: u32,
    /// `AIO_RING_MAGIC`.
    pub magic: u32,
    /// Compatible feature bits (1).
    pub compat_features: u32,
    /// Incompatible feature bits (0).
    pub incompat_features: u32,
    /// Size of this header (32).
    pub header_length: u32,
}

const _: () = {
    assert!(size_of::<Iocb>() == 64);
    assert!(offset_of!(Iocb, aio_data) == 0);
    assert!(offset_of!(Iocb, aio_lio_opcode) == 16);
    assert!(offset_of!(Iocb, aio_reqprio) == 18);
    assert!(offset_of!(Iocb, aio_fildes) == 20);
    assert!(offset_of!(Iocb, aio_buf) == 24);
    assert!(offset_of!(Iocb, aio_nbytes) == 32);
    assert!(offset_of!(Iocb, aio_offset) == 40);
    assert!(offset_of!(Iocb, aio_reserved2) == 48);
    assert!(offset_of!(Iocb, aio_flags) == 56);
    assert!(offset_of!(Iocb, aio_resfd) == 60);
    assert!(size_of::<IoEvent>() == 32);
    assert!(offset_of!(IoEvent, obj) == 8);
    assert!(offset_of!(IoEvent, res) == 16);
    assert!(offset_of!(IoEvent, res2) == 24);
    assert!(size_of::<AioRingHeader>() == 32);
    assert!(offset_of!(AioRingHeader, head) == 8);
    assert!(offset_of!(AioRingHeader, tail) == 12);
    assert!(offset_of!(AioRingHeader, magic) == 16);
};
#[cfg(target_endian = "little")]
const _: () = {
    assert!(offset_of!(Iocb, aio_key) == 8);
    assert!(offset_of!(Iocb, aio_rw_flags) == 12);
};

/// A kernel AIO context id (`aio_context_t`): the user-space address of its ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AioContext(pub u64);

fn ret(r: libc::c_long) -> Result<libc::c_long, Errno> {
    super::cvt(r)
}

/// `io_setup(2)`: creates a context able to hold `nr_events` requests.
///
/// # Errors
/// `EAGAIN` when `nr_events` exceeds what is left of `fs.aio-max-nr`, `EINVAL` for 0 or a
/// huge count, `ENOSYS` without kernel AIO.
///
/// # References
/// `io_setup(2)`.
pub fn io_setup(nr_events: u32) -> Result<AioContext, Errno> {
    let mut ctx: u64 = 0;
    // SAFETY: io_setup writes one aio_context_t (u64) to the valid pointer we pass; the
    // context it creates is owned by the caller, which must io_destroy it.
    ret(unsafe {
        libc::syscall(
            nr::__NR_io_setup as libc::c_long,
            nr_events as libc::c_long,
            &mut ctx as *mut u64,
        )
    })?;
    Ok(AioContext(ctx))
}

/// `io_destroy(2)`: cancels what it can, waits for every in-flight request, wakes every
/// thread blocked in `io_getevents` on the context and frees it.
///
/// # Errors
/// `EINVAL` if the context is not valid (already destroyed, or inherited through `fork`).
///
/// # References
/// `io_destroy(2)`.
pub fn io_destroy(ctx: AioContext) -> Result<(), Errno> {
    // SAFETY: io_destroy takes the context id by value; the kernel validates it.
    ret(unsafe { libc::syscall(nr::__NR_io_destroy as libc::c_long, ctx.0) })?;
    Ok(())
}

/// `io_submit(2)`: queues the requests; returns how many the kernel accepted (possibly
/// fewer than `iocbs.len()`).
///
/// # Safety
/// Every pointer in `iocbs` must point to a valid [`Iocb`] for the duration of the call, and
/// every buffer or `iovec` array an iocb names must stay valid (and, for reads, unaliased)
/// until the request's completion has been reaped. The iocb's own memory must stay valid
/// until then as well if it may be passed to [`io_cancel`].
///
/// # Errors
/// The kernel's errno when it accepted none: `EAGAIN` (no room), `EBADF`, `EINVAL`, `EFAULT`.
///
/// # References
/// `io_submit(2)`.
pub unsafe fn io_submit(ctx: AioContext, iocbs: &[*mut Iocb]) -> Result<usize, Errno> {
    if iocbs.is_empty() {
        return Ok(0);
    }
    // SAFETY: the caller guarantees that each iocb pointer and what it names are valid;
    // the pointer array itself is a live slice of iocbs.len() entries.
    let n = ret(unsafe {
        libc::syscall(
            nr::__NR_io_submit as libc::c_long,
            ctx.0,
            iocbs.len() as libc::c_long,
            iocbs.as_ptr(),
        )
    })?;
    Ok(n as usize)
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

/// `io_getevents(2)`: waits for at least `min_nr` completions (up to `events.len()`), or
/// until `timeout` passes (`None` waits forever). Returns how many were written.
///
/// # Errors
/// `EINTR` when a signal interrupts the wait, `EINVAL` for a bad context (also when another
/// thread destroys the context while this one waits).
///
/// # References
/// `io_getevents(2)`.
pub fn io_getevents(
    ctx: AioContext,
    min_nr: usize,
    events: &mut [IoEvent],
    timeout: Option<Duration>,
) -> Result<usize, Errno> {
    let ts = timeout.map(timespec);
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: events is a writable slice of events.len() io_event structs; ts_ptr is null
    // or points to a timespec that lives until the call returns.
    let n = ret(unsafe {
        libc::syscall(
            nr::__NR_io_getevents as libc::c_long,
            ctx.0,
            min_nr.min(events.len()) as libc::c_long,
            events.len() as libc::c_long,
            events.as_mut_ptr(),
            ts_ptr,
        )
    })?;
    Ok(n as usize)
}

/// `io_cancel(2)`: asks the kernel to cancel a request.
///
/// Regular-file reads and writes cannot be cancelled (`EINVAL`); a poll request answers
/// `EINPROGRESS` and then completes once through the ring.
///
/// # Safety
/// `iocb` must be the address that was passed to [`io_submit`] for a request that may still
/// be in flight, and must be valid for reads.
///
/// # Errors
/// `EINVAL` (not cancellable, or not found), `EINPROGRESS` (cancellation started; the
/// completion will arrive through the ring), `EAGAIN`.
///
/// # References
/// `io_cancel(2)`.
pub unsafe fn io_cancel(
    ctx: AioContext,
    iocb: *mut Iocb,
    result: &mut IoEvent,
) -> Result<(), Errno> {
    // SAFETY: the caller guarantees iocb; result is a valid writable io_event.
    ret(unsafe {
        libc::syscall(
            nr::__NR_io_cancel as libc::c_long,
            ctx.0,
            iocb,
            result as *mut IoEvent,
        )
    })?;
    Ok(())
}

/// Whether the context's completion ring holds events, read from the ring's header in
/// shared memory without a system call. Returns `false` if the header is not a valid ring.
///
/// # Safety
/// `ctx` must be a live context created by [`io_setup`] in this process (its id is the
/// address of the ring mapping, which stays mapped until [`io_destroy`]).
///
/// # References
/// `io_getevents(2)`; `struct aio_ring` in the kernel's `fs/aio.c`.
pub unsafe fn ring_has_events(ctx: AioContext) -> bool {
    let hdr = ctx.0 as *const AioRingHeader;
    // SAFETY: the caller guarantees that the ring is mapped at ctx; head, tail and magic
    // are naturally aligned u32 fields that the kernel updates concurrently, so they are
    // read through atomics.
    unsafe {
        let magic = &*(std::ptr::addr_of!((*hdr).magic) as *const AtomicU32);
        if magic.load(Ordering::Relaxed) != AIO_RING_MAGIC {
            return false;
        }
        let head = &*(std::ptr::addr_of!((*hdr).head) as *const AtomicU32);
        let tail = &*(std::ptr::addr_of!((*hdr).tail) as *const AtomicU32);
        head.load(Ordering::Acquire) != tail.load(Ordering::Acquire)
    }
}

/// Copies completed events out of the context's ring in shared memory, without a system
/// call, and advances the ring's head. Returns how many were copied.
///
/// # Safety
/// `ctx` must be a live context of this process, and no other thread may consume from
/// the same ring (user space or `io_getevents`) during the call.
///
/// # References
/// `io_getevents(2)`; `struct aio_ring` in the kernel's `fs/aio.c`.
pub unsafe fn ring_reap(ctx: AioContext, out: &mut [IoEvent]) -> usize {
    let hdr = ctx.0 as *mut AioRingHeader;
    // SAFETY: the caller guarantees the ring is mapped at ctx and we are its only consumer;
    // the kernel writes an event before advancing tail, so after an acquire load of tail
    // every event from head to tail is complete, and head is ours to advance.
    unsafe {
        let magic = &*(std::ptr::addr_of!((*hdr).magic) as *const AtomicU32);
        if magic.load(Ordering::Relaxed) != AIO_RING_MAGIC {
            return 0;
        }
        let nr = std::ptr::addr_of!((*hdr).nr).read_volatile();
        let head_a = &*(std::ptr::addr_of!((*hdr).head) as *const AtomicU32);
        let tail_a = &*(std::ptr::addr_of!((*hdr).tail) as *const AtomicU32);
        let mut head = head_a.load(Ordering::Relaxed);
        let tail = tail_a.load(Ordering::Acquire);
        if nr == 0 || head >= nr || tail >= nr {
            return 0;
        }
        let events = (hdr as *mut u8).add(size_of::<AioRingHeader>()) as *const IoEvent;
        let mut n = 0;
        while head != tail && n < out.len() {
            out[n] = events.add(head as usize).read_volatile();
            head = (head + 1) % nr;
            n += 1;
        }
        if n > 0 {
            head_a.store(head, Ordering::Release);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring laid out as the kernel lays it out, in ordinary memory.
    fn fake_ring(nr: u32, head: u32, tail: u32) -> Vec<u64> {
        let words = (size_of::<AioRingHeader>() + nr as usize * size_of::<IoEvent>()) / 8;
        let mut mem = vec![0u64; words];
        let hdr = mem.as_mut_ptr() as *mut AioRingHeader;
        // SAFETY: mem is 8-byte aligned and large enough for the header and nr events.
        unsafe {
            (*hdr).nr = nr;
            (*hdr).head = head;
            (*hdr).tail = tail;
            (*hdr).magic = AIO_RING_MAGIC;
            (*hdr).header_length = size_of::<AioRingHeader>() as u32;
            let events = (hdr as *mut u8).add(size_of::<AioRingHeader>()) as *mut IoEvent;
            for i in 0..nr {
                events.add(i as usize).write(IoEvent {
                    data: u64::from(i),
                    obj: 0,
                    res: i64::from(i) * 10,
                    res2: 0,
                });
            }
        }
        mem
    }

    fn head_of(mem: &[u64]) -> u32 {
        // SAFETY: mem holds a fake ring header.
        unsafe { (*(mem.as_ptr() as *const AioRingHeader)).head }
    }

    #[test]
    fn reaping_the_ring_in_memory_wraps_around_and_advances_head() {
        let mut mem = fake_ring(8, 6, 2);
        let ctx = AioContext(mem.as_mut_ptr() as u64);
        let mut out = [IoEvent::default(); 8];
        // SAFETY: ctx points at a fake ring that only this thread touches.
        let n = unsafe { ring_reap(ctx, &mut out[..3]) };
        assert_eq!(n, 3);
        assert_eq!(
            out[..3].iter().map(|e| e.data).collect::<Vec<_>>(),
            [6, 7, 0]
        );
        assert_eq!(head_of(&mem), 1);
        // SAFETY: as above.
        assert!(unsafe { ring_has_events(ctx) });
        // SAFETY: as above.
        let n = unsafe { ring_reap(ctx, &mut out) };
        assert_eq!(n, 1);
        assert_eq!(out[0].data, 1);
        assert_eq!(out[0].res, 10);
        // SAFETY: as above.
        assert!(!unsafe { ring_has_events(ctx) });
    }

    #[test]
    fn a_ring_without_the_magic_or_with_wild_indices_yields_nothing() {
        let mut mem = fake_ring(4, 0, 2);
        let ctx = AioContext(mem.as_mut_ptr() as u64);
        let mut out = [IoEvent::default(); 4];
        // SAFETY: the fake ring's header is valid memory; we corrupt fields on purpose.
        unsafe {
            (*(mem.as_mut_ptr() as *mut AioRingHeader)).magic = 0;
            assert_eq!(ring_reap(ctx, &mut out), 0);
            (*(mem.as_mut_ptr() as *mut AioRingHeader)).magic = AIO_RING_MAGIC;
            (*(mem.as_mut_ptr() as *mut AioRingHeader)).tail = 99;
            assert_eq!(ring_reap(ctx, &mut out), 0);
        }
    }
}
