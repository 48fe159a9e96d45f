//! Drives the C tests: builds `libaio.so.1` with `build-so.sh` (once per test binary), builds
//! a C program from `tests/c/` against our header as C, as C++ and with
//! `-D_FILE_OFFSET_BITS=64`, and runs each build with a time limit in a scratch directory.
//!
//! Exit codes follow the C tests' convention: 0 pass, 77 skip (printed), anything else
//! fails the Rust test with the program's output. `AIOLOS_LIBAIO_SO` names a prebuilt
//! library to test instead of building one. With `AIOLOS_SANITIZER=address` (the CI's
//! sanitizer step) the library is built with AddressSanitizer (see `build-so.sh`) and the C
//! tests with `-fsanitize=address`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long one C program may run.
pub const TIME_LIMIT: Duration = Duration::from_secs(60);

/// The crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The target directory this test binary was built in (`<target>/<profile>/deps/<bin>`).
fn target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        let d = PathBuf::from(d);
        return if d.is_absolute() {
            d
        } else {
            crate_dir().join("../..").join(d)
        };
    }
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// The sanitizer the library and the C tests are built with (`AIOLOS_SANITIZER`), if any.
pub fn sanitizer() -> Option<String> {
    std::env::var("AIOLOS_SANITIZER")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Runs `tests/c/<name>.c` as [`run_c_test`] does, unless this is an ASan build, where the
/// test is skipped and `why` printed.
pub fn run_c_test_unless_asan(name: &str, why: &str) {
    if sanitizer().as_deref() == Some("address") {
        eprintln!("SKIP: {name} under ASan ({why})");
        return;
    }
    run_c_test(name);
}

/// The C compiler's ASan runtime when testing an ASan build: a program not built with
/// `-fsanitize=address` (fio) must preload it to load our library.
pub fn asan_runtime() -> Option<PathBuf> {
    if sanitizer().as_deref() != Some("address") {
        return None;
    }
    let out = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .arg("-print-file-name=libasan.so")
        .output()
        .expect("run the C compiler");
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        path.is_absolute() && path.exists(),
        "the C compiler has no ASan runtime (libasan.so): {}",
        path.display()
    );
    Some(path)
}

/// The directory holding `libaio.so.1` under test, built once per test binary.
pub fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(so) = std::env::var_os("AIOLOS_LIBAIO_SO") {
            let so = PathBuf::from(so);
            return so
                .parent()
                .expect("AIOLOS_LIBAIO_SO has a parent")
                .to_path_buf();
        }
        let out = target_dir().join("aiolos-libaio-test");
        let status = Command::new(crate_dir().join("build-so.sh"))
            .arg(&out)
            .stdout(Stdio::null())
            .status()
            .expect("run build-so.sh");
        assert!(status.success(), "build-so.sh failed: {status}");
        out
    })
}

/// The library under test.
pub fn library() -> PathBuf {
    library_dir().join("libaio.so.1")
}

/// A way to compile a C test.
#[derive(Clone, Copy, Debug)]
pub enum Variant {
    /// `cc -std=gnu11`.
    C,
    /// `c++ -x c++ -std=gnu++17`.
    Cxx,
    /// `cc -std=gnu11 -D_FILE_OFFSET_BITS=64`.
    C64,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::C, Variant::Cxx, Variant::C64];

    fn name(self) -> &'static str {
        match self {
            Variant::C => "c",
            Variant::Cxx => "cxx",
            Variant::C64 => "c-fob64",
        }
    }
}

/// Compiles `tests/c/<name>.c` as `variant` against our header and library.
pub fn compile(name: &str, variant: Variant) -> PathBuf {
    compile_source(
        &crate_dir().join("tests/c").join(format!("{name}.c")),
        variant,
    )
}

/// Compiles the C program `src` as `variant` against our header and library; the
/// executable is named after the source file and the variant.
pub fn compile_source(src: &Path, variant: Variant) -> PathBuf {
    let name = src
        .file_stem()
        .expect("a C source file name")
        .to_string_lossy()
        .into_owned();
    let out_dir = target_dir().join("aiolos-libaio-c-tests");
    std::fs::create_dir_all(&out_dir).expect("create C test dir");
    let exe = out_dir.join(format!("{name}-{}", variant.name()));
    let mut cmd = match variant {
        Variant::Cxx => {
            let mut c = Command::new(std::env::var("CXX").unwrap_or_else(|_| "c++".into()));
            c.args(["-x", "c++", "-std=gnu++17"]);
            c
        }
        Variant::C | Variant::C64 => {
            let mut c = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
            c.arg("-std=gnu11");
            c
        }
    };
    if let Variant::C64 = variant {
        cmd.arg("-D_FILE_OFFSET_BITS=64");
    }
    match sanitizer().as_deref() {
        None => {}
        Some("address") => {
            cmd.args(["-fsanitize=address", "-fno-omit-frame-pointer"]);
        }
        Some(other) => panic!("AIOLOS_SANITIZER={other}: the C tests support only address"),
    }
    cmd.args(["-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(src)
        // Whatever follows the source is not C++ source (the library, in particular).
        .args(["-x", "none"])
        .arg("-o")
        .arg(&exe)
        .arg(library())
        .arg("-ldl");
    let out = cmd.output().expect("run the C compiler");
    assert!(
        out.status.success(),
        "compiling {} as {:?} failed:\n{}",
        src.display(),
        variant,
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// What a C test did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Passed,
    /// Exit 77, with the reason.
    Skipped(String),
}

fn run_with_limit(mut cmd: Command) -> Output {
    use std::os::unix::process::CommandExt;
    // Its own process group, so that a hung test is killed with every process it forked:
    // a forked child left alive would hold the output pipes open and hang the read below.
    let mut child = cmd
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start C test");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait for C test").is_some() {
            return child.wait_with_output().expect("collect C test output");
        }
        if start.elapsed() > TIME_LIMIT {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect C test output");
            panic!(
                "C test hung for {TIME_LIMIT:?}; output:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a built C program with `args` in `dir`, on our library through
/// `LD_LIBRARY_PATH` and with `envs`, within [`TIME_LIMIT`]; returns what it did (a
/// non-zero exit is the caller's to judge).
pub fn run_in(exe: &Path, args: &[&std::ffi::OsStr], dir: &Path, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(dir)
        .env("LD_LIBRARY_PATH", library_dir())
        .env("AIOLOS_EXPECT_LIB", library());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run_with_limit(cmd)
}

/// A scratch directory under the target directory (a real disk file system, where
/// O_DIRECT works).
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(target_dir()).expect("scratch dir")
}

/// Runs one built C test in a fresh scratch directory with our library preloaded through
/// `LD_LIBRARY_PATH`; panics on failure.
pub fn run(exe: &Path, envs: &[(&str, &str)]) -> Outcome {
    let scratch = tempfile::tempdir_in(target_dir()).expect("scratch dir");
    let mut cmd = Command::new(exe);
    // Where O_DIRECT runs is each test's choice, not the environment's.
    cmd.current_dir(scratch.path())
        .env_remove("AIOLOS_DIRECT")
        .env("LD_LIBRARY_PATH", library_dir())
        .env("AIOLOS_EXPECT_LIB", library());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = run_with_limit(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Outcome::Passed,
        Some(77) => Outcome::Skipped(stderr.trim().to_string()),
        _ => panic!(
            "{} failed ({}):\n{}{}",
            exe.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            stderr
        ),
    }
}

/// The engines every C test runs on (`AIOLOS_ENGINE`).
pub const ENGINES: [&str; 3] = ["native", "uring", "threads"];

/// Builds `tests/c/<name>.c` in every variant and runs each build on every engine; a skip
/// is printed.
pub fn run_c_test(name: &str) {
    run_c_test_with(name, &[]);
}

/// As [`run_c_test`], with `envs` set for every run.
pub fn run_c_test_with(name: &str, envs: &[(&str, &str)]) {
    for variant in Variant::ALL {
        let exe = compile(name, variant);
        for engine in ENGINES {
            let mut all = vec![("AIOLOS_ENGINE", engine)];
            all.extend_from_slice(envs);
            match std::panic::catch_unwind(|| run(&exe, &all)) {
                Ok(Outcome::Passed) => {}
                Ok(Outcome::Skipped(why)) => {
                    eprintln!("SKIP: {name} ({variant:?}, {engine}): {why}")
                }
                Err(e) => {
                    eprintln!("{name} failed as {variant:?} on engine {engine} with {envs:?}");
                    std::panic::resume_unwind(e)
                }
            }
        }
    }
}
