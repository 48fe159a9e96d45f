//! One suite, two implementations: the same bodies run against `tokio::fs` and
//! `aiolos::fs` (every function, the `File` and `OpenOptions` methods, the stream traits),
//! and their results and error kinds must agree, call for call, including the error cases
//! (missing file, not a directory, is a directory, exists, not empty, invalid input, and
//! permission denied, from a child process that drops root).
//!
//! `aiolos::fs`'s free functions use the default (global) driver, whose engine is chosen
//! once per process, so each engine runs the suite in a child process of its own with
//! `AIOLOS_ENGINE` set, on a current-thread and on a multi-thread runtime.

use std::fmt::Debug;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const CHILD: &str = "AIOLOS_PARITY_CHILD";
const PERM_DIR: &str = "AIOLOS_PARITY_PERM_DIR";

/// A result, written so that both implementations' can be compared: the value's Debug, or
/// the error's kind.
fn show<T: Debug>(r: io::Result<T>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(e) => format!("Err({:?})", e.kind()),
    }
}

/// The suite: `$fs` is `tokio::fs` or `aiolos::fs`, `$base` a fresh directory.
macro_rules! suite {
    ($($fs:ident)::+, $base:expr) => {{
        use $($fs)::+ as fs;
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
        let base: &Path = $base;
        let p = |name: &str| base.join(name);
        let mut log: Vec<String> = Vec::new();
        macro_rules! check {
            ($what:expr, $e:expr) => {
                log.push(format!("{}: {}", $what, show($e)))
            };
        }
        // Whole files.
        check!("write", fs::write(p("a"), b"hello\nworld\n").await);
        check!("read", fs::read(p("a")).await);
        check!("read_to_string", fs::read_to_string(p("a")).await);
        check!("read missing", fs::read(p("missing")).await);
        check!("read a directory", fs::read(base).await);
        check!("write invalid utf8", fs::write(p("bin"), [0xffu8, 0xfe]).await);
        check!("read_to_string invalid utf8", fs::read_to_string(p("bin")).await);
        check!("write under a file", fs::write(p("a/x"), b"x").await);
        // Files that are not regular ones. procfs says 0 bytes and has data: read (and
        // copied) to the end; /proc/kallsyms is megabytes long (its length and a sum are
        // compared). Devices and pipes are no files to copy.
        check!("read /proc/version", fs::read("/proc/version").await);
        check!("metadata /proc/version", fs::metadata("/proc/version").await.map(|m| (m.len(), m.is_file())));
        check!("copy /proc/version", fs::copy("/proc/version", p("version")).await);
        check!("read its copy", fs::read(p("version")).await);
        check!("read /proc/kallsyms", fs::read("/proc/kallsyms").await.map(|v| (v.len(), v.iter().fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(u64::from(b))))));
        let mut f = fs::File::open("/proc/version").await;
        let mut v = Vec::new();
        check!("File read_to_end /proc/version", match f.as_mut() {
            Ok(f) => f.read_to_end(&mut v).await.map(|n| (n, v.clone())),
            Err(e) => Err(io::Error::new(e.kind(), "")),
        });
        check!("read /dev/null", fs::read("/dev/null").await);
        check!("copy /dev/null", fs::copy("/dev/null", p("null")).await);
        check!("copy a directory", fs::copy(base, p("dir-copy")).await);
        // Metadata.
        let m = fs::metadata(p("a")).await;
        check!("metadata", m.as_ref().map(|m| (m.len(), m.is_file(), m.is_dir(), m.is_symlink(), m.permissions().mode(), m.nlink(), m.ino() > 0)).map_err(|e| io::Error::new(e.kind(), "")));
        check!("metadata of dir", fs::metadata(base).await.map(|m| (m.is_dir(), m.file_type().is_dir())));
        check!("metadata missing", fs::metadata(p("missing")).await.map(|m| m.len()));
        check!("metadata through a file", fs::metadata(p("a/b")).await.map(|m| m.len()));
        check!("try_exists", fs::try_exists(p("a")).await);
        check!("try_exists missing", fs::try_exists(p("missing")).await);
        check!("try_exists through a file", fs::try_exists(p("a/b")).await);
        // Directories.
        check!("create_dir", fs::create_dir(p("d")).await);
        check!("create_dir exists", fs::create_dir(p("d")).await);
        check!("create_dir missing parent", fs::create_dir(p("nope/d")).await);
        check!("create_dir under a file", fs::create_dir(p("a/d")).await);
        check!("create_dir_all", fs::create_dir_all(p("d/e/f/g")).await);
        check!("create_dir_all exists", fs::create_dir_all(p("d/e")).await);
        check!("create_dir_all through a file", fs::create_dir_all(p("a/e/f")).await);
        check!("DirBuilder recursive", fs::DirBuilder::new().recursive(true).mode(0o750).create(p("m/n")).await);
        check!("DirBuilder mode", fs::metadata(p("m/n")).await.map(|m| m.permissions().mode() & 0o777));
        check!("write in dir", fs::write(p("d/e/file"), b"x").await);
        check!("remove_dir not empty", fs::remove_dir(p("d/e")).await);
        check!("remove_dir a file", fs::remove_dir(p("a")).await);
        check!("remove_dir missing", fs::remove_dir(p("missing")).await);
        check!("remove_file a dir", fs::remove_file(p("d")).await);
        check!("remove_file missing", fs::remove_file(p("missing")).await);
        check!("remove_dir leaf", fs::remove_dir(p("d/e/f/g")).await);
        check!("remove_dir_all", fs::remove_dir_all(p("d")).await);
        check!("remove_dir_all missing", fs::remove_dir_all(p("d")).await);
        check!("after remove_dir_all", fs::try_exists(p("d")).await);
        // read_dir.
        fs::create_dir(p("list")).await.expect("mkdir list");
        for name in ["x", "y", "z"] {
            fs::write(p("list").join(name), name).await.expect("write list entry");
        }
        fs::create_dir(p("list/sub")).await.expect("mkdir sub");
        let mut names = Vec::new();
        match fs::read_dir(p("list")).await {
            Ok(mut rd) => loop {
                match rd.next_entry().await {
                    Ok(Some(e)) => {
                        let t = e.file_type().await.map(|t| (t.is_dir(), t.is_file()));
                        let m = e.metadata().await.map(|m| (m.len(), m.is_dir()));
                        names.push(format!("{:?} {:?} {} {}", e.file_name(), e.path().strip_prefix(base).map(Path::to_path_buf), show(t), show(m)));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        names.push(format!("Err({:?})", e.kind()));
                        break;
                    }
                }
            },
            Err(e) => names.push(format!("Err({:?})", e.kind())),
        }
        names.sort();
        log.push(format!("read_dir: {names:?}"));
        check!("read_dir a file", fs::read_dir(p("a")).await.map(|_| ()));
        check!("read_dir missing", fs::read_dir(p("missing")).await.map(|_| ()));
        // Names.
        check!("rename", fs::rename(p("list/x"), p("list/x2")).await);
        check!("rename missing", fs::rename(p("list/x"), p("list/x3")).await);
        check!("rename onto a dir", fs::rename(p("list/y"), p("list/sub")).await);
        check!("hard_link", fs::hard_link(p("list/x2"), p("hard")).await);
        check!("hard_link exists", fs::hard_link(p("list/x2"), p("hard")).await);
        check!("hard_link missing", fs::hard_link(p("missing"), p("hard2")).await);
        check!("nlink", fs::metadata(p("hard")).await.map(|m| m.nlink()));
        check!("symlink", fs::symlink("list/z", p("sym")).await);
        check!("symlink exists", fs::symlink("list/z", p("sym")).await);
        check!("symlink dangling", fs::symlink("missing", p("dangling")).await);
        check!("read_link", fs::read_link(p("sym")).await);
        check!("read_link not a link", fs::read_link(p("a")).await);
        check!("read_link missing", fs::read_link(p("missing")).await);
        check!("symlink_metadata", fs::symlink_metadata(p("sym")).await.map(|m| (m.is_symlink(), m.file_type().is_symlink(), m.is_file())));
        check!("metadata through a link", fs::metadata(p("sym")).await.map(|m| (m.is_symlink(), m.is_file(), m.len())));
        check!("metadata dangling", fs::metadata(p("dangling")).await.map(|m| m.len()));
        check!("try_exists dangling", fs::try_exists(p("dangling")).await);
        check!("canonicalize", fs::canonicalize(p("sym")).await.map(|c| c.strip_prefix(base.canonicalize().expect("base")).map(Path::to_path_buf)));
        check!("canonicalize missing", fs::canonicalize(p("missing")).await);
        check!("set_permissions", fs::set_permissions(p("a"), std::fs::Permissions::from_mode(0o640)).await);
        check!("permissions after", fs::metadata(p("a")).await.map(|m| m.permissions().mode() & 0o777));
        check!("set_permissions missing", fs::set_permissions(p("missing"), std::fs::Permissions::from_mode(0o640)).await);
        // copy.
        check!("copy", fs::copy(p("a"), p("a-copy")).await);
        check!("copy content", fs::read(p("a-copy")).await);
        check!("copy permissions", fs::metadata(p("a-copy")).await.map(|m| m.permissions().mode() & 0o777));
        check!("copy over", fs::copy(p("list/z"), p("a-copy")).await);
        check!("copy content over", fs::read(p("a-copy")).await);
        check!("copy missing", fs::copy(p("missing"), p("b")).await);
        check!("copy a dir", fs::copy(p("list"), p("b")).await);
        check!("copy into missing dir", fs::copy(p("a"), p("nope/b")).await);
        // Files and options.
        check!("File::open missing", fs::File::open(p("missing")).await.map(|_| ()));
        check!("File::create_new exists", fs::File::create_new(p("a")).await.map(|_| ()));
        check!("open dir for writing", fs::OpenOptions::new().write(true).open(base).await.map(|_| ()));
        check!("create without write", fs::OpenOptions::new().read(true).create(true).open(p("c")).await.map(|_| ()));
        check!("no access mode", fs::OpenOptions::new().open(p("a")).await.map(|_| ()));
        check!("append and truncate", fs::OpenOptions::new().append(true).truncate(true).open(p("a")).await.map(|_| ()));
        check!("open through a file", fs::File::open(p("a/x")).await.map(|_| ()));
        check!("mode", async {
            let f = fs::OpenOptions::new().write(true).create(true).mode(0o600).open(p("moded")).await?;
            drop(f);
            Ok(fs::metadata(p("moded")).await?.permissions().mode() & 0o777)
        }.await);
        // Streams.
        let r: io::Result<Vec<String>> = async {
            let mut out = Vec::new();
            let mut f = fs::File::create(p("s")).await?;
            for i in 0..1000 {
                f.write_all(format!("line {i}\n").as_bytes()).await?;
            }
            f.flush().await?;
            out.push(format!("seek end {}", f.seek(io::SeekFrom::End(0)).await?));
            f.write_all(b"tail").await?;
            f.sync_all().await?;
            out.push(format!("len {}", f.metadata().await?.len()));
            f.set_len(20).await?;
            out.push(format!("set_len {}", f.metadata().await?.len()));
            drop(f);
            let mut f = fs::File::open(p("s")).await?;
            let mut s = String::new();
            f.read_to_string(&mut s).await?;
            out.push(format!("read_to_string {s:?}"));
            out.push(format!("seek start {}", f.seek(io::SeekFrom::Start(5)).await?));
            let mut b = [0u8; 4];
            f.read_exact(&mut b).await?;
            out.push(format!("read_exact {b:?}"));
            out.push(format!("seek current {}", f.seek(io::SeekFrom::Current(-2)).await?));
            out.push(format!("seek negative {}", show(f.seek(io::SeekFrom::Current(-100)).await)));
            out.push(format!("write to read-only {}", show(f.write_all(b"x").await.and(f.flush().await))));
            let mut big = fs::File::create(p("big")).await?;
            let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
            big.write_all(&data).await?;
            big.shutdown().await?;
            let mut src = fs::File::open(p("big")).await?;
            let mut dst = fs::File::create(p("big2")).await?;
            out.push(format!("io::copy {}", tokio::io::copy(&mut src, &mut dst).await?));
            dst.flush().await?;
            out.push(format!("copied equal {}", fs::read(p("big2")).await? == data));
            let lines = tokio::io::BufReader::new(fs::File::open(p("a")).await?);
            let mut lines = lines.lines();
            while let Some(l) = lines.next_line().await? {
                out.push(format!("line {l:?}"));
            }
            let f = fs::File::open(p("a")).await?;
            let c = f.try_clone().await?;
            out.push(format!("try_clone len {}", c.metadata().await?.len()));
            let std = f.into_std().await;
            out.push(format!("into_std len {}", std.metadata()?.len()));
            let mut f = fs::File::from_std(std);
            let mut s = String::new();
            f.read_to_string(&mut s).await?;
            out.push(format!("from_std read {s:?}"));
            out.push(format!("set_permissions {}", show(f.set_permissions(std::fs::Permissions::from_mode(0o600)).await)));
            out.push(format!("sync_data {}", show(f.sync_data().await)));
            Ok(out)
        }
        .await;
        log.push(format!("streams: {}", show(r)));
        log
    }};
}

/// Where aiolos::fs answers differently on purpose: (what tokio::fs logs, what aiolos::fs
/// logs instead), as fragments of a logged line.
/// A write to a file not open for writing is `PermissionDenied` ("the file is not open for
/// writing"), not tokio's bare `EBADF` of kind `Uncategorized` (docs/async.md).
const DELIBERATE: &[(&str, &str)] = &[(
    "write to read-only Err(Uncategorized)",
    "write to read-only Err(PermissionDenied)",
)];

/// Runs the suite on both implementations, each in a fresh directory, and compares.
async fn compare(label: &str) {
    let (t, a) = (scratch(), scratch());
    let want = suite!(tokio::fs, t.path());
    let got = suite!(aiolos::fs, a.path());
    let mut differ = Vec::new();
    let mut deliberate = 0;
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        let mut g = g.clone();
        for (theirs, ours) in DELIBERATE {
            if w.contains(theirs) && g.contains(ours) {
                g = g.replace(ours, theirs);
                deliberate += 1;
            }
        }
        if *w != g {
            differ.push(format!("  #{i}\n    tokio::fs:  {w}\n    aiolos::fs: {g}"));
        }
    }
    assert_eq!(
        want.len(),
        got.len(),
        "{label}: the suites logged different numbers of calls"
    );
    assert!(
        differ.is_empty(),
        "{label}: aiolos::fs differs from tokio::fs:\n{}",
        differ.join("\n")
    );
    assert_eq!(
        deliberate,
        DELIBERATE.len(),
        "{label}: a deliberate difference from tokio::fs no longer shows (update the list)"
    );
    eprintln!("{label}: {} calls agree", want.len());
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("aiolos-parity-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("scratch dir")
}

/// The child: runs the suite on this process's engine, current-thread then multi-thread.
#[test]
fn child_runs_the_suite() {
    let Ok(engine) = std::env::var(CHILD) else {
        return;
    };
    let d = aiolos::fs::Driver::default_driver().expect("default driver");
    assert_eq!(
        d.engine_kind().name(),
        engine,
        "the default driver runs on the engine asked for"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(compare(&format!("{engine}, current-thread")));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(compare(&format!("{engine}, multi-thread")));
}

fn run_child(engine: &str) {
    if engine == "uring" {
        if let Err(why) = aiolos::engine::uring_probe().and_then(|p| p.usable) {
            eprintln!("SKIP: io_uring unavailable: {why}");
            return;
        }
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([
            "child_runs_the_suite",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, engine)
        .env("AIOLOS_ENGINE", engine)
        .output()
        .expect("run the child");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the suite on {engine} failed:\n{text}"
    );
    assert!(
        text.contains("calls agree"),
        "the child ran no suite:\n{text}"
    );
    for line in text.lines().filter(|l| l.contains("calls agree")) {
        eprintln!("{line}");
    }
}

#[test]
fn aiolos_fs_matches_tokio_fs_on_uring() {
    run_child("uring");
}

#[test]
fn aiolos_fs_matches_tokio_fs_on_native() {
    run_child("native");
}

#[test]
fn aiolos_fs_matches_tokio_fs_on_threads() {
    run_child("threads");
}

/// Permission denied, as a user that is not root: both implementations, same answers.
macro_rules! denied {
    ($($fs:ident)::+, $dir:expr) => {{
        use $($fs)::+ as fs;
        let dir: &Path = $dir;
        let p = |n: &str| dir.join(n);
        vec![
            show(fs::read(p("secret")).await),
            show(fs::File::open(p("secret")).await.map(|_| ())),
            show(fs::write(p("secret"), b"x").await),
            show(fs::write(p("new"), b"x").await),
            show(fs::create_dir(p("newdir")).await),
            show(fs::remove_file(p("secret")).await),
            show(fs::rename(p("secret"), p("moved")).await),
            show(fs::metadata(p("locked/inner")).await.map(|m| m.len())),
            show(fs::try_exists(p("locked/inner")).await),
            show(fs::read_dir(p("locked")).await.map(|_| ())),
            show(fs::copy(p("secret"), p("copy")).await),
            show(fs::set_permissions(p("secret"), std::fs::Permissions::from_mode(0o644)).await),
            show(fs::hard_link(p("secret"), p("link")).await),
            show(fs::symlink(p("secret"), p("sym")).await),
            show(fs::metadata(p("secret")).await.map(|m| m.len())),
        ]
    }};
}

#[test]
fn child_as_nobody() {
    let Ok(dir) = std::env::var(PERM_DIR) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let want = denied!(tokio::fs, &dir);
        let got = denied!(aiolos::fs, &dir);
        assert_eq!(
            want, got,
            "permission errors differ (tokio::fs left, aiolos::fs right)"
        );
        assert!(
            want[0].contains("PermissionDenied"),
            "the child is not unprivileged: {want:?}"
        );
        eprintln!("permission checks agree: {want:?}");
    });
}

#[test]
fn permission_denied_matches_tokio_fs() {
    use std::os::unix::fs::MetadataExt as _;
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        != 0
    {
        eprintln!("SKIP: not root, so no child can drop privileges");
        return;
    }
    let Ok(setpriv) = which("setpriv") else {
        eprintln!("SKIP: no setpriv to drop privileges with");
        return;
    };
    let dir = scratch();
    let d = dir.path();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    std::fs::write(d.join("secret"), b"root only").expect("secret");
    std::fs::set_permissions(d.join("secret"), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    std::fs::create_dir(d.join("locked")).expect("locked");
    std::fs::write(d.join("locked/inner"), b"x").expect("inner");
    std::fs::set_permissions(d.join("locked"), std::fs::Permissions::from_mode(0o700))
        .expect("chmod");
    let exe = std::env::current_exe().expect("test binary");
    if let Some(dir) = [exe.as_path(), d].into_iter().find_map(closed_to_others) {
        eprintln!(
            "SKIP: {} is not searchable by other users, so an unprivileged child cannot run \
             the test binary there",
            dir.display()
        );
        return;
    }
    let out = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(exe)
        .args(["child_as_nobody", "--exact", "--nocapture"])
        .env(PERM_DIR, d)
        .output()
        .expect("run setpriv");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the unprivileged child failed:\n{text}"
    );
    assert!(
        text.contains("permission checks agree"),
        "the child ran nothing:\n{text}"
    );
    eprintln!(
        "{}",
        text.lines()
            .find(|l| l.contains("agree"))
            .unwrap_or_default()
    );
}

/// The first ancestor of `path` that other users cannot search (mode without `o+x`).
fn closed_to_others(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .filter(|a| !a.as_os_str().is_empty())
        .find(|a| std::fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 == 0))
        .map(Path::to_path_buf)
}

fn which(name: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
