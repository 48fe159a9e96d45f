mod common;

/// tests/c/poll_min_nr_zero.c in every build variant, on every engine.
#[test]
fn polling_with_min_nr_zero_finds_buffered_completions() {
    common::run_c_test("poll_min_nr_zero");
}
