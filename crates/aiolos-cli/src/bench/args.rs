//! The options of `aiolos bench` and the parsers for their values (sizes, ranges, lists,
//! durations).

use crate::engine::EngineChoice;
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// The access pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rw {
    /// Sequential reads.
    Read,
    /// Sequential writes.
    Write,
    /// Random reads.
    Randread,
    /// Random writes.
    Randwrite,
    /// Random reads and writes, mixed by `--rwmix-read`.
    Randrw,
}

impl Rw {
    /// Whether the workload writes.
    pub fn writes(self) -> bool {
        matches!(self, Rw::Write | Rw::Randwrite | Rw::Randrw)
    }
    /// Whether offsets are random.
    pub fn random(self) -> bool {
        matches!(self, Rw::Randread | Rw::Randwrite | Rw::Randrw)
    }
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Rw::Read => "read",
            Rw::Write => "write",
            Rw::Randread => "randread",
            Rw::Randwrite => "randwrite",
            Rw::Randrw => "randrw",
        }
    }
}

/// A block size or a range of them (`4k`, `4k-64k`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BsRange {
    /// Smallest block size in bytes.
    pub min: u64,
    /// Largest block size in bytes.
    pub max: u64,
}

/// `aiolos bench`: measure asynchronous file I/O.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Engine: uring, native (kernel AIO), threads, or all (interleaved, with ratios).
    /// Default: the one aiolos suggests here (io_uring, else the thread pool; see probe).
    #[arg(long, value_name = "ENGINE", value_parser = crate::engine::parse_engine_choice)]
    pub engine: Option<EngineChoice>,
    /// Access pattern.
    #[arg(long, value_enum, default_value = "randread")]
    pub rw: Rw,
    /// Percentage of reads in randrw.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub rwmix_read: u8,
    /// Block size (4k, 64k, 1m) or a range (4k-64k).
    #[arg(long, default_value = "4k", value_parser = parse_bs)]
    pub bs: BsRange,
    /// Queue depth per job, or a comma-separated list to sweep (1,8,32,128).
    #[arg(long, default_value = "32", value_parser = parse_qd_list)]
    pub qd: QdList,
    /// Requests pushed before each submit (0: fill every free slot, one submit).
    #[arg(long, default_value_t = 0)]
    pub batch_submit: u32,
    /// Completions to wait for before refilling.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_complete: u32,
    /// Threads, each with its own ring and its own slice of the file.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: u32,
    /// Bypass the page cache (O_DIRECT). The default.
    #[arg(long, overrides_with = "buffered")]
    pub direct: bool,
    /// Go through the page cache.
    #[arg(long, overrides_with = "direct")]
    pub buffered: bool,
    /// Bytes of the file to use (default: 1g for the temporary file, else the whole file).
    #[arg(long, value_parser = parse_size)]
    pub size: Option<u64>,
    /// How long each run measures (10s, 500ms, 2m; a bare number is seconds); more than 0.
    #[arg(long, default_value = "10s", value_parser = parse_runtime)]
    pub runtime: Duration,
    /// Warm-up before measuring, not counted.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub ramp: Duration,
    /// File or block device to use instead of a temporary file.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Allow writing to a block device, or to an existing --file that the bench did not
    /// create (destroys their contents).
    #[arg(long)]
    pub force: bool,
    /// io_uring: build each job's ring as a shared ring (any thread may use it) instead of
    /// a single-issuer ring (IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN, the default: each
    /// job thread owns its ring).
    #[arg(long)]
    pub shared_ring: bool,
    /// io_uring: buffered reads go to the kernel's worker threads (IOSQE_ASYNC) always,
    /// never, or auto (while inline submits show page-cache misses).
    #[arg(long, default_value = "never", value_parser = parse_async_buffered)]
    pub async_buffered: aiolos::AsyncBuffered,
    /// Issue an fsync after every N writes (per job).
    #[arg(long, default_value_t = 0)]
    pub fsync_every: u64,
    /// Stamp every written 512-byte sector with its offset and a checksum; check every read.
    #[arg(long)]
    pub verify: bool,
    /// Print the result as JSON (schema in docs/benchmarks.md).
    #[arg(long)]
    pub json: bool,
    /// Write an SVG plot of latency distribution and IOPS.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Rounds for side-by-side runs (default 3 with --engine all, else 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: Option<u32>,
}

impl BenchArgs {
    /// Whether requests bypass the page cache.
    pub fn direct(&self) -> bool {
        !self.buffered
    }
}

/// Queue depths to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QdList(pub Vec<u32>);

/// Parses `4096`, `4k`, `64K`, `1m`, `1g`, `4KiB`, `1MB` (binary multiples throughout).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (examples: 4096, 4k, 1m, 1g)"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use k, m, g or t)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Parses a block size or a range `MIN-MAX`.
pub fn parse_bs(s: &str) -> Result<BsRange, String> {
    let (min, max) = match s.split_once('-') {
        Some((a, b)) => (parse_size(a)?, parse_size(b)?),
        None => {
            let v = parse_size(s)?;
            (v, v)
        }
    };
    if min == 0 {
        return Err("the block size must be at least 1 byte".into());
    }
    if min > max {
        return Err(format!(
            "in the range {s:?} the first size is larger than the second"
        ));
    }
    if max > 64 << 20 {
        return Err(format!("{s:?}: block sizes above 64m are not supported"));
    }
    Ok(BsRange { min, max })
}

/// Parses a queue depth: 1 to [`aiolos::limits::MAX_ENTRIES`], the ring's own limit, in
/// every command.
pub fn parse_qd(s: &str) -> Result<u32, String> {
    let max = aiolos::limits::MAX_ENTRIES;
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a queue depth (1 to {max})")),
    }
}

/// Parses `32` or `1,8,32,128`.
pub fn parse_qd_list(s: &str) -> Result<QdList, String> {
    let v = s.split(',').map(parse_qd).collect::<Result<Vec<_>, _>>()?;
    Ok(QdList(v))
}

/// Parses `10`, `10s`, `500ms`, `2m`, `1.5s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (examples: 10, 10s, 500ms, 2m)"))?;
    if !(0.0..=86400.0 * 365.0).contains(&v) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(v * mult))
}

/// Parses `--runtime`: a duration of more than 0 (a run of 0 s measures nothing).
pub fn parse_runtime(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "{s:?}: a run must last more than 0 s to measure anything (examples: 10s, 500ms)"
        ));
    }
    Ok(d)
}

fn parse_async_buffered(s: &str) -> Result<aiolos::AsyncBuffered, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("4x").is_err());
        assert!(parse_size("k").is_err());
    }

    #[test]
    fn block_sizes_may_be_ranges() {
        assert_eq!(
            parse_bs("4k-64k"),
            Ok(BsRange {
                min: 4096,
                max: 65536
            })
        );
        assert_eq!(
            parse_bs("1m"),
            Ok(BsRange {
                min: 1 << 20,
                max: 1 << 20
            })
        );
        assert!(parse_bs("64k-4k").is_err());
        assert!(parse_bs("0").is_err());
    }

    #[test]
    fn queue_depths_may_be_lists() {
        assert_eq!(parse_qd_list("1,8,32"), Ok(QdList(vec![1, 8, 32])));
        assert!(parse_qd_list("0").is_err());
        assert!(parse_qd_list("8,x").is_err());
        assert_eq!(parse_qd("1048576"), Ok(aiolos::limits::MAX_ENTRIES));
        assert!(parse_qd("1048577").unwrap_err().contains("1 to 1048576"));
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("-1").is_err());
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_runtime("0").unwrap_err().contains("more than 0"));
        assert!(parse_runtime("0ms").is_err());
    }
}
