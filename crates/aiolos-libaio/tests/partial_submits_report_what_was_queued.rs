mod common;

/// tests/c/partial_submit.c in every build variant.
#[test]
fn partial_submits_report_what_was_queued() {
    common::run_c_test("partial_submit");
}
