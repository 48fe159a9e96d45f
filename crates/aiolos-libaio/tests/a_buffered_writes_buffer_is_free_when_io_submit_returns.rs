mod common;

/// tests/c/write_buffer_reuse.c in every build variant, on every engine.
#[test]
fn a_buffered_writes_buffer_is_free_when_io_submit_returns() {
    common::run_c_test("write_buffer_reuse");
}
