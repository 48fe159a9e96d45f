//! How big a context is, computed as the kernel computes it (`ioctx_alloc` and
//! `aio_setup_ring` in `fs/aio.c`), so an emulated context answers `io_setup` and
//! `io_submit` with the kernel's numbers: the ring's `nr`, how many requests may be
//! outstanding before `io_submit` says `EAGAIN`, and when `io_setup` says `EINVAL` or
//! `EAGAIN`. Also the process's share of `fs.aio-max-nr`.

use aiolos::sys::Errno;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// `sizeof(struct aio_ring)` and `sizeof(struct io_event)`.
const HEADER: u64 = 32;
const EVENT: u64 = 32;

/// The sizes of one context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// What `io_setup` was asked for: counted against `fs.aio-max-nr`.
    pub max_reqs: u32,
    /// Events the ring holds (the header's `nr`): the kernel fills the ring's pages.
    pub ring_nr: u32,
    /// Pages of the ring's mapping.
    pub pages: usize,
    /// Requests that may be outstanding (in flight, or completed and not yet taken from
    /// the ring) before `io_submit` answers `EAGAIN`.
    pub capacity: u32,
}

/// The sizes the kernel gives a context of `nr` events on a machine with `cpus` possible
/// CPUs, pages of `page` bytes and `fs.aio-max-nr` = `max_nr`.
///
/// The kernel doubles `max(nr, 4 × cpus)` (half the slots may sit in other CPUs' counters),
/// adds 2, and rounds the ring up to whole pages, whose events the ring then holds. Of
/// those, `nr - 1` are available, handed to CPUs in batches of `(nr - 1) / (4 × cpus)`;
/// a thread on one CPU gets whole batches, which is the capacity used here.
///
/// # Errors
/// `EINVAL` when the doubled size overflows the kernel's limit (`0x10000000 / 32` events,
/// about 4 million asked for), `EAGAIN` when `nr` exceeds `max_nr`.
pub fn sizes(nr: u32, cpus: u32, page: u64, max_nr: u64) -> Result<Sizes, Errno> {
    let cpus4 = cpus.max(1).saturating_mul(4);
    let doubled = nr.max(cpus4).wrapping_mul(2);
    if u64::from(doubled) > 0x1000_0000 / EVENT {
        return Err(Errno::INVAL);
    }
    if doubled == 0 || u64::from(nr) > max_nr {
        return Err(Errno::AGAIN);
    }
    let bytes = HEADER + EVENT * (u64::from(doubled) + 2);
    let pages = bytes.div_ceil(page);
    let ring_nr = ((pages * page - HEADER) / EVENT) as u32;
    let avail = ring_nr - 1;
    let batch = (avail / cpus4).max(1);
    Ok(Sizes {
        max_reqs: nr,
        ring_nr,
        pages: pages as usize,
        capacity: avail / batch * batch,
    })
}

/// The number of possible CPUs (`/sys/devices/system/cpu/possible`, as the kernel's
/// `num_possible_cpus()`), else the CPUs this process may run on.
pub fn possible_cpus() -> u32 {
    static CPUS: OnceLock<u32> = OnceLock::new();
    *CPUS.get_or_init(|| {
        let fallback = || {
            std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1)
        };
        if cfg!(miri) {
            return fallback();
        }
        std::fs::read_to_string("/sys/devices/system/cpu/possible")
            .ok()
            .and_then(|s| count_cpu_list(s.trim()))
            .unwrap_or_else(fallback)
    })
}

/// Counts the CPUs in a list such as `0-3,8,10-11`.
fn count_cpu_list(list: &str) -> Option<u32> {
    let mut n = 0u32;
    for part in list.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let a = part.parse::<u32>().ok()?;
                (a, a)
            }
        };
        n = n.checked_add(hi.checked_sub(lo)? + 1)?;
    }
    (n > 0).then_some(n)
}

/// `fs.aio-max-nr`, read once (no limit if unreadable).
pub fn aio_max_nr() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        if cfg!(miri) {
            // Miri isolates the program from the file system.
            return 65536;
        }
        std::fs::read_to_string("/proc/sys/fs/aio-max-nr")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u64::MAX)
    })
}

/// A share of `fs.aio-max-nr`: the sum of the `max_reqs` of live contexts, as the kernel
/// counts `aio-nr`. An atomic, not a lock: a fork child may call `io_setup` whatever the
/// parent's threads were doing. The child starts with its parent's count, as the kernel's
/// `aio-nr` still counts the parent's contexts.
pub struct Quota(AtomicU64);

/// This process's emulated contexts' share.
pub static QUOTA: Quota = Quota::new();

impl Quota {
    /// Nothing reserved.
    pub const fn new() -> Quota {
        Quota(AtomicU64::new(0))
    }

    /// Counts `n` more against the limit; `EAGAIN` if that would pass `max_nr`.
    pub fn reserve(&self, n: u32, max_nr: u64) -> Result<(), Errno> {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| {
                r.checked_add(u64::from(n)).filter(|&total| total <= max_nr)
            })
            .map(drop)
            .map_err(|_| Errno::AGAIN)
    }

    /// Gives back what [`Quota::reserve`] took.
    pub fn release(&self, n: u32) {
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| {
                Some(r.saturating_sub(u64::from(n)))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_cpus(nr: u32) -> Result<Sizes, Errno> {
        sizes(nr, 2, 4096, 65536)
    }

    #[test]
    fn sizes_match_what_linux_gave_on_a_two_cpu_machine() {
        // Measured with kernel AIO (Linux 6.18, 2 possible CPUs): io_setup(nr), then
        // io_submit of one request at a time until EAGAIN, nothing reaped.
        for (nr, ring_nr, accepted) in [
            (1, 127, 120),
            (16, 127, 120),
            (17, 127, 120),
            (100, 255, 248),
            (126, 255, 248),
            (127, 383, 376),
            (500, 1023, 1016),
            (1000, 2047, 2040),
            (4096, 8319, 8312),
        ] {
            let s = two_cpus(nr).unwrap();
            assert_eq!((s.ring_nr, s.capacity), (ring_nr, accepted), "nr {nr}");
            assert_eq!(s.max_reqs, nr);
            assert_eq!(s.pages as u64 * 4096, 32 + 32 * u64::from(ring_nr));
        }
    }

    #[test]
    fn overflowing_sizes_are_einval_and_sizes_over_the_limit_eagain() {
        // Also measured: -1 and INT_MAX overflow the doubled size; 4194304 is the largest
        // the kernel can size, and is then over fs.aio-max-nr.
        assert_eq!(two_cpus(u32::MAX), Err(Errno::INVAL));
        assert_eq!(two_cpus(i32::MAX as u32), Err(Errno::INVAL));
        assert_eq!(two_cpus(4_194_305), Err(Errno::INVAL));
        assert_eq!(two_cpus(4_194_304), Err(Errno::AGAIN));
        assert_eq!(two_cpus(65537), Err(Errno::AGAIN));
        assert!(two_cpus(65536).is_ok());
    }

    #[test]
    fn cpu_lists_count_ranges_and_singles() {
        assert_eq!(count_cpu_list("0-1"), Some(2));
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("0-3,8,10-11"), Some(7));
        assert_eq!(count_cpu_list(""), None);
        assert_eq!(count_cpu_list("3-1"), None);
    }

    #[test]
    fn reservations_stop_at_the_limit_and_come_back() {
        let q = Quota::new();
        q.reserve(10, 15).unwrap();
        assert_eq!(q.reserve(10, 15), Err(Errno::AGAIN), "10 + 10 > 15");
        q.reserve(5, 15).unwrap();
        q.release(10);
        q.reserve(10, 15).unwrap();
        assert_eq!(q.reserve(u32::MAX, u64::from(u32::MAX)), Err(Errno::AGAIN));
    }
}
