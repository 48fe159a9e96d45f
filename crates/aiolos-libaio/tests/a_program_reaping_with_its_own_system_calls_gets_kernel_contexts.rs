//! Programs that reap with the kernel's `io_getevents` themselves (MariaDB's InnoDB calls
//! `syscall(SYS_io_getevents, ...)` on contexts from libaio's `io_setup`) can only work on
//! kernel contexts: tests/c/raw_syscall_reaper.c, which imports no reaping call, runs on
//! every engine and build variant, and says why under `AIOLOS_LOG=1`; a program that
//! imports `io_getevents` stays on the engine it asked for.
mod common;

#[test]
fn a_program_reaping_with_its_own_system_calls_gets_kernel_contexts() {
    common::run_c_test("raw_syscall_reaper");

    let dir = common::scratch_dir();
    let raw = common::compile("raw_syscall_reaper", common::Variant::C);
    let normal = common::compile("round_trip", common::Variant::C);
    for engine in ["uring", "threads"] {
        let envs = [("AIOLOS_ENGINE", engine), ("AIOLOS_LOG", "1")];
        let out = common::run_in(&raw, &[], dir.path(), &envs);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "raw_syscall_reaper on {engine}:\n{stderr}"
        );
        assert!(
            stderr.contains("calls io_setup but not io_getevents")
                && stderr.contains(&format!("runs on native instead of {engine}")),
            "raw_syscall_reaper on {engine} should say it runs on native:\n{stderr}"
        );
        let out = common::run_in(&normal, &[], dir.path(), &envs);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "round_trip on {engine}:\n{stderr}");
        assert!(
            stderr.contains(&format!("libaio.so.1 runs on {engine}"))
                && !stderr.contains("not io_getevents"),
            "round_trip imports io_getevents and should stay on {engine}:\n{stderr}"
        );
    }
}
