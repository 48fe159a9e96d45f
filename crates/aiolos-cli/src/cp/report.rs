//! What `cp -v` says: one result per phase (the copy, then the verify), each gathered in a
//! struct and rendered as one line, so the copy's speed is the copy's alone.

use aiolos::EngineKind;
use std::time::Duration;

/// How the data went: by offset on a ring, or read to end of file.
pub enum Method {
    /// Requests on a ring.
    Ring {
        engine: EngineKind,
        qd: u32,
        bs: u64,
        /// `None`: O_DIRECT on both sides; else why the copy went through the page cache.
        buffered: Option<String>,
        /// The O_DIRECT unit of offsets and lengths.
        unit: u64,
        /// Bytes of SRC's data regions (the rest are holes).
        data_bytes: u64,
    },
    /// Sequential reads until end of file; what SRC is.
    Stream { what: &'static str },
}

/// The copy phase: data, `ftruncate` and `fsync` of the copy.
pub struct Copied {
    pub bytes: u64,
    pub elapsed: Duration,
    pub method: Method,
}

/// The verify phase.
pub struct Verified {
    pub bytes: u64,
    pub elapsed: Duration,
}

fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64().max(1e-9) / f64::from(1u32 << 20)
}

/// `copied N bytes (D of data) in T s, X MiB/s; HOW; ENGINE engine, qd Q, bs B`.
pub fn copied(c: &Copied) -> String {
    let head = |data: String| {
        format!(
            "copied {} bytes{data} in {:.3} s, {:.1} MiB/s",
            c.bytes,
            c.elapsed.as_secs_f64(),
            mib_per_s(c.bytes, c.elapsed)
        )
    };
    match &c.method {
        Method::Ring {
            engine,
            qd,
            bs,
            buffered,
            unit,
            data_bytes,
        } => format!(
            "{}; {}; {engine} engine, qd {qd}, bs {bs}",
            head(format!(" ({data_bytes} of data)")),
            match buffered {
                None => format!("O_DIRECT (alignment {unit})"),
                Some(why) => format!("buffered ({why})"),
            }
        ),
        Method::Stream { what } => format!(
            "{}; read to end of file (SRC is {})",
            head(String::new()),
            describe(what)
        ),
    }
}

/// "a pipe" as it is, "proc" as "a file of proc".
pub fn describe(what: &str) -> String {
    if what.starts_with("a ") {
        what.to_string()
    } else {
        format!("a file of {what}")
    }
}

/// `verified N bytes in T s, X MiB/s: the copy matches SRC`.
pub fn verified(v: &Verified) -> String {
    format!(
        "verified {} bytes in {:.3} s, {:.1} MiB/s: the copy matches SRC",
        v.bytes,
        v.elapsed.as_secs_f64(),
        mib_per_s(v.bytes, v.elapsed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_reports_its_own_speed() {
        let c = Copied {
            bytes: 4 << 20,
            elapsed: Duration::from_secs(2),
            method: Method::Stream { what: "a pipe" },
        };
        assert_eq!(
            copied(&c),
            "copied 4194304 bytes in 2.000 s, 2.0 MiB/s; read to end of file (SRC is a pipe)"
        );
        let v = Verified {
            bytes: 4 << 20,
            elapsed: Duration::from_secs(1),
        };
        assert!(verified(&v).ends_with("4.0 MiB/s: the copy matches SRC"));
    }
}
