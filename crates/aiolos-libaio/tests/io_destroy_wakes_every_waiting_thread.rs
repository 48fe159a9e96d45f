mod common;

/// tests/c/destroy_wakes_waiters.c in every build variant.
#[test]
fn io_destroy_wakes_every_waiting_thread() {
    common::run_c_test("destroy_wakes_waiters");
}
