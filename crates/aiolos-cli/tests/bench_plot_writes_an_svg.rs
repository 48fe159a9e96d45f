//! `--plot FILE.svg` writes a well-formed SVG with both panels.

use assert_cmd::Command;

#[test]
fn plot_writes_a_well_formed_svg_with_latency_and_iops_panels() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("out.svg");
    Command::cargo_bin("aiolos")
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
        .args(["--qd", "1,8", "--plot"])
        .arg(&svg)
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<?xml"));
    assert!(text.trim_end().ends_with("</svg>"));
    assert!(text.contains("Completion latency distribution"));
    assert!(text.contains("IOPS (median"));
    for qd in ["native qd 1 (p99", "native qd 8 (p99"] {
        assert!(text.contains(qd), "one curve per queue depth: no {qd:?}");
    }
    // Well-formed enough: every opened element is closed or self-closed.
    let opens = text.matches("<text").count();
    assert_eq!(opens, text.matches("</text>").count());
    assert_eq!(text.matches("<svg").count(), text.matches("</svg>").count());
    assert!(!text.contains("NaN") && !text.contains("inf"));
}

/// The numbers of the `<text>` labels that end with `suffix` (the tick labels of an axis).
fn tick_values(svg: &str, suffix: &str) -> Vec<f64> {
    let mut v: Vec<f64> = svg
        .split("</text>")
        .filter_map(|t| t.rsplit('>').next())
        .filter_map(|t| t.trim().strip_suffix(suffix))
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// Whether `step` is 1, 2, 2.5 or 5 times a power of ten.
fn is_round(step: f64) -> bool {
    let m = step / 10f64.powf(step.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .any(|r| (m - r).abs() < 1e-6)
}

/// The `fill` of every bar-like rectangle and the `stroke` of every curve, as `#rrggbb`.
fn colours(svg: &str, element: &str, attr: &str) -> Vec<String> {
    svg.split(&format!("<{element} "))
        .skip(1)
        .filter_map(|e| {
            let at = e.find(&format!("{attr}=\""))? + attr.len() + 2;
            Some(e[at..at + 7].to_string())
        })
        .filter(|c| c.starts_with('#') && c != "#FFFFFF" && c != "#000000")
        .collect()
}

#[test]
fn plot_has_round_ticks_labelled_axes_and_one_colour_per_engine_in_both_panels() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("all.svg");
    Command::cargo_bin("aiolos")
        .unwrap()
        .env("TMPDIR", dir.path())
        .args(["bench", "--engine", "all", "--rounds", "1", "--qd", "1"])
        .args(["--runtime", "0.2", "--size", "8m", "--plot"])
        .arg(&svg)
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("bs 4 KiB"),
        "the title names the block size as the report does"
    );
    for axis in [
        "completion latency",
        "share of I/Os",
        "IOPS",
        "engine and queue depth",
    ] {
        assert!(text.contains(axis), "no axis label {axis:?}");
    }
    let pct = tick_values(&text, "%");
    assert!(pct.len() >= 3, "latency-share ticks: {pct:?}");
    for w in pct.windows(2) {
        assert!(
            is_round(w[1] - w[0]),
            "latency-share ticks not round: {pct:?}"
        );
    }
    let bars = colours(&text, "rect", "fill");
    let curves = colours(&text, "polyline", "stroke");
    let engines: Vec<&str> = ["uring", "native", "threads"]
        .into_iter()
        .filter(|e| text.contains(&format!("{e} qd 1 (p99")))
        .collect();
    assert!(!engines.is_empty());
    let mut distinct = bars.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        engines.len(),
        "one bar colour per engine: {bars:?}"
    );
    for c in &bars {
        assert!(
            curves.contains(c),
            "bar colour {c} is no curve's colour: {curves:?}"
        );
    }
}
