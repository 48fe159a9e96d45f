//! `build-so.sh --prefix DIR` installs what a distribution or a user needs: the stripped
//! library with its debug information split off, its links, `libaio.h` and a pkg-config
//! file through which a C program builds and runs against it. The library is hardened as
//! the distribution's libaio is (full RELRO, BIND_NOW, no executable stack) and needs no
//! libgcc_s.
mod common;

use std::path::Path;
use std::process::Command;

fn tool(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok()
}

fn readelf(args: &[&str], file: &Path) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_install_is_complete_hardened_and_usable_through_pkg_config() {
    if common::sanitizer().is_some() {
        eprintln!("SKIP: the installed library is the normal build, not the sanitizer's");
        return;
    }
    let prefix = common::scratch_dir();
    let p = prefix.path();
    let status = Command::new(common::crate_dir().join("build-so.sh"))
        .arg("--prefix")
        .arg(p)
        .status()
        .unwrap();
    assert!(status.success(), "build-so.sh --prefix failed");
    let lib = p.join("lib");
    let so = lib.join("libaio.so.1.0.2");
    assert!(so.is_file());
    assert_eq!(
        std::fs::read_link(lib.join("libaio.so.1")).unwrap(),
        Path::new("libaio.so.1.0.2")
    );
    assert_eq!(
        std::fs::read_link(lib.join("libaio.so")).unwrap(),
        Path::new("libaio.so.1")
    );
    assert!(lib.join(".debug/libaio.so.1.0.2.debug").is_file());
    assert!(p.join("include/libaio.h").is_file());
    let pc = std::fs::read_to_string(lib.join("pkgconfig/libaio.pc")).unwrap();
    assert!(pc.contains(&format!("prefix={}", p.display())), "{pc}");

    if tool("readelf") {
        let sections = readelf(&["-S", "-W"], &so);
        assert!(!sections.contains(".symtab"), "stripped");
        assert!(sections.contains(".gnu_debuglink"), "debug file linked");
        let dynamic = readelf(&["-d", "-W"], &so);
        assert!(dynamic.contains("BIND_NOW"), "{dynamic}");
        assert!(!dynamic.contains("libgcc_s"), "no libgcc_s: {dynamic}");
        assert!(dynamic.contains("(SONAME)") && dynamic.contains("[libaio.so.1]"));
        let segments = readelf(&["-l", "-W"], &so);
        assert!(segments.contains("GNU_RELRO"), "{segments}");
        let stack = segments
            .lines()
            .find(|l| l.contains("GNU_STACK"))
            .unwrap_or("");
        assert!(!stack.contains("RWE"), "no executable stack: {stack}");
    } else {
        eprintln!("SKIP: readelf is not installed; the hardening is not checked");
    }

    if !tool("pkg-config") {
        eprintln!("SKIP: pkg-config is not installed; the build through it is not checked");
        return;
    }
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "libaio"])
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
        .output()
        .unwrap();
    assert!(flags.status.success());
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    assert!(
        flags.contains(&format!("-I{}", p.join("include").display())),
        "{flags}"
    );
    assert!(flags.contains("-laio"), "{flags}");
    let exe = p.join("round_trip");
    let cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .arg("-std=gnu11")
        .arg(common::crate_dir().join("tests/c/round_trip.c"))
        .arg("-o")
        .arg(&exe)
        .args(flags.split_whitespace())
        .arg("-ldl")
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let run = Command::new(&exe)
        .current_dir(p)
        .env("LD_LIBRARY_PATH", &lib)
        .env("AIOLOS_EXPECT_LIB", lib.join("libaio.so.1"))
        .env("AIOLOS_ENGINE", "uring")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}
