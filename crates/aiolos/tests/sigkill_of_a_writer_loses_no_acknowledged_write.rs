//! A writer killed with SIGKILL at a random point loses nothing it was told is written:
//! the child (this test binary, re-run) writes stamped blocks in batches, fsyncs each batch
//! and only then logs it on a pipe; the parent kills it mid-run and finds every logged
//! block on disk, intact.
mod common;
use aiolos::{EngineKind, Op};
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const CHILD: &str = "AIOLOS_TEST_SIGKILL_WRITER";
const BLOCK: usize = 4096;
const BATCH: u64 = 8;
const MAX_BATCHES: u64 = 4096;

/// The block's contents: the pattern at its offset, with its number in the first bytes.
fn stamped(n: u64) -> Vec<u8> {
    let mut b = pattern(n * BLOCK as u64, BLOCK);
    b[..8].copy_from_slice(&n.to_le_bytes());
    b
}

fn child(kind: EngineKind, path: &Path) {
    let ring = ring::<Vec<u8>>(kind, 32).expect("the parent checked the engine");
    let file: aiolos::Fd = open_rw(path, false).into();
    let out = std::io::stdout();
    for b in 0..MAX_BATCHES {
        let first = b * BATCH;
        for n in first..first + BATCH {
            ring.push(Op::write(&file, stamped(n), n * BLOCK as u64))
                .unwrap();
        }
        let mut done = 0;
        while done < BATCH {
            for c in ring.wait(1, 32, None).unwrap() {
                assert_eq!(bytes(&c), BLOCK);
                done += 1;
            }
        }
        ring.push(Op::fsync(&file)).unwrap();
        bytes(&ring.wait(1, 1, None).unwrap()[0]);
        let mut out = out.lock();
        writeln!(out, "SYNCED {first} {}", first + BATCH).unwrap();
        out.flush().unwrap();
    }
}

/// Kills the child on drop, so a failing parent leaves no writer behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn a_writer_killed_mid_run_loses_no_write_it_logged_as_fsynced(kind: EngineKind) {
    if let Ok(path) = std::env::var(CHILD) {
        child(kind, Path::new(&path));
        return;
    }
    if ring::<Vec<u8>>(kind, 4).is_none() {
        return;
    }
    let dir = scratch_dir();
    let path = dir.path().join("writer");
    let name = format!(
        "{kind}::a_writer_killed_mid_run_loses_no_write_it_logged_as_fsynced",
        kind = kind.name()
    );
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &name, "--nocapture", "--test-threads=1"])
        .env(CHILD, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap());

    // Wait for the first logged batch, then kill after a random 50..350 ms.
    let mut logged = Vec::new();
    let mut line = String::new();
    let start = Instant::now();
    while logged.is_empty() {
        line.clear();
        assert!(
            lines.read_line(&mut line).unwrap() > 0,
            "the writer exited before logging a batch"
        );
        if let Some(rest) = line.trim().strip_prefix("SYNCED ") {
            logged.push(rest.to_string());
        }
        assert!(start.elapsed() < Duration::from_secs(30), "writer too slow");
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::thread::sleep(Duration::from_millis(50 + u64::from(nanos % 300)));
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    assert!(!status.success(), "the writer finished before the kill");
    // Everything the writer logged before it died is in the pipe; a torn last line (no
    // newline) was not logged.
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap() == 0 || !line.ends_with('\n') {
            break;
        }
        if let Some(rest) = line.trim().strip_prefix("SYNCED ") {
            logged.push(rest.to_string());
        }
    }

    let file = std::fs::File::open(&path).unwrap();
    let mut buf = vec![0u8; BLOCK];
    let mut blocks = 0;
    for entry in &logged {
        let (first, end) = entry.split_once(' ').unwrap();
        let (first, end): (u64, u64) = (first.parse().unwrap(), end.parse().unwrap());
        for n in first..end {
            file.read_exact_at(&mut buf, n * BLOCK as u64)
                .unwrap_or_else(|e| panic!("logged block {n} is missing: {e}"));
            assert!(
                buf == stamped(n),
                "logged block {n} is not what was written"
            );
            blocks += 1;
        }
    }
    eprintln!(
        "{kind}: killed after {} fsynced batches; all {blocks} logged blocks intact",
        logged.len()
    );
}

on_every_engine!(a_writer_killed_mid_run_loses_no_write_it_logged_as_fsynced);
