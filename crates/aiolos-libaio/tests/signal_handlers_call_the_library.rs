mod common;

/// tests/c/signal_handlers_call_the_library.c in every build variant, on every engine
/// (on `uring` and `threads` it hung before the emulated calls held signals off).
#[test]
fn signal_handlers_call_the_library() {
    common::run_c_test("signal_handlers_call_the_library");
}
