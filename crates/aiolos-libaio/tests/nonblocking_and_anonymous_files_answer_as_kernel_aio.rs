mod common;

/// tests/c/nonblocking_and_anonymous_files.c in every build variant, on every engine.
#[test]
fn nonblocking_and_anonymous_files_answer_as_kernel_aio() {
    common::run_c_test("nonblocking_and_anonymous_files");
}
