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
///
/// Not under ASan: its allocator (GCC 12's) is not fork-safe, and this child allocates
/// (a context, an engine); it hung once in CI with the child's new thread waiting for an
/// allocator lock a thread of the parent held at the fork. The C library's allocator, which
/// programs use, takes its locks around `fork`.
#[test]
fn a_forked_childs_own_context_runs_o_direct_requests() {
    common::run_c_test_unless_asan("fork_child_direct", "its allocator is not fork-safe");
}

/// tests/c/fork_while_busy.c: 150 forks while other threads keep the library busy (requests
/// completing, contexts set up and destroyed, threads that submit once and exit); each child
/// sets up a context of its own and reads from it. Before the library's locked globals were
/// made per fork generation (`forklocal.rs`), a child hung in its first `io_setup` on a lock
/// a parent's thread held at the fork: at fork 0-8 on `uring` and `threads`, in 1 of 14 runs
/// on `native`.
///
/// Not under ASan, for the reason above (its allocator is not fork-safe, and these children
/// allocate).
#[test]
fn forks_while_the_library_is_busy_give_children_that_run() {
    common::run_c_test_unless_asan("fork_while_busy", "its allocator is not fork-safe");
}
