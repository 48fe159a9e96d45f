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
    assert_eq!(
        text.matches("<polyline").count(),
        2,
        "one curve per queue depth"
    );
    // Well-formed enough: every opened element is closed or self-closed.
    let opens = text.matches("<text").count();
    assert_eq!(opens, text.matches("</text>").count());
    assert_eq!(text.matches("<svg").count(), text.matches("</svg>").count());
    assert!(!text.contains("NaN") && !text.contains("inf"));
}
