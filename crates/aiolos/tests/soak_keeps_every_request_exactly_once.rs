//! A bounded soak: several threads share one ring, submitting stamped writes and verified
//! reads, reaping each other's completions and cancelling at random. Every block carries
//! its offset, a sequence number and a checksum; every request must complete exactly once.
//!
//! Runs `AIOLOS_SOAK_SECS` seconds per engine (default 20, so about a minute in CI).
mod common;
use aiolos::{Completion, EngineKind, Error, Op, Ring, Token};
use common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BLOCK: usize = 4096;
const BLOCKS: u64 = 1024;
const THREADS: u64 = 4;

fn checksum(bytes: &[u8]) -> u64 {
    // FNV-1a: enough to catch torn or misplaced blocks.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn stamped(block: u64, seq: u64) -> Vec<u8> {
    let mut v = vec![0u8; BLOCK];
    v[0..8].copy_from_slice(&(block * BLOCK as u64).to_le_bytes());
    v[8..16].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in v[24..].iter_mut().enumerate() {
        *b = (seq as usize ^ i ^ block as usize) as u8;
    }
    let sum = checksum(&v[24..]);
    v[16..24].copy_from_slice(&sum.to_le_bytes());
    v
}

/// Checks a block read back: offset, checksum, and the sequence of the last write.
fn verify(block: u64, buf: &[u8], expected_seq: u64) -> Result<(), String> {
    let off = u64::from_le_bytes(buf[0..8].try_into().unwrap());
    let seq = u64::from_le_bytes(buf[8..16].try_into().unwrap());
    let sum = u64::from_le_bytes(buf[16..24].try_into().unwrap());
    if off != block * BLOCK as u64 {
        return Err(format!("block {block}: stamped offset {off}"));
    }
    if sum != checksum(&buf[24..]) {
        return Err(format!("block {block}: checksum mismatch"));
    }
    if seq != expected_seq {
        return Err(format!(
            "block {block}: sequence {seq}, expected {expected_seq}"
        ));
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    Read,
    Write(u64),
}

struct Shared {
    ring: Ring<Vec<u8>>,
    busy: Vec<AtomicBool>,
    seq: Vec<AtomicU64>,
    pending: Mutex<HashMap<u64, (u64, Kind)>>,
    completed: Mutex<HashMap<u64, u32>>,
    next_id: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Shared {
    fn handle(&self, c: Completion<Vec<u8>>) {
        let id = c.user_data;
        *self.completed.lock().unwrap().entry(id).or_default() += 1;
        let Some((block, kind)) = self.pending.lock().unwrap().remove(&id) else {
            self.errors
                .lock()
                .unwrap()
                .push(format!("completion for unknown request {id}"));
            return;
        };
        let result = match &c.result {
            Ok(n) => Ok(*n),
            Err(e) => Err(e.raw_os_error()),
        };
        match (kind, result) {
            (Kind::Write(seq), Ok(BLOCK)) => self.seq[block as usize].store(seq, Ordering::SeqCst),
            (Kind::Read, Ok(BLOCK)) => {
                let buf = c.into_buf().unwrap();
                let expected = self.seq[block as usize].load(Ordering::SeqCst);
                if let Err(e) = verify(block, &buf, expected) {
                    self.errors.lock().unwrap().push(e);
                }
            }
            // A cancelled request may or may not have run; a cancelled write that did not
            // run leaves the old sequence in place.
            (_, Err(Some(125))) if c.cancel_requested => {}
            (_, other) => self
                .errors
                .lock()
                .unwrap()
                .push(format!("request {id} on block {block}: {other:?}")),
        }
        self.busy[block as usize].store(false, Ordering::SeqCst);
    }
}

fn worker(s: &Shared, path: &std::path::Path, t: u64, deadline: Instant) -> u64 {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1);
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let file: aiolos::Fd = open_rw(path, false).into();
    let mut submitted = 0;
    let mut mine: Vec<Token> = Vec::new();
    while Instant::now() < deadline {
        for _ in 0..8 {
            let block = next() % BLOCKS;
            if s.busy[block as usize].swap(true, Ordering::SeqCst) {
                continue;
            }
            let id = s.next_id.fetch_add(1, Ordering::Relaxed);
            let (kind, op) = if next() % 2 == 0 {
                let seq = id + 1;
                (
                    Kind::Write(seq),
                    Op::write(&file, stamped(block, seq), block * BLOCK as u64),
                )
            } else {
                (
                    Kind::Read,
                    Op::read(&file, Vec::with_capacity(BLOCK), block * BLOCK as u64),
                )
            };
            s.pending.lock().unwrap().insert(id, (block, kind));
            match s.ring.push(op.user_data(id)) {
                Ok(tok) => {
                    submitted += 1;
                    mine.push(tok);
                }
                Err(e) => {
                    assert!(matches!(e.error, Error::QueueFull { .. }), "{}", e.error);
                    s.pending.lock().unwrap().remove(&id);
                    s.busy[block as usize].store(false, Ordering::SeqCst);
                }
            }
        }
        s.ring.submit().unwrap();
        if next() % 4 == 0 {
            if let Some(tok) = mine.get((next() as usize) % mine.len().max(1)) {
                // Stale tokens (already reaped) are rejected; anything else completes once.
                let _ = s.ring.cancel(*tok);
            }
        }
        if mine.len() > 256 {
            mine.drain(..128);
        }
        match s.ring.wait(1, 32, Some(Duration::from_millis(5))) {
            Ok(done) => done.into_iter().for_each(|c| s.handle(c)),
            Err(Error::WouldWaitForever { .. }) => {}
            Err(e) => panic!("wait: {e}"),
        }
    }
    submitted
}

fn soak(kind: EngineKind) {
    let secs: u64 = std::env::var("AIOLOS_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let Some(ring) = ring::<Vec<u8>>(kind, 128) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("soak");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        for b in 0..BLOCKS {
            f.write_all(&stamped(b, 0)).unwrap();
        }
    }
    let shared = Arc::new(Shared {
        ring,
        busy: (0..BLOCKS).map(|_| AtomicBool::new(false)).collect(),
        seq: (0..BLOCKS).map(|_| AtomicU64::new(0)).collect(),
        pending: Mutex::new(HashMap::new()),
        completed: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
        errors: Mutex::new(Vec::new()),
    });
    // One soak at a time: the engines' tests would otherwise share the two cores.
    let _guard = SOAK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let deadline = Instant::now() + Duration::from_secs(secs);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let s = shared.clone();
            let path = path.clone();
            std::thread::spawn(move || worker(&s, &path, t, deadline))
        })
        .collect();
    let submitted: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // Drain what is left.
    loop {
        match shared.ring.wait(1, 128, Some(Duration::from_secs(10))) {
            Ok(done) if done.is_empty() => panic!("requests stuck in flight"),
            Ok(done) => done.into_iter().for_each(|c| shared.handle(c)),
            Err(Error::WouldWaitForever { outstanding: 0, .. }) => break,
            Err(e) => panic!("drain: {e}"),
        }
    }
    let errors = shared.errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    let completed = shared.completed.lock().unwrap();
    assert_eq!(
        completed.len() as u64,
        submitted,
        "every submitted request completed"
    );
    assert!(
        completed.values().all(|&n| n == 1),
        "a request completed twice"
    );
    assert!(shared.pending.lock().unwrap().is_empty());
    // Finally every block reads back with its last acknowledged sequence.
    let data = std::fs::read(&path).unwrap();
    for b in 0..BLOCKS {
        let at = (b as usize) * BLOCK;
        verify(
            b,
            &data[at..at + BLOCK],
            shared.seq[b as usize].load(Ordering::SeqCst),
        )
        .unwrap();
    }
    eprintln!("soak on {kind}: {submitted} requests verified in {secs} s");
    assert!(
        submitted > 1000,
        "the soak did almost nothing ({submitted} requests)"
    );
}

static SOAK_LOCK: Mutex<()> = Mutex::new(());

on_every_engine!(soak);
