mod common;

/// tests/c/no_eintr_epoll.c in every build variant, on every engine.
#[test]
fn completions_never_interrupt_the_programs_own_calls() {
    common::run_c_test("no_eintr_epoll");
}
