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
}

/// The dynamic section of an ELF file: what it needs, and its search paths.
struct Dynamic {
    needed: Vec<String>,
    paths: Vec<String>,
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
    for i in 0..(dyn_size / 16) as usize {
        let e = dyn_off as usize + i * 16;
        let (tag, val) = (u64_at(b, e)?, u64_at(b, e + 8)?);
        match tag {
            0 => break,
            1 => needed.push(val),
            5 => strtab = to_offset(val),
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
    Some(Dynamic {
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
        }));
    };
    let direct = d
        .needed
        .iter()
        .find(|n| *n == LIBAIO || *n == LIBAIO_T64)
        .cloned();
    let (links, through) = match direct {
        Some(n) => (Some(n), None),
        None => {
            // One level down: a library of its own that needs libaio.
            let found = d.needed.iter().find_map(|n| {
                let p = find(n, path, &d.paths)?;
                let inner = dynamic(&std::fs::read(&p).ok()?)?;
                let aio = inner
                    .needed
                    .into_iter()
                    .find(|m| m == LIBAIO || m == LIBAIO_T64)?;
                Some((aio, n.clone()))
            });
            match found {
                Some((aio, via)) => (Some(aio), Some(via)),
                None => (None, None),
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
