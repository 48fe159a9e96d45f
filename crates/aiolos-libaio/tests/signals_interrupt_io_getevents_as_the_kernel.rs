mod common;

/// tests/c/signals_interrupt_io_getevents_as_the_kernel.c in every build variant, on every
/// engine: waits on a futex (the default) and in `ppoll` with signals held off
/// (`AIOLOS_HOLD_SIGNALS=1`) answer alike.
#[test]
fn signals_interrupt_io_getevents_as_the_kernel() {
    common::run_c_test("signals_interrupt_io_getevents_as_the_kernel");
    common::run_c_test_with(
        "signals_interrupt_io_getevents_as_the_kernel",
        &[("AIOLOS_HOLD_SIGNALS", "1")],
    );
}
