//! The emulated context without a C compiler: reading callers' iocbs, the kernel's checks
//! of an iocb, and whole contexts on the `threads` engine (setup, submit, getevents,
//! cancel, destroy, a moved ring, many contexts on one engine).
//!
//! Under Miri caller memory is read directly (see `crate::caller`), so Miri checks every
//! pointer the library derives from a caller's; natively it goes through the kernel or
//! the proven regions, and both give the answers asserted here. Whole contexts use
//! `IOCB_CMD_NOOP`, which unit-test builds accept as a request needing no system call
//! (kernel AIO, and the library, refuse it): Miri runs the engine's threads, futexes and
//! eventfds, not file I/O.

use super::*;
use crate::test_support::ptr_array;
use aiolos::sys::aio::{self as kaio, IOCB_FLAG_IOPRIO, IOCB_FLAG_RESFD};
use aiolos::sys::aio::{IOCB_CMD_NOOP, IOCB_CMD_PREAD, IOCB_CMD_PREADV};
use aiolos::sys::IoVec;
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

/// `check_request` for an iocb at its own address.
fn check(cb: &mut Iocb) -> Result<Checked, Errno> {
    let at = (cb as *mut Iocb).expose_provenance();
    let copy = *cb;
    load::check_request(at, &copy)
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
    let (read_ptrs, read_cbs) = load::load_iocbs(ptrs.as_ptr(), 3).unwrap();
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
    let (read_ptrs, read_cbs) = load::load_iocbs(ptrs.as_ptr(), 3).unwrap();
    assert_eq!(read_ptrs.len(), 3, "the pointer array itself is readable");
    assert_eq!(read_cbs.len(), 1, "the NULL second iocb ends the read");
    ptrs[0] = std::ptr::null_mut();
    assert_eq!(load::load_iocbs(ptrs.as_ptr(), 3).unwrap().1.len(), 0);
    assert_eq!(
        load::load_iocbs(std::ptr::null(), 3).map(|(p, _)| p.len()),
        Err(Errno::FAULT)
    );
}

#[test]
fn each_command_is_checked_into_what_it_asks_for() {
    let (r, w) = open_fd();
    let (rfd, wfd) = (r.as_fd().as_raw_fd(), w.as_fd().as_raw_fd());
    let mut data = [0u8; 16];
    let mut cb = Iocb {
        aio_buf: data.as_mut_ptr() as u64,
        aio_nbytes: 16,
        aio_offset: 4096,
        aio_rw_flags: 8,
        aio_key: 77,
        ..iocb(IOCB_CMD_PREAD, rfd)
    };
    match check(&mut cb).unwrap() {
        Checked::Rw(rw) => {
            assert!(!rw.write);
            assert_eq!((rw.fd, rw.offset, rw.flags, rw.len()), (rfd, 4096, 8, 16));
            assert_eq!(rw.iov[0].base, data.as_ptr() as usize);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cb.aio_key, 0, "io_submit writes the key back as 0");
    let mut w = Iocb {
        aio_lio_opcode: kaio::IOCB_CMD_PWRITE,
        aio_fildes: wfd as u32,
        ..cb
    };
    assert!(matches!(
        check(&mut w),
        Ok(Checked::Rw(Rw { write: true, .. }))
    ));
    let mut poll = Iocb {
        aio_buf: 1, // POLLIN
        ..iocb(kaio::IOCB_CMD_POLL, rfd)
    };
    assert!(matches!(
        check(&mut poll),
        Ok(Checked::Poll { events: 1, .. })
    ));
    let mut noop = iocb(IOCB_CMD_NOOP, rfd);
    assert!(matches!(check(&mut noop), Ok(Checked::Nop)));
}

#[test]
fn vectored_commands_import_the_callers_iovec_array() {
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
    let mut cb = Iocb {
        aio_buf: iov.as_ptr() as u64,
        aio_nbytes: 2,
        aio_offset: 512,
        ..iocb(IOCB_CMD_PREADV, fd)
    };
    let Checked::Rw(rw) = check(&mut cb).unwrap() else {
        panic!("a read")
    };
    let got: Vec<_> = rw.iov.iter().map(|v| (v.base, v.len)).collect();
    assert_eq!(
        got,
        vec![(a.as_ptr() as usize, 8), (b.as_ptr() as usize, 24)]
    );
    cb.aio_buf = 0;
    assert_eq!(check(&mut cb).map(|_| ()), Err(Errno::FAULT));
    cb.aio_buf = iov.as_ptr() as u64;
    cb.aio_nbytes = 1025;
    assert_eq!(check(&mut cb).map(|_| ()), Err(Errno::INVAL));
}

#[test]
fn kernel_checks_come_in_the_kernels_order() {
    let (r, w) = open_fd();
    let fd = r.as_fd().as_raw_fd();
    let base = iocb(IOCB_CMD_PREAD, fd);
    // Before a request slot is taken: the reserved field and the length.
    assert_eq!(
        load::check_fields(&Iocb {
            aio_reserved2: 1,
            ..base
        }),
        Err(Errno::INVAL)
    );
    assert_eq!(
        load::check_fields(&Iocb {
            aio_nbytes: u64::MAX,
            ..base
        }),
        Err(Errno::INVAL)
    );
    // The descriptor before the opcode; unknown aio_flags bits are ignored.
    let bad_fd_and_op = Iocb {
        aio_fildes: u32::MAX,
        aio_lio_opcode: 42,
        ..base
    };
    assert_eq!(check(&mut { bad_fd_and_op }).map(|_| ()), Err(Errno::BADF));
    assert_eq!(
        check(&mut Iocb {
            aio_lio_opcode: 4,
            ..base
        })
        .map(|_| ()),
        Err(Errno::INVAL)
    );
    assert!(check(&mut Iocb {
        aio_flags: 1 << 5,
        ..base
    })
    .is_ok());
    // For a read: unknown RWF_ flags before the file's mode, the mode before the offset.
    let wfd = w.as_fd().as_raw_fd();
    let on_writer = Iocb {
        aio_fildes: wfd as u32,
        aio_offset: -1,
        ..base
    };
    assert_eq!(check(&mut { on_writer }).map(|_| ()), Err(Errno::BADF));
    let flags = Iocb {
        aio_rw_flags: 1 << 30,
        ..on_writer
    };
    assert_eq!(check(&mut { flags }).map(|_| ()), Err(Errno::OPNOTSUPP));
    assert_eq!(
        check(&mut Iocb {
            aio_offset: -1,
            ..base
        })
        .map(|_| ()),
        Err(Errno::INVAL)
    );
    // fsync's and poll's unused fields.
    let fsync = Iocb {
        aio_offset: 1,
        ..iocb(kaio::IOCB_CMD_FSYNC, fd)
    };
    assert_eq!(check(&mut { fsync }).map(|_| ()), Err(Errno::INVAL));
    let poll = Iocb {
        aio_buf: 1 << 16,
        ..iocb(kaio::IOCB_CMD_POLL, fd)
    };
    assert_eq!(check(&mut { poll }).map(|_| ()), Err(Errno::INVAL));
}

#[test]
fn a_priority_is_carried_and_a_bad_one_refused() {
    let (r, _w) = open_fd();
    let fd = r.as_fd().as_raw_fd();
    let mut cb = Iocb {
        aio_flags: IOCB_FLAG_IOPRIO,
        aio_reqprio: (2 << 13 | 4) as i16,
        ..iocb(IOCB_CMD_PREAD, fd)
    };
    assert!(matches!(
        check(&mut cb),
        Ok(Checked::Rw(Rw {
            ioprio: Some(0x4004),
            ..
        }))
    ));
    cb.aio_reqprio = -1;
    assert_eq!(check(&mut cb).map(|_| ()), Err(Errno::INVAL));
}

// Whole contexts on the threads engine.

/// Sets a context of `n` events up through `setup`, as io_setup does.
fn context(n: i32) -> Arc<Ctx> {
    let mut id: IoContext = std::ptr::null_mut();
    setup(EngineKind::Threads, n, &mut id).unwrap();
    lookup(id).expect("the new context is found at the address io_setup gave")
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

fn wait_all(ctx: &Ctx, evs: &mut [IoEvent]) -> Result<usize, Errno> {
    ctx.getevents(
        evs.len() as i64,
        evs.len() as i64,
        evs.as_mut_ptr(),
        None,
        Mask::None,
    )
}

#[test]
fn requests_complete_into_getevents_with_their_data_and_iocb_and_signal_their_eventfd() {
    let (r, _w) = open_fd();
    let efd = crate::sys::eventfd().unwrap();
    let ctx = context(4);
    let mut cbs = nops(r.as_raw_fd(), 3, Some(&efd));
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.submit(3, ptrs.as_ptr()), Ok(3));
    let mut evs = [IoEvent::default(); 3];
    assert_eq!(wait_all(&ctx, &mut evs), Ok(3));
    let mut got: Vec<(u64, u64, i64)> = evs.iter().map(|e| (e.data, e.obj, e.res)).collect();
    got.sort();
    let want: Vec<(u64, u64, i64)> = (0..3)
        .map(|i| (0xd000 + i as u64, ptrs[i] as u64, 0))
        .collect();
    assert_eq!(got, want);
    // Each event is in the ring before its eventfd is signalled.
    assert_eq!(crate::fds::drain(efd.as_fd()), Ok(3));
    assert_eq!(ctx.destroy(), Ok(()));
}

#[test]
fn a_c_client_reads_completions_at_the_context_address_without_getevents() {
    let (r, _w) = open_fd();
    let ctx = context(4);
    let mut cbs = nops(r.as_raw_fd(), 2, None);
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.submit(2, ptrs.as_ptr()), Ok(2));
    let ring: *mut u8 = std::ptr::with_exposed_provenance_mut(ctx.view());
    // SAFETY: the header's u32 fields (tail at 12, head at 8) are aligned, inside the
    // program's view of the ring, which stays mapped until destroy.
    let (head, tail) = unsafe {
        (
            &*ring.add(8).cast::<AtomicU32>(),
            &*ring.add(12).cast::<AtomicU32>(),
        )
    };
    assert_eq!(tail.load(Ordering::Acquire), 2, "complete inside io_submit");
    let mut seen = Vec::new();
    for i in 0..2 {
        // SAFETY: events start after the 32-byte header; slots 0 and 1 were published by
        // the release store of tail seen above.
        seen.push(unsafe { ring.add(32 + 32 * i).cast::<IoEvent>().read() }.data);
    }
    head.store(2, Ordering::Release);
    seen.sort();
    assert_eq!(seen, vec![0xd000, 0xd001]);
    let mut evs = [IoEvent::default(); 1];
    assert_eq!(
        ctx.getevents(0, 1, evs.as_mut_ptr(), Some(Duration::ZERO), Mask::None),
        Ok(0),
        "the client took them"
    );
    assert_eq!(ctx.destroy(), Ok(()));
}

#[test]
fn a_context_takes_as_many_requests_as_the_kernels_of_its_size_then_eagain() {
    let (r, _w) = open_fd();
    let ctx = context(1);
    let cap = ctx.sizes.capacity as usize;
    assert!(cap > 1, "the kernel sizes io_setup(1) for several requests");
    let mut cbs = nops(r.as_raw_fd(), cap as u64 + 1, None);
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.submit(cap as i64 + 1, ptrs.as_ptr()), Ok(cap));
    assert_eq!(ctx.submit(1, ptrs[cap..].as_ptr()), Err(Errno::AGAIN));
    let mut evs = vec![IoEvent::default(); 2];
    assert_eq!(wait_all(&ctx, &mut evs), Ok(2));
    assert_eq!(ctx.submit(1, ptrs[cap..].as_ptr()), Ok(1), "room again");
    assert_eq!(ctx.destroy(), Ok(()));
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
    assert_eq!(ctx.submit(0, std::ptr::null()), Ok(0));
    let mut evs = [IoEvent::default(); 1];
    assert_eq!(wait_all(&ctx, &mut evs), Ok(1));
    assert_eq!(evs[0].data, 0xd000);
    assert_eq!(ctx.destroy(), Ok(()));
}

#[test]
fn an_event_array_is_needed_only_when_there_is_an_event_to_store() {
    let (r, _w) = open_fd();
    let ctx = context(2);
    let zero = Some(Duration::ZERO);
    assert_eq!(
        ctx.getevents(0, 1, std::ptr::null_mut(), zero, Mask::None),
        Ok(0)
    );
    assert_eq!(
        ctx.getevents(1, 1, std::ptr::null_mut(), zero, Mask::None),
        Ok(0)
    );
    let mut cbs = nops(r.as_raw_fd(), 1, None);
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.submit(1, ptrs.as_ptr()), Ok(1));
    assert_eq!(
        ctx.getevents(1, 1, std::ptr::null_mut(), zero, Mask::None),
        Err(Errno::FAULT)
    );
    let mut evs = [IoEvent::default(); 1];
    assert_eq!(
        wait_all(&ctx, &mut evs),
        Ok(1),
        "the event stayed in the ring"
    );
    assert_eq!(ctx.destroy(), Ok(()));
}

#[test]
fn cancel_of_null_is_efault_and_of_unknown_finished_or_keyed_requests_einval() {
    let (r, _w) = open_fd();
    let ctx = context(2);
    assert_eq!(ctx.cancel(std::ptr::null_mut()), Err(Errno::FAULT));
    let mut cbs = nops(r.as_raw_fd(), 1, None);
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.cancel(ptrs[0]), Err(Errno::INVAL), "never submitted");
    assert_eq!(ctx.submit(1, ptrs.as_ptr()), Ok(1));
    let mut evs = [IoEvent::default(); 1];
    assert_eq!(wait_all(&ctx, &mut evs), Ok(1));
    assert_eq!(ctx.cancel(ptrs[0]), Err(Errno::INVAL), "already complete");
    cbs[0].aio_key = 1;
    assert_eq!(
        ctx.cancel(ptrs[0]),
        Err(Errno::INVAL),
        "a key that is not 0"
    );
    assert_eq!(ctx.destroy(), Ok(()));
}

#[test]
fn destroy_forgets_the_context_and_later_calls_are_einval() {
    let (r, _w) = open_fd();
    let ctx = context(2);
    let addr = ctx.view();
    let mut cbs = nops(r.as_raw_fd(), 1, None);
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.submit(1, ptrs.as_ptr()), Ok(1));
    assert_eq!(ctx.destroy(), Ok(()));
    // The address no longer names this context (a test running alongside may have been
    // given the same address for a context of its own since, as the kernel may reuse it).
    assert!(
        lookup(std::ptr::with_exposed_provenance_mut(addr)).is_none_or(|c| !Arc::ptr_eq(&c, &ctx))
    );
    assert_eq!(ctx.destroy(), Err(Errno::INVAL));
    assert_eq!(ctx.submit(1, ptrs.as_ptr()), Err(Errno::INVAL));
    let mut evs = [IoEvent::default(); 1];
    assert_eq!(
        ctx.getevents(0, 1, evs.as_mut_ptr(), None, Mask::None),
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
            ctx.getevents(1, 1, evs.as_mut_ptr(), None, Mask::None)
        })
    };
    // Whether the waiter is asleep yet or not, it must come back with EINVAL.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(ctx.destroy(), Ok(()));
    assert_eq!(waiter.join().unwrap(), Err(Errno::INVAL));
}

#[test]
fn ids_are_the_lowest_free_and_contexts_share_one_engine() {
    let a = context(1);
    let b = context(1);
    assert_ne!(a.id(), b.id());
    assert!(Arc::ptr_eq(&a.shared, &b.shared), "one engine per process");
    let freed = a.id();
    assert_eq!(a.destroy(), Ok(()));
    let c = context(1);
    assert!(c.id() <= freed, "a freed id is handed out again first");
    assert_eq!(b.destroy(), Ok(()));
    assert_eq!(c.destroy(), Ok(()));
}

#[test]
#[cfg_attr(miri, ignore = "Miri has no mremap")]
fn a_moved_ring_is_found_at_its_new_address_and_not_at_the_old_one() {
    let (r, _w) = open_fd();
    let ctx = context(4);
    let old = ctx.view();
    let len = ctx.sizes.pages * rustix::param::page_size();
    // SAFETY: a reservation to move onto, then the program's move of its own view.
    let new = unsafe {
        let target = rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::empty(),
            rustix::mm::MapFlags::PRIVATE,
        )
        .expect("a reservation");
        rustix::mm::mremap_fixed(
            std::ptr::with_exposed_provenance_mut(old),
            len,
            len,
            rustix::mm::MremapFlags::MAYMOVE,
            target,
        )
        .expect("the view moved")
        .expose_provenance()
    };
    let found = lookup(std::ptr::with_exposed_provenance_mut(new)).expect("found after mremap");
    assert!(Arc::ptr_eq(&found, &ctx));
    assert_eq!(ctx.view(), new);
    assert!(lookup(std::ptr::with_exposed_provenance_mut(old)).is_none());
    let mut cbs = nops(r.as_raw_fd(), 1, None);
    let ptrs = ptr_array(&mut cbs);
    assert_eq!(ctx.submit(1, ptrs.as_ptr()), Ok(1));
    // SAFETY: tail (offset 12) of the moved view.
    let tail = unsafe { &*std::ptr::with_exposed_provenance::<AtomicU32>(new + 12) };
    assert_eq!(
        tail.load(Ordering::Acquire),
        1,
        "the event shows at the new address"
    );
    assert_eq!(ctx.destroy(), Ok(()));
}

#[test]
#[cfg_attr(miri, ignore = "Miri has no mremap")]
fn a_copy_of_a_ring_is_not_taken_for_the_ring() {
    let ctx = context(4);
    let mut copy = vec![0u64; 512];
    // SAFETY: the view is at least one page; the copy is 4096 bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(
            std::ptr::with_exposed_provenance::<u8>(ctx.view()),
            copy.as_mut_ptr().cast::<u8>(),
            4096,
        )
    };
    let at = copy.as_mut_ptr().expose_provenance();
    assert!(lookup(std::ptr::with_exposed_provenance_mut(at)).is_none());
    assert_eq!(ctx.destroy(), Ok(()));
}

#[test]
fn setup_checks_in_the_kernels_order_and_fills_the_header_as_the_kernel() {
    let mut used: IoContext = std::ptr::without_provenance_mut(0x5000);
    assert_eq!(setup(EngineKind::Threads, 0, &mut used), Err(Errno::INVAL));
    assert_eq!(setup(EngineKind::Threads, 4, &mut used), Err(Errno::INVAL));
    assert_eq!(
        setup(EngineKind::Threads, 0, std::ptr::null_mut()),
        Err(Errno::FAULT),
        "*ctxp is read first"
    );
    let mut id: IoContext = std::ptr::null_mut();
    assert_eq!(setup(EngineKind::Threads, -1, &mut id), Err(Errno::INVAL));
    assert_eq!(
        setup(EngineKind::Threads, 4_194_305, &mut id),
        Err(Errno::INVAL)
    );
    assert!(id.is_null());
    let ctx = context(7);
    let h: *const u32 = std::ptr::with_exposed_provenance(ctx.view());
    // SAFETY: the 8 header words of the program's view of the ring.
    let header: Vec<u32> = (0..8).map(|i| unsafe { h.add(i).read() }).collect();
    assert_eq!(header[0], ctx.id());
    assert_eq!(header[1], ctx.sizes.ring_nr);
    assert_eq!(&header[2..], &[0, 0, 0xa10a10a1, 1, 0, 32]);
    assert_eq!(ctx.destroy(), Ok(()));
}
