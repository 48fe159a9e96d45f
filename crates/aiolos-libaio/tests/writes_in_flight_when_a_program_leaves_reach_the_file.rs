mod common;

/// tests/c/exit_with_writes_in_flight.c on every engine, and with `AIOLOS_DIRECT=engine`,
/// where the `O_DIRECT` writes are the emulated engines' own requests and `exit()` must
/// wait for them (before it did not: up to 64 of 64 blocks never reached the file).
#[test]
fn writes_in_flight_when_a_program_leaves_reach_the_file() {
    common::run_c_test("exit_with_writes_in_flight");
    common::run_c_test_with("exit_with_writes_in_flight", &[("AIOLOS_DIRECT", "engine")]);
}
