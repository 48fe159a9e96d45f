//! The default, fio-like text output. Formats the [`Report`]; computes nothing.

use super::report::{Report, RunResult};
use std::fmt::Write;

/// A count with a k/M suffix.
fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Nanoseconds as µs with sensible precision.
fn us(ns: f64) -> String {
    let u = ns / 1e3;
    if u >= 100.0 {
        format!("{u:.0}")
    } else if u >= 10.0 {
        format!("{u:.1}")
    } else {
        format!("{u:.2}")
    }
}

/// A byte count in the largest binary unit that divides it (`4 KiB`, `1 MiB`).
pub fn bytes(b: u64) -> String {
    if b >= 1 << 30 && b.is_multiple_of(1 << 30) {
        format!("{} GiB", b >> 30)
    } else if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
        format!("{} MiB", b >> 20)
    } else if b >= 1 << 10 && b.is_multiple_of(1 << 10) {
        format!("{} KiB", b >> 10)
    } else {
        format!("{b} B")
    }
}

/// A duration in nanoseconds in the unit that suits it, without trailing zeros
/// (`500 ns`, `2.5 µs`, `10 ms`).
pub fn time(ns: f64) -> String {
    let (v, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    // Three significant digits at most.
    let mut t = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if t.contains('.') {
        t = t.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{t} {unit}")
}

fn run(out: &mut String, r: &RunResult, rounds: u32) {
    let round = if rounds > 1 {
        format!("  round {}", r.round)
    } else {
        String::new()
    };
    let _ = writeln!(out, "engine {}  qd {}{round}", r.engine, r.qd);
    let _ = writeln!(
        out,
        "  IOPS {}  BW {:.1} MiB/s  ({} I/Os in {:.2} s{})",
        si(r.iops),
        r.bw_mib_per_sec,
        r.ios,
        r.elapsed_s,
        if r.read_ios > 0 && r.write_ios > 0 {
            format!("; read {} write {}", si(r.read_iops), si(r.write_iops))
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "  lat (us): min {}  mean {}  p50 {}  p90 {}  p99 {}  p99.9 {}  p99.99 {}  max {}",
        us(r.lat_ns_min as f64),
        us(r.lat_ns_mean),
        us(r.lat_ns_p50 as f64),
        us(r.lat_ns_p90 as f64),
        us(r.lat_ns_p99 as f64),
        us(r.lat_ns_p99_9 as f64),
        us(r.lat_ns_p99_99 as f64),
        us(r.lat_ns_max as f64)
    );
    let _ = writeln!(
        out,
        "  submit (us): p50 {}  p99 {}  max {}  ({} calls, {:.1} I/Os per call)",
        us(r.submit_lat_ns_p50 as f64),
        us(r.submit_lat_ns_p99 as f64),
        us(r.submit_lat_ns_max as f64),
        r.submit_calls,
        r.ios_per_submit
    );
    let _ = writeln!(
        out,
        "  cpu per I/O (us): user {}  sys {}  (cpu {:.0}%)",
        us(r.cpu_user_ns_per_io),
        us(r.cpu_sys_ns_per_io),
        r.cpu_util_pct
    );
    let mut extra = String::new();
    if r.fsyncs > 0 {
        let _ = write!(extra, "  fsyncs {}", r.fsyncs);
    }
    if r.verified_sectors > 0 {
        let _ = write!(extra, "  verified {} sectors", r.verified_sectors);
    }
    let _ = writeln!(
        out,
        "  queue depth reached: max {}  mean {:.1}{extra}",
        r.qd_max_reached, r.qd_mean_reached
    );
}

/// Renders the report as text.
pub fn render(rep: &Report) -> String {
    let c = &rep.config;
    let mut out = String::new();
    let bs = if c.bs_min_bytes == c.bs_max_bytes {
        bytes(c.bs_min_bytes)
    } else {
        format!("{}-{}", bytes(c.bs_min_bytes), bytes(c.bs_max_bytes))
    };
    let mix = if c.rw == super::args::Rw::Randrw {
        format!(" ({}% reads)", c.rwmix_read_pct)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "aiolos bench: {}{mix}, bs {bs}, {}, {} job{}, {} s{}, on {} of {}{}",
        c.rw.name(),
        if c.direct {
            format!("O_DIRECT (alignment {} B)", c.dio_align_bytes)
        } else {
            "buffered".to_string()
        },
        c.jobs,
        if c.jobs == 1 { "" } else { "s" },
        c.runtime_s,
        if c.ramp_s > 0.0 {
            format!(" after {:.1} s ramp", c.ramp_s)
        } else {
            String::new()
        },
        bytes(c.size_bytes),
        c.file,
        if c.file_temporary { " (temporary)" } else { "" }
    );
    for n in &rep.notes {
        let _ = writeln!(out, "note: {n}");
    }
    for r in &rep.runs {
        run(&mut out, r, c.rounds);
    }
    if rep.summary.len() > 1 || c.rounds > 1 {
        let _ = writeln!(
            out,
            "\nmedians over {} round{}:",
            c.rounds,
            if c.rounds == 1 { "" } else { "s" }
        );
        let _ = writeln!(
            out,
            "  {:<8} {:>5} {:>10} {:>10} {:>9} {:>9} {:>11} {:>8} {:>8}",
            "engine", "qd", "IOPS", "MiB/s", "p50 us", "p99 us", "cpu us/io", "IOPS x", "cpu x"
        );
        for s in &rep.summary {
            let _ = writeln!(
                out,
                "  {:<8} {:>5} {:>10} {:>10.1} {:>9} {:>9} {:>11} {:>8.2} {:>8.2}",
                s.engine,
                s.qd,
                si(s.iops_median),
                s.bw_mib_per_sec_median,
                us(s.lat_ns_p50_median),
                us(s.lat_ns_p99_median),
                us(s.cpu_ns_per_io_median),
                s.iops_ratio_to_first,
                s.cpu_per_io_ratio_to_first
            );
        }
    }
    if rep.interrupted {
        let _ = writeln!(out, "interrupted: the last run is partial");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes_read_as_round_values() {
        assert_eq!(time(500.0), "500 ns");
        assert_eq!(time(2500.0), "2.5 µs");
        assert_eq!(time(10e6), "10 ms");
        assert_eq!(time(100e3), "100 µs");
        assert_eq!(time(91_334.0), "91.3 µs");
        assert_eq!(bytes(4096), "4 KiB");
        assert_eq!(bytes(1 << 20), "1 MiB");
    }
}
