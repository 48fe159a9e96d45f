mod common;

/// tests/c/many_contexts.c in every build variant, on every engine.
#[test]
fn sixty_thousand_contexts_fit_in_4096_descriptors() {
    common::run_c_test("many_contexts");
}
