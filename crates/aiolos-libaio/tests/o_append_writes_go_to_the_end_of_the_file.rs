mod common;

/// tests/c/o_append.c in every build variant.
#[test]
fn o_append_writes_go_to_the_end_of_the_file() {
    common::run_c_test("o_append");
}
