//! `aiolos probe PROGRAM`: whether an executable (or library) uses libaio, and where the
//! dynamic loader would find it, read from the file's ELF dynamic section (`DT_NEEDED`,
//! `DT_RUNPATH`/`DT_RPATH`) without running it.

use anyhow::Result;
use serde::Serialize;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The library names kernel AIO programs link: libaio's, and the time64 one Debian 13 and
/// Ubuntu 24.04 renamed it to.
const LIBAIO: &str = "libaio.so.1";
const LIBAIO_T64: &str = "libaio.so.1t64";

/// What `aiolos probe PROGRAM` reports.
#[derive(Serialize, Debug)]
pub struct ProgramReport {
    program: String,
    /// The libaio it names itself (`libaio.so.1` or `libaio.so.1t64`), if any.
    links_libaio: Option<String>,
    /// A library it names that in turn names libaio (when it does not itself).
    through: Option<String>,
    /// Where the loader would find that libaio here.
    resolves_to: Option<String>,
    /// Every library it names.
    needed: Vec<String>,
    /// How to run it on aiolos.
    run_with: Option<String>,
    /// The object that links libaio imports `io_setup` (or `io_queue_init`) but no call
    /// that reaps: it reaps with system calls of its own (MariaDB's InnoDB does), so the
    /// drop-in gives it kernel contexts on every engine.
    reaps_itself: bool,
}

/// The dynamic section of an ELF file: what it needs, its search paths, and which of
/// libaio's calls it imports.
struct Dynamic {
    needed: Vec<String>,
    paths: Vec<String>,
    imports: Vec<String>,
}

/// libaio's calls that create contexts, and those that reap.
const SETUP_CALLS: [&str; 2] = ["io_setup", "io_queue_init"];
const REAP_CALLS: [&str; 4] = [
    "io_getevents",
    "io_pgetevents",
    "io_queue_run",
    "io_queue_wait",
];

impl Dynamic {
    /// Imports a call that creates contexts and none that reaps.
    fn reaps_itself(&self) -> bool {
        let has = |calls: &[&str]| self.imports.iter().any(|i| calls.contains(&i.as_str()));
        has(&SETUP_CALLS) && !has(&REAP_CALLS)
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Whether `b` starts like a 64-bit little-endian ELF file.
fn is_elf64(b: &[u8]) -> bool {
    b.len() > 64 && b[..4] == *b"\x7fELF" && b[4] == 2 && b[5] == 1
}

/// Reads the dynamic section of a 64-bit little-endian ELF file (`None`: not one, or
/// statically linked).
fn dynamic(b: &[u8]) -> Option<Dynamic> {
    if !is_elf64(b) {
        return None;
    }
    let phoff = u64_at(b, 32)? as usize;
    let phentsize = usize::from(u16_at(b, 54)?);
    let phnum = usize::from(u16_at(b, 56)?);
    let headers: Vec<(u32, u64, u64, u64)> = (0..phnum)
        .filter_map(|i| {
            let h = phoff.checked_add(i.checked_mul(phentsize)?)?;
            // (type, offset, vaddr, filesz)
            Some((
                u32_at(b, h)?,
                u64_at(b, h + 8)?,
                u64_at(b, h + 16)?,
                u64_at(b, h + 32)?,
            ))
        })
        .collect();
    let to_offset = |vaddr: u64| {
        headers
            .iter()
            .find(|&&(t, _, va, sz)| t == 1 && va <= vaddr && vaddr < va + sz)
            .map(|&(_, off, va, _)| (vaddr - va + off) as usize)
    };
    let &(_, dyn_off, _, dyn_size) = headers.iter().find(|h| h.0 == 2)?;
    let (mut needed, mut paths, mut strtab) = (Vec::new(), Vec::new(), None);
    let (mut symtab, mut syment) = (None, 24);
    // Relocation tables (DT_RELA, DT_JMPREL): (offset, size).
    let mut relocs = [(None, 0usize); 2];
    for i in 0..(dyn_size / 16) as usize {
        let e = dyn_off as usize + i * 16;
        let (tag, val) = (u64_at(b, e)?, u64_at(b, e + 8)?);
        match tag {
            0 => break,
            1 => needed.push(val),
            5 => strtab = to_offset(val),
            6 => symtab = to_offset(val),
            11 => syment = val as usize,
            7 => relocs[0].0 = to_offset(val),
            8 => relocs[0].1 = val as usize,
            23 => relocs[1].0 = to_offset(val),
            2 => relocs[1].1 = val as usize,
            15 | 29 => paths.push(val),
            _ => {}
        }
    }
    let strtab = strtab?;
    let string = |off: u64| {
        let start = strtab.checked_add(off as usize)?;
        let rest = b.get(start..)?;
        let end = rest.iter().position(|&c| c == 0)?;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    // The undefined symbols the relocations name (Elf64_Rela: 24 bytes, the symbol index
    // in the high half of r_info; Elf64_Sym: st_name at 0, st_shndx at 6, 0 = undefined).
    let mut imports = Vec::new();
    if let Some(symtab) = symtab {
        for (start, size) in relocs {
            let Some(start) = start else { continue };
            for r in (start..start.saturating_add(size)).step_by(24) {
                let Some(info) = u64_at(b, r + 8) else { break };
                let sym = (info >> 32) as usize;
                let Some(at) = sym.checked_mul(syment).and_then(|o| o.checked_add(symtab)) else {
                    continue;
                };
                if sym == 0 || u16_at(b, at + 6) != Some(0) {
                    continue;
                }
                if let Some(name) = u32_at(b, at).and_then(|n| string(u64::from(n))) {
                    if SETUP_CALLS.contains(&name.as_str()) || REAP_CALLS.contains(&name.as_str()) {
                        imports.push(name);
                    }
                }
            }
        }
    }
    Some(Dynamic {
        imports,
        needed: needed.into_iter().filter_map(string).collect(),
        paths: paths
            .into_iter()
            .filter_map(string)
            .flat_map(|p| p.split(':').map(str::to_string).collect::<Vec<_>>())
            .collect(),
    })
}

/// Where the loader would look for a library, for a program at `program` with search
/// paths `paths` (roughly `ld.so`'s order: `LD_LIBRARY_PATH`, the program's own paths, the
/// standard directories; the loader's cache lists the same files).
fn find(name: &str, program: &Path, paths: &[String]) -> Option<PathBuf> {
    let origin = program
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let env = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
    let standard = [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
        "/usr/local/lib",
    ];
    env.split(':')
        .map(str::to_string)
        .chain(paths.iter().map(|p| p.replace("$ORIGIN", &origin)))
        .chain(standard.iter().map(|s| s.to_string()))
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(&d).join(name))
        .find(|p| p.exists())
}

/// `Some(report)` when `path` is an ELF executable or library; `None` for anything else
/// (a directory, a data file), which `aiolos probe` examines as storage.
///
/// # Errors
/// When the file cannot be read.
pub fn inspect(path: &Path) -> Result<Option<ProgramReport>> {
    if !path.is_file() {
        return Ok(None);
    }
    let mut head = [0u8; 6];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(path)?;
        if f.read(&mut head)? < head.len() || head[..4] != *b"\x7fELF" {
            return Ok(None);
        }
    }
    let bytes = std::fs::read(path)?;
    let program = path.display().to_string();
    let Some(d) = dynamic(&bytes) else {
        return Ok(Some(ProgramReport {
            program,
            links_libaio: None,
            through: None,
            resolves_to: None,
            needed: Vec::new(),
            run_with: None,
            reaps_itself: false,
        }));
    };
    let direct = d
        .needed
        .iter()
        .find(|n| *n == LIBAIO || *n == LIBAIO_T64)
        .cloned();
    let (links, through, reaps_itself) = match direct {
        Some(n) => (Some(n), None, d.reaps_itself()),
        None => {
            // One level down: a library of its own that needs libaio.
            let found = d.needed.iter().find_map(|n| {
                let p = find(n, path, &d.paths)?;
                let inner = dynamic(&std::fs::read(&p).ok()?)?;
                let reaps = inner.reaps_itself();
                let aio = inner
                    .needed
                    .into_iter()
                    .find(|m| m == LIBAIO || m == LIBAIO_T64)?;
                Some((aio, n.clone(), reaps))
            });
            match found {
                Some((aio, via, reaps)) => (Some(aio), Some(via), reaps),
                None => (None, None, false),
            }
        }
    };
    let resolves_to = links
        .as_deref()
        .and_then(|n| find(n, path, &d.paths))
        .map(|p| p.display().to_string());
    let run_with = (links.as_deref() == Some(LIBAIO)).then(|| format!("aiolos run -- {program}"));
    Ok(Some(ProgramReport {
        program,
        links_libaio: links,
        through,
        resolves_to,
        needed: d.needed,
        run_with,
        reaps_itself,
    }))
}

/// Prints a program report as text.
///
/// # Errors
/// When the output cannot be written.
pub fn text(r: &ProgramReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "program          {}", r.program)?;
    match (&r.links_libaio, &r.through) {
        (None, _) if r.needed.is_empty() => {
            writeln!(out, "  libaio         no (not dynamically linked)")?
        }
        (None, _) => writeln!(
            out,
            "  libaio         no: it does not link libaio.so.1 (a program may still dlopen it)"
        )?,
        (Some(n), None) => writeln!(out, "  libaio         yes: links {n}")?,
        (Some(n), Some(via)) => writeln!(out, "  libaio         yes: links {n} through {via}")?,
    }
    if let Some(p) = &r.resolves_to {
        writeln!(out, "  found at       {p}")?;
    }
    if r.links_libaio.as_deref() == Some(LIBAIO_T64) {
        writeln!(
            out,
            "  note           {LIBAIO_T64} is the time64 name; the drop-in provides {LIBAIO}"
        )?;
    }
    if r.reaps_itself {
        writeln!(
            out,
            "  reaping        with its own system calls (it imports io_setup, not io_getevents): \
             the drop-in gives it kernel contexts on every engine"
        )?;
    }
    if let Some(cmd) = &r.run_with {
        writeln!(out, "  on aiolos      {cmd} [ARGS...]")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_program_is_elf_and_links_no_libaio() {
        let me = std::env::current_exe().unwrap();
        let r = inspect(&me).unwrap().expect("an ELF file");
        assert!(r.links_libaio.is_none());
        assert!(
            r.needed.iter().any(|n| n.starts_with("libc.so")),
            "{:?}",
            r.needed
        );
    }

    #[test]
    fn a_directory_or_a_text_file_is_not_a_program() {
        assert!(inspect(Path::new("/")).unwrap().is_none());
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"hello").unwrap();
        assert!(inspect(f.path()).unwrap().is_none());
    }

    #[test]
    fn truncated_or_foreign_headers_give_no_dynamic_section() {
        assert!(dynamic(b"\x7fELF").is_none());
        let mut b = vec![0u8; 128];
        b[..6].copy_from_slice(b"\x7fELF\x01\x01"); // 32-bit
        assert!(dynamic(&b).is_none());
        b[4] = 2;
        assert!(dynamic(&b).is_none(), "no program headers");
    }
}
