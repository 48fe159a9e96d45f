mod common;

/// tests/c/signal_handlers_call_the_library.c in every build variant, on every engine, with
/// `AIOLOS_HOLD_SIGNALS=1` (the emulated engines hold signals off in `io_submit` and
/// `io_getevents` only when asked; without it the program hung on `uring` and `threads`).
#[test]
fn signal_handlers_call_the_library() {
    common::run_c_test_with(
        "signal_handlers_call_the_library",
        &[("AIOLOS_HOLD_SIGNALS", "1")],
    );
}
