//! The pool that runs what no engine has as an operation (`getdents64`, `readlinkat`,
//! `realpath`, `fchmod`, `copy_file_range`, the tree walk of `remove_dir_all`, O_DIRECT
//! alignment discovery): a fixed set of threads, all started together on first use, never
//! a runtime worker. Each call's future waits for its job without blocking a thread;
//! dropping the future lets the job finish and drops its result (the job owns everything
//! it touches).
//!
//! Starting every thread at once keeps their number fixed, and means they are all created
//! by one thread: a seccomp filter on a runtime worker that happens to make the first call
//! is inherited by all of them or by none, never by some.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Poll, Waker};

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Push/pop only: the queue is consistent whenever the lock is free.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The pool's size: 4 threads, or one per core where there are more.
fn size() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get().max(4))
}

fn pool() -> io::Result<&'static Pool> {
    static POOL: OnceLock<Pool> = OnceLock::new();
    let p = POOL.get_or_init(|| Pool {
        jobs: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
    });
    start(p)?;
    Ok(p)
}

/// Starts the threads once; a failure to start any is reported to every caller.
fn start(p: &'static Pool) -> io::Result<()> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            for i in 0..size() {
                std::thread::Builder::new()
                    .name(format!("aiolos-blocking-{i}"))
                    .spawn(move || worker(p))
                    .map_err(|e| format!("starting aiolos's blocking pool: {e}"))?;
            }
            Ok(())
        })
        .clone()
        .map_err(io::Error::other)
}

fn worker(p: &'static Pool) {
    loop {
        let job = {
            let mut jobs = lock(&p.jobs);
            loop {
                if let Some(j) = jobs.pop_front() {
                    break j;
                }
                jobs = p.ready.wait(jobs).unwrap_or_else(|e| e.into_inner());
            }
        };
        job();
    }
}

/// What a job hands its future: the result, and who to wake.
struct Slot<R> {
    result: Option<R>,
    waker: Option<Waker>,
}

/// Runs `f` on the pool; the future resolves to what `f` returned.
pub(crate) async fn run<R, F>(f: F) -> io::Result<R>
where
    R: Send + 'static,
    F: FnOnce() -> io::Result<R> + Send + 'static,
{
    let p = pool()?;
    let slot: Arc<Mutex<Slot<io::Result<R>>>> = Arc::new(Mutex::new(Slot {
        result: None,
        waker: None,
    }));
    let theirs = Arc::clone(&slot);
    lock(&p.jobs).push_back(Box::new(move || {
        let r = f();
        let waker = {
            let mut s = lock(&theirs);
            s.result = Some(r);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }));
    p.ready.notify_one();
    poll_fn(|cx| {
        let mut s = lock(&slot);
        match s.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}
