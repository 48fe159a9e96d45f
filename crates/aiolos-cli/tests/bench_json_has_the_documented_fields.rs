//! `--json` prints one document with the fields docs/benchmarks.md promises.

use assert_cmd::Command;

const CONFIG: &[&str] = &[
    "file",
    "file_temporary",
    "block_device",
    "size_bytes",
    "rw",
    "rwmix_read_pct",
    "bs_min_bytes",
    "bs_max_bytes",
    "qd",
    "engines",
    "rounds",
    "jobs",
    "direct",
    "dio_align_bytes",
    "uring_single_issuer",
    "submit_split",
    "fadvise",
    "fixed_files",
    "fixed_bufs",
    "batch_submit",
    "batch_complete",
    "runtime_s",
    "ramp_s",
    "fsync_every",
    "verify",
];
const RUN: &[&str] = &[
    "engine",
    "qd",
    "round",
    "elapsed_s",
    "ios",
    "read_ios",
    "write_ios",
    "read_bytes",
    "write_bytes",
    "iops",
    "bw_bytes_per_sec",
    "bw_mib_per_sec",
    "lat_ns_min",
    "lat_ns_mean",
    "lat_ns_p50",
    "lat_ns_p90",
    "lat_ns_p99",
    "lat_ns_p99_9",
    "lat_ns_p99_99",
    "lat_ns_max",
    "submit_calls",
    "ios_per_submit",
    "submit_lat_ns_p50",
    "submit_lat_ns_p99",
    "submit_lat_ns_max",
    "punted_reads",
    "cpu_user_ns_per_io",
    "cpu_sys_ns_per_io",
    "qd_max_reached",
    "qd_mean_reached",
    "lat_distribution",
];
const SUMMARY: &[&str] = &[
    "engine",
    "qd",
    "rounds",
    "iops_median",
    "bw_mib_per_sec_median",
    "lat_ns_p50_median",
    "lat_ns_p99_median",
    "cpu_ns_per_io_median",
    "iops_ratio_to_first",
    "cpu_per_io_ratio_to_first",
];

#[test]
fn json_output_has_every_documented_field_with_sane_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("aiolos")
        .unwrap()
        .env("TMPDIR", dir.path())
        .args([
            "bench",
            "--engine",
            "native",
            "--runtime",
            "0.5",
            "--size",
            "16m",
        ])
        .args(["--qd", "1,4", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "aiolos-bench/1");
    assert_eq!(v["interrupted"], false);
    for k in CONFIG {
        assert!(v["config"].get(k).is_some(), "config.{k} missing");
    }
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "one run per queue depth");
    for r in runs {
        for k in RUN {
            assert!(r.get(k).is_some(), "runs[].{k} missing");
        }
        assert!(r["iops"].as_f64().unwrap() > 0.0);
        assert!(r["lat_ns_p50"].as_u64().unwrap() <= r["lat_ns_p99"].as_u64().unwrap());
        assert!(r["lat_ns_min"].as_u64().unwrap() <= r["lat_ns_max"].as_u64().unwrap());
        let qd = r["qd"].as_u64().unwrap();
        assert!(r["qd_max_reached"].as_u64().unwrap() <= qd);
        let counted: u64 = r["lat_distribution"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum();
        assert_eq!(
            counted,
            r["ios"].as_u64().unwrap(),
            "every I/O is in one bucket"
        );
    }
    assert_eq!(runs[0]["qd_max_reached"], 1);
    let summary = v["summary"].as_array().unwrap();
    for s in summary {
        for k in SUMMARY {
            assert!(s.get(k).is_some(), "summary[].{k} missing");
        }
    }
}
