//! With io_uring denied by a seccomp filter (as container runtimes deny it), the command
//! resolves its engine as every aiolos ring does: `probe` says it would use the thread pool
//! and why, and `bench` (by default, or with `AIOLOS_ENGINE=uring`) runs on the thread pool;
//! the library prints nothing of its own unless `AIOLOS_LOG` asks.
mod common;
#[path = "../../aiolos/tests/common/seccomp.rs"]
mod seccomp;

const NAME: &str = "the_command_runs_on_threads_where_io_uring_is_denied";

fn denied(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> (String, String) {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_aiolos"));
    let out = seccomp::run_with_io_uring_denied(NAME, dir, exe, args, envs);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "aiolos {args:?} failed with io_uring denied:\n{stdout}{stderr}"
    );
    (stdout, stderr)
}

#[test]
fn the_command_runs_on_threads_where_io_uring_is_denied() {
    seccomp::exec_if_asked();
    let dir = common::scratch();
    let d = dir.path().to_str().unwrap();

    let (probe, _) = denied(dir.path(), &["probe", d], &[]);
    let engine = probe
        .lines()
        .find(|l| l.starts_with("engine"))
        .unwrap_or_else(|| panic!("probe printed no engine line:\n{probe}"));
    assert!(
        engine.contains("threads") && engine.contains("seccomp"),
        "probe names the thread pool and the cause: {engine}"
    );

    let file = dir.path().join("bench.dat");
    let f = file.to_str().unwrap();
    let bench = [
        "bench",
        "--file",
        f,
        "--size",
        "4M",
        "--runtime",
        "0.2",
        "--buffered",
        "--json",
    ];
    for (envs, log) in [
        (vec![], false),
        (vec![("AIOLOS_ENGINE", "uring")], false),
        (vec![("AIOLOS_ENGINE", "uring"), ("AIOLOS_LOG", "1")], true),
    ] {
        let (json, stderr) = denied(dir.path(), &bench, &envs);
        assert!(
            json.contains("\"engine\": \"threads\"") || json.contains("\"engine\":\"threads\""),
            "bench ran on the thread pool ({envs:?}):\n{json}"
        );
        let said = stderr
            .lines()
            .any(|l| l.starts_with("aiolos: ") && l.contains("io_uring is unavailable"));
        assert_eq!(
            said, log,
            "the library reports the fallback on stderr exactly when AIOLOS_LOG asks \
             ({envs:?}):\n{stderr}"
        );
    }
}
