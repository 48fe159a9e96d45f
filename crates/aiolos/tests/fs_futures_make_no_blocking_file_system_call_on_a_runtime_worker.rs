//! No `aiolos::fs` future makes a blocking file-system system call on a runtime worker:
//! each worker thread of a multi-thread tokio runtime installs, as it starts, a seccomp
//! filter on itself alone (no TSYNC) that fails `open`, `openat`, `statx`, the positional
//! reads and writes, `fsync`, `getdents64`, the `*at` name calls, `ftruncate`,
//! `fallocate`, `copy_file_range`, ... with a distinctive errno (`ENOTRECOVERABLE`). Then
//! every `aiolos::fs` function and `File` method runs on the workers, on the io_uring
//! engine, and must succeed. The filter itself is checked first: `std::fs` on a worker
//! fails with that errno.
//!
//! Not filtered: `read`/`write` (the ring's eventfds), `close` (dropping a `File` closes
//! its descriptor where it is dropped, as with `tokio::fs`), `fstat`/`newfstatat` and
//! `fcntl` (the io_uring engine's per-descriptor lookup of O_DIRECT), `io_uring_enter`.
//!
//! aiolos's blocking pool is started on the test's main thread first (threads inherit a
//! seccomp filter from the thread that creates them). The futures run on the runtime's
//! default driver (its own tokio driver) and on an explicit tokio driver.

use std::os::unix::fs::PermissionsExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

const MARK: i32 = libc::ENOTRECOVERABLE;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

#[cfg(target_arch = "x86_64")]
const LEGACY: &[libc::c_long] = &[
    libc::SYS_open,
    libc::SYS_creat,
    libc::SYS_stat,
    libc::SYS_lstat,
    libc::SYS_unlink,
    libc::SYS_rmdir,
    libc::SYS_mkdir,
    libc::SYS_rename,
    libc::SYS_link,
    libc::SYS_symlink,
    libc::SYS_readlink,
    libc::SYS_chmod,
    libc::SYS_getdents,
];
#[cfg(not(target_arch = "x86_64"))]
const LEGACY: &[libc::c_long] = &[];

fn denied() -> Vec<u32> {
    let mut v: Vec<libc::c_long> = vec![
        libc::SYS_openat,
        libc::SYS_openat2,
        libc::SYS_statx,
        libc::SYS_pread64,
        libc::SYS_preadv,
        libc::SYS_preadv2,
        libc::SYS_pwrite64,
        libc::SYS_pwritev,
        libc::SYS_pwritev2,
        libc::SYS_fsync,
        libc::SYS_fdatasync,
        libc::SYS_sync_file_range,
        libc::SYS_getdents64,
        libc::SYS_unlinkat,
        libc::SYS_renameat,
        libc::SYS_renameat2,
        libc::SYS_mkdirat,
        libc::SYS_linkat,
        libc::SYS_symlinkat,
        libc::SYS_readlinkat,
        libc::SYS_fchmod,
        libc::SYS_fchmodat,
        libc::SYS_ftruncate,
        libc::SYS_truncate,
        libc::SYS_fallocate,
        libc::SYS_copy_file_range,
        libc::SYS_sendfile,
        libc::SYS_splice,
        libc::SYS_statfs,
        libc::SYS_fstatfs,
    ];
    v.extend_from_slice(LEGACY);
    v.into_iter().map(|n| n as u32).collect()
}

/// Installs the filter on the calling thread only.
fn deny_file_system_calls() {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let nrs = denied();
    let n = nrs.len() as u8;
    let mut prog = vec![
        ins(LD_W_ABS, 0, 0, 4),           // arch
        ins(JEQ_K, 0, n + 1, AUDIT_ARCH), // another arch: allow
        ins(LD_W_ABS, 0, 0, 0),           // syscall number
    ];
    for (i, nr) in nrs.iter().enumerate() {
        prog.push(ins(JEQ_K, n - i as u8, 0, *nr));
    }
    prog.push(ins(RET_K, 0, 0, RET_ALLOW));
    prog.push(ins(RET_K, 0, 0, RET_ERRNO | MARK as u32));
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: plain prctl calls; fprog points at a live filter program for the call. No
    // SECCOMP_FILTER_FLAG_TSYNC: the filter applies to this thread alone.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &fprog as *const _
            ),
            0,
            "installing the seccomp filter failed: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn no_mark<T>(what: &str, r: std::io::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!(
            "{what} failed on a runtime worker{}: {e}",
            if format!("{e:?}").contains(&MARK.to_string()) {
                " because it made a blocking file-system call there (seccomp)"
            } else {
                ""
            }
        ),
    }
}

#[test]
fn fs_futures_make_no_blocking_file_system_call_on_a_runtime_worker() {
    if let Err(why) = aiolos::engine::uring_probe().and_then(|p| p.usable) {
        eprintln!("SKIP: io_uring unavailable: {why}");
        return;
    }
    std::env::set_var("AIOLOS_ENGINE", "uring");
    let dir = tempfile::Builder::new()
        .prefix("aiolos-seccomp-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("scratch dir");
    let base = dir.path().to_path_buf();
    // Started here, unfiltered: the global driver and aiolos's blocking pool.
    let global = aiolos::fs::Driver::default_driver().expect("default driver");
    assert_eq!(global.engine_kind(), aiolos::EngineKind::Uring);
    global
        .block_on(aiolos::fs::canonicalize(&base))
        .expect("start the pool");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(deny_file_system_calls)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        // The filter works: std's blocking calls fail on a worker.
        let probe = tokio::spawn(async { std::fs::metadata("/") })
            .await
            .expect("task");
        assert_eq!(
            probe.map(|_| ()).unwrap_err().raw_os_error(),
            Some(MARK),
            "the filter is not installed"
        );
        let mut tasks = Vec::new();
        for t in 0..4 {
            let base = base.join(format!("t{t}"));
            tasks.push(tokio::spawn(async move { every_call(base).await }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        // A driver reaped by a task on the workers: submissions and reaping happen there.
        let d = aiolos::fs::Driver::tokio().expect("tokio driver");
        let f = no_mark(
            "open on the tokio driver",
            aiolos::fs::File::options()
                .read(true)
                .write(true)
                .create(true)
                .driver(&d)
                .open(base.join("t"))
                .await,
        );
        let aiolos::BufResult(n, _) = f.write_at(vec![7u8; 8192], 0).await;
        no_mark("write_at", n);
        let aiolos::BufResult(n, buf) = f.read_at(Vec::with_capacity(8192), 0).await;
        assert_eq!(no_mark("read_at", n), 8192);
        assert!(buf.iter().all(|&b| b == 7));
        no_mark("sync_data", f.sync_data().await);
        no_mark("metadata", f.metadata().await);
    });
}

async fn every_call(base: std::path::PathBuf) {
    use aiolos::fs;
    let p = |n: &str| base.join(n);
    no_mark("create_dir_all", fs::create_dir_all(p("d/e")).await);
    no_mark("create_dir", fs::create_dir(p("c")).await);
    no_mark("write", fs::write(p("a"), b"hello\nworld\n").await);
    assert_eq!(no_mark("read", fs::read(p("a")).await), b"hello\nworld\n");
    no_mark("read_to_string", fs::read_to_string(p("a")).await);
    assert!(no_mark("metadata", fs::metadata(p("a")).await).is_file());
    no_mark("try_exists", fs::try_exists(p("missing")).await);
    no_mark("copy", fs::copy(p("a"), p("b")).await);
    no_mark("rename", fs::rename(p("b"), p("d/b")).await);
    no_mark("hard_link", fs::hard_link(p("a"), p("h")).await);
    no_mark("symlink", fs::symlink(p("a"), p("s")).await);
    no_mark("read_link", fs::read_link(p("s")).await);
    no_mark("symlink_metadata", fs::symlink_metadata(p("s")).await);
    no_mark("canonicalize", fs::canonicalize(p("s")).await);
    no_mark(
        "set_permissions",
        fs::set_permissions(p("a"), std::fs::Permissions::from_mode(0o600)).await,
    );
    let mut rd = no_mark("read_dir", fs::read_dir(&base).await);
    while let Some(e) = no_mark("next_entry", rd.next_entry().await) {
        no_mark("DirEntry::metadata", e.metadata().await);
        no_mark("DirEntry::file_type", e.file_type().await);
    }
    let mut f = no_mark("File::create", fs::File::create(p("f")).await);
    for i in 0..2000 {
        no_mark(
            "write_all",
            f.write_all(format!("line {i}\n").as_bytes()).await,
        );
    }
    no_mark("flush", f.flush().await);
    no_mark("sync_all", f.sync_all().await);
    no_mark("sync_data", f.sync_data().await);
    no_mark("set_len", f.set_len(100).await);
    no_mark("File::metadata", f.metadata().await);
    no_mark(
        "File::set_permissions",
        f.set_permissions(std::fs::Permissions::from_mode(0o644))
            .await,
    );
    no_mark("allocate", f.allocate(0, 4096).await);
    drop(f);
    let mut f = no_mark("File::open", fs::File::open(p("f")).await);
    no_mark("seek", f.seek(std::io::SeekFrom::End(-10)).await);
    let mut s = String::new();
    no_mark("read_to_string (stream)", f.read_to_string(&mut s).await);
    no_mark("seek", f.seek(std::io::SeekFrom::Start(0)).await);
    let mut lines = tokio::io::BufReader::new(f).lines();
    while no_mark("next_line", lines.next_line().await).is_some() {}
    let mut src = no_mark("open", fs::File::open(p("a")).await);
    let mut dst = no_mark(
        "create",
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(p("a2"))
            .await,
    );
    no_mark("io::copy", tokio::io::copy(&mut src, &mut dst).await);
    no_mark("shutdown", dst.shutdown().await);
    no_mark("remove_file", fs::remove_file(p("h")).await);
    no_mark("remove_dir", fs::remove_dir(p("c")).await);
    no_mark("remove_dir_all", fs::remove_dir_all(&base).await);
}
