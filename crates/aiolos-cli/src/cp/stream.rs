//! Copying a SRC whose size says nothing (a pipe, a device, a file of `/proc` or `/sys`):
//! read from start to end of file, as `cp` does, and write what was read.
//!
//! The reads run on a thread of their own, because opening or reading a pipe can block for
//! as long as the writer likes; the copying thread waits for data with a timeout and
//! checks for Ctrl-C in between, so an interrupted copy is removed at once.

use super::progress::progress_bar;
use super::space;
use crate::interrupt;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// What the reading thread sends: a chunk of data, or the error that ended the reads.
type Chunk = io::Result<Vec<u8>>;

/// Reads `src` to its end in chunks of `bs` bytes; an empty chunk marks the end.
fn reader(src: PathBuf, bs: usize, tx: mpsc::SyncSender<Chunk>) {
    let mut file = match File::open(&src) {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.send(Err(e));
            return;
        }
    };
    loop {
        let mut buf = vec![0u8; bs];
        let n = loop {
            match file.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r,
            }
        };
        let last = !matches!(n, Ok(k) if k > 0);
        let chunk = n.map(|k| {
            buf.truncate(k);
            buf
        });
        if tx.send(chunk).is_err() || last {
            return;
        }
    }
}

/// Copies `src` to `dst` (the temporary copy in `dir`) until end of file; returns the
/// bytes copied.
///
/// # Errors
/// Read and write errors, a full file system (with the space that was free), and
/// [`interrupt::Interrupted`] on Ctrl-C.
pub fn copy(src: &Path, dst: &mut File, dir: &Path, bs: u64) -> Result<u64> {
    let bs = bs.clamp(4096, 16 << 20) as usize;
    let (tx, rx) = mpsc::sync_channel(4);
    let path = src.to_path_buf();
    // Not joined: a thread blocked on an idle pipe must not keep an interrupted copy alive.
    std::thread::Builder::new()
        .name("aiolos-cp-read".into())
        .spawn(move || reader(path, bs, tx))
        .context("cannot start the reading thread")?;
    let pb = progress_bar(None, "copying");
    let mut copied = 0u64;
    loop {
        interrupt::check(|| "cp interrupted while copying; the partial copy was removed".into())?;
        let chunk = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let data =
            chunk.with_context(|| format!("reading SRC {} after {copied} bytes", src.display()))?;
        if data.is_empty() {
            break;
        }
        dst.write_all(&data).map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::NOSPC.raw_os_error()) {
                anyhow::anyhow!(
                    "no space left for the copy in {} after {} of SRC (the size of SRC is \
                     not known in advance); free some space or copy elsewhere",
                    dir.display(),
                    space::bytes(copied)
                )
            } else {
                anyhow::Error::new(e).context(format!("writing the copy at offset {copied}"))
            }
        })?;
        copied += data.len() as u64;
        pb.inc(data.len() as u64);
    }
    pb.finish_and_clear();
    Ok(copied)
}
