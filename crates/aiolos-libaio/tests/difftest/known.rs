//! Known differences between our engines and kernel AIO: each named by the contract it
//! breaks and the issue that tracks it, limited to the engines that show it, and matched by
//! a narrow classifier of the mismatch (the call, its arguments and both answers), so that
//! nothing else hides behind it. The test prints how often each was seen and its shortest
//! program; none fails it. Whoever fixes one removes its entry here (the test then fails if
//! the difference is still there). `docs/reliability.md` lists them with minimal programs.

use super::program::{Program, Step, Tmo, POLL};
use super::program::{PREAD, PREADV, PWRITE, PWRITEV};
use super::trace::{Mismatch, Rule, Trace};

/// A difference between an engine and kernel AIO that is known and tracked.
pub struct Known {
    pub name: &'static str,
    pub contract: &'static str,
    pub issue: &'static str,
    pub engines: &'static [&'static str],
    pub matches: fn(&Program, &Trace, &Mismatch) -> bool,
}

const EMULATED: &[&str] = &["uring", "threads"];

fn step<'a>(p: &'a Program, m: &Mismatch) -> Option<&'a Step> {
    match m {
        Mismatch::Answer { step, .. } => p.steps.get(*step),
        Mismatch::Contract { step: Some(s), .. } => p.steps.get(*s),
        _ => None,
    }
}

/// The return value in an answer string (`"getev -22"` → -22).
fn ret(answer: &str) -> Option<i64> {
    answer.split_whitespace().nth(1)?.parse().ok()
}

fn answer(m: &Mismatch) -> Option<(Option<i64>, Option<i64>)> {
    match m {
        Mismatch::Answer { want, got, .. } => Some((ret(want), ret(got))),
        _ => None,
    }
}

/// The iocbs named in a `Lost` detail ("requests [(1, 'p'), (3, 'a')] never completed").
fn lost_iocbs(detail: &str) -> Vec<usize> {
    detail
        .split('(')
        .skip(1)
        .filter_map(|s| s.split(',').next()?.trim().parse().ok())
        .collect()
}

pub const KNOWN: &[Known] = &[
    Known {
        name: "counts_checked_on_the_fast_path",
        contract: "deliberate: libaio 0.3.113 answers a zero-timeout io_getevents on an empty \
                   ring with 0 before any check, even for min_nr > nr or a negative count; \
                   ours checks the counts first and passes the call to the kernel, which returns EINVAL \
                   (or EFAULT, for a signal mask it cannot read)",
        issue: "none (by design; docs/reliability.md)",
        engines: &["native", "uring", "threads"],
        matches: |p, _, m| {
            matches!(
                step(p, m),
                Some(Step::GetEvents { tmo: Tmo::Zero, min, nr, .. }) if *min < 0 || *nr < 0 || min > nr
            ) && matches!(answer(m), Some((Some(0), Some(-22 | -14))))
        },
    },
    Known {
        name: "poll_reports_the_wakers_mask",
        contract: "a poll that completes on a wake-up reports the events the waker named \
                   (a pipe write: POLLIN|POLLRDNORM) even where the poll did not ask for \
                   them; the emulation reports the asked-for events that are ready",
        issue: "#14 (not in its list; docs/dropin.md)",
        engines: EMULATED,
        matches: |p, _, m| {
            matches!(m, Mismatch::Completion { k, want, got }
                if p.iocbs.get(*k).is_some_and(|cb| cb.op == POLL)
                    && want.len() == got.len()
                    && want.iter().zip(got).all(|(w, g)| {
                        g.0 > 0 && w.0 >= g.0 && w.0 & g.0 == g.0
                    })
                    && want != got)
        },
    },
    Known {
        name: "min_nr_0",
        contract: "a reap that does not wait (io_getevents with min_nr 0 or a zero timeout, \
                   or reading the ring from user space) returns every request that is already \
                   complete. Kernel AIO completes buffered file I/O inside io_submit, and so \
                   does the emulation where the page cache serves it; what remains is by \
                   design: a buffered read that missed the page cache runs asynchronously, \
                   on uring an fsync or poll completion reaches the ring when the engine \
                   thread has run it, and an O_DIRECT one (on kernel AIO) when io_getevents \
                   or the library's harvesting thread has copied it there (docs/dropin.md)",
        issue: "#14, contract 1 (the rest by design)",
        engines: EMULATED,
        matches: |p, _, m| match m {
            Mismatch::Contract {
                rule: Rule::NonBlockingReapMissesCompleted,
                ..
            } => true,
            // A reap into a NULL array that found nothing yet (the kernel's EFAULT needs an
            // event to copy).
            Mismatch::Contract {
                rule: Rule::NullEvents,
                detail,
                ..
            } => detail.starts_with("returned 0 "),
            // A waiting reap that got its min_nr but not everything already complete.
            Mismatch::Contract {
                rule: Rule::BlockingReapShort,
                detail,
                ..
            } => {
                let got: Option<i64> = detail
                    .split("returned ")
                    .nth(1)
                    .and_then(|s| s.split(' ').next()?.parse().ok());
                matches!((step(p, m), got), (Some(Step::GetEvents { min, .. }), Some(g)) if g >= *min)
            }
            _ => false,
        },
    },
    Known {
        name: "sigmask_read_before_the_fast_path",
        contract: "deliberate: libaio 0.3.113 answers io_pgetevents with a zero timeout on an \
                   empty ring with 0 without reading the signal mask; the kernel reads the mask \
                   first, and so do all engines here (EFAULT for a mask that is certainly \
                   unreadable). Where a request completing in the background (an fsync) \
                   may or may not have reached the ring yet, either side may take the fast \
                   path: the answers are then 0 and EFAULT in either order",
        issue: "none (by design, as the kernel; docs/dropin.md)",
        engines: &["native", "uring", "threads"],
        matches: |p, _, m| {
            matches!(
                step(p, m),
                Some(Step::GetEvents { tmo: Tmo::Zero, mask: Some("wild"), .. })
            ) && matches!(answer(m), Some((Some(0), Some(-14)) | (Some(-14), Some(0))))
        },
    },
    Known {
        name: "cancel_finds_every_submission_of_an_iocb",
        contract: "an iocb submitted again while in flight is a second request; io_cancel of \
                   that iocb finds each of them in turn. The emulation keeps one request per \
                   iocb address, so a poll submitted twice can be cancelled once and the other \
                   never completes (until io_destroy)",
        issue: "#14 (new: not in its list)",
        engines: EMULATED,
        matches: |p, t, m| {
            let lost = match m {
                Mismatch::Contract { rule: Rule::Lost, detail, .. } => lost_iocbs(detail),
                Mismatch::Completion { k, want, got } if got.len() < want.len() => vec![*k],
                _ => return false,
            };
            !lost.is_empty()
                && lost.iter().all(|&k| {
                    let taken = t.steps.iter().flat_map(|o| &o.acc).filter(|a| a.0 == k).count();
                    p.iocbs.get(k).is_some_and(|cb| cb.op == POLL) && taken >= 2
                })
        },
    },
    Known {
        name: "rwf_hipri_ignored",
        contract: "kernel AIO ignores RWF_HIPRI (nobody polls for the completion); io_uring \
                   refuses it on a ring not set up for polling, so the request fails with \
                   EINVAL on uring",
        issue: "#14 (new: not in its list)",
        engines: &["uring"],
        matches: |p, _, m| match m {
            Mismatch::Completion { k, want, got } => {
                p.iocbs.get(*k).is_some_and(|cb| cb.rwf == 1)
                    && got.iter().any(|r| r.0 == -22)
                    && !want.iter().any(|r| r.0 == -22)
            }
            // The read that failed left its buffer area unfilled.
            Mismatch::End { what: "buffer areas", want, got } => want
                .split_whitespace()
                .zip(got.split_whitespace())
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .all(|(k, _)| {
                    p.iocbs
                        .get(k)
                        .is_some_and(|cb| cb.rwf == 1 && matches!(cb.op, PREAD | PREADV))
                }),
            // The write that failed left the file as it was.
            Mismatch::End { what: "files (hash, size)", .. } => p
                .iocbs
                .iter()
                .any(|cb| cb.rwf == 1 && matches!(cb.op, PWRITE | PWRITEV)),
            _ => false,
        },
    },
    Known {
        name: "nowait_zero_length_buffered_write",
        contract: "a buffered write with RWF_NOWAIT completes as the file system's write \
                   method answers (ext4: EOPNOTSUPP, even for 0 bytes); the emulation does \
                   the write with pwritev2, which answers a zero-length write with 0 before \
                   asking the file system, so nothing tells it the file system's answer",
        issue: "#14 (not in its list; file-system dependent, zero-length writes only)",
        engines: EMULATED,
        matches: |p, _, m| {
            matches!(m, Mismatch::Completion { k, want, got }
                if p.iocbs.get(*k).is_some_and(|cb| {
                    cb.rwf == super::program::RWF_NOWAIT
                        && matches!(cb.op, PWRITE | PWRITEV)
                })
                    && want.iter().all(|r| r.0 == -95) && got.iter().any(|r| r.0 == 0))
        },
    },
];
