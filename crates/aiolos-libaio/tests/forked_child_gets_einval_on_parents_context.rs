mod common;

/// tests/c/fork_child_einval.c in every build variant (also under ASan, whose allocator is
/// not fork-safe: the child's calls must not allocate).
#[test]
fn forked_child_gets_einval_on_parents_context() {
    common::run_c_test("fork_child_einval");
}
