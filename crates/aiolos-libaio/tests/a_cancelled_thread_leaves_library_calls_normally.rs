mod common;

/// tests/c/thread_cancellation.c: a thread with a cancellation pending makes every call
/// and is cancelled only at its next cancellation point; a thread asleep in `io_getevents`
/// sleeps on until its event. Before the library held cancellation off in its calls, the
/// process aborted on `uring` and `threads` (a cancellation acted inside the library's own
/// `pwritev`, and the thread unwound through Rust frames).
///
/// Not under ASan: GCC 12's ASan runtime reports a stack-buffer-overflow in its own
/// `sigaltstack` call when a cancelled thread exits (stack redzones left by the forced
/// unwind), with Debian's libaio as with this library.
#[test]
fn a_cancelled_thread_leaves_library_calls_normally() {
    common::run_c_test_unless_asan(
        "thread_cancellation",
        "its runtime misreads a cancelled thread's exit",
    );
}
