//! A failed read or write of an `aiolos::fs::File` names the operation and the file (its
//! path when it was opened by path, else its descriptor), keeps the OS error as its source,
//! and a request refused because the file is not open for it is `PermissionDenied` saying
//! so (the kernel's bare `EBADF` is of kind `Uncategorized`). On every engine, on a
//! multi-thread runtime.
mod common;
use aiolos::fs::{File, PathError};
use aiolos::{BufResult, EngineKind};
use common::fs::{run, Mode};
use common::*;
use std::io;

/// The OS error number behind an aiolos::fs error.
fn errno(e: &io::Error) -> Option<i32> {
    e.get_ref()
        .and_then(|r| r.downcast_ref::<PathError>())
        .and_then(PathError::raw_os_error)
}

fn request_errors_name_the_operation_and_the_file(kind: EngineKind) {
    let dir = scratch_dir();
    let path = dir.path().join("data");
    std::fs::write(&path, b"0123456789").unwrap();
    let shown = path.display().to_string();
    run(kind, Mode::TokioMultiThread, 16, move |driver| async move {
        // A write to a file opened for reading only.
        let ro = File::options()
            .read(true)
            .driver(&driver)
            .open(&path)
            .await
            .expect("open for reading");
        let BufResult(r, buf) = ro.write_at(b"x".to_vec(), 0).await;
        assert_eq!(buf, b"x", "the buffer comes back");
        let e = r.expect_err("a write to a file open for reading only fails");
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with("write ")
                && msg.contains(&shown)
                && msg.contains("not open for writing"),
            "the error names the operation, the file and the cause: {msg}"
        );
        assert_eq!(
            errno(&e),
            Some(libc::EBADF),
            "the OS error is kept as the source"
        );

        // A read from a file opened for writing only, without a path (from_std): named by
        // its descriptor.
        let wo = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let raw = std::os::fd::AsRawFd::as_raw_fd(&wo);
        let wo = File::from_std_on(wo, &driver);
        let BufResult(r, _) = wo.read_at(Vec::with_capacity(4), 0).await;
        let e = r.expect_err("a read from a file open for writing only fails");
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with("read of descriptor ")
                && msg.contains(&raw.to_string())
                && msg.contains("not open for reading"),
            "a file without a path is named by its descriptor: {msg}"
        );
        assert_eq!(errno(&e), Some(libc::EBADF));

        // Other errors keep their kind and name the file too: a read of a directory.
        let d = File::options()
            .read(true)
            .driver(&driver)
            .open(path.parent().unwrap())
            .await
            .expect("open the directory");
        let BufResult(r, _) = d.read_at(Vec::with_capacity(4), 0).await;
        let e = r.expect_err("reading a directory fails");
        assert_eq!(e.raw_os_error(), None, "wrapped with its context");
        assert_eq!(errno(&e), Some(libc::EISDIR));
        assert_eq!(e.kind(), io::ErrorKind::IsADirectory, "{e}");
        assert!(e.to_string().starts_with("read "), "{e}");
    });
}

on_every_engine!(request_errors_name_the_operation_and_the_file);
