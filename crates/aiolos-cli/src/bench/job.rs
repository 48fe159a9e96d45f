//! One job: a thread with its own ring keeping `qd` requests in flight on its slice of the
//! file, timing each request and each submit. No allocation per request at a fixed block
//! size: buffers and request records are recycled. A read fills its whole buffer, so with a
//! range of block sizes (`--bs 4k-64k`) a request of another size than the largest gets a
//! buffer of its own size (one allocation per such request).

use super::args::{BsRange, Rw};
use super::stamp;
use aiolos::{AlignedBuf, EngineKind, Fd, Op, Ring};
use anyhow::{anyhow, bail, Context, Result};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `user_data` of an fsync request.
const FSYNC: u64 = u64::MAX;
/// Longest a wait blocks before the loop looks at the clock and the stop flag again.
const POLL: Duration = Duration::from_millis(100);

/// What one job does.
#[derive(Clone)]
pub struct JobSpec {
    pub engine: EngineKind,
    pub fd: Fd,
    pub qd: u32,
    /// The job's slice of the file: `[start, end)`.
    pub start: u64,
    pub end: u64,
    pub rw: Rw,
    pub rwmix_read: u8,
    pub bs: BsRange,
    /// Block sizes in a range are multiples of this; offsets are multiples of `bs.min`.
    pub unit: u64,
    /// Memory alignment of buffers.
    pub mem_align: usize,
    /// io_uring: a single-issuer ring owned by the job's thread.
    pub single_issuer: bool,
    /// io_uring: the policy for buffered reads.
    pub async_buffered: aiolos::AsyncBuffered,
    pub batch_submit: u32,
    pub batch_complete: u32,
    pub fsync_every: u64,
    pub verify: bool,
    pub seed: u64,
    /// Measuring starts here (after the ramp) ...
    pub measure_from: Instant,
    /// ... and ends here.
    pub until: Instant,
}

/// Latencies in nanoseconds, 1 ns to 100 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// What one job measured.
pub struct JobOutput {
    pub read_ios: u64,
    pub write_ios: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub fsyncs: u64,
    pub verified_sectors: u64,
    /// Completion latency: from the submit call to the completion being reaped.
    pub lat: Histogram<u64>,
    /// How long each `submit` call took.
    pub submit_lat: Histogram<u64>,
    pub submit_calls: u64,
    pub submitted: u64,
    /// io_uring: buffered reads handed to the kernel's worker threads (`--async-buffered`).
    pub punted_reads: u64,
    /// Requests outstanding: the maximum after any submit, and the sum over the samples
    /// taken each time the job starts waiting for completions (for the mean).
    pub qd_max: u64,
    pub qd_sum: u64,
    pub qd_samples: u64,
    /// When measuring started and ended for this job.
    pub began: Instant,
    pub ended: Instant,
}

impl JobOutput {
    fn new(now: Instant) -> JobOutput {
        JobOutput {
            read_ios: 0,
            write_ios: 0,
            read_bytes: 0,
            write_bytes: 0,
            fsyncs: 0,
            verified_sectors: 0,
            lat: histogram(),
            submit_lat: histogram(),
            submit_calls: 0,
            submitted: 0,
            punted_reads: 0,
            qd_max: 0,
            qd_sum: 0,
            qd_samples: 0,
            began: now,
            ended: now,
        }
    }
}

/// A small, fast generator (xorshift64*): offsets and block sizes, not cryptography.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

#[derive(Clone, Copy, Default)]
struct Req {
    busy: bool,
    start: Option<Instant>,
    offset: u64,
    len: u64,
    write: bool,
}

struct Picker {
    rng: Rng,
    next_seq: u64,
}

impl Picker {
    fn bs(&mut self, s: &JobSpec) -> u64 {
        if s.bs.min == s.bs.max {
            return s.bs.min;
        }
        let steps = (s.bs.max - s.bs.min) / s.unit;
        s.bs.min + self.rng.below(steps + 1) * s.unit
    }

    fn is_write(&mut self, s: &JobSpec) -> bool {
        match s.rw {
            Rw::Read | Rw::Randread => false,
            Rw::Write | Rw::Randwrite => true,
            Rw::Randrw => self.rng.below(100) >= u64::from(s.rwmix_read),
        }
    }

    fn offset(&mut self, s: &JobSpec, len: u64) -> u64 {
        let span = s.end - s.start;
        if s.rw.random() {
            let slots = (span - len) / s.bs.min + 1;
            s.start + self.rng.below(slots) * s.bs.min
        } else {
            if self.next_seq + len > s.end {
                self.next_seq = s.start;
            }
            let o = self.next_seq;
            self.next_seq += len;
            o
        }
    }
}

fn overlaps(reqs: &[Req], off: u64, len: u64) -> bool {
    reqs.iter()
        .any(|r| r.busy && off < r.offset + r.len && r.offset < off + len)
}

/// A buffer of `len` bytes at the job's memory alignment, stamped (as if for offset 0) so
/// that even a run without `--verify` leaves the bench's stamp wherever it writes.
fn new_buf(spec: &JobSpec, len: u64, seed: u64) -> Result<AlignedBuf> {
    let mut b = AlignedBuf::try_zeroed(len as usize, spec.mem_align).map_err(|e| {
        anyhow!(
            "cannot allocate a {len}-byte buffer at alignment {}: {e}",
            spec.mem_align
        )
    })?;
    stamp::stamp(&mut b, 0, seed);
    Ok(b)
}

/// The ring entries a job at queue depth `qd` needs: one more than `qd`, for an fsync,
/// within the ring's limit.
pub fn ring_entries(qd: u32) -> u32 {
    qd.saturating_add(1).min(aiolos::limits::MAX_ENTRIES)
}

/// Runs one job until `spec.until` or `stop`. `done` counts completions for the progress
/// line.
pub fn run(spec: &JobSpec, stop: &AtomicBool, done: &AtomicU64) -> Result<JobOutput> {
    let entries = ring_entries(spec.qd);
    // At the ring's largest size the fsync's slot comes out of the queue depth.
    let qd = if spec.fsync_every > 0 {
        spec.qd.min(entries - 1).max(1) as usize
    } else {
        spec.qd as usize
    };
    let ring: Ring<AlignedBuf> = Ring::builder()
        .entries(entries)
        .engine(spec.engine)
        .single_issuer(spec.single_issuer)
        .async_buffered(spec.async_buffered)
        .build()
        .with_context(|| format!("cannot create a {} ring of {} entries", spec.engine, qd))?;
    let mut bufs = (0..qd)
        .map(|i| new_buf(spec, spec.bs.max, spec.seed ^ i as u64))
        .collect::<Result<Vec<_>>>()?;
    let mut reqs = vec![Req::default(); qd];
    let mut free: Vec<usize> = (0..qd).rev().collect();
    let mut batch: Vec<usize> = Vec::with_capacity(qd);
    let mut comps = Vec::with_capacity(qd + 1);
    let mut pick = Picker {
        rng: Rng(spec.seed | 1),
        next_seq: spec.start,
    };
    let check_overlap = spec.verify && spec.rw.writes();
    let mut stamp_seed = spec.seed.rotate_left(32);
    let mut out = JobOutput::new(Instant::now());
    let mut measuring = spec.measure_from <= Instant::now();
    let mut punted_before = ring.stats().punted_reads;
    let mut in_flight = 0usize;
    let mut writes_since_fsync = 0u64;
    let mut fsync_in_flight = false;

    loop {
        let now = Instant::now();
        if !measuring && now >= spec.measure_from {
            out = JobOutput::new(now);
            measuring = true;
            punted_before = ring.stats().punted_reads;
        }
        if now >= spec.until || stop.load(Ordering::Relaxed) {
            out.ended = now;
            out.punted_reads = ring.stats().punted_reads - punted_before;
            break;
        }
        // Refill every free slot, submitting in chunks of --batch-submit (0: one chunk).
        loop {
            let room = qd - in_flight.min(qd);
            let want = if spec.batch_submit == 0 {
                room
            } else {
                room.min(spec.batch_submit as usize)
            };
            batch.clear();
            let mut fsync_now = false;
            if spec.fsync_every > 0 && writes_since_fsync >= spec.fsync_every && !fsync_in_flight {
                ring.push(Op::fsync(&spec.fd).user_data(FSYNC))
                    .map_err(|e| anyhow!("{}", e.error))?;
                fsync_in_flight = true;
                fsync_now = true;
                writes_since_fsync = 0;
            }
            while batch.len() < want {
                let Some(slot) = free.pop() else { break };
                let len = pick.bs(spec);
                let write = pick.is_write(spec);
                let mut offset = pick.offset(spec, len);
                if check_overlap {
                    let mut tries = 0;
                    while overlaps(&reqs, offset, len) && tries < 64 {
                        offset = pick.offset(spec, len);
                        tries += 1;
                    }
                    if tries == 64 {
                        free.push(slot);
                        break;
                    }
                }
                let mut buf = if len == spec.bs.max {
                    let Some(b) = bufs.pop() else { break };
                    b
                } else {
                    new_buf(spec, len, spec.seed)?
                };
                if write && spec.verify {
                    stamp_seed = stamp_seed.wrapping_add(1);
                    stamp::stamp(&mut buf, offset, stamp_seed);
                }
                let op = if write {
                    Op::write(&spec.fd, buf, offset)
                } else {
                    Op::read(&spec.fd, buf, offset)
                };
                if let Err(e) = ring.push(op.user_data(slot as u64)) {
                    bail!("cannot queue a request: {}", e.error);
                }
                reqs[slot] = Req {
                    busy: true,
                    start: None,
                    offset,
                    len,
                    write,
                };
                if write {
                    writes_since_fsync += 1;
                }
                batch.push(slot);
            }
            if !batch.is_empty() || fsync_now {
                let t0 = Instant::now();
                ring.submit().context("submit failed")?;
                let t1 = Instant::now();
                for &slot in &batch {
                    reqs[slot].start = Some(t0);
                }
                in_flight += batch.len();
                out.submit_lat
                    .saturating_record((t1 - t0).as_nanos().max(1) as u64);
                out.submit_calls += 1;
                out.submitted += batch.len() as u64;
                out.qd_max = out.qd_max.max(in_flight as u64);
            }
            if batch.is_empty() || in_flight >= qd || spec.batch_submit == 0 {
                break;
            }
        }
        if in_flight == 0 && !fsync_in_flight {
            continue;
        }
        // Reap.
        let outstanding = in_flight + usize::from(fsync_in_flight);
        let min = (spec.batch_complete as usize).min(outstanding).max(1);
        out.qd_sum += in_flight as u64;
        out.qd_samples += 1;
        comps.clear();
        let wait = POLL
            .min(spec.until.saturating_duration_since(Instant::now()) + Duration::from_millis(1));
        match ring.wait_into(&mut comps, min, qd + 1, Some(wait)) {
            Ok(_) => {}
            Err(e) if e.errno() == Some(aiolos::sys::Errno::INTR) => continue,
            Err(e) => return Err(anyhow::Error::new(e).context("waiting for completions")),
        }
        let now = Instant::now();
        let mut n_done = 0u64;
        for c in comps.drain(..) {
            if c.user_data == FSYNC {
                fsync_in_flight = false;
                c.result.context("fsync failed")?;
                out.fsyncs += 1;
                continue;
            }
            let slot = c.user_data as usize;
            let req = reqs[slot];
            reqs[slot].busy = false;
            in_flight -= 1;
            let what = if req.write { "write" } else { "read" };
            let n = c.result.as_ref().map_err(|e| {
                anyhow!(
                    "{what} of {} bytes at offset {} failed: {e}",
                    req.len,
                    req.offset
                )
            })?;
            let n = *n as u64;
            let Some(buf) = c.into_buf() else {
                bail!("a completion came back without its buffer");
            };
            if n != req.len {
                bail!(
                    "short {what} at offset {}: {n} of {} bytes (did the file shrink?)",
                    req.offset,
                    req.len
                );
            }
            if spec.verify && !req.write {
                stamp::check(&buf, req.offset).map_err(|m| anyhow!("{m}"))?;
                out.verified_sectors += req.len / stamp::SECTOR as u64;
            }
            if buf.capacity() as u64 == spec.bs.max {
                bufs.push(buf);
            }
            free.push(slot);
            n_done += 1;
            if let Some(t0) = req.start {
                out.lat
                    .saturating_record((now - t0).as_nanos().max(1) as u64);
            }
            if req.write {
                out.write_ios += 1;
                out.write_bytes += n;
            } else {
                out.read_ios += 1;
                out.read_bytes += n;
            }
        }
        done.fetch_add(n_done, Ordering::Relaxed);
    }
    // Dropping the ring waits for whatever is still in flight before the buffers go.
    drop(ring);
    Ok(out)
}
