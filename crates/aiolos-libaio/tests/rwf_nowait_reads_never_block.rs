mod common;

/// tests/c/rwf_nowait.c in every build variant.
#[test]
fn rwf_nowait_reads_never_block() {
    common::run_c_test("rwf_nowait");
}
