mod common;

/// tests/c/fork_child_einval.c in every build variant.
#[test]
fn forked_child_gets_einval_on_parents_context() {
    if common::skip_under(
        "address",
        "the C compiler's ASan allocator is not fork-safe: the child deadlocked in malloc \
         (pthread_getattr_np in io_getevents) on a lock another thread held at fork",
    ) {
        return;
    }
    common::run_c_test("fork_child_einval");
}
