//! With io_uring denied by a seccomp filter (as container runtimes deny it), a program on
//! the drop-in with `AIOLOS_ENGINE=uring` runs on the thread pool, as every aiolos ring
//! does: its I/O round-trips, nothing is written to its stderr, and with `AIOLOS_LOG=1` the
//! choice and its cause are reported there.
mod common;
#[path = "../../aiolos/tests/common/seccomp.rs"]
mod seccomp;

const NAME: &str = "a_program_asking_for_uring_where_it_is_denied_runs_on_threads_quietly";

#[test]
fn a_program_asking_for_uring_where_it_is_denied_runs_on_threads_quietly() {
    seccomp::exec_if_asked();
    let exe = common::compile("round_trip", common::Variant::C);
    let dir = common::scratch_dir();
    let lib = common::library_dir().to_string_lossy().into_owned();
    let expect = common::library().to_string_lossy().into_owned();
    for log in [false, true] {
        let mut envs = vec![
            ("AIOLOS_ENGINE", "uring"),
            ("LD_LIBRARY_PATH", lib.as_str()),
            ("AIOLOS_EXPECT_LIB", expect.as_str()),
        ];
        if log {
            envs.push(("AIOLOS_LOG", "1"));
        }
        let out = seccomp::run_with_io_uring_denied(NAME, dir.path(), &exe, &[], &envs);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "round_trip failed with io_uring denied (AIOLOS_LOG={log}):\n{stdout}{stderr}"
        );
        let said: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("aiolos:"))
            .collect();
        if log {
            assert!(
                said.iter()
                    .any(|l| l.contains("runs on threads") && l.contains("seccomp")),
                "with AIOLOS_LOG=1 the choice and its cause are reported: {stderr}"
            );
        } else {
            assert!(
                said.is_empty(),
                "the library wrote to the program's stderr unasked: {stderr}"
            );
        }
    }
}
