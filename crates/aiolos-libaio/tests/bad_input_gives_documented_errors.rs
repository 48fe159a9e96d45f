mod common;

/// tests/c/bad_input_errors.c in every build variant.
#[test]
fn bad_input_gives_documented_errors() {
    common::run_c_test("bad_input_errors");
}
