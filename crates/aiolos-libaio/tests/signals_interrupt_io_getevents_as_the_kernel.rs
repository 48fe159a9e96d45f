mod common;

/// tests/c/signals_interrupt_io_getevents_as_the_kernel.c in every build variant, on every
/// engine.
#[test]
fn signals_interrupt_io_getevents_as_the_kernel() {
    common::run_c_test("signals_interrupt_io_getevents_as_the_kernel");
}
