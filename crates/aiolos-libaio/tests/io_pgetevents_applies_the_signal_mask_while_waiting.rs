mod common;

/// tests/c/pgetevents_sigmask.c in every build variant, on every engine.
#[test]
fn io_pgetevents_applies_the_signal_mask_while_waiting() {
    common::run_c_test("pgetevents_sigmask");
}
