mod common;

/// tests/c/eventfd_signalled.c in every build variant.
#[test]
fn eventfd_is_signalled_when_a_request_completes() {
    common::run_c_test("eventfd_signalled");
}
