//! O_DIRECT requests on every engine (tests/c/o_direct_requests.c, every build variant):
//! on the emulated engines they go to kernel AIO by default, to the engine's own io_uring
//! or pool with `AIOLOS_DIRECT=engine`, and to the engine as well where kernel AIO is
//! denied (a seccomp filter refusing `io_setup`, as some sandboxes do).
mod common;
#[path = "../../aiolos/tests/common/seccomp.rs"]
mod seccomp;

const NAME: &str = "o_direct_requests_answer_as_kernel_aio";

/// Set where O_DIRECT runs on the engine: the C test then skips the one check that only
/// kernel AIO passes (a failed request's event in the ring when io_submit returns).
const ON_ENGINE: (&str, &str) = ("AIOLOS_TEST_DIRECT_ON_ENGINE", "1");

#[test]
fn o_direct_requests_answer_as_kernel_aio() {
    seccomp::exec_if_asked();
    // One test: these runs build the same programs.
    common::run_c_test("o_direct_requests");
    common::run_c_test_with(
        "o_direct_requests",
        &[("AIOLOS_DIRECT", "engine"), ON_ENGINE],
    );

    let exe = common::compile("o_direct_requests", common::Variant::C);
    let lib = common::library_dir().to_string_lossy().into_owned();
    let expect = common::library().to_string_lossy().into_owned();
    for engine in ["uring", "threads"] {
        let dir = common::scratch_dir();
        let envs = [
            ("AIOLOS_ENGINE", engine),
            ("LD_LIBRARY_PATH", lib.as_str()),
            ("AIOLOS_EXPECT_LIB", expect.as_str()),
            ON_ENGINE,
        ];
        let out =
            seccomp::run_with_denied(NAME, dir.path(), &exe, &[], &envs, &[libc::SYS_io_setup]);
        assert!(
            out.status.success(),
            "o_direct_requests on {engine} with io_setup denied:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
