//! The copy itself: reads and writes on one [`Ring`], `--qd` chunks in flight, each read
//! followed by the write of the same buffer; Ctrl-C or an error stops new reads, and what is
//! in flight is drained before the copy ends.

use super::extents::chunks;
use super::files::Io;
use super::progress::progress_bar;
use crate::interrupt::{self, Interrupted};
use aiolos::{align, AlignedBuf, BufPool, Completion, EngineKind, Op, Ring};
use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::Duration;

/// One chunk between its read and its write.
#[derive(Clone, Copy, Default)]
struct Chunk {
    off: u64,
    /// Bytes of SRC it carries (short for the last one).
    data: u64,
}

/// The read-then-write pipeline on the ring.
struct Pipeline<'a> {
    io: &'a Io,
    dst_file: &'a File,
    ring: Ring<AlignedBuf>,
    pool: BufPool,
    size: u64,
    slots: Vec<Chunk>,
    free: Vec<usize>,
    in_flight: usize,
    pb: ProgressBar,
}

impl Pipeline<'_> {
    fn start_read(&mut self, off: u64, len: u64) -> Result<()> {
        let slot = self.free.pop().context("no free request slot")?;
        let data = len.min(self.size.saturating_sub(off));
        self.slots[slot] = Chunk { off, data };
        let buf = if len == self.io.bs {
            self.pool.get()
        } else {
            AlignedBuf::try_with_capacity(len as usize, self.io.mem_align)
                .context("cannot allocate a buffer")?
        };
        let op = Op::read(&self.io.src_io, buf, off).user_data(slot as u64 * 2);
        self.ring.push(op).map_err(io::Error::from)?;
        self.in_flight += 1;
        Ok(())
    }

    fn finish(&mut self, slot: usize, buf: AlignedBuf) {
        self.pool.put(buf);
        self.free.push(slot);
        self.in_flight -= 1;
    }

    /// Handles one completion; an `Err` stops the copy (after the caller drains).
    fn complete(&mut self, c: Completion<AlignedBuf>, stopping: bool) -> Result<()> {
        let Completion {
            user_data,
            result,
            bufs,
            ..
        } = c;
        let slot = (user_data / 2) as usize;
        let is_write = user_data % 2 == 1;
        let chunk = self.slots[slot];
        let aiolos::Buffers::One(mut buf) = bufs else {
            bail!("a completion came back without its buffer");
        };
        let outcome = if is_write {
            self.written(chunk, result, &buf)
        } else {
            self.read_done(chunk, result, &mut buf)
        };
        match outcome {
            Ok(true) if !stopping => {
                let op = Op::write(&self.io.dst_io, buf, chunk.off).user_data(slot as u64 * 2 + 1);
                self.ring.push(op).map_err(io::Error::from)?;
                Ok(())
            }
            Ok(_) => {
                self.finish(slot, buf);
                Ok(())
            }
            Err(e) => {
                self.finish(slot, buf);
                Err(e)
            }
        }
    }

    /// A read finished: complete it if it was short, pad it for O_DIRECT. `Ok(true)` when
    /// the write should follow.
    fn read_done(&self, ch: Chunk, res: io::Result<usize>, buf: &mut AlignedBuf) -> Result<bool> {
        let n = res.with_context(|| format!("reading SRC at offset {}", ch.off))?;
        let want = ch.data as usize;
        if n < want {
            // A short read before the end of the file: fetch the rest synchronously.
            buf.resize(want);
            self.io
                .src
                .read_exact_at(&mut buf[n..want], ch.off + n as u64)
                .with_context(|| {
                    format!(
                        "reading SRC at offset {}: it is shorter than when the copy began",
                        ch.off + n as u64
                    )
                })?;
        }
        buf.truncate(want);
        if self.io.direct {
            buf.resize(align::align_up(want as u64, self.io.unit) as usize);
        }
        Ok(true)
    }

    /// A write finished: complete it if it was short; count its bytes.
    fn written(&self, ch: Chunk, res: io::Result<usize>, buf: &AlignedBuf) -> Result<bool> {
        let m = res.with_context(|| format!("writing DST at offset {}", ch.off))?;
        if m < buf.len() {
            self.dst_file
                .write_all_at(&buf[m..], ch.off + m as u64)
                .with_context(|| format!("writing DST at offset {}", ch.off + m as u64))?;
        }
        self.pb.inc(ch.data);
        Ok(false)
    }
}

/// Why the copy stopped early.
enum Stop {
    Interrupted,
    Failed(anyhow::Error),
}

fn run(pipe: &mut Pipeline<'_>, extents: Vec<(u64, u64)>, qd: usize) -> Result<(), Stop> {
    let mut todo = chunks(extents, pipe.io.bs);
    let mut stop: Option<Stop> = None;
    loop {
        if stop.is_none() && interrupt::interrupted() {
            stop = Some(Stop::Interrupted);
        }
        while stop.is_none() && pipe.in_flight < qd {
            let Some((off, len)) = todo.next() else { break };
            if let Err(e) = pipe.start_read(off, len) {
                stop = Some(Stop::Failed(e));
            }
        }
        if pipe.in_flight == 0 {
            break;
        }
        let done = match pipe.ring.wait(1, qd, Some(Duration::from_millis(100))) {
            Ok(d) => d,
            // The ring is unusable: nothing more can be drained.
            Err(e) => {
                return Err(Stop::Failed(
                    anyhow::Error::new(e).context("waiting for I/O"),
                ))
            }
        };
        for c in done {
            if let Err(e) = pipe.complete(c, stop.is_some()) {
                stop.get_or_insert(Stop::Failed(e));
            }
        }
    }
    stop.map_or(Ok(()), Err)
}

/// Copies the `extents` of SRC (`size` bytes in all) into `dst_file` through `io`, with
/// `qd` requests in flight on a ring of the `kind` engine.
///
/// # Errors
/// The first read or write error (naming the side and the offset), and
/// [`Interrupted`] on Ctrl-C; either way after every request in flight has completed.
pub fn copy(
    io: &Io,
    dst_file: &File,
    size: u64,
    extents: Vec<(u64, u64)>,
    kind: EngineKind,
    qd: u32,
) -> Result<()> {
    let ring = Ring::builder()
        .entries(qd)
        .engine(kind)
        .build::<AlignedBuf>()
        .with_context(|| format!("cannot start the {kind} engine"))?;
    let data_bytes: u64 = extents.iter().map(|&(s, e)| e.min(size) - s).sum();
    let qd = qd as usize;
    let mut pipe = Pipeline {
        io,
        dst_file,
        ring,
        pool: BufPool::new(io.bs as usize, io.mem_align, qd),
        size,
        slots: vec![Chunk::default(); qd],
        free: (0..qd).rev().collect(),
        in_flight: 0,
        pb: progress_bar(Some(data_bytes), "copying"),
    };
    let copied = run(&mut pipe, extents, qd);
    pipe.pb.finish_and_clear();
    match copied {
        Ok(()) => Ok(()),
        Err(Stop::Interrupted) => Err(Interrupted(
            "cp interrupted while copying; the partial copy was removed".into(),
        )
        .into()),
        Err(Stop::Failed(e)) => Err(e),
    }
}
