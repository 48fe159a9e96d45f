mod common;

/// tests/c/ring_fast_path.c in every build variant.
#[test]
fn context_is_the_kernel_ring_and_zero_timeout_reads_it() {
    common::run_c_test("ring_fast_path");
}
