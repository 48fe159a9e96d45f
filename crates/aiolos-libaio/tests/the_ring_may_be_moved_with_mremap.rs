mod common;

/// tests/c/mremap_ring.c in every build variant, on every engine.
#[test]
fn the_ring_may_be_moved_with_mremap() {
    common::run_c_test("mremap_ring");
}
