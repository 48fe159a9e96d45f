mod common;

/// tests/c/fork_child_einval.c in every build variant.
#[test]
fn forked_child_gets_einval_on_parents_context() {
    common::run_c_test("fork_child_einval");
}
