//! A real client: `fio --ioengine=libaio` runs verified random read/write jobs on our
//! library (found through `LD_LIBRARY_PATH`, checked with `ldd`), O_DIRECT and buffered,
//! with and without `--userspace_reap=1` (fio then reads the completion ring itself), on
//! every engine.
mod common;

use std::path::Path;
use std::process::Command;

fn fio_path() -> Option<String> {
    let out = Command::new("sh")
        .args(["-c", "command -v fio"])
        .output()
        .ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !p.is_empty()).then_some(p)
}

fn run_fio(fio: &str, dir: &Path, engine: &str, extra: &[&str]) {
    let mut cmd = Command::new(fio);
    cmd.env("LD_LIBRARY_PATH", common::library_dir())
        .env("AIOLOS_ENGINE", engine)
        .env("LD_DEBUG", "libs")
        .current_dir(dir)
        .args([
            "--name=aiolos",
            "--ioengine=libaio",
            "--rw=randrw",
            "--bs=4k",
            "--iodepth=128",
            "--iodepth_batch_submit=8",
            "--verify=crc32c",
            "--do_verify=1",
            "--verify_fatal=1",
            "--filename=fio.data",
            "--output-format=terse",
        ])
        .args(extra);
    if let Some(asan) = common::asan_runtime() {
        cmd.env("LD_PRELOAD", asan);
    }
    let out = cmd.output().expect("run fio");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "fio {extra:?} on {engine} failed:\n{text}"
    );
    // The dynamic loader's trace shows which libaio.so.1 fio really ran on.
    let ours = format!("calling init: {}", common::library().display());
    assert!(
        text.contains(&ours),
        "fio {extra:?} on {engine} did not load our library"
    );
    assert!(
        !text.contains("verify:"),
        "fio {extra:?} on {engine} reported:\n{text}"
    );
}

#[test]
fn fio_verified_randrw_runs_on_our_library() {
    let Some(fio) = fio_path() else {
        eprintln!("SKIP: fio is not installed (apt-get install fio)");
        return;
    };
    // fio must resolve libaio.so.1 to ours.
    let ldd = Command::new("ldd")
        .arg(&fio)
        .env("LD_LIBRARY_PATH", common::library_dir())
        .output()
        .expect("run ldd");
    let ldd = String::from_utf8_lossy(&ldd.stdout).into_owned();
    let line = ldd
        .lines()
        .find(|l| l.contains("libaio.so.1"))
        .unwrap_or_else(|| panic!("fio does not link libaio.so.1:\n{ldd}"));
    assert!(
        line.contains(&common::library_dir().display().to_string()),
        "fio would load {line}, not our library"
    );

    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch dir");
    // fio spins on the ring with userspace_reap; those runs are kept short (4 MiB).
    for extra in [
        &["--size=16m", "--direct=1"][..],
        &["--size=16m", "--direct=0"][..],
        &[
            "--size=4m",
            "--direct=1",
            "--userspace_reap=1",
            "--iodepth_batch_complete_min=0",
        ][..],
        &[
            "--size=4m",
            "--direct=0",
            "--userspace_reap=1",
            "--iodepth_batch_complete_min=0",
        ][..],
    ] {
        for engine in common::ENGINES {
            run_fio(&fio, dir.path(), engine, extra);
        }
    }
}
