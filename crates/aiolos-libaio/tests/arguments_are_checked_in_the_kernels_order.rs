mod common;

/// tests/c/check_order.c in every build variant, on every engine.
#[test]
fn arguments_are_checked_in_the_kernels_order() {
    common::run_c_test("check_order");
}
