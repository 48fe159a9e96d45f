//! `aiolos probe --json` parses, and names the O_DIRECT alignment of the path: on a loop
//! device created with 4096-byte sectors, 4096.

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
