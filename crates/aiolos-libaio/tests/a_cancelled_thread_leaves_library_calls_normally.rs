mod common;

/// tests/c/thread_cancellation.c: a thread with a cancellation pending makes every call
/// and is cancelled only at its next cancellation point; a thread asleep in `io_getevents`
/// sleeps on until its event. Before the library held cancellation off in its calls, the
/// process aborted on `uring` and `threads` (a cancellation acted inside the library's own
/// `pwritev`, and the thread unwound through Rust frames).
#[test]
fn a_cancelled_thread_leaves_library_calls_normally() {
    common::run_c_test("thread_cancellation");
}
