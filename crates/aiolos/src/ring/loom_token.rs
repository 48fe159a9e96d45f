//! Model checks of the hand-offs that deliver one request's completion to the one thread or
//! task waiting for it, and of the sink, under every interleaving loom explores (same model
//! kernel and checks as `loom_model.rs`: no buffer freed while the kernel may write it, each
//! completion delivered once, nobody left waiting, nothing leaked).
//!
//! Run with
//! `RUSTFLAGS="--cfg aiolos_loom" cargo test -p aiolos --lib --release ring::loom_token`.

use super::loom_model::{check, Model};
use crate::error::Error;
use loom::thread;
use std::future::poll_fn;
use std::time::Duration;

#[test]
fn two_threads_waiting_by_token_each_get_their_own_completion() {
    check(|| {
        let m = Model::new(2, false);
        let a = m.ring.push(m.read(1)).map_err(|e| e.error).unwrap();
        let b = m.ring.push(m.read(2)).map_err(|e| e.error).unwrap();
        m.ring.submit().unwrap();
        let kernel = m.kernel_thread();
        let other = {
            let ring = m.ring.clone();
            thread::spawn(move || ring.wait_for(b).unwrap().user_data)
        };
        // Whichever thread reaps, each completion reaches the thread waiting for it, and
        // the one that stops reaping first hands the role over.
        let mine = m.ring.wait_for(a).unwrap().user_data;
        assert_eq!((mine, other.join().unwrap()), (1, 2));
        kernel.join();
        assert_eq!(m.ring.outstanding(), 0);
        m.finish();
    });
}

#[test]
fn a_task_polling_its_token_is_woken_by_the_thread_that_reaps() {
    check(|| {
        let m = Model::new(1, false);
        let t = m.ring.push(m.read(5)).map_err(|e| e.error).unwrap();
        m.ring.submit().unwrap();
        let kernel = m.kernel_thread();
        let driver = {
            let ring = m.ring.clone();
            thread::spawn(move || while ring.drive(None).unwrap() == 0 {})
        };
        // A waker stored after the completion was applied, or a completion applied after
        // the waker was stored: either way the task is woken (a lost wake-up deadlocks).
        let ring = m.ring.clone();
        let c = loom::future::block_on(poll_fn(|cx| ring.poll_token(t, cx))).unwrap();
        assert_eq!(c.user_data, 5);
        driver.join().unwrap();
        kernel.join();
        drop(c);
        drop(ring);
        m.finish();
    });
}

#[test]
fn a_dropped_task_leaves_its_buffer_with_the_ring_until_the_kernel_is_done() {
    check(|| {
        let m = Model::new(1, false);
        let t = m.ring.push(m.read(9)).map_err(|e| e.error).unwrap();
        m.ring.submit().unwrap();
        let kernel = m.kernel_thread();
        // The task polled once (its waker is in the slot), then is dropped: detach and
        // cancel, racing the completion and the thread that reaps it.
        let noop = std::task::Waker::noop();
        let pending = m
            .ring
            .poll_token(t, &mut std::task::Context::from_waker(noop))
            .is_pending();
        assert!(pending, "nothing reaped yet");
        let dropper = {
            let ring = m.ring.clone();
            thread::spawn(move || {
                ring.detach(t);
                let _ = ring.cancel(t);
            })
        };
        let driver = {
            let ring = m.ring.clone();
            thread::spawn(move || while ring.drive(None).unwrap() == 0 {})
        };
        dropper.join().unwrap();
        driver.join().unwrap();
        kernel.join();
        // Nobody took the completion; the slot was freed (and the buffer with it) once.
        assert_eq!(m.ring.outstanding(), 0);
        m.finish();
    });
}

#[test]
fn close_wakes_a_task_waiting_for_its_token_with_its_completion() {
    check(|| {
        let m = Model::new(2, false);
        let t = m.ring.push(m.read(3)).map_err(|e| e.error).unwrap();
        m.ring.submit().unwrap();
        // Queued, never submitted: close cancels it, and its task is woken with ECANCELED.
        let q = m.ring.push(m.read(4)).map_err(|e| e.error).unwrap();
        let kernel = m.kernel_thread();
        let task = {
            let ring = m.ring.clone();
            thread::spawn(move || {
                let a = loom::future::block_on(poll_fn(|cx| ring.poll_token(t, cx))).unwrap();
                let b = loom::future::block_on(poll_fn(|cx| ring.poll_token(q, cx))).unwrap();
                (a.result.is_ok(), b.result.map_err(|e| e.raw_os_error()))
            })
        };
        m.ring.close().unwrap();
        let (a_ok, b) = task.join().unwrap();
        kernel.join();
        assert!(a_ok, "the in-flight read completed");
        assert_eq!(b, Err(Some(crate::sys::Errno::CANCELED.0)));
        m.finish();
    });
}

#[test]
fn a_sink_gets_every_completion_once_whoever_reaps() {
    check(|| {
        let m = Model::new(2, false);
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = got.clone();
        m.ring
            .set_sink(move |c| sink.lock().unwrap().push(c.user_data));
        m.submit_reads(&[1, 2]);
        let kernel = m.kernel_thread();
        let driver = {
            let ring = m.ring.clone();
            let got = got.clone();
            thread::spawn(move || {
                while got.lock().unwrap().len() < 2 {
                    match ring.drive(None) {
                        Ok(_) => {}
                        Err(Error::Closed) => break,
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        };
        // Another thread reaps what is ready meanwhile; no completion reaches `wait`.
        match m.ring.wait(0, 2, Some(Duration::ZERO)) {
            Ok(v) => assert!(v.is_empty(), "a sunk completion was handed to wait"),
            Err(Error::WouldWaitForever { .. }) => {}
            Err(e) => panic!("{e}"),
        }
        // Close drains what is left (the driver may be waiting for a completion the other
        // thread took: close wakes it).
        m.ring.close().unwrap();
        driver.join().unwrap();
        kernel.join();
        let mut ids = got.lock().unwrap().clone();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2], "each completion sunk once");
        m.finish();
    });
}
