//! Differential test of the Rust `Ring`: one generated sequence of push, submit, wait,
//! cancel, detach and close runs on every engine (`uring`, `native`, `threads`) against a
//! FUSE file system that fails one block with EIO and stalls another (so requests are truly
//! in flight when they are cancelled, detached or closed), and against a local file. Every
//! engine must give each request exactly one completion (none for a request detached before
//! it completed), hand every buffer back with the right bytes in it, and give the same
//! result as the other engines: the one a model of the files predicts, or, for a request
//! cancelled while in flight, that or `ECANCELED`. proptest shrinks a failing sequence.
//!
//! Only the public API is used. Writes put back the bytes the file already holds, so every
//! read's data is known whatever the order in which requests run. Budget:
//! `AIOLOS_RING_DIFF_CASES` sequences (default 60; 15 under `AIOLOS_SANITIZER`).
mod common;
use aiolos::{EngineKind, Error, Fd, Op, Token};
use common::faultfs::{FaultFs, Faults};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

const BLOCK: u64 = 4096;
/// Blocks of each file.
const BLOCKS: u64 = 64;
/// The faultfs block that fails with EIO.
const EIO_BLOCK: u64 = 5;
/// The faultfs block whose requests stall.
const STALL_BLOCK: u64 = 9;
const STALL: Duration = Duration::from_millis(150);
const ENGINES: [EngineKind; 3] = [EngineKind::Uring, EngineKind::Native, EngineKind::Threads];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum File {
    /// The FUSE file (faults, O_DIRECT).
    Fault,
    /// A file on the build's file system (buffered).
    Local,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    Read { block: u64, len: u64 },
    Write { block: u64 },
    Readv { block: u64 },
    Fsync,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Action {
    Push(File, What),
    Submit,
    Wait {
        min: usize,
        max: usize,
        timeout: Option<u64>,
    },
    /// Cancel the request pushed `n`-th (if it was pushed).
    Cancel(usize),
    Detach(usize),
    Close,
}

fn block() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => Just(EIO_BLOCK),
        2 => Just(STALL_BLOCK),
        6 => 0..BLOCKS,
        1 => Just(BLOCKS + 3),
    ]
}

fn what() -> impl Strategy<Value = What> {
    prop_oneof![
        5 => (block(), prop::sample::select(vec![BLOCK, BLOCK, 0, 2 * BLOCK]))
            .prop_map(|(block, len)| What::Read { block, len }),
        3 => block().prop_map(|block| What::Write { block: block.min(BLOCKS - 1) }),
        2 => block().prop_map(|block| What::Readv { block }),
        1 => Just(What::Fsync),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        10 => (prop_oneof![3 => Just(File::Fault), 1 => Just(File::Local)], what())
            .prop_map(|(f, w)| Action::Push(f, w)),
        3 => Just(Action::Submit),
        5 => (0usize..3, 1usize..8, prop_oneof![Just(None), Just(Some(0)), Just(Some(20))])
            .prop_map(|(min, max, timeout)| Action::Wait { min, max, timeout }),
        2 => (0usize..24).prop_map(Action::Cancel),
        2 => (0usize..24).prop_map(Action::Detach),
        1 => Just(Action::Close),
    ]
}

/// What a request returns when nothing interferes: bytes, or an errno.
fn model(file: File, w: What) -> Result<usize, i32> {
    let faulty = |b: u64, n: u64| file == File::Fault && (b..b + n).contains(&EIO_BLOCK);
    match w {
        What::Read { block, len } => {
            let n = len.div_ceil(BLOCK).max(1);
            if len == 0 {
                Ok(0)
            } else if faulty(block, n) {
                Err(libc::EIO)
            } else {
                Ok((BLOCKS * BLOCK).saturating_sub(block * BLOCK).min(len) as usize)
            }
        }
        What::Write { block } => {
            if faulty(block, 1) {
                Err(libc::EIO)
            } else {
                Ok(BLOCK as usize)
            }
        }
        What::Readv { block } => {
            if faulty(block, 2) {
                Err(libc::EIO)
            } else {
                Ok((BLOCKS * BLOCK)
                    .saturating_sub(block * BLOCK)
                    .min(2 * BLOCK) as usize)
            }
        }
        What::Fsync => Ok(0),
    }
}

/// How one request ended on one engine.
#[derive(Clone, Debug, PartialEq, Eq)]
enum End {
    /// `push` refused it (the ring was closed or full).
    Refused(String),
    /// Its completion: the result, its `cancel_requested`, and whether it was cancelled (by
    /// `cancel` or `close`) while this run had not reaped it yet.
    Done(Result<usize, i32>, bool, bool),
    /// Detached before it completed: never delivered.
    Detached,
}

struct Files {
    fault: Fd,
    local: Fd,
}

fn op(files: &Files, f: File, w: What, id: u64) -> Op<Vec<u8>> {
    let fd = match f {
        File::Fault => &files.fault,
        File::Local => &files.local,
    };
    let op = match w {
        What::Read { block, len } => Op::read(fd, Vec::with_capacity(len as usize), block * BLOCK),
        What::Write { block } => {
            Op::write(fd, pattern(block * BLOCK, BLOCK as usize), block * BLOCK)
        }
        What::Readv { block } => Op::readv(
            fd,
            vec![
                Vec::with_capacity(BLOCK as usize),
                Vec::with_capacity(BLOCK as usize),
            ],
            block * BLOCK,
        ),
        What::Fsync => Op::fsync(fd),
    };
    op.user_data(id)
}

/// Checks a completion's buffers: a read's hold the file's bytes, a write's are intact.
fn check_bufs(w: What, n: &Result<usize, i32>, bufs: Vec<Vec<u8>>) -> Result<(), String> {
    match w {
        What::Read { block, .. } | What::Readv { block } => {
            let want = match w {
                What::Readv { .. } => 2,
                _ => 1,
            };
            if bufs.len() != want {
                return Err(format!("{} buffers came back, not {want}", bufs.len()));
            }
            let got: Vec<u8> = bufs.concat();
            if let Ok(n) = n {
                if got.len() != *n || got != pattern(block * BLOCK, *n) {
                    return Err(format!(
                        "read of block {block} returned {n} bytes that are not the file's"
                    ));
                }
            }
            Ok(())
        }
        What::Write { block } => match bufs.as_slice() {
            [b] if *b == pattern(block * BLOCK, BLOCK as usize) => Ok(()),
            _ => Err("the write's buffer did not come back intact".into()),
        },
        What::Fsync => match bufs.len() {
            0 => Ok(()),
            n => Err(format!("fsync returned {n} buffers")),
        },
    }
}

/// Runs `actions` on `kind`; returns each pushed request's end (by push order).
fn run(kind: EngineKind, files: &Files, actions: &[Action]) -> Result<Vec<End>, String> {
    let Some(ring) = ring::<Vec<u8>>(kind, 16) else {
        return Err(format!("SKIP {kind}"));
    };
    let mut pushed: Vec<(File, What, Option<Token>)> = Vec::new();
    let mut ends: BTreeMap<u64, End> = BTreeMap::new();
    // Requests cancel or close was asked for while they were not reaped yet.
    let mut asked = std::collections::HashSet::new();
    let mut closed = false;
    let deliver = |cs: Vec<aiolos::Completion<Vec<u8>>>,
                   pushed: &[(File, What, Option<Token>)],
                   ends: &mut BTreeMap<u64, End>|
     -> Result<(), String> {
        for c in cs {
            let id = c.user_data;
            let (_, w, _) = pushed
                .get(id as usize)
                .ok_or_else(|| format!("a completion for request {id}, never pushed"))?;
            let res = c
                .result
                .as_ref()
                .map(|n| *n)
                .map_err(|e| e.raw_os_error().unwrap_or(-1));
            let cancel = c.cancel_requested;
            if let Some(prev) = ends.get(&id) {
                return Err(format!("request {id} completed twice (first {prev:?})"));
            }
            check_bufs(*w, &res, c.into_bufs()).map_err(|e| format!("request {id}: {e}"))?;
            ends.insert(id, End::Done(res, cancel, false));
        }
        Ok(())
    };
    for a in actions {
        match a {
            Action::Push(f, w) => {
                let id = pushed.len() as u64;
                match ring.push(op(files, *f, *w, id)) {
                    Ok(t) => pushed.push((*f, *w, Some(t))),
                    Err(e) => {
                        let why = match e.error {
                            Error::Closed => "closed".to_string(),
                            Error::QueueFull { .. } => "full".to_string(),
                            other => format!("{other}"),
                        };
                        pushed.push((*f, *w, None));
                        ends.insert(id, End::Refused(why));
                    }
                }
            }
            Action::Submit => {
                let _ = ring.submit().map_err(|e| format!("submit: {e}"))?;
            }
            Action::Wait { min, max, timeout } => {
                match ring.wait(*min, *max, timeout.map(Duration::from_millis)) {
                    Ok(cs) => {
                        if cs.len() > (*max).max(1) {
                            return Err(format!("wait(max {max}) returned {}", cs.len()));
                        }
                        // A closed ring hands out what is left, however few.
                        if timeout.is_none() && !closed && cs.len() < (*min).min((*max).max(1)) {
                            return Err(format!(
                                "wait(min {min}, no timeout) returned {}",
                                cs.len()
                            ));
                        }
                        deliver(cs, &pushed, &mut ends)?;
                    }
                    Err(Error::WouldWaitForever { .. } | Error::Closed) => {}
                    Err(e) => return Err(format!("wait: {e}")),
                }
            }
            Action::Cancel(n) => {
                if let Some((_, _, Some(t))) = pushed.get(*n) {
                    if !ends.contains_key(&(*n as u64)) {
                        asked.insert(*n as u64);
                    }
                    match ring.cancel(*t) {
                        Ok(_) | Err(Error::InvalidToken) => {}
                        Err(e) => return Err(format!("cancel: {e}")),
                    }
                }
            }
            Action::Detach(n) => {
                if let Some((_, _, Some(t))) = pushed.get(*n) {
                    ring.detach(*t);
                    ends.entry(*n as u64).or_insert(End::Detached);
                }
            }
            Action::Close => {
                closed = true;
                asked.extend((0..pushed.len() as u64).filter(|id| !ends.contains_key(id)));
                ring.close().map_err(|e| format!("close: {e}"))?
            }
        }
    }
    asked.extend((0..pushed.len() as u64).filter(|id| !ends.contains_key(id)));
    ring.close().map_err(|e| format!("close: {e}"))?;
    loop {
        match ring.wait(0, 64, None) {
            Ok(cs) if cs.is_empty() => break,
            Ok(cs) => deliver(cs, &pushed, &mut ends)?,
            Err(Error::Closed) => break,
            Err(e) => return Err(format!("draining after close: {e}")),
        }
    }
    (0..pushed.len() as u64)
        .map(|id| match ends.remove(&id) {
            Some(End::Done(r, flag, _)) => Ok(End::Done(r, flag, asked.contains(&id))),
            Some(other) => Ok(other),
            None => Err(format!("request {id} was accepted and never completed")),
        })
        .collect()
}

/// Whether `end` is what the model allows for a request.
fn allowed(end: &End, f: File, w: What) -> bool {
    match end {
        End::Refused(_) | End::Detached => true,
        // cancel_requested is set only where cancel (or close) was asked for.
        End::Done(_, true, false) => false,
        End::Done(r, _, asked) => *r == model(f, w) || (*asked && *r == Err(libc::ECANCELED)),
    }
}

fn check(files: &Files, actions: &[Action]) -> Result<(), String> {
    let mut results = Vec::new();
    for kind in ENGINES {
        match run(kind, files, actions) {
            Ok(ends) => results.push((kind, ends)),
            Err(e) if e.starts_with("SKIP") => {}
            Err(e) => return Err(format!("{kind}: {e}")),
        }
    }
    let pushes: Vec<(File, What)> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Push(f, w) => Some((*f, *w)),
            _ => None,
        })
        .collect();
    for (kind, ends) in &results {
        for (i, (end, (f, w))) in ends.iter().zip(&pushes).enumerate() {
            if !allowed(end, *f, *w) {
                return Err(format!(
                    "{kind}: request {i} ({f:?} {w:?}) ended {end:?}; the file says {:?}",
                    model(*f, *w)
                ));
            }
        }
    }
    // Across engines: a request neither cancelled nor detached ends the same everywhere.
    if let Some((k0, first)) = results.first() {
        for (kind, ends) in &results[1..] {
            for (i, (a, b)) in first.iter().zip(ends).enumerate() {
                // A push refused because the ring was full depends on how much earlier
                // zero-timeout waits reaped: only requests that ran everywhere compare.
                let ran = |e: &End| matches!(e, End::Done(_, _, false));
                let plain = ran(a) && ran(b);
                let norm = |e: &End| match e {
                    End::Done(r, _, _) => format!("{r:?}"),
                    other => format!("{other:?}"),
                };
                if plain && norm(a) != norm(b) {
                    return Err(format!("request {i}: {k0} ended {a:?}, {kind} {b:?}"));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn every_engine_runs_generated_ring_sequences_alike() {
    let faults = Faults {
        size: BLOCKS * BLOCK,
        eio: Some((EIO_BLOCK * BLOCK, BLOCK)),
        stall: Some((STALL_BLOCK * BLOCK, BLOCK, STALL)),
    };
    let Some(fs) = FaultFs::mount_or_skip(&faults) else {
        return;
    };
    let dir = scratch_dir();
    let local = dir.path().join("local");
    patterned_file(&local, (BLOCKS * BLOCK) as usize);
    let files = Files {
        fault: OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(aiolos::sys::O_DIRECT)
            .open(fs.data())
            .expect("open the faultfs file")
            .into(),
        local: open_rw(&local, false).into(),
    };
    let cases = std::env::var("AIOLOS_RING_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        // Under a sanitizer (CI's ASan and TSan runs) fewer: each run is slower there.
        .unwrap_or(if std::env::var_os("AIOLOS_SANITIZER").is_some() {
            15
        } else {
            60
        });
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[5; 32]));
    let started = std::time::Instant::now();
    let result = runner.run(&prop::collection::vec(action(), 1..40), |actions| {
        check(&files, &actions).map_err(TestCaseError::fail)
    });
    eprintln!(
        "ring differential test: {cases} sequences on {ENGINES:?} in {:.0?}",
        started.elapsed()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
