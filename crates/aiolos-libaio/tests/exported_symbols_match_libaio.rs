//! The built `libaio.so.1` exports exactly libaio 0.3.113's symbol table (check-symbols.sh),
//! and the check itself rejects a library that exports anything more.
mod common;

use std::process::Command;

#[test]
fn exported_symbols_are_exactly_libaios() {
    let out = Command::new(common::crate_dir().join("check-symbols.sh"))
        .arg(common::library())
        .output()
        .expect("run check-symbols.sh");
    assert!(
        out.status.success(),
        "check-symbols.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn symbol_check_rejects_a_library_with_a_leaked_symbol() {
    // A stand-in with libaio's table plus one extra export must fail the check.
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("leak.c");
    let map = dir.path().join("leak.map");
    let so = dir.path().join("libaio.so.1");
    let names = [
        "io_queue_init",
        "io_queue_run",
        "io_queue_release",
        "io_submit",
        "io_setup",
        "io_destroy",
        "io_pgetevents",
        "io_getevents",
        "io_cancel",
        "io_queue_wait",
        "leaked_helper",
    ];
    let body: String = names
        .iter()
        .map(|n| format!("int {n}(void) {{ return 0; }}\n"))
        .collect();
    std::fs::write(&src, body).expect("write source");
    std::fs::write(
        &map,
        "LIBAIO_0.1 { global: io_queue_init; io_queue_run; io_queue_release; io_submit; \
         io_getevents; io_cancel; io_queue_wait; leaked_helper; local: *; };\n\
         LIBAIO_0.4 { global: io_setup; io_destroy; } LIBAIO_0.1;\n\
         LIBAIO_0.5 { global: io_pgetevents; } LIBAIO_0.4;\n",
    )
    .expect("write map");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .arg(format!("-Wl,--version-script={}", map.display()))
        .arg("-Wl,-soname=libaio.so.1")
        .status()
        .expect("run cc");
    assert!(status.success());
    let out = Command::new(common::crate_dir().join("check-symbols.sh"))
        .arg(&so)
        .output()
        .expect("run check-symbols.sh");
    assert!(
        !out.status.success(),
        "a library with a leaked symbol passed"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("leaked_helper"));
}
