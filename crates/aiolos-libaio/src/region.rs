//! Which caller memory the library may read or write itself, without asking the kernel
//! first: memory that is certainly mapped while the call runs.
//!
//! The kernel reads a libaio caller's pointers with `copy_from_user` and answers `EFAULT`
//! for a bad one; a library that dereferenced them would crash instead. Asking the kernel
//! costs a system call per access (about 1 µs for `process_vm_readv` on the development
//! VM, as much as the whole buffered read a warm `io_submit` does), so the library reads
//! and writes directly where it can prove the memory is there:
//!
//! - the live part of the calling thread's stack (between the stack pointer and the top of
//!   the thread's stack), where most callers keep `timespec`s, iocb pointer arrays and
//!   often the iocbs themselves;
//! - the program's heap grown with `brk` (glibc's main arena), from the start of the heap
//!   to the current break, which only ever moves by the C library's own `brk`/`sbrk`;
//! - the main executable's loaded segments (its static and global data), for reads; for
//!   writes, its writable segments less the part made read-only after relocation
//!   (`PT_GNU_RELRO`).
//!
//! Everything else (memory from `mmap`, thread arenas, other libraries) goes through the
//! kernel (`crate::caller`), which answers `EFAULT` as `io_submit` would.
//!
//! A program can break these assumptions only by calling `brk` directly (behind the C
//! library's back) to shrink its heap, or by `munmap`/`mprotect` of its own stack or
//! executable: none of which a C program does.
//!
//! # Safety
//!
//! Calls `pthread_getattr_np`/`pthread_attr_getstack`/`pthread_attr_destroy` on an attribute
//! object owned by this module, once per thread; `sbrk(0)`, which only reads the current
//! break; and `dl_iterate_phdr`, whose callback reads the program headers the dynamic linker
//! passes it for the duration of the call.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

thread_local! {
    /// (lowest, highest) address of this thread's stack; (0, 0) until looked up, (1, 0) if
    /// it cannot be found.
    static BOUNDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

fn stack_lookup() -> (usize, usize) {
    if cfg!(miri) {
        // Miri has no pthread_getattr_np: the bounds are unknown, so every access goes
        // through the kernel-checked path, as where the lookup fails.
        return (1, 0);
    }
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: pthread_getattr_np initialises attr for the calling thread on success; we only
    // read it then, and destroy it afterwards.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return (1, 0);
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        if !ok || addr.is_null() {
            return (1, 0);
        }
        (addr as usize, addr as usize + size)
    }
}

/// Whether `[addr, addr + len)` lies between the current stack pointer and the top of the
/// calling thread's stack (so it is mapped and writable), and the thread runs on its own
/// stack (not a coroutine or signal stack).
#[inline(never)]
pub fn on_live_stack(addr: usize, len: usize) -> bool {
    let marker = 0u8;
    let sp = std::hint::black_box(&marker) as *const u8 as usize;
    let (lo, hi) = BOUNDS.with(|b| {
        if b.get() == (0, 0) {
            b.set(stack_lookup());
        }
        b.get()
    });
    lo <= sp && sp < hi && sp <= addr && addr.checked_add(len).is_some_and(|end| end <= hi)
}

/// The start of the `brk` heap (`start_brk` in `/proc/self/stat`), looked up once; 0 when
/// unknown (then the heap is not trusted).
fn heap_start() -> usize {
    static START: OnceLock<usize> = OnceLock::new();
    *START.get_or_init(|| {
        if cfg!(miri) {
            return 0;
        }
        // Field 47 of /proc/self/stat (Linux 3.3): the address above which brk grows.
        // The command name (field 2) may hold spaces and parentheses, so count from the
        // last ')'.
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return 0;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return 0;
        };
        rest.split_whitespace()
            .nth(47 - 3)
            .and_then(|f| f.parse().ok())
            .unwrap_or(0)
    })
}

/// Whether `[addr, addr + len)` lies in the `brk` heap below the current break.
fn in_heap(addr: usize, len: usize) -> bool {
    let start = heap_start();
    if start == 0 || addr < start {
        return false;
    }
    // SAFETY: sbrk(0) only reports the current break (glibc keeps it in a variable; the
    // first call may ask the kernel with brk(0), which changes nothing).
    let brk = unsafe { libc::sbrk(0) } as usize;
    brk != usize::MAX && addr.checked_add(len).is_some_and(|end| end <= brk)
}

/// The main executable's readable and writable address ranges (`[start, end)`).
struct Image {
    readable: Vec<(usize, usize)>,
    writable: Vec<(usize, usize)>,
}

fn image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let mut img = Image {
            readable: Vec::new(),
            writable: Vec::new(),
        };
        if cfg!(not(miri)) {
            // SAFETY: the callback only reads the headers it is passed and stops after
            // the first object, which is the main program.
            unsafe {
                libc::dl_iterate_phdr(Some(collect_segments), (&mut img as *mut Image).cast())
            };
        }
        img
    })
}

/// `dl_iterate_phdr` callback: records the first object's (the program's) segments.
unsafe extern "C" fn collect_segments(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: the dynamic linker passes a valid info for the duration of the call, and
    // data is the Image passed to dl_iterate_phdr.
    let (info, img) = unsafe { (&*info, &mut *data.cast::<Image>()) };
    if info.dlpi_phdr.is_null() {
        return 1;
    }
    // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let base = info.dlpi_addr as usize;
    let mut relro = Vec::new();
    for ph in phdrs {
        let start = base.wrapping_add(ph.p_vaddr as usize);
        let end = start.wrapping_add(ph.p_memsz as usize);
        match ph.p_type {
            libc::PT_LOAD if ph.p_flags & libc::PF_R != 0 => {
                img.readable.push((start, end));
                if ph.p_flags & libc::PF_W != 0 {
                    img.writable.push((start, end));
                }
            }
            libc::PT_GNU_RELRO => relro.push((start, end)),
            _ => {}
        }
    }
    // Relocation-read-only parts of a writable segment are read-only once the program
    // runs: writable is what lies past them (the linker puts RELRO at a segment's start).
    for w in img.writable.iter_mut() {
        for &(rs, re) in &relro {
            if rs <= w.0 && re > w.0 {
                w.0 = re.min(w.1);
            }
        }
    }
    1
}

fn within(ranges: &[(usize, usize)], addr: usize, len: usize) -> bool {
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    ranges.iter().any(|&(s, e)| s <= addr && end <= e)
}

/// Whether the library may read `[addr, addr + len)` directly.
pub fn readable(addr: usize, len: usize) -> bool {
    on_live_stack(addr, len) || in_heap(addr, len) || within(&image().readable, addr, len)
}

/// Whether the library may write `[addr, addr + len)` directly.
pub fn writable(addr: usize, len: usize) -> bool {
    on_live_stack(addr, len) || in_heap(addr, len) || within(&image().writable, addr, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no pthread_getattr_np")]
    fn a_local_is_on_the_live_stack_and_dead_frames_are_not() {
        let local = 5u64;
        let a = &local as *const u64 as usize;
        assert!(on_live_stack(a, 8));
        assert!(readable(a, 8) && writable(a, 8));
        // Far below the stack pointer: where frames that have returned were (only the
        // address is compared, nothing is read).
        assert!(!on_live_stack(a - (64 << 10), 8));
        assert!(!on_live_stack(0, 8));
        assert!(
            !on_live_stack(a, usize::MAX),
            "a range that wraps is never inside"
        );
    }

    #[test]
    fn a_pointer_into_another_threads_stack_is_not_live_here() {
        let local = 5u64;
        let addr = &local as *const u64 as usize;
        let elsewhere = std::thread::spawn(move || on_live_stack(addr, 8));
        assert!(!elsewhere.join().unwrap());
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no /proc and no brk")]
    fn small_heap_blocks_of_the_main_arena_are_in_the_heap_and_mmap_memory_is_not() {
        // The test harness runs tests on threads of their own, whose allocations come
        // from thread arenas: allocate on the main arena's side by asking for the heap's
        // own bounds instead.
        let start = heap_start();
        assert!(start > 0, "start_brk read from /proc/self/stat");
        // SAFETY: sbrk(0) only reads the break.
        let brk = unsafe { libc::sbrk(0) } as usize;
        assert!(brk >= start);
        if brk > start {
            assert!(in_heap(start, brk - start));
        }
        assert!(!in_heap(brk, 1), "nothing at or past the break");
        assert!(!in_heap(start - 1, 1));
        let mapped = vec![0u8; 1 << 20]; // large: glibc serves it with mmap
        assert!(!in_heap(mapped.as_ptr() as usize, 1));
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no dl_iterate_phdr")]
    fn the_programs_statics_are_readable_and_only_writable_ones_writable() {
        static CONSTANT: [u8; 16] = [7; 16];
        static mut MUTABLE: [u8; 16] = [0; 16];
        let c = CONSTANT.as_ptr() as usize;
        let m = std::ptr::addr_of!(MUTABLE) as usize;
        assert!(readable(c, 16) && readable(m, 16));
        assert!(!writable(c, 16), "read-only data is not writable");
        assert!(writable(m, 16));
        // The code of a shared library (libc's) is not the program's.
        assert!(!readable(libc::malloc as *const () as usize, 1));
    }
}
