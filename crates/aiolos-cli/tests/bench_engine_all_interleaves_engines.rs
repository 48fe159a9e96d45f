//! `--engine all` runs every available engine in turn, round after round, and compares
//! them to the first.

use assert_cmd::Command;

#[test]
fn engine_all_interleaves_the_engines_round_by_round_and_reports_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("aiolos")
        .unwrap()
        .env("TMPDIR", dir.path())
        .args([
            "bench",
            "--engine",
            "all",
            "--rounds",
            "2",
            "--runtime",
            "0.2",
        ])
        .args(["--size", "16m", "--qd", "4", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let engines: Vec<&str> = v["config"]["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    if engines.len() < 2 {
        eprintln!("SKIP: only {engines:?} can run here; notes: {}", v["notes"]);
        return;
    }
    let order: Vec<(&str, u64)> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["engine"].as_str().unwrap(), r["round"].as_u64().unwrap()))
        .collect();
    let expected: Vec<(&str, u64)> = (1..=2)
        .flat_map(|round| engines.iter().map(move |e| (*e, round)))
        .collect();
    assert_eq!(order, expected, "A B C A B C");
    let summary = v["summary"].as_array().unwrap();
    assert_eq!(summary.len(), engines.len());
    assert_eq!(summary[0]["iops_ratio_to_first"], 1.0);
    for s in summary {
        assert_eq!(s["rounds"], 2);
        let ratio = s["iops_ratio_to_first"].as_f64().unwrap();
        let expect =
            s["iops_median"].as_f64().unwrap() / summary[0]["iops_median"].as_f64().unwrap();
        assert!((ratio - expect).abs() < 1e-9);
    }
}
