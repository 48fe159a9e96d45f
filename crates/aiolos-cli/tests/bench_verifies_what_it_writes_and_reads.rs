//! Short runs of every access pattern with --verify on the native engine: each must
//! finish, do I/O, and check what it reads.

use assert_cmd::Command;

fn bench(dir: &tempfile::TempDir, rw: &str) -> serde_json::Value {
    let file = dir.path().join("f");
    let out = Command::cargo_bin("aiolos")
        .unwrap()
        .args([
            "bench",
            "--engine",
            "native",
            "--runtime",
            "1",
            "--size",
            "16m",
        ])
        .args(["--rw", rw, "--verify", "--json", "--qd", "8"])
        .arg("--file")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{rw}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn sequential_reads_check_every_block_they_read() {
    let dir = tempfile::tempdir().unwrap();
    let v = bench(&dir, "read");
    let run = &v["runs"][0];
    assert!(run["read_ios"].as_u64().unwrap() > 0);
    assert_eq!(run["write_ios"].as_u64().unwrap(), 0);
    assert_eq!(
        run["verified_sectors"].as_u64().unwrap(),
        run["read_bytes"].as_u64().unwrap() / 512
    );
}

#[test]
fn sequential_writes_then_reads_of_the_same_file_verify() {
    let dir = tempfile::tempdir().unwrap();
    let w = bench(&dir, "write");
    assert!(w["runs"][0]["write_ios"].as_u64().unwrap() > 0);
    // What the write run stamped must read back clean.
    let r = bench(&dir, "randread");
    assert!(r["runs"][0]["verified_sectors"].as_u64().unwrap() > 0);
}

#[test]
fn mixed_random_reads_and_writes_verify_while_they_overlap_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let v = bench(&dir, "randrw");
    let run = &v["runs"][0];
    assert!(run["read_ios"].as_u64().unwrap() > 0);
    assert!(run["write_ios"].as_u64().unwrap() > 0);
    assert!(run["verified_sectors"].as_u64().unwrap() > 0);
}
