//! An io_uring ring's queues are shared with a fork child. Closing (or dropping) the
//! ring in the child must not cancel or otherwise touch the parent's requests.
use aiolos::{EngineKind, Error, Op, Ring};
use std::io::Write;
use std::time::Duration;

fn fork_and_run(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child runs only f (no allocation on the path tested) and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = f();
        // SAFETY: _exit ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: status is a valid out pointer; pid is our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
    libc::WEXITSTATUS(status)
}

#[test]
fn closing_the_ring_in_a_fork_child_leaves_the_parents_poll_pending() {
    let ring: Ring<Vec<u8>> = match Ring::builder().entries(8).engine(EngineKind::Uring).build() {
        Ok(r) => r,
        Err(Error::EngineUnavailable { reason, .. }) => {
            eprintln!("SKIP: io_uring unavailable: {reason}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let (r, mut w) = std::io::pipe().unwrap();
    let r: aiolos::Fd = std::os::fd::OwnedFd::from(r).into();
    ring.push(Op::poll(&r, aiolos::op::events::POLLIN).user_data(9))
        .unwrap();
    ring.submit().unwrap();
    let code = fork_and_run(|| i32::from(ring.close().is_err()));
    assert_eq!(code, 0);
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        ring.wait(0, 8, Some(Duration::ZERO)).unwrap().is_empty(),
        "the child's close completed the parent's poll"
    );
    w.write_all(b"x").unwrap();
    let done = ring.wait(1, 8, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done[0].user_data, 9);
    let mask = *done[0].result.as_ref().expect("the poll was not cancelled");
    assert_ne!(mask as i16 & aiolos::op::events::POLLIN, 0);
}
