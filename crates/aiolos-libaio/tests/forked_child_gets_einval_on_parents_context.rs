mod common;

/// tests/c/fork_child_einval.c in every build variant (also under ASan, whose allocator is
/// not fork-safe: the child's calls must not allocate).
#[test]
fn forked_child_gets_einval_on_parents_context() {
    common::run_c_test("fork_child_einval");
}

/// tests/c/fork_child_direct.c: a child's own context runs O_DIRECT requests after the
/// parent's did, and their completions reach its ring with no call of the library (the
/// harvesting thread of the parent does not exist in the child; the child starts its own).
#[test]
fn a_forked_childs_own_context_runs_o_direct_requests() {
    common::run_c_test("fork_child_direct");
}
