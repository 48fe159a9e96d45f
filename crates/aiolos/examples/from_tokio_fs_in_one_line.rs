//! A program written for `tokio::fs`, switched to `aiolos::fs` by changing one line: the
//! `use` below (it was `use tokio::fs;`). Nothing else names aiolos. It checks what it does
//! and exits non-zero if anything is off; CI runs it (`.ci/run`).
//!
//! ```text
//! cargo run -p aiolos --example from_tokio_fs_in_one_line [DIR]
//! ```

use aiolos::fs;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, BufWriter};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let base = match std::env::args().nth(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("from-tokio-fs-{}", std::process::id())),
    };
    fs::create_dir_all(base.join("logs/old")).await?;

    // Whole files.
    fs::write(base.join("hello.txt"), "hello, world\n").await?;
    assert_eq!(
        fs::read_to_string(base.join("hello.txt")).await?,
        "hello, world\n"
    );
    assert!(fs::try_exists(base.join("hello.txt")).await?);

    // A log written line by line through a BufWriter, read back with BufReader::lines.
    let log = fs::File::create(base.join("logs/app.log")).await?;
    let mut w = BufWriter::new(log);
    for i in 0..10_000 {
        w.write_all(format!("request {i} ok\n").as_bytes()).await?;
    }
    w.shutdown().await?;
    let mut lines = BufReader::new(fs::File::open(base.join("logs/app.log")).await?).lines();
    let mut n = 0;
    while let Some(line) = lines.next_line().await? {
        assert_eq!(line, format!("request {n} ok"));
        n += 1;
    }
    assert_eq!(n, 10_000);

    // tokio::io::copy between two files, then a seek and a read in the middle.
    let mut src = fs::File::open(base.join("logs/app.log")).await?;
    let mut dst = fs::File::create(base.join("logs/old/app.log.1")).await?;
    let copied = tokio::io::copy(&mut src, &mut dst).await?;
    dst.sync_all().await?;
    assert_eq!(copied, fs::metadata(base.join("logs/app.log")).await?.len());
    let mut f = fs::File::open(base.join("logs/old/app.log.1")).await?;
    f.seek(std::io::SeekFrom::Start(8)).await?;
    let mut word = [0u8; 4];
    f.read_exact(&mut word).await?;
    assert_eq!(&word, b"0 ok");

    // Names and directories.
    fs::rename(base.join("logs/app.log"), base.join("logs/app.log.0")).await?;
    fs::copy(base.join("hello.txt"), base.join("logs/hello.copy")).await?;
    let mut names = Vec::new();
    let mut dir = fs::read_dir(base.join("logs")).await?;
    while let Some(entry) = dir.next_entry().await? {
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    assert_eq!(names, ["app.log.0", "hello.copy", "old"]);
    match fs::read(base.join("missing")).await {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        Ok(_) => panic!("read of a missing file succeeded"),
    }

    fs::remove_dir_all(&base).await?;
    assert!(!fs::try_exists(&base).await?);
    println!("ok: {n} lines written and read back, {copied} bytes copied");
    Ok(())
}
