//! On the thread pool, a thread driver and a multi-thread tokio driver let a future's push
//! submit at once and the worker that finishes the request wake the future itself: the
//! wake comes from a pool worker, not from the driver's reaper. A manual driver still runs
//! nothing by itself. A future polled inside its own wake may then finish on a worker and
//! drop the last handle of its driver there: the driver closes without waiting for
//! itself, and every other read in flight still completes with its data.
mod common;
use aiolos::fs::{Driver, File};
use aiolos::{BufResult, EngineKind};
use common::fs::{data_file, driver, open_read, JoinAll};
use common::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

const LEN: usize = 64 * 4096;

/// A 4 KiB read of block `block`, checked against the pattern.
async fn read_block(file: File, block: u64) {
    let off = block * 4096;
    let BufResult(n, buf) = file.read_at(Vec::with_capacity(4096), off).await;
    assert_eq!(n.expect("read"), 4096);
    assert_eq!(buf, pattern(off, 4096), "read at {off} returned wrong data");
}

/// Lets a new thread driver's completion thread finish its first passes and fall asleep:
/// a worker that finds the reaper's turn taken leaves its completion to the thread that
/// holds it (which reaps once more), so a request made while that thread is still
/// starting may be handed out by it.
fn settle(driver: &Driver, file: &File) {
    driver.block_on(read_block(file.clone(), 0));
    std::thread::sleep(Duration::from_millis(200));
}

/// A waker that reports the name of each thread that wakes it.
struct NameWaker(Mutex<Sender<String>>);

impl Wake for NameWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let name = std::thread::current().name().unwrap_or("?").to_string();
        let _ = self.0.lock().unwrap().send(name);
    }
}

fn name_waker() -> (Waker, Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    (Waker::from(Arc::new(NameWaker(Mutex::new(tx)))), rx)
}

/// Polls one read with a waker that reports who wakes it; returns the first waker's name.
/// `between` runs after the first poll (a manual driver's test drives the ring there).
fn who_wakes(file: &File, between: impl FnOnce(&Receiver<String>)) -> String {
    let (waker, names) = name_waker();
    let mut cx = Context::from_waker(&waker);
    let mut read = Box::pin(read_block(file.clone(), 3));
    assert!(
        read.as_mut().poll(&mut cx).is_pending(),
        "a read cannot finish before it is submitted"
    );
    between(&names);
    let name = names
        .recv_timeout(Duration::from_secs(20))
        .expect("the read's future was woken");
    // The future finishes once polled after its wake (the data is checked inside).
    assert!(
        read.as_mut().poll(&mut cx).is_ready(),
        "woken, yet not done"
    );
    name
}

/// Ten reads in turn, each woken by a pool worker.
fn workers_wake_ten_reads(file: &File) {
    for _ in 0..10 {
        let name = who_wakes(file, |_| {});
        assert!(
            name.starts_with("aiolos-io-"),
            "the future was woken by {name:?}, not by the pool's worker"
        );
    }
}

#[test]
fn a_pool_worker_wakes_the_future_of_a_thread_driver() {
    let (_dir, path) = data_file(LEN);
    let Some(d) = driver(EngineKind::Threads, 16, |b| b.threads(2).build()) else {
        return;
    };
    let file = open_read(&d, &path);
    settle(&d, &file);
    workers_wake_ten_reads(&file);
}

#[test]
fn a_pool_worker_wakes_the_future_of_a_multi_thread_tokio_driver() {
    let (_dir, path) = data_file(LEN);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(d) = rt.block_on(async { driver(EngineKind::Threads, 16, |b| b.build_tokio()) })
    else {
        return;
    };
    let file = open_read(&d, &path);
    workers_wake_ten_reads(&file);
    drop((file, d));
}

#[test]
fn a_manual_driver_on_the_pool_runs_nothing_by_itself() {
    let (_dir, path) = data_file(LEN);
    let Some(d) = driver(EngineKind::Threads, 16, |b| b.threads(2).build_manual()) else {
        return;
    };
    let file = open_read(&d, &path);
    let me = std::thread::current().name().unwrap_or("?").to_string();
    let name = who_wakes(&file, |names| {
        assert!(
            names.recv_timeout(Duration::from_millis(300)).is_err(),
            "a manual driver's future was woken before the program drove it"
        );
        // Submits, waits for the completion, and wakes the future from this thread.
        let deadline = Instant::now() + Duration::from_secs(20);
        while d
            .run_once(Some(Duration::from_millis(100)))
            .expect("run_once")
            == 0
        {
            assert!(Instant::now() < deadline, "the read never completed");
        }
    });
    assert_eq!(name, me, "the thread that drove the ring wakes the future");
}

/// A boxed read (or several joined).
type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A task polled inside its own waker's `wake`, on whichever thread wakes it (as an
/// executor that runs tasks inline does); it drops the driver's last handle once done. A
/// wake that comes while the task is being polled (a ring call in the poll may hand out
/// another request's completion) is left to the thread polling, which polls again.
struct Inline {
    state: Mutex<Option<(Task, Driver)>>,
    notified: AtomicBool,
    done: Mutex<Sender<String>>,
}

impl Inline {
    fn poll_now(self: &Arc<Self>) {
        self.notified.store(true, Ordering::SeqCst);
        let waker = Waker::from(Arc::clone(self));
        loop {
            let Ok(mut state) = self.state.try_lock() else {
                return; // the thread polling sees `notified` once it lets go
            };
            if !self.notified.swap(false, Ordering::SeqCst) {
                drop(state);
                if self.notified.load(Ordering::SeqCst) {
                    continue;
                }
                return;
            }
            let Some((fut, _)) = state.as_mut() else {
                return;
            };
            if fut
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
            {
                // The driver's last handle (the futures held the files): dropped here.
                let finished = state.take();
                drop(state);
                drop(finished);
                let name = std::thread::current().name().unwrap_or("?").to_string();
                let _ = self.done.lock().unwrap().send(name);
                return;
            }
        }
    }
}

impl Wake for Inline {
    fn wake(self: Arc<Self>) {
        self.poll_now();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.poll_now();
    }
}

#[test]
fn a_future_finished_inside_its_wake_may_drop_the_last_driver_on_a_worker() {
    let (dir, path) = data_file(LEN);
    let fifo = dir.path().join("gate");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success(), "mkfifo failed");
    for threads in [1, 3] {
        let Some(d) = driver(EngineKind::Threads, 64, |b| b.threads(threads).build()) else {
            return;
        };
        let file = open_read(&d, &path);
        settle(&d, &file);
        // The gate: a read of the FIFO, pushed last, which a worker finishes only once the
        // test writes to it (opened for writing first, so neither open blocks).
        let mut writer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .expect("fifo");
        let gate = open_read(&d, &fifo);
        let mut reads: Vec<Option<Task>> = (0..16u64)
            .map(|i| {
                let f: Task = Box::pin(read_block(file.clone(), i));
                Some(f)
            })
            .collect();
        reads.push(Some(Box::pin(async move {
            let BufResult(n, buf) = gate.read_at(Vec::with_capacity(8), 0).await;
            assert_eq!(n.expect("read of the gate"), 4);
            assert_eq!(buf, b"open");
        })));
        drop(file);
        let (tx, rx) = mpsc::channel();
        let task = Arc::new(Inline {
            state: Mutex::new(Some((Box::pin(JoinAll(reads)), d))),
            notified: AtomicBool::new(false),
            done: Mutex::new(tx),
        });
        task.poll_now();
        // Every file read has finished, or soon will; the gate holds the task open.
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "{threads} workers: the task finished before the gate opened"
        );
        std::io::Write::write_all(&mut writer, b"open").expect("write to the gate");
        let name = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{threads} workers: the reads or the driver's drop hung"));
        assert!(
            name.starts_with("aiolos-io-"),
            "{threads} workers: the last read finished on {name:?}, not on a worker"
        );
    }
}
