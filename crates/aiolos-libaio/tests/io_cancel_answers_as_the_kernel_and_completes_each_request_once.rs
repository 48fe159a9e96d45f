mod common;

/// tests/c/cancel_once.c in every build variant, on every engine.
#[test]
fn io_cancel_answers_as_the_kernel_and_completes_each_request_once() {
    common::run_c_test("cancel_once");
}
