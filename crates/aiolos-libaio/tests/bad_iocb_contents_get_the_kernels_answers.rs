mod common;

/// tests/c/bad_iocb_contents.c in every build variant, on every engine.
#[test]
fn bad_iocb_contents_get_the_kernels_answers() {
    common::run_c_test("bad_iocb_contents");
}
