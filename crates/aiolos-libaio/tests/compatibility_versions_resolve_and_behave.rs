mod common;

/// tests/c/abi_versions.c in every build variant.
#[test]
fn compatibility_versions_resolve_and_behave() {
    common::run_c_test("abi_versions");
}
