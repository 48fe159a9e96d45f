mod common;

/// tests/c/errno_untouched.c in every build variant.
#[test]
fn errno_is_never_changed() {
    common::run_c_test("errno_untouched");
}
