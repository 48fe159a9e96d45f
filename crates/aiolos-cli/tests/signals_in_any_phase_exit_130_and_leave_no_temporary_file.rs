//! Ctrl-C and SIGTERM, sent in bursts at random moments of each phase: `cp`'s copy and
//! verify, `bench`'s fill and runs. Whatever arrives, the command exits 130 (or, if it had
//! already finished, 0 with a complete result), is never killed by a second signal, and
//! leaves no temporary file. The seed of each burst is printed, to replay a failure.

mod common;
use common::{assert_same_bytes, bin, leftovers, scratch, write_pattern};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

/// xorshift64*: random moments, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        eprintln!("seed {seed:#x}");
        Rng(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Waits up to `max_ms` (a random part of it), then sends 1 to 5 signals, SIGINT or
/// SIGTERM at random, a few milliseconds apart.
fn burst(child: &Child, rng: &mut Rng, max_ms: u64) {
    std::thread::sleep(Duration::from_millis(rng.below(max_ms + 1)));
    for _ in 0..=rng.below(5) {
        let sig = if rng.below(2) == 0 { "-INT" } else { "-TERM" };
        // The process may have finished already: then kill fails, which is fine.
        let _ = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status();
        std::thread::sleep(Duration::from_millis(rng.below(8)));
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Lines of the child's stderr, as they come.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// What a cp run ended with: "interrupted" output, or a complete DST.
fn check_cp(
    out: std::process::ExitStatus,
    err: &str,
    dir: &std::path::Path,
    src: &std::path::Path,
    dst: &std::path::Path,
) -> bool {
    assert_eq!(
        leftovers(dir),
        Vec::<String>::new(),
        "temporary file left: {err}"
    );
    match out.code() {
        Some(130) => {
            assert!(err.contains("interrupted"), "{err}");
            assert!(!dst.exists(), "DST written by an interrupted copy");
            true
        }
        Some(0) => {
            assert_same_bytes(src, dst);
            std::fs::remove_file(dst).unwrap();
            false
        }
        _ => panic!("cp ended with {out:?} (killed by a signal?): {err}"),
    }
}

#[test]
fn cp_interrupted_while_copying_exits_130_and_removes_the_copy() {
    let d = scratch();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    write_pattern(&src, 64 << 20);
    let mut rng = Rng::new();
    for _ in 0..3 {
        // One 4 KiB request at a time: seconds of copying to land in.
        let mut child = bin()
            .args(["cp", "--qd", "1", "--bs", "4k"])
            .arg(&src)
            .arg(&dst)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = stderr_lines(&mut child);
        wait_until("the temporary copy", || !leftovers(d.path()).is_empty());
        burst(&child, &mut rng, 150);
        let status = child.wait().unwrap();
        let err: String = lines.iter().collect::<Vec<_>>().join("\n");
        let interrupted = check_cp(status, &err, d.path(), &src, &dst);
        assert!(interrupted, "the copy finished before the signals: {err}");
        assert!(err.contains("while copying"), "{err}");
    }
}

#[test]
fn cp_interrupted_while_verifying_exits_130_and_removes_the_copy() {
    let d = scratch();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    write_pattern(&src, 96 << 20);
    let mut rng = Rng::new();
    let mut in_verify = 0;
    for _ in 0..6 {
        let mut child = bin()
            .args(["cp", "-v", "--verify"])
            .arg(&src)
            .arg(&dst)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = stderr_lines(&mut child);
        // `-v` prints the copy's line when the copy is done and the verify begins.
        let mut seen = Vec::new();
        loop {
            let l = lines
                .recv_timeout(Duration::from_secs(30))
                .expect("cp -v printed its copy line");
            let copied = l.starts_with("copied");
            seen.push(l);
            if copied {
                break;
            }
        }
        burst(&child, &mut rng, 10);
        let status = child.wait().unwrap();
        seen.extend(lines.iter());
        let err = seen.join("\n");
        if check_cp(status, &err, d.path(), &src, &dst) {
            assert!(err.contains("while verifying"), "{err}");
            in_verify += 1;
            if in_verify == 2 {
                return;
            }
        }
    }
    assert!(in_verify > 0, "no burst landed in the verify phase");
}

/// Runs `bench` on a temporary file in `dir`, signals it `after_ms` (at most) after the
/// file appears, and checks the outcome. Returns the command's stderr.
fn bench_burst(dir: &std::path::Path, rng: &mut Rng, max_ms: u64) -> String {
    let child = bin()
        .env("TMPDIR", dir)
        .args([
            "bench",
            "--engine",
            "threads",
            "--size",
            "96m",
            "--runtime",
            "30",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the temporary file", || {
        std::fs::read_dir(dir).unwrap().count() > 0
    });
    burst(&child, rng, max_ms);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert_eq!(
        std::fs::read_dir(dir).unwrap().count(),
        0,
        "temporary file left: {err}"
    );
    err
}

#[test]
fn bench_interrupted_while_filling_its_file_exits_130_and_removes_it() {
    let d = scratch();
    let mut rng = Rng::new();
    let mut in_fill = 0;
    for _ in 0..4 {
        let err = bench_burst(d.path(), &mut rng, 20);
        if err.contains("while filling") {
            in_fill += 1;
        }
    }
    assert!(in_fill > 0, "no burst landed in the fill phase");
}

#[test]
fn bench_interrupted_while_running_exits_130_with_a_partial_report() {
    let d = scratch();
    let mut rng = Rng::new();
    for _ in 0..2 {
        let child = bin()
            .env("TMPDIR", d.path())
            .args([
                "bench",
                "--engine",
                "threads",
                "--size",
                "8m",
                "--runtime",
                "30",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until("the temporary file", || {
            std::fs::read_dir(d.path()).unwrap().count() > 0
        });
        // An 8 MiB file fills in well under this: the burst lands in the run.
        std::thread::sleep(Duration::from_millis(500));
        burst(&child, &mut rng, 500);
        let out = child.wait_with_output().unwrap();
        let (text, err) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(130), "{err}");
        assert!(
            text.contains("IOPS") && text.contains("interrupted"),
            "{text}"
        );
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }
}
