mod common;

/// tests/c/reused_descriptor_directory.c in every build variant, on every engine.
#[test]
fn a_reused_descriptor_is_refused_as_the_directory_it_now_is() {
    common::run_c_test("reused_descriptor_directory");
}
