mod common;

/// tests/c/queue_run_callbacks.c in every build variant.
#[test]
fn io_queue_run_calls_each_callback_once() {
    common::run_c_test("queue_run_callbacks");
}
