//! The exported functions called as C calls them, on the `threads` engine (which the unit
//! tests configure): return conventions, `errno` left alone, NULL pointers, and
//! `io_queue_run`'s callbacks.

use super::*;
use crate::abi::Iocb;
use crate::test_support::ptr_array;
use aiolos::sys::aio::IOCB_CMD_NOOP;
use std::os::fd::AsRawFd;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicU64, Ordering};

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn set_errno(v: c_int) {
    // SAFETY: __errno_location is the calling thread's errno slot.
    unsafe { *libc::__errno_location() = v };
}

fn nops(fd: i32, n: u64, data: impl Fn(u64) -> u64) -> Vec<Iocb> {
    (0..n)
        .map(|i| Iocb {
            aio_lio_opcode: IOCB_CMD_NOOP,
            aio_fildes: fd as u32,
            aio_data: data(i),
            ..Iocb::default()
        })
        .collect()
}

#[test]
fn setup_submit_getevents_and_destroy_round_trip_without_touching_errno() {
    let (r, _w) = std::io::pipe().unwrap();
    let mut ctx: IoContext = null_mut();
    set_errno(4321);
    // SAFETY: ctx is a writable io_context_t holding NULL.
    assert_eq!(unsafe { io_setup(8, &mut ctx) }, 0);
    assert!(!ctx.is_null());
    let mut cbs = nops(r.as_raw_fd(), 5, |i| 40 + i);
    let mut ptrs = ptr_array(&mut cbs);
    // SAFETY: the iocbs outlive their completions (reaped below).
    assert_eq!(unsafe { io_submit(ctx, 5, ptrs.as_mut_ptr()) }, 5);
    let mut evs = [IoEvent::default(); 8];
    // SAFETY: evs has room for 8 events; NULL timeout waits.
    let n = unsafe { aiolos_io_getevents_0_4(ctx, 5, 8, evs.as_mut_ptr(), null_mut()) };
    assert_eq!(n, 5);
    let mut data: Vec<u64> = evs[..5].iter().map(|e| e.data).collect();
    data.sort();
    assert_eq!(data, vec![40, 41, 42, 43, 44]);
    // SAFETY: ctx is ours.
    assert_eq!(unsafe { io_destroy(ctx) }, 0);
    assert_eq!(errno(), 4321);
}

#[test]
fn setup_refuses_null_a_zero_size_and_a_used_context_pointer() {
    set_errno(0);
    // SAFETY: NULL is refused before anything is written.
    assert_eq!(unsafe { io_setup(4, null_mut()) }, -libc::EFAULT);
    let mut ctx: IoContext = null_mut();
    // SAFETY: ctx is a writable io_context_t.
    assert_eq!(unsafe { io_setup(0, &mut ctx) }, -libc::EINVAL);
    // SAFETY: as above.
    assert_eq!(unsafe { io_setup(-3, &mut ctx) }, -libc::EINVAL);
    let mut used: IoContext = std::ptr::without_provenance_mut(0x5000);
    // SAFETY: as above.
    assert_eq!(unsafe { io_setup(4, &mut used) }, -libc::EINVAL);
    assert_eq!(used as usize, 0x5000, "left as it was");
    assert_eq!(errno(), 0);
}

#[test]
fn zero_timeout_calls_return_at_once_and_bad_pointers_are_efault() {
    let mut ctx: IoContext = null_mut();
    // SAFETY: ctx holds NULL.
    assert_eq!(unsafe { io_setup(2, &mut ctx) }, 0);
    let mut zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut evs = [IoEvent::default(); 2];
    // SAFETY: every pointer is valid or NULL (which the library checks).
    unsafe {
        assert_eq!(
            aiolos_io_getevents_0_4(ctx, 0, 2, evs.as_mut_ptr(), &mut zero),
            0
        );
        assert_eq!(aiolos_io_getevents_0_1(ctx, 2, evs.as_mut_ptr(), &zero), 0);
        assert_eq!(aiolos_io_queue_wait_0_4(ctx, &mut zero), 0);
        assert_eq!(aiolos_io_queue_wait_0_1(ctx, &zero), 0);
        assert_eq!(
            io_pgetevents(ctx, 0, 2, evs.as_mut_ptr(), &mut zero, null_mut()),
            0
        );
        let wild_mask: *mut Sigset = std::ptr::without_provenance_mut(8);
        assert_eq!(
            io_pgetevents(ctx, 0, 2, evs.as_mut_ptr(), &mut zero, wild_mask),
            -libc::EFAULT
        );
        // No event to store: the kernel never looks at the event array.
        assert_eq!(aiolos_io_getevents_0_4(ctx, 0, 2, null_mut(), &mut zero), 0);
        assert_eq!(io_submit(ctx, 1, null_mut()), -libc::EFAULT);
        assert_eq!(io_submit(ctx, -1, null_mut()), -libc::EINVAL);
        let mut evt = IoEvent::default();
        assert_eq!(
            aiolos_io_cancel_0_4(ctx, null_mut(), &mut evt),
            -libc::EFAULT
        );
        let mut stranger = Iocb::default();
        assert_eq!(aiolos_io_cancel_0_1(ctx, &mut stranger), -libc::EINVAL);
        assert_eq!(io_destroy(ctx), 0);
    }
}

static CALLED: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" fn count_call(_ctx: IoContext, iocb: *mut Iocb, res: c_long, res2: c_long) {
    assert!(!iocb.is_null());
    assert_eq!((res, res2), (0, 0));
    CALLED.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn queue_run_calls_each_completions_callback_once() {
    let (r, _w) = std::io::pipe().unwrap();
    let mut ctx: IoContext = std::ptr::without_provenance_mut(0x1234);
    // SAFETY: io_queue_init stores NULL first, so the stale value does not matter.
    assert_eq!(unsafe { io_queue_init(4, &mut ctx) }, 0);
    let callback: unsafe extern "C" fn(IoContext, *mut Iocb, c_long, c_long) = count_call;
    // io_set_callback: the function's address in aio_data (a C cast, which exposes it).
    let addr = callback as usize as u64;
    let mut cbs = nops(r.as_raw_fd(), 3, |_| addr);
    cbs.extend(nops(r.as_raw_fd(), 1, |_| 0));
    let mut ptrs = ptr_array(&mut cbs);
    // SAFETY: the iocbs outlive their completions.
    assert_eq!(unsafe { io_submit(ctx, 4, ptrs.as_mut_ptr()) }, 4);
    // Wait until the completion thread has put all four into the ring (tail, at offset 12
    // of the ring io_context_t points to, reaches 4), so one io_queue_run finds them all.
    let ring: *const u8 = std::ptr::with_exposed_provenance(ctx as usize);
    // SAFETY: tail is an aligned u32 of the live context's ring header.
    let tail = unsafe { &*ring.add(12).cast::<std::sync::atomic::AtomicU32>() };
    let published = (0..1000).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(1));
        tail.load(Ordering::Acquire) == 4
    });
    assert!(
        published,
        "the completion thread published all four within a second"
    );
    // SAFETY: ctx is live and the callbacks are count_call or NULL.
    assert_eq!(unsafe { io_queue_run(ctx) }, 0);
    assert_eq!(CALLED.load(Ordering::Relaxed), 3);
    // Everything was reaped, the callback-less event too.
    let mut evs = [IoEvent::default(); 4];
    let mut zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: evs has room for 4; zero is a valid timespec.
    let left = unsafe { aiolos_io_getevents_0_4(ctx, 0, 4, evs.as_mut_ptr(), &mut zero) };
    assert_eq!(left, 0);
    // SAFETY: ctx is ours.
    assert_eq!(unsafe { io_queue_release(ctx) }, 0);
}

#[test]
fn queue_init_refuses_null_and_nonpositive_sizes() {
    let mut ctx: IoContext = null_mut();
    // SAFETY: NULL and sizes are checked before any write.
    unsafe {
        assert_eq!(io_queue_init(4, null_mut()), -libc::EFAULT);
        assert_eq!(io_queue_init(0, &mut ctx), -libc::EINVAL);
        assert_eq!(io_queue_init(-1, &mut ctx), -libc::EINVAL);
    }
    assert!(ctx.is_null());
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a context that is not ours goes to the kernel (io_destroy)"
)]
fn a_destroyed_context_is_einval_afterwards() {
    let mut ctx: IoContext = null_mut();
    // SAFETY: ctx holds NULL; afterwards ctx is a stale id, only compared and passed on.
    unsafe {
        assert_eq!(io_setup(2, &mut ctx), 0);
        assert_eq!(io_destroy(ctx), 0);
        assert_eq!(io_destroy(ctx), -libc::EINVAL);
    }
}
