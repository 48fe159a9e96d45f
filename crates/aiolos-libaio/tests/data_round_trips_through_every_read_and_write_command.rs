mod common;

/// tests/c/round_trip.c, built as C, C++ and with 64-bit file offsets.
#[test]
fn data_round_trips_through_every_read_and_write_command() {
    common::run_c_test("round_trip");
}
