//! `aiolos probe --json` parses, and names the O_DIRECT alignment of the path: on a loop
//! device created with 4096-byte sectors, 4096. On `/proc`, which holds no regular files,
//! it says so and shows no alignment; io_uring's operations are summarised, not listed.

mod common;

use common::bin;
use common::loopdev::LoopDev;
use serde_json::Value;
use std::path::Path;

fn probe_json(path: &Path) -> Value {
    let out = bin().args(["probe", "--json"]).arg(path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("probe --json prints JSON")
}

#[test]
fn probe_json_names_the_kernel_engines_and_the_alignment() {
    let d = common::scratch();
    let v = probe_json(d.path());
    assert!(v["kernel"]["release"].as_str().unwrap().contains('.'));
    assert!(v["io_uring"]["available"].is_boolean());
    assert!(v["kernel_aio"]["available"].is_boolean());
    let choice = v["engine"]["choice"].as_str().unwrap();
    assert!(["uring", "native", "threads"].contains(&choice), "{choice}");
    assert!(!v["engine"]["reason"].as_str().unwrap().is_empty());
    if v["path"]["o_direct"] == Value::Bool(true) {
        let off = v["path"]["alignment"]["offset"].as_u64().unwrap();
        let mem = v["path"]["alignment"]["mem"].as_u64().unwrap();
        assert!(off.is_power_of_two() && mem.is_power_of_two(), "{v}");
        assert!(v["path"]["alignment"]["source"].is_string());
    } else {
        eprintln!("SKIP: no O_DIRECT on the scratch directory; alignment not checked");
    }
    let read = &v["path"]["native_buffered_read"];
    assert!(
        read.get("done").is_some() || read.get("skipped").is_some(),
        "{read}"
    );
}

#[test]
fn probe_text_names_each_section() {
    let out = bin().arg("probe").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "kernel",
        "io_uring",
        "kernel AIO",
        "fs.aio-max-nr",
        "O_DIRECT",
        "engine",
    ] {
        assert!(text.contains(word), "no {word:?} in:\n{text}");
    }
}

#[test]
fn probe_on_a_4k_sector_loop_device_reports_4096() {
    let Some(mut dev) = LoopDev::create(64 << 20, 4096) else {
        return;
    };
    let v = probe_json(dev.dev());
    assert_eq!(v["path"]["kind"], "block device", "{v}");
    assert_eq!(v["path"]["logical_block_size"], 4096, "{v}");
    assert_eq!(v["path"]["alignment"]["offset"], 4096, "{v}");
    let Some(mnt) = dev.mount_ext4() else {
        return;
    };
    let v = probe_json(&mnt);
    assert_eq!(v["path"]["fs_type"], "ext4", "{v}");
    assert_eq!(v["path"]["o_direct"], true, "{v}");
    assert_eq!(v["path"]["alignment"]["offset"], 4096, "{v}");
    assert_eq!(v["path"]["logical_block_size"], 4096, "{v}");
}

#[test]
fn probe_of_proc_says_it_holds_no_regular_files_and_shows_no_alignment() {
    let out = bin().args(["probe", "/proc"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "O_DIRECT       no: proc is the kernel's own file system and holds no regular files"
        ),
        "{text}"
    );
    assert!(!text.contains("alignment"), "{text}");
    assert!(!text.contains("probe failed"), "{text}");
    assert!(
        !text.contains(".aiolos-probe"),
        "the scratch path shows: {text}"
    );
    let v = probe_json(Path::new("/proc"));
    assert_eq!(v["path"]["regular_files"], false, "{v}");
    assert_eq!(v["path"]["o_direct"], false, "{v}");
    assert!(v["path"]["alignment"].is_null(), "{v}");
}

#[test]
fn probe_summarises_the_io_uring_operations_on_one_short_line() {
    let out = bin().arg("probe").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(ops) = text.lines().find(|l| l.trim_start().starts_with("ops ")) else {
        eprintln!("SKIP: no io_uring here:\n{text}");
        return;
    };
    assert!(ops.contains("supported (file I/O "), "{ops}");
    assert!(ops.len() < 110, "one short line: {ops}");
    assert!(!ops.contains("sendmsg"), "names are for --json: {ops}");
}
