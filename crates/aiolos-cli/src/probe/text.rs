//! The text form of the probe's [`Report`]: one line per fact, io_uring's operations
//! summarised in groups (the JSON form lists each one).

use super::{Measured, PathReport, Report};
use std::io::{self, Write};

/// io_uring's operations in groups, for the text output (`--json` lists each one).
const OP_GROUPS: &[(&str, &[&str])] = &[
    (
        "file I/O",
        &[
            "read",
            "write",
            "readv",
            "writev",
            "read_fixed",
            "write_fixed",
            "readv_fixed",
            "writev_fixed",
            "read_multishot",
            "fsync",
            "sync_file_range",
            "fallocate",
            "fadvise",
            "madvise",
            "splice",
            "tee",
            "ftruncate",
        ],
    ),
    (
        "files",
        &[
            "openat",
            "openat2",
            "close",
            "statx",
            "renameat",
            "unlinkat",
            "mkdirat",
            "symlinkat",
            "linkat",
            "fsetxattr",
            "setxattr",
            "fgetxattr",
            "getxattr",
            "files_update",
            "fixed_fd_install",
            "pipe",
        ],
    ),
    (
        "network",
        &[
            "sendmsg",
            "recvmsg",
            "accept",
            "connect",
            "send",
            "recv",
            "shutdown",
            "socket",
            "send_zc",
            "sendmsg_zc",
            "bind",
            "listen",
            "recv_zc",
        ],
    ),
];

/// `63 supported (file I/O 17, files 16, network 13, other 17)`.
fn ops_summary(supported: &[&str]) -> String {
    let mut parts = Vec::new();
    let mut grouped = 0;
    for (group, names) in OP_GROUPS {
        let n = supported.iter().filter(|op| names.contains(op)).count();
        grouped += n;
        parts.push(format!("{group} {n}"));
    }
    parts.push(format!("other {}", supported.len() - grouped));
    format!("{} supported ({})", supported.len(), parts.join(", "))
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

pub fn render(r: &Report, out: &mut impl Write) -> io::Result<()> {
    let k = &r.kernel;
    writeln!(
        out,
        "kernel           {} {} {}",
        k.sysname, k.release, k.machine
    )?;
    let u = &r.io_uring;
    match (&u.unavailable_reason, &u.unusable_reason) {
        (Some(why), _) => writeln!(out, "io_uring         unavailable: {why}")?,
        (None, Some(why)) => writeln!(
            out,
            "io_uring         available, not usable by aiolos: {why}"
        )?,
        (None, None) => writeln!(out, "io_uring         available")?,
    }
    if u.available {
        writeln!(
            out,
            "  ops            {}; --json lists them",
            ops_summary(&u.supported_ops)
        )?;
        if !u.unsupported_ops.is_empty() {
            writeln!(out, "  missing        {}", u.unsupported_ops.join(" "))?;
        }
    }
    let a = &r.kernel_aio;
    let nr = |v: Option<u64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
    match &a.unavailable_reason {
        Some(why) => writeln!(out, "kernel AIO       unavailable: {why}")?,
        None => writeln!(out, "kernel AIO       available")?,
    }
    writeln!(
        out,
        "  fs.aio-nr      {} of fs.aio-max-nr {}",
        nr(a.aio_nr),
        nr(a.aio_max_nr)
    )?;
    path_text(&r.path, out)?;
    writeln!(
        out,
        "engine           {}: {}",
        r.engine.choice, r.engine.reason
    )
}

fn path_text(p: &PathReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "path             {} ({}, {})",
        p.path,
        p.kind,
        p.fs_type.as_deref().unwrap_or("unknown file system")
    )?;
    if !p.regular_files {
        let fs = p.fs_type.as_deref().unwrap_or("this file system");
        writeln!(
            out,
            "  O_DIRECT       no: {fs} is the kernel's own file system and holds no regular files"
        )?;
        return measured_text(p, out);
    }
    let direct = match (p.o_direct, &p.o_direct_error) {
        (Some(b), None) => yes_no(b).to_string(),
        (b, Some(e)) => format!("{} (probe failed: {e})", b.map_or("unknown", yes_no)),
        (None, None) => "unknown".into(),
    };
    writeln!(out, "  O_DIRECT       {direct}")?;
    if let Some(al) = &p.alignment {
        writeln!(
            out,
            "  alignment      memory {}, offset and length {} (from {})",
            al.mem, al.offset, al.source
        )?;
    }
    match (&p.block_device, p.logical_block_size) {
        (Some(dev), Some(lbs)) => writeln!(
            out,
            "  block device   {dev}: logical block {lbs}, physical block {}",
            p.physical_block_size
                .map_or("?".to_string(), |v| v.to_string())
        )?,
        _ => writeln!(out, "  block device   none")?,
    }
    measured_text(p, out)
}

/// The two measured lines: buffered AIO and `RWF_NOWAIT`.
fn measured_text(p: &PathReport, out: &mut impl Write) -> io::Result<()> {
    match &p.native_buffered_read {
        Measured::Done(b) => writeln!(
            out,
            "  buffered AIO   {}: a {} KiB read of a cold page {} io_submit ({:.0} us)",
            if b.blocks { "blocks" } else { "asynchronous" },
            b.read_bytes >> 10,
            if b.blocks {
                "completed inside"
            } else {
                "was queued by"
            },
            b.submit_us
        )?,
        Measured::Skipped(why) => writeln!(out, "  buffered AIO   not measured: {why}")?,
    }
    match &p.rwf_nowait {
        Measured::Done(n) => writeln!(
            out,
            "  RWF_NOWAIT     {}: {}",
            if n.supported {
                "supported"
            } else {
                "not supported"
            },
            n.result
        ),
        Measured::Skipped(why) => writeln!(out, "  RWF_NOWAIT     not measured: {why}"),
    }
}
