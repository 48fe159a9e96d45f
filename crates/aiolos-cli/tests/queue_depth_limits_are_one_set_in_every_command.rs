//! One set of limits: `cp --qd`, `bench --qd` and `RingBuilder::entries` take the same
//! range, 1 to `aiolos::limits::MAX_ENTRIES`, and say so in the same words.

mod common;
use common::{assert_same_bytes, bin, scratch, write_pattern};

fn usage_error(args: &[&str]) -> String {
    let out = bin().args(args).output().expect("run aiolos");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "aiolos {args:?}: {err}");
    err
}

#[test]
fn cp_and_bench_refuse_the_same_queue_depths_with_the_librarys_range() {
    let max = aiolos::limits::MAX_ENTRIES;
    let range = format!("1 to {max}");
    let over = (max + 1).to_string();
    for qd in ["0", over.as_str()] {
        let cp = usage_error(&["cp", "--qd", qd, "a", "b"]);
        let bench = usage_error(&["bench", "--qd", qd]);
        assert!(cp.contains(&range), "{cp}");
        assert!(bench.contains(&range), "{bench}");
    }
}

#[test]
fn cp_takes_a_queue_depth_that_bench_takes() {
    let d = scratch();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    write_pattern(&src, 1 << 20);
    let out = bin()
        .args(["cp", "--qd", "5000", "--bs", "4k", "--engine", "threads"])
        .arg(&src)
        .arg(&dst)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_bytes(&src, &dst);
}
