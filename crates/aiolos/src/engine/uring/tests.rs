//! The engine alone: wakes and reserved user_data.

use super::*;
use std::sync::{mpsc, Arc};

fn engine() -> Option<Uring> {
    match Uring::new(8, UringOptions::default(), &Default::default()) {
        Ok(u) => Some(u),
        Err(e) => {
            eprintln!("SKIP: io_uring unavailable: {e}");
            None
        }
    }
}

#[test]
fn wake_releases_a_reaper_blocked_for_several_completions() {
    let Some(u) = engine() else { return };
    let u = Arc::new(u);
    let (tx, rx) = mpsc::channel();
    let reaper = {
        let u = Arc::clone(&u);
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let r = u.reap(&mut out, 3, 8, None);
            let _ = tx.send((r, out));
        })
    };
    // Wait until the reaper is blocked in the kernel asking for three completions.
    let deadline = Instant::now() + Duration::from_secs(10);
    while u.waiting_for.load(Ordering::SeqCst) != 3 {
        assert!(Instant::now() < deadline, "the reaper never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
    u.wake();
    let (r, out) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("wake did not release the reaper");
    assert_eq!(r, Ok(()));
    assert!(out.is_empty(), "wake no-ops are not completions: {out:?}");
    reaper.join().unwrap();
}

#[test]
fn a_wake_before_the_reaper_blocks_is_not_lost() {
    let Some(u) = engine() else { return };
    u.wake();
    let start = Instant::now();
    let mut out = Vec::new();
    assert_eq!(
        u.reap(&mut out, 1, 8, Some(Duration::from_secs(10))),
        Ok(())
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the reaper slept through a wake"
    );
    assert!(out.is_empty());
}

#[test]
fn reserved_user_data_never_collides_with_ring_tokens() {
    // Tokens are generation << 32 | index with generation >= 1 and index < 2^20.
    for reserved in [WAKE_DATA, CANCEL_DATA] {
        assert!(
            reserved & 0xffff_ffff >= 1 << 20,
            "{reserved:#x} has a token's index"
        );
    }
    let link_of_last_slot = u64::from((1u32 << 20) - 1);
    assert_eq!(
        link_of_last_slot >> 32,
        0,
        "link user_data has generation 0"
    );
}
