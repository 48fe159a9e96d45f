//! The result of a bench: one serializable structure, with units in field names, that
//! every output (text, JSON, SVG) renders. All statistics are computed here; the
//! renderers only format.

use super::args::Rw;
use super::job::{histogram, JobOutput};
use crate::rusage::CpuTime;
use serde::Serialize;

/// Identifies the JSON layout; bumped on any incompatible change.
pub const SCHEMA: &str = "aiolos-bench/1";

/// Everything a bench produced.
#[derive(Debug, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// Version of aiolos that measured.
    pub aiolos_version: &'static str,
    /// What was run.
    pub config: Config,
    /// Facts worth knowing (engine fallbacks, skipped engines).
    pub notes: Vec<String>,
    /// Whether Ctrl-C cut the bench short (the last run is partial).
    pub interrupted: bool,
    /// Every run, in the order run.
    pub runs: Vec<RunResult>,
    /// Medians over rounds per engine and queue depth, with ratios to the first engine.
    pub summary: Vec<SummaryRow>,
}

/// The parameters of the bench.
#[derive(Debug, Serialize)]
pub struct Config {
    pub file: String,
    pub file_temporary: bool,
    pub block_device: bool,
    pub size_bytes: u64,
    pub fill_s: f64,
    pub rw: Rw,
    pub rwmix_read_pct: u8,
    pub bs_min_bytes: u64,
    pub bs_max_bytes: u64,
    pub qd: Vec<u32>,
    pub engines: Vec<String>,
    pub rounds: u32,
    pub jobs: u32,
    pub direct: bool,
    pub dio_align_bytes: u64,
    /// io_uring rings were single-issuer (`IORING_SETUP_DEFER_TASKRUN`), one per job thread.
    pub uring_single_issuer: bool,
    /// io_uring: the `--async-buffered` policy (auto, always, never).
    pub uring_async_buffered: &'static str,
    pub batch_submit: u32,
    pub batch_complete: u32,
    pub runtime_s: f64,
    pub ramp_s: f64,
    pub fsync_every: u64,
    pub verify: bool,
}

/// One bucket of the latency distribution: I/Os that took at most `le_ns` (and more than
/// the previous bucket's bound).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LatBucket {
    pub le_ns: u64,
    pub count: u64,
}

/// One run: one engine at one queue depth in one round.
#[derive(Debug, Serialize)]
pub struct RunResult {
    pub engine: String,
    pub qd: u32,
    pub round: u32,
    pub elapsed_s: f64,
    pub ios: u64,
    pub read_ios: u64,
    pub write_ios: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub fsyncs: u64,
    pub verified_sectors: u64,
    pub iops: f64,
    pub read_iops: f64,
    pub write_iops: f64,
    pub bw_bytes_per_sec: f64,
    pub bw_mib_per_sec: f64,
    pub lat_ns_min: u64,
    pub lat_ns_mean: f64,
    pub lat_ns_p50: u64,
    pub lat_ns_p90: u64,
    pub lat_ns_p99: u64,
    pub lat_ns_p99_9: u64,
    pub lat_ns_p99_99: u64,
    pub lat_ns_max: u64,
    pub submit_calls: u64,
    pub ios_per_submit: f64,
    pub submit_lat_ns_mean: f64,
    pub submit_lat_ns_p50: u64,
    pub submit_lat_ns_p99: u64,
    pub submit_lat_ns_max: u64,
    /// io_uring: buffered reads handed to the kernel's worker threads.
    pub punted_reads: u64,
    pub cpu_user_ns_per_io: f64,
    pub cpu_sys_ns_per_io: f64,
    pub cpu_util_pct: f64,
    pub qd_max_reached: u64,
    pub qd_mean_reached: f64,
    pub lat_distribution: Vec<LatBucket>,
}

/// Medians of one engine at one queue depth over its rounds.
#[derive(Debug, Serialize)]
pub struct SummaryRow {
    pub engine: String,
    pub qd: u32,
    pub rounds: u32,
    pub iops_median: f64,
    pub bw_mib_per_sec_median: f64,
    pub lat_ns_p50_median: f64,
    pub lat_ns_p99_median: f64,
    pub cpu_ns_per_io_median: f64,
    /// IOPS relative to the first engine at the same queue depth.
    pub iops_ratio_to_first: f64,
    /// CPU time per I/O relative to the first engine at the same queue depth.
    pub cpu_per_io_ratio_to_first: f64,
}

fn per_sec(n: u64, s: f64) -> f64 {
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

impl RunResult {
    /// Merges the jobs of one run. `cpu` is the process CPU time over the measured span.
    pub fn from_jobs(
        engine: &str,
        qd: u32,
        round: u32,
        jobs: &[JobOutput],
        cpu: CpuTime,
    ) -> RunResult {
        let mut lat = histogram();
        let mut sub = histogram();
        let sum = |f: fn(&JobOutput) -> u64| jobs.iter().map(f).sum::<u64>();
        for j in jobs {
            let _ = lat.add(&j.lat);
            let _ = sub.add(&j.submit_lat);
        }
        let began = jobs.iter().map(|j| j.began).min();
        let ended = jobs.iter().map(|j| j.ended).max();
        let elapsed_s = match (began, ended) {
            (Some(b), Some(e)) => e.saturating_duration_since(b).as_secs_f64(),
            _ => 0.0,
        };
        let (read_ios, write_ios) = (sum(|j| j.read_ios), sum(|j| j.write_ios));
        let (read_bytes, write_bytes) = (sum(|j| j.read_bytes), sum(|j| j.write_bytes));
        let ios = read_ios + write_ios;
        let submit_calls = sum(|j| j.submit_calls);
        let per_io = |d: std::time::Duration| {
            if ios > 0 {
                d.as_nanos() as f64 / ios as f64
            } else {
                0.0
            }
        };
        let q = |h: &hdrhistogram::Histogram<u64>, p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p)
            }
        };
        let bw = per_sec(read_bytes + write_bytes, elapsed_s);
        RunResult {
            engine: engine.to_string(),
            qd,
            round,
            elapsed_s,
            ios,
            read_ios,
            write_ios,
            read_bytes,
            write_bytes,
            fsyncs: sum(|j| j.fsyncs),
            verified_sectors: sum(|j| j.verified_sectors),
            iops: per_sec(ios, elapsed_s),
            read_iops: per_sec(read_ios, elapsed_s),
            write_iops: per_sec(write_ios, elapsed_s),
            bw_bytes_per_sec: bw,
            bw_mib_per_sec: bw / (1u64 << 20) as f64,
            lat_ns_min: if lat.is_empty() { 0 } else { lat.min() },
            lat_ns_mean: if lat.is_empty() { 0.0 } else { lat.mean() },
            lat_ns_p50: q(&lat, 0.5),
            lat_ns_p90: q(&lat, 0.9),
            lat_ns_p99: q(&lat, 0.99),
            lat_ns_p99_9: q(&lat, 0.999),
            lat_ns_p99_99: q(&lat, 0.9999),
            lat_ns_max: if lat.is_empty() { 0 } else { lat.max() },
            submit_calls,
            ios_per_submit: if submit_calls > 0 {
                sum(|j| j.submitted) as f64 / submit_calls as f64
            } else {
                0.0
            },
            submit_lat_ns_mean: if sub.is_empty() { 0.0 } else { sub.mean() },
            submit_lat_ns_p50: q(&sub, 0.5),
            submit_lat_ns_p99: q(&sub, 0.99),
            submit_lat_ns_max: if sub.is_empty() { 0 } else { sub.max() },
            punted_reads: sum(|j| j.punted_reads),
            cpu_user_ns_per_io: per_io(cpu.user),
            cpu_sys_ns_per_io: per_io(cpu.system),
            cpu_util_pct: if elapsed_s > 0.0 {
                (cpu.user + cpu.system).as_secs_f64() / elapsed_s * 100.0
            } else {
                0.0
            },
            qd_max_reached: jobs.iter().map(|j| j.qd_max).max().unwrap_or(0),
            // Per job, like --qd: the mean of each job's mean.
            qd_mean_reached: jobs
                .iter()
                .filter(|j| j.qd_samples > 0)
                .map(|j| j.qd_sum as f64 / j.qd_samples as f64)
                .sum::<f64>()
                / jobs.len().max(1) as f64,
            lat_distribution: distribution(&lat),
        }
    }

    /// CPU time (user + system) per I/O.
    pub fn cpu_ns_per_io(&self) -> f64 {
        self.cpu_user_ns_per_io + self.cpu_sys_ns_per_io
    }
}

/// Log-spaced buckets (factor 2^(1/4)) from the fastest I/O to the slowest.
fn distribution(h: &hdrhistogram::Histogram<u64>) -> Vec<LatBucket> {
    if h.is_empty() {
        return Vec::new();
    }
    let first = (h.min().max(1) as f64 * 0.95) as u64;
    h.iter_log(first.max(1), 2f64.powf(0.25))
        .map(|v| LatBucket {
            le_ns: v.value_iterated_to(),
            count: v.count_since_last_iteration(),
        })
        .collect()
}

/// The median of some values (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Medians per engine and queue depth, in the order first run, with ratios to the first
/// engine at each queue depth.
pub fn summarize(runs: &[RunResult]) -> Vec<SummaryRow> {
    let mut keys: Vec<(String, u32)> = Vec::new();
    for r in runs {
        let k = (r.engine.clone(), r.qd);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut rows: Vec<SummaryRow> = keys
        .into_iter()
        .map(|(engine, qd)| {
            let rs: Vec<&RunResult> = runs
                .iter()
                .filter(|r| r.engine == engine && r.qd == qd)
                .collect();
            let med = |f: fn(&RunResult) -> f64| median(rs.iter().map(|r| f(r)).collect());
            SummaryRow {
                engine,
                qd,
                rounds: rs.len() as u32,
                iops_median: med(|r| r.iops),
                bw_mib_per_sec_median: med(|r| r.bw_mib_per_sec),
                lat_ns_p50_median: med(|r| r.lat_ns_p50 as f64),
                lat_ns_p99_median: med(|r| r.lat_ns_p99 as f64),
                cpu_ns_per_io_median: med(|r| r.cpu_ns_per_io()),
                iops_ratio_to_first: 1.0,
                cpu_per_io_ratio_to_first: 1.0,
            }
        })
        .collect();
    let firsts: Vec<(u32, f64, f64)> = rows
        .iter()
        .map(|r| (r.qd, r.iops_median, r.cpu_ns_per_io_median))
        .collect();
    for row in &mut rows {
        if let Some(&(_, iops, cpu)) = firsts.iter().find(|f| f.0 == row.qd) {
            row.iops_ratio_to_first = if iops > 0.0 {
                row.iops_median / iops
            } else {
                0.0
            };
            row.cpu_per_io_ratio_to_first = if cpu > 0.0 {
                row.cpu_ns_per_io_median / cpu
            } else {
                0.0
            };
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }
}
