//! The emulated context without a C compiler: reading callers' iocbs, iovecs and
//! timespecs (valid memory and NULL), turning an iocb into an `Op`, and a whole context on
//! the `threads` engine (submit, the completion thread, getevents, cancel, destroy).
//!
//! Under Miri caller memory is read directly (see `crate::caller`), so Miri checks every
//! pointer the library derives from a caller's; natively it goes through the kernel, so
//! both paths give the answers asserted here.

// Tests read the user ring's header and events through raw pointers, as C clients do.
#![allow(unsafe_code)]

use super::*;
use crate::test_support::ptr_array;
use aiolos::sys::aio::IOCB_FLAG_IOPRIO;
use aiolos::sys::aio::{IOCB_CMD_NOOP, IOCB_CMD_PREAD, IOCB_CMD_PREADV, IOCB_CMD_PWRITEV};
use aiolos::sys::IoVec;
use aiolos::OpCode;
use std::os::fd::{AsFd, OwnedFd};

/// A descriptor `fcntl(F_GETFL)` accepts (a pipe, which Miri supports too).
fn open_fd() -> (std::io::PipeReader, std::io::PipeWriter) {
    std::io::pipe().unwrap()
}

fn iocb(opcode: u16, fd: i32) -> Iocb {
    Iocb {
        aio_lio_opcode: opcode,
        aio_fildes: fd as u32,
        ..Iocb::default()
    }
}

#[test]
fn load_reads_a_callers_value_and_null_is_efault() {
    let v: [u64; 2] = [7, 0xdead_beef];
    assert_eq!(load(&v), Ok(v));
    assert_eq!(load(std::ptr::null::<[u64; 2]>()), Err(Errno::FAULT));
}

#[test]
fn load_iovec_reads_base_and_length() {
    let mut data = [0u8; 3];
    let v = IoVec {
        base: data.as_mut_ptr() as usize,
        len: data.len(),
    };
    let got = load_iovec(&v).unwrap();
    assert_eq!(got.base, v.base);
    assert_eq!(got.len, 3);
    assert_eq!(
        load_iovec(std::ptr::null()).map(|v| v.len),
        Err(Errno::FAULT)
    );
}

#[test]
fn load_iocbs_reads_the_pointers_and_every_iocb_they_name() {
    let mut cbs: Vec<Iocb> = (0..3)
        .map(|i| Iocb {
            aio_data: 100 + i,
            aio_offset: 512 * i as i64,
            ..iocb(IOCB_CMD_NOOP, 0)
        })
        .collect();
    let ptrs = ptr_array(&mut cbs);
    let (read_ptrs, read_cbs) = load_iocbs(ptrs.as_ptr(), 3).unwrap();
    assert_eq!(
        read_ptrs,
        ptrs.iter().map(|&p| p as usize).collect::<Vec<_>>()
    );
    assert_eq!(read_cbs, cbs);
}

#[test]
fn load_iocbs_stops_at_the_first_unreadable_iocb() {
    let mut cbs = vec![iocb(IOCB_CMD_NOOP, 0); 3];
    let mut ptrs = ptr_array(&mut cbs);
    ptrs[1] = std::ptr::null_mut();
    let (read_ptrs, read_cbs) = load_iocbs(ptrs.as_ptr(), 3).unwrap();
    assert_eq!(read_ptrs.len(), 3, "the pointer array itself is readable");
    assert_eq!(read_cbs.len(), 1, "the NULL second iocb ends the read");
    ptrs[0] = std::ptr::null_mut();
    assert_eq!(load_iocbs(ptrs.as_ptr(), 3).unwrap().1.len(), 0);
    assert_eq!(
        load_iocbs(std::ptr::null(), 3).map(|(p, _)| p.len()),
        Err(Errno::FAULT)
    );
}

#[test]
fn read_timespec_reads_the_stack_the_heap_and_the_librarys_zero() {
    let on_stack = Timespec {
        tv_sec: 3,
        tv_nsec: 4,
    };
    let got = read_timespec(&on_stack).unwrap();
    assert_eq!((got.tv_sec, got.tv_nsec), (3, 4));
    let on_heap = Box::new(Timespec {
        tv_sec: 5,
        tv_nsec: 999_999_999,
    });
    let got = read_timespec(&*on_heap).unwrap();
    assert_eq!((got.tv_sec, got.tv_nsec), (5, 999_999_999));
    let got = read_timespec(&crate::abi::ZERO_TIMEOUT).unwrap();
    assert_eq!((got.tv_sec, got.tv_nsec), (0, 0));
    assert_eq!(
        read_timespec(std::ptr::null()).map(|t| t.tv_sec),
        Err(Errno::FAULT)
    );
}

/// `build_op`'s answer, as (opcode, the op's debug text) or the errno.
fn built(cb: &Iocb) -> Result<(OpCode, String), Errno> {
    build_op(cb).map(|op| (op.opcode(), format!("{op:?}")))
}

#[test]
fn each_command_becomes_its_op_with_offset_buffers_and_flags() {
    let (r, _w) = open_fd();
    let fd = r.as_fd().as_raw_fd();
    let mut data = [0u8; 16];
    let cases = [
        (kaio::IOCB_CMD_PREAD, OpCode::Read),
        (kaio::IOCB_CMD_PWRITE, OpCode::Write),
        (kaio::IOCB_CMD_FSYNC, OpCode::Fsync),
        (kaio::IOCB_CMD_FDSYNC, OpCode::Fdatasync),
        (kaio::IOCB_CMD_POLL, OpCode::Poll),
        (kaio::IOCB_CMD_NOOP, OpCode::Nop),
    ];
    for (cmd, want) in cases {
        let cb = Iocb {
            aio_buf: data.as_mut_ptr() as u64,
            aio_nbytes: 16,
            aio_offset: 4096,
            aio_rw_flags: 8,
            ..iocb(cmd, fd)
        };
        let (code, text) = built(&cb).unwrap();
        assert_eq!(code, want, "command {cmd}");
        assert!(text.contains("rw_flags: RwFlags(8)"), "{text}");
        assert!(text.contains("ioprio: None"), "{text}");
    }
    let cb = Iocb {
        aio_buf: data.as_mut_ptr() as u64,
        aio_nbytes: 16,
        aio_offset: 4096,
        ..iocb(IOCB_CMD_PREAD, fd)
    };
    let op = build_op(&cb).unwrap();
    assert!(format!("{op:?}").contains("offset: 4096"));
    let bufs = op.into_bufs();
    assert_eq!(bufs.len(), 1);
    assert_eq!((bufs[0].as_ptr(), bufs[0].len()), (data.as_mut_ptr(), 16));
}

#[test]
fn vectored_commands_read_the_callers_iovec_array() {
    let (r, _w) = open_fd();
    let fd = r.as_fd().as_raw_fd();
    let mut a = [0u8; 8];
    let mut b = [0u8; 24];
    let iov = [
        IoVec {
            base: a.as_mut_ptr() as usize,
            len: a.len(),
        },
        IoVec {
            base: b.as_mut_ptr() as usize,
            len: b.len(),
        },
    ];
    for (cmd, want) in [
        (IOCB_CMD_PREADV, OpCode::Readv),
        (IOCB_CMD_PWRITEV, OpCode::Writev),
    ] {
        let cb = Iocb {
            aio_buf: iov.as_ptr() as u64,
            aio_nbytes: 2,
            aio_offset: 512,
            ..iocb(cmd, fd)
        };
        let op = build_op(&cb).unwrap();
        assert_eq!(op.opcode(), want);
        let bufs = op.into_bufs();
        let got: Vec<_> = bufs.iter().map(|b| (b.as_ptr(), b.len())).collect();
        assert_eq!(got, vec![(a.as_mut_ptr(), 8), (b.as_mut_ptr(), 24)]);
    }
    // No iovecs is a valid (empty) request; an unreadable array is EFAULT.
    let empty = Iocb {
        aio_buf: iov.as_ptr() as u64,
        aio_nbytes: 0,
        ..iocb(IOCB_CMD_PREADV, fd)
    };
    assert_eq!(build_op(&empty).unwrap().into_bufs().len(), 0);
    let null = Iocb {
        aio_buf: 0,
        aio_nbytes: 2,
        ..iocb(IOCB_CMD_PREADV, fd)
    };
    assert_eq!(built(&null).map(|(c, _)| c), Err(Errno::FAULT));
    let too_many = Iocb {
        aio_buf: iov.as_ptr() as u64,
        aio_nbytes: 1025,
        ..iocb(IOCB_CMD_PREADV, fd)
    };
    assert_eq!(built(&too_many).map(|(c, _)| c), Err(Errno::INVAL));
}

#[test]
fn reserved_fields_unknown_flags_and_commands_and_negative_offsets_are_einval() {
    let (r, _w) = open_fd();
    let fd = r.as_fd().as_raw_fd();
    let base = iocb(IOCB_CMD_PREAD, fd);
    assert!(built(&base).is_ok());
    let bad = [
        Iocb {
            aio_reserved2: 1,
            ..base
        },
        Iocb {
            aio_flags: 1 << 2,
            ..base
        },
        Iocb {
            aio_lio_opcode: 4, // IOCB_CMD_PREADX: never implemented
            ..base
        },
        Iocb {
            aio_lio_opcode: 9,
            ..base
        },
        Iocb {
            aio_offset: -1,
            ..base
        },
    ];
    for cb in bad {
        assert_eq!(built(&cb).map(|(c, _)| c), Err(Errno::INVAL), "{cb:?}");
    }
    // An offset only matters to reads and writes.
    let fsync = Iocb {
        aio_offset: -1,
        ..iocb(kaio::IOCB_CMD_FSYNC, fd)
    };
    assert_eq!(built(&fsync).map(|(c, _)| c), Ok(OpCode::Fsync));
}

#[test]
fn a_descriptor_that_is_not_open_is_ebadf_at_submit() {
    // Numbers no test opens (above any descriptor limit here; -1 as the u32 field holds it).
    for fd in [1_000_000, -1] {
        assert_eq!(
            built(&iocb(IOCB_CMD_NOOP, fd)).map(|(c, _)| c),
            Err(Errno::BADF)
        );
    }
}

#[test]
fn the_resfd_and_ioprio_flags_are_accepted_and_ioprio_is_carried() {
    let (r, _w) = open_fd();
    let fd = r.as_fd().as_raw_fd();
    let cb = Iocb {
        aio_flags: IOCB_FLAG_RESFD | IOCB_FLAG_IOPRIO,
        aio_resfd: 12345,
        aio_reqprio: (2 << 13 | 4) as i16,
        ..iocb(IOCB_CMD_PREAD, fd)
    };
    let (_, text) = built(&cb).unwrap();
    assert!(
        text.contains(&format!("ioprio: Some({})", 2 << 13 | 4)),
        "{text}"
    );
}

// A whole context on the threads engine. Only NOOP requests: Miri runs the engine's
// threads, condition variables and eventfds, not file I/O.

fn context(n: i32) -> Arc<Emulated> {
    Emulated::new(EngineKind::Threads, n).unwrap()
}

fn nops(fd: i32, n: u64, resfd: Option<&OwnedFd>) -> Vec<Iocb> {
    (0..n)
        .map(|i| Iocb {
            aio_data: 0xd000 + i,
            aio_flags: resfd.map_or(0, |_| IOCB_FLAG_RESFD),
            aio_resfd: resfd.map_or(0, |e| e.as_raw_fd() as u32),
            ..iocb(IOCB_CMD_NOOP, fd)
        })
        .collect()
}

#[test]
fn nops_complete_into_getevents_with_their_data_and_iocb_and_signal_their_eventfd() {
    let (r, _w) = open_fd();
    let efd = fds::eventfd().unwrap();
    let ctx = context(4);
    let mut cbs = nops(r.as_raw_fd(), 3, Some(&efd));
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.submit(3, ptrs.as_ptr()), Ok(3));
    let mut evs = [IoEvent::default(); 4];
    assert_eq!(
        ctx.getevents(3, 4, evs.as_mut_ptr(), std::ptr::null()),
        Ok(3)
    );
    let mut got: Vec<(u64, u64, i64)> = evs[..3].iter().map(|e| (e.data, e.obj, e.res)).collect();
    got.sort();
    let want: Vec<(u64, u64, i64)> = (0..3)
        .map(|i| (0xd000 + i as u64, ptrs[i] as u64, 0))
        .collect();
    assert_eq!(got, want);
    // Each event is in the ring before its eventfd is signalled (just after): allow the
    // completion thread a second to signal all three.
    let mut signalled = 0;
    for _ in 0..1000 {
        signalled += fds::drain(efd.as_fd()).unwrap();
        if signalled >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(signalled, 3);
    ctx.destroy();
}

#[test]
fn a_c_client_reads_completions_from_the_context_address_without_getevents() {
    let (r, _w) = open_fd();
    let ctx = context(4);
    let mut cbs = nops(r.as_raw_fd(), 2, None);
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.submit(2, ptrs.as_ptr()), Ok(2));
    // io_context_t is the ring: wait for the completion thread to publish both.
    let ring: *mut u8 = std::ptr::with_exposed_provenance_mut(ctx.id() as usize);
    // SAFETY: the header's u32 fields (tail at 12, head at 8) are aligned, inside the
    // ring, which lives as long as ctx.
    let (head, tail) = unsafe {
        (
            &*ring.add(8).cast::<std::sync::atomic::AtomicU32>(),
            &*ring.add(12).cast::<std::sync::atomic::AtomicU32>(),
        )
    };
    let published = (0..1000).any(|_| {
        std::thread::sleep(Duration::from_millis(1));
        tail.load(std::sync::atomic::Ordering::Acquire) == 2
    });
    assert!(
        published,
        "the completion thread published both within a second"
    );
    let mut seen = Vec::new();
    for i in 0..2 {
        // SAFETY: events start after the 32-byte header; slots 0 and 1 were published by
        // the release store of tail seen above.
        seen.push(unsafe { ring.add(32 + 32 * i).cast::<IoEvent>().read() }.data);
    }
    head.store(2, std::sync::atomic::Ordering::Release);
    seen.sort();
    assert_eq!(seen, vec![0xd000, 0xd001]);
    let mut evs = [IoEvent::default(); 1];
    assert_eq!(
        ctx.getevents(0, 1, evs.as_mut_ptr(), &crate::abi::ZERO_TIMEOUT),
        Ok(0),
        "the client took them"
    );
    ctx.destroy();
}

#[test]
fn submits_beyond_the_contexts_capacity_are_partial_then_eagain() {
    let (r, _w) = open_fd();
    let ctx = context(2);
    let mut cbs = nops(r.as_raw_fd(), 3, None);
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(
        ctx.submit(3, ptrs.as_ptr()),
        Ok(2),
        "nr is capped at capacity"
    );
    assert_eq!(ctx.submit(1, ptrs[2..].as_ptr()), Err(Errno::AGAIN));
    let mut evs = [IoEvent::default(); 2];
    assert_eq!(
        ctx.getevents(2, 2, evs.as_mut_ptr(), std::ptr::null()),
        Ok(2)
    );
    assert_eq!(ctx.submit(1, ptrs[2..].as_ptr()), Ok(1), "room again");
    ctx.destroy();
}

#[test]
fn a_bad_iocb_after_good_ones_gives_a_partial_submit_and_first_is_its_error() {
    let (r, _w) = open_fd();
    let ctx = context(4);
    let mut cbs = nops(r.as_raw_fd(), 3, None);
    cbs[1].aio_reserved2 = 1;
    let mut ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.submit(3, ptrs.as_ptr()), Ok(1));
    assert_eq!(ctx.submit(2, ptrs[1..].as_ptr()), Err(Errno::INVAL));
    ptrs[2] = std::ptr::null_mut();
    assert_eq!(ctx.submit(1, ptrs[2..].as_ptr()), Err(Errno::FAULT));
    assert_eq!(ctx.submit(1, std::ptr::null()), Err(Errno::FAULT));
    assert_eq!(ctx.submit(-1, ptrs.as_ptr()), Err(Errno::INVAL));
    assert_eq!(ctx.submit(0, std::ptr::null()), Ok(0));
    let mut evs = [IoEvent::default(); 4];
    assert_eq!(
        ctx.getevents(1, 4, evs.as_mut_ptr(), std::ptr::null()),
        Ok(1)
    );
    assert_eq!(evs[0].data, 0xd000);
    ctx.destroy();
}

#[test]
fn getevents_checks_counts_events_and_timeout_and_an_empty_zero_wait_is_zero() {
    let ctx = context(2);
    let mut evs = [IoEvent::default(); 2];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let null_t = std::ptr::null::<Timespec>();
    assert_eq!(ctx.getevents(0, 2, evs.as_mut_ptr(), &zero), Ok(0));
    assert_eq!(
        ctx.getevents(2, 1, evs.as_mut_ptr(), null_t),
        Err(Errno::INVAL)
    );
    assert_eq!(
        ctx.getevents(-1, 1, evs.as_mut_ptr(), null_t),
        Err(Errno::INVAL)
    );
    assert_eq!(
        ctx.getevents(0, 1, std::ptr::null_mut(), &zero),
        Err(Errno::FAULT)
    );
    let bad = Timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000_000,
    };
    assert_eq!(
        ctx.getevents(0, 1, evs.as_mut_ptr(), &bad),
        Err(Errno::INVAL)
    );
    let early = Timespec {
        tv_sec: -1,
        tv_nsec: 0,
    };
    assert_eq!(
        ctx.getevents(0, 1, evs.as_mut_ptr(), &early),
        Err(Errno::INVAL)
    );
    // nr = 0 needs no event array.
    assert_eq!(ctx.getevents(0, 0, std::ptr::null_mut(), &zero), Ok(0));
    ctx.destroy();
}

#[test]
fn cancel_of_null_is_efault_and_of_unknown_or_finished_requests_einval() {
    let (r, _w) = open_fd();
    let ctx = context(2);
    assert_eq!(ctx.cancel(std::ptr::null_mut()), Err(Errno::FAULT));
    let mut cbs = nops(r.as_raw_fd(), 1, None);
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.cancel(ptrs[0]), Err(Errno::INVAL), "never submitted");
    assert_eq!(ctx.submit(1, ptrs.as_ptr()), Ok(1));
    let mut evs = [IoEvent::default(); 1];
    assert_eq!(
        ctx.getevents(1, 1, evs.as_mut_ptr(), std::ptr::null()),
        Ok(1)
    );
    assert_eq!(ctx.cancel(ptrs[0]), Err(Errno::INVAL), "already complete");
    ctx.destroy();
}

#[test]
fn destroy_retires_the_ring_and_later_calls_are_einval() {
    let (r, _w) = open_fd();
    let ctx = context(2);
    let mut cbs = nops(r.as_raw_fd(), 1, None);
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.submit(1, ptrs.as_ptr()), Ok(1));
    ctx.destroy();
    let ring: *const u8 = std::ptr::with_exposed_provenance(ctx.id() as usize);
    // SAFETY: magic (offset 16) is an aligned u32 in the ring, alive while ctx is.
    let magic = unsafe { &*ring.add(16).cast::<std::sync::atomic::AtomicU32>() };
    assert_eq!(magic.load(std::sync::atomic::Ordering::Acquire), 0);
    assert_eq!(ctx.submit(1, ptrs.as_ptr()), Err(Errno::INVAL));
    let mut evs = [IoEvent::default(); 1];
    assert_eq!(
        ctx.getevents(0, 1, evs.as_mut_ptr(), std::ptr::null()),
        Err(Errno::INVAL)
    );
}

#[test]
fn destroy_wakes_a_thread_waiting_in_getevents_with_einval() {
    let ctx = context(2);
    let waiter = {
        let ctx = Arc::clone(&ctx);
        std::thread::spawn(move || {
            let mut evs = [IoEvent::default(); 1];
            ctx.getevents(1, 1, evs.as_mut_ptr(), std::ptr::null())
        })
    };
    // Whether the waiter is asleep yet or not, it must come back with EINVAL.
    std::thread::sleep(Duration::from_millis(20));
    ctx.destroy();
    assert_eq!(waiter.join().unwrap(), Err(Errno::INVAL));
}
