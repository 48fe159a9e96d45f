mod common;

/// tests/c/o_direct_requests.c in every build variant, on every engine: the emulated
/// engines send O_DIRECT requests to kernel AIO by default, and to their own io_uring or
/// pool with `AIOLOS_DIRECT=engine` (one test: both runs build the same programs).
#[test]
fn o_direct_requests_answer_as_kernel_aio() {
    common::run_c_test("o_direct_requests");
    common::run_c_test_with("o_direct_requests", &[("AIOLOS_DIRECT", "engine")]);
}
