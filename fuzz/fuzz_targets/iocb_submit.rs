//! The drop-in's loading of caller memory (the iocb pointer array, iocbs, iovec arrays,
//! timeouts, signal masks) and its turning of iocbs into requests, fuzzed through the
//! exported C functions on an emulated engine (`AIOLOS_ENGINE`, default `threads`).
//!
//! Every field of every iocb comes from the fuzzer, but pointers are never raw: a buffer or
//! iovec address is an offset into a region of this process followed by an inaccessible
//! guard page, so whatever length the fuzzer picks, the kernel stops at the guard (EFAULT or
//! a short count) instead of writing over the harness; descriptors are picked from a table
//! (a file, an O_DIRECT file, /dev/null, a pipe, an eventfd, a closed number, -1). Reads and
//! writes on the pipe and the eventfd become reads of the file (they would block for ever).
//!
//! Checked: nothing crashes, hangs or trips AddressSanitizer; every return value is in
//! range (a count no larger than asked, else a negative errno); every event names an iocb
//! that was submitted, at most as often as it was; `errno` never changes; `io_destroy`
//! succeeds (and returns: it waits for every request).
#![no_main]

use aiolos_libaio::abi::{IoContext, IoEvent, Iocb, Timespec};
use aiolos_libaio::exports;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const REGION: usize = 256 * 1024;
const PAGE: usize = 4096;
const NIOCB: usize = 8;
const MAXIOV: usize = 1100;

struct World {
    region: usize,
    iovs: usize,
    fds: Vec<i32>,
    file: i32,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        if std::env::var_os("AIOLOS_ENGINE").is_none() {
            // SAFETY: set once, before any other thread of this process reads the
            // environment (the drop-in reads it on its first call, below).
            unsafe { std::env::set_var("AIOLOS_ENGINE", "threads") };
        }
        let map = |len: usize| -> usize {
            let len = len.next_multiple_of(PAGE);
            // SAFETY: an anonymous private mapping; the result is checked.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len + PAGE,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            // SAFETY: the last page of the mapping just made becomes the guard.
            let r = unsafe { libc::mprotect(p.cast::<u8>().add(len).cast(), PAGE, libc::PROT_NONE) };
            assert_eq!(r, 0);
            p as usize
        };
        let dir = std::env::temp_dir().join(format!("aiolos-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data");
        std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
        let open = |flags: i32| -> i32 {
            let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
            // SAFETY: a valid C string; the result is checked.
            let fd = unsafe { libc::open(c.as_ptr(), flags) };
            assert!(fd >= 0);
            fd
        };
        let file = open(libc::O_RDWR);
        let direct = open(libc::O_RDWR | libc::O_DIRECT);
        // The descriptors keep the file: nothing is left behind when the run ends.
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_dir(&dir).unwrap();
        let null = {
            let c = std::ffi::CString::new("/dev/null").unwrap();
            // SAFETY: a valid C string.
            unsafe { libc::open(c.as_ptr(), libc::O_RDWR) }
        };
        let mut p = [0i32; 2];
        // SAFETY: p has room for two descriptors.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        // SAFETY: plain call.
        let ev = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK) };
        World {
            region: map(REGION),
            iovs: map(MAXIOV * 16),
            fds: vec![file, direct, null, p[0], p[1], ev, 900, -1],
            file,
        }
    })
}

/// Reads little-endian integers off the fuzzer's bytes (zeros once they run out).
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        let n = N.min(self.0.len());
        b[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        b
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

fn iocb(w: &World, k: usize, inp: &mut Input) -> Iocb {
    let mut cb = Iocb::default();
    cb.aio_data = k as u64;
    cb.aio_key = if inp.u8() % 8 == 0 { inp.u32() } else { 0 };
    cb.aio_rw_flags = if inp.u8() % 4 == 0 { inp.u32() as i32 } else { 0 };
    cb.aio_lio_opcode = match inp.u8() % 10 {
        9 => inp.u16(),
        op => u16::from(op),
    };
    cb.aio_reqprio = inp.u16() as i16;
    let mut fd = w.fds[inp.u8() as usize % w.fds.len()];
    let rw = matches!(cb.aio_lio_opcode, 0 | 1 | 7 | 8);
    if rw && (fd == w.fds[3] || fd == w.fds[4] || fd == w.fds[5]) {
        fd = w.file;
    }
    cb.aio_fildes = fd as u32;
    let off = inp.u32() as usize % REGION;
    cb.aio_buf = match cb.aio_lio_opcode {
        0 | 1 => (w.region + off) as u64,
        7 | 8 => {
            let n = MAXIOV;
            for i in 0..n.min(16) {
                let base = w.region + inp.u32() as usize % REGION;
                let len = u64::from(inp.u32()) >> (inp.u8() % 33);
                // SAFETY: i < MAXIOV entries of 16 bytes lie in the iovec mapping.
                unsafe {
                    let p = (w.iovs as *mut u64).add(2 * i);
                    p.write(base as u64);
                    p.add(1).write(len);
                }
            }
            w.iovs as u64
        }
        _ => u64::from(inp.u32()),
    };
    cb.aio_nbytes = match inp.u8() % 4 {
        0 => inp.u64(),
        _ => u64::from(inp.u16()),
    };
    cb.aio_offset = match inp.u8() % 4 {
        0 => inp.u64() as i64,
        _ => i64::from(inp.u32()),
    };
    cb.aio_reserved2 = if inp.u8() % 16 == 0 { inp.u64() } else { 0 };
    cb.aio_flags = u32::from(inp.u8() % 8);
    cb.aio_resfd = w.fds[inp.u8() as usize % w.fds.len()] as u32;
    cb
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let mut inp = Input(data);
    let mut ctx: IoContext = std::ptr::null_mut();
    let nev = i32::from(inp.u8() % 16) - 1;
    // SAFETY: ctx is a live local io_context_t.
    let r = unsafe { exports::io_setup(nev, &mut ctx) };
    if r != 0 {
        assert!(r < 0 && nev <= 0 || r == -libc::EAGAIN, "io_setup({nev}) = {r}");
        return;
    }
    let mut cbs: Vec<Iocb> = (0..NIOCB).map(|k| iocb(w, k, &mut inp)).collect();
    let base = cbs.as_mut_ptr();
    let mut submitted = [0usize; NIOCB];
    let mut reaped = [0usize; NIOCB];
    let mut events = vec![IoEvent::default(); 64];
    for _ in 0..(inp.u8() % 8) {
        let errno_before = 4242;
        // SAFETY: sets this thread's errno.
        unsafe { *libc::__errno_location() = errno_before };
        match inp.u8() % 3 {
            0 => {
                let n = inp.u8() as usize % 6;
                let mut ptrs: Vec<*mut Iocb> = (0..n)
                    .map(|_| match inp.u8() % 10 {
                        8 => std::ptr::null_mut(),
                        // The guard page: unreadable, for the library's EFAULT.
                        9 => (w.region + REGION) as *mut Iocb,
                        // SAFETY: an index below NIOCB, inside the iocb vector.
                        k => unsafe { base.add(k as usize % NIOCB) },
                    })
                    .collect();
                let nr = n as libc::c_long - libc::c_long::from(inp.u8() % 2);
                // SAFETY: ptrs holds n pointers (NULL, the guard, or iocbs that live until
                // io_destroy below, whose buffers lie in the guarded region).
                let r = unsafe { exports::io_submit(ctx, nr, ptrs.as_mut_ptr()) };
                assert!(r <= nr.max(0) as i32, "io_submit({nr}) = {r}");
                for p in ptrs.iter().take(r.max(0) as usize) {
                    let k = (*p as usize).wrapping_sub(base as usize) / std::mem::size_of::<Iocb>();
                    assert!(k < NIOCB, "io_submit counted a pointer that is no iocb");
                    submitted[k] += 1;
                }
            }
            1 => {
                let nr = libc::c_long::from(inp.u8() % 70) - 2;
                let min = libc::c_long::from(inp.u8() % 4) - 1;
                let mut ts = Timespec { tv_sec: 0, tv_nsec: libc::c_long::from(inp.u8()) * 1000 };
                // SAFETY: events has room for 64 events and nr is at most 64 (the drop-in
                // and the kernel write at most nr); ts is a live timespec.
                let r = unsafe {
                    exports::aiolos_io_getevents_0_4(ctx, min, nr.min(64), events.as_mut_ptr(), &mut ts)
                };
                assert!(r <= nr.min(64).max(0) as i32, "io_getevents(.., {nr}) = {r}");
                for e in events.iter().take(r.max(0) as usize) {
                    let k = (e.obj as usize).wrapping_sub(base as usize) / std::mem::size_of::<Iocb>();
                    assert!(k < NIOCB, "an event for no iocb: {:#x}", e.obj);
                    reaped[k] += 1;
                    assert!(reaped[k] <= submitted[k], "iocb {k} completed more often than submitted");
                }
            }
            _ => {
                let k = inp.u8() as usize % NIOCB;
                let mut ev = IoEvent::default();
                // SAFETY: an iocb of ours and a live event.
                let r = unsafe { exports::aiolos_io_cancel_0_4(ctx, base.add(k), &mut ev) };
                assert!(r <= 0);
            }
        }
        // SAFETY: reads this thread's errno.
        assert_eq!(unsafe { *libc::__errno_location() }, errno_before, "errno changed");
    }
    // SAFETY: ctx is ours; io_destroy waits for every request in flight.
    assert_eq!(unsafe { exports::io_destroy(ctx) }, 0);
    drop(cbs);
});
