//! The calling thread's I/O priority: `ioprio_get(2)` and `ioprio_set(2)`, which the
//! thread pool applies around a request that asks for a priority (`IOCB_FLAG_IOPRIO` on
//! kernel AIO, `sqe->ioprio` on io_uring). Neither `libc` nor `rustix` wraps them.

use super::{cvt, Errno};

/// `IOPRIO_WHO_PROCESS`: `who` names a thread (0: the caller).
const IOPRIO_WHO_PROCESS: libc::c_long = 1;

/// `ioprio_get(IOPRIO_WHO_PROCESS, 0)`: the calling thread's I/O priority, in the
/// `ioprio_set(2)` encoding (class in bits 13..16, level below).
///
/// # Errors
/// `EPERM`/`ESRCH` in unusual sandboxes; `ENOSYS` where the call is missing.
///
/// # References
/// `ioprio_get(2)`.
#[doc(alias = "ioprio_get")]
pub fn thread_ioprio() -> Result<u16, Errno> {
    // Miri cannot run ioprio_get; answer as a kernel without the call does, so the thread
    // pool (which then leaves its workers' priority alone) runs under Miri.
    if cfg!(miri) {
        return Err(Errno::NOSYS);
    }
    // SAFETY: ioprio_get takes two integers; who = 0 names the calling thread.
    let r = cvt(unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) })?;
    Ok(r as u16)
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, prio)`: sets the calling thread's I/O priority,
/// which applies to the I/O the thread issues from then on.
///
/// # Errors
/// `EINVAL` for an unknown class or level, `EPERM` for the real-time class without
/// `CAP_SYS_ADMIN`.
///
/// # References
/// `ioprio_set(2)`.
#[doc(alias = "ioprio_set")]
pub fn set_thread_ioprio(prio: u16) -> Result<(), Errno> {
    // SAFETY: ioprio_set takes three integers; who = 0 names the calling thread.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0,
            libc::c_long::from(prio),
        )
    })?;
    Ok(())
}
