//! Which loaded programs and libraries reap with system calls of their own.
//!
//! Some libaio programs take `io_setup` and `io_submit` from the library but call the
//! kernel's `io_getevents` themselves (`syscall(SYS_io_getevents, ...)`: MariaDB's InnoDB
//! does, to avoid libaio's user-space fast path). Such a call reaches the kernel, which
//! knows only kernel contexts: on an emulated engine it answers `EINVAL` for every
//! context, and the program stops (InnoDB aborts). Those programs can be recognised
//! before their first context: an object that imports `io_setup` (or `io_queue_init`)
//! but none of the calls that reap (`io_getevents`, `io_pgetevents`, `io_queue_run`,
//! `io_queue_wait`) reaps some other way, by system call or by reading the ring, and
//! kernel contexts serve both. [`raw_reaper`] names the first such object.
//!
//! An object's imports are the undefined symbols its relocations name (`DT_RELA` and
//! `DT_JMPREL`), read from its dynamic section as the dynamic linker loaded it.
//!
//! # Safety
//!
//! `dl_iterate_phdr` passes each loaded object's program headers for the duration of the
//! callback; the dynamic section, relocation tables, symbol table and string table they
//! lead to are in the object's loaded segments, mapped and readable while it is loaded
//! (the dynamic linker holds its lock during the callback, so none is unloaded then).
//! Strings are read no further than the string table's size.
#![allow(unsafe_code)]
#![cfg(not(miri))]

use std::ffi::CStr;

/// Calls that create a context, then calls that reap (bits 0-1 and 2-5 of a [`scan`] mask).
const CALLS: [&[u8]; 6] = [
    b"io_setup",
    b"io_queue_init",
    b"io_getevents",
    b"io_pgetevents",
    b"io_queue_run",
    b"io_queue_wait",
];
const SETUP: u64 = 0b11;
const REAP: u64 = 0b11_1100;

/// The path of the first loaded object (the program first) that imports a call creating
/// contexts and none that reaps, or `None`.
pub fn raw_reaper() -> Option<String> {
    scan(&CALLS)
        .into_iter()
        .find(|(_, m)| m & SETUP != 0 && m & REAP == 0)
        .map(|(name, _)| name)
}

/// Every loaded object (the program first) with the mask of the `names` it imports (bit
/// `i` for `names[i]`).
fn scan(names: &[&[u8]]) -> Vec<(String, u64)> {
    let mut found = Scan {
        names,
        objects: Vec::new(),
    };
    // SAFETY: the callback reads only what the dynamic linker passes it (see the module's
    // safety note); `found` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&raw mut found).cast()) };
    found.objects
}

struct Scan<'a> {
    names: &'a [&'a [u8]],
    objects: Vec<(String, u64)>,
}

unsafe extern "C" fn visit(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: the dynamic linker passes a valid info for the duration of the call, and
    // data is the Scan passed to dl_iterate_phdr.
    let (info, scan) = unsafe { (&*info, &mut *data.cast::<Scan<'_>>()) };
    // SAFETY: as above.
    let mask = unsafe { imports_of(info, scan.names) };
    scan.objects.push((name_of(info), mask));
    0
}

fn name_of(info: &libc::dl_phdr_info) -> String {
    if info.dlpi_name.is_null() {
        return String::new();
    }
    // SAFETY: dlpi_name is a NUL-terminated string for the duration of the callback.
    let name = unsafe { CStr::from_ptr(info.dlpi_name) }.to_string_lossy();
    if name.is_empty() {
        // The program itself.
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "the program".into())
    } else {
        name.into_owned()
    }
}

/// An entry of a dynamic section (`Elf64_Dyn`).
#[repr(C)]
#[derive(Clone, Copy)]
struct Dyn {
    d_tag: i64,
    d_un: u64,
}

/// The mask of `names` the object imports.
///
/// # Safety
/// `info` is what `dl_iterate_phdr` passed, during its callback.
unsafe fn imports_of(info: &libc::dl_phdr_info, names: &[&[u8]]) -> u64 {
    let mut out = 0;
    if info.dlpi_phdr.is_null() {
        return out;
    }
    // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let base = info.dlpi_addr as usize;
    let Some(dynamic) = phdrs.iter().find(|p| p.p_type == libc::PT_DYNAMIC) else {
        return out;
    };
    // The dynamic linker turns most entries into addresses; where it did not (an address
    // below the object's base), the entry is still an offset from the base.
    let at = |v: u64| {
        let v = v as usize;
        if v < base {
            base.wrapping_add(v)
        } else {
            v
        }
    };
    let (mut symtab, mut strtab, mut strsz, mut syment) = (0, 0, 0, 0);
    let mut tables = [(0usize, 0usize); 2];
    let mut dynp = base.wrapping_add(dynamic.p_vaddr as usize) as *const Dyn;
    loop {
        // SAFETY: the dynamic section is mapped and ends with DT_NULL.
        let d = unsafe { dynp.read() };
        let v = d.d_un;
        match d.d_tag as u32 {
            0 => break,                         // DT_NULL
            6 => symtab = at(v),                // DT_SYMTAB
            5 => strtab = at(v),                // DT_STRTAB
            10 => strsz = v as usize,           // DT_STRSZ
            11 => syment = v as usize,          // DT_SYMENT
            7 => tables[0].0 = at(v),           // DT_RELA
            8 => tables[0].1 = v as usize,      // DT_RELASZ
            23 => tables[1].0 = at(v),          // DT_JMPREL
            2 => tables[1].1 = v as usize,      // DT_PLTRELSZ
            20 if v != 7 => tables[1] = (0, 0), // DT_PLTREL not DT_RELA
            _ => {}
        }
        dynp = dynp.wrapping_add(1);
    }
    if symtab == 0 || strtab == 0 || syment < size_of::<libc::Elf64_Sym>() {
        return out;
    }
    let rela = size_of::<libc::Elf64_Rela>();
    for (start, len) in tables {
        if start == 0 {
            continue;
        }
        for i in 0..len / rela {
            // SAFETY: the table holds len bytes of relocations, mapped.
            let r = unsafe { (start as *const libc::Elf64_Rela).add(i).read_unaligned() };
            let sym = (r.r_info >> 32) as usize;
            if sym == 0 {
                continue;
            }
            // SAFETY: a relocation names an entry of the symbol table, mapped.
            let s = unsafe { ((symtab + sym * syment) as *const libc::Elf64_Sym).read_unaligned() };
            if s.st_shndx != 0 || s.st_name as usize >= strsz {
                continue; // defined here, not imported (or a name out of the table)
            }
            // SAFETY: the name starts inside the string table, whose strsz bytes are
            // mapped; at most the rest of the table is read.
            let name = unsafe {
                std::slice::from_raw_parts(
                    (strtab + s.st_name as usize) as *const u8,
                    strsz - s.st_name as usize,
                )
            };
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            if let Some(i) = names.iter().position(|n| *n == name) {
                out |= 1 << i;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_program_imports_what_it_calls_from_the_c_library() {
        let objects = scan(&[b"dl_iterate_phdr", b"no_such_function_anywhere"]);
        let (program, mask) = &objects[0];
        assert_eq!(*mask, 0b01, "imports of {program}");
        // The C library defines it: not an import there.
        assert!(objects
            .iter()
            .any(|(name, m)| name.contains("libc.so") && *m == 0));
        // The unit tests link the library's code statically: nothing imports io_setup.
        assert_eq!(raw_reaper(), None);
    }
}
