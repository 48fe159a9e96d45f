//! Process resource usage (`getrusage(2)`): CPU time spent in user and system mode, for
//! `bench`'s CPU time per I/O.
//!
//! `rustix` has no `getrusage` (and `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)` does not
//! split user from system time), so this is the command's one direct `libc` call.
//!
//! # Safety
//!
//! `getrusage` writes one `struct rusage` through the pointer it is given, which points at
//! storage of that type owned by the caller.
#![allow(unsafe_code)]

use aiolos::sys::Errno;
use std::time::Duration;

/// CPU time used so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// Time spent running user code.
    pub user: Duration,
    /// Time spent in the kernel on behalf of the process (system calls, interrupts).
    pub system: Duration,
}

impl CpuTime {
    /// The time used between `earlier` and `self` (saturating at zero).
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec.max(0) as u64) + Duration::from_micros(tv.tv_usec.max(0) as u64)
}

/// `getrusage(RUSAGE_SELF)`: CPU time of every thread of the calling process.
///
/// # Errors
/// The kernel's errno (none expected for `RUSAGE_SELF`).
///
/// # References
/// `getrusage(2)`.
#[doc(alias = "getrusage")]
pub fn process_cpu_time() -> Result<CpuTime, Errno> {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: ru is writable storage for one struct rusage; RUSAGE_SELF is a valid `who`.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) } == -1 {
        return Err(Errno::last());
    }
    // SAFETY: getrusage succeeded, so it filled ru (and it was zeroed before anyway).
    let ru = unsafe { ru.assume_init() };
    Ok(CpuTime {
        user: timeval(ru.ru_utime),
        system: timeval(ru.ru_stime),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_cpu_time_grows_while_the_process_computes() {
        let before = process_cpu_time().unwrap();
        let start = std::time::Instant::now();
        let mut x = 1u64;
        while start.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let used = process_cpu_time().unwrap().since(before);
        assert!(used.user + used.system > Duration::ZERO, "{used:?}");
    }
}
