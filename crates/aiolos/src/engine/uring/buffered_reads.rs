//! When an io_uring ring hands buffered reads to the kernel's worker threads
//! (`IOSQE_ASYNC`) instead of letting `io_uring_enter` try them inline.
//!
//! A buffered read that finds its pages in the page cache completes inside
//! `io_uring_enter` in about a microsecond; one that misses starts readahead there (page
//! allocation, bio submission) before the wait for the disk becomes asynchronous, so a
//! cold submit costs tens to hundreds of microseconds. `IOSQE_ASYNC` makes every submit
//! short, but costs a hand-off to an io-wq thread for every read, cold or warm.
//!
//! [`AsyncBuffered::Auto`] learns which case the ring is in from the only signal that
//! needs no extra system call: how long each `io_uring_enter` took for the buffered reads
//! it submitted inline. [`SLOW_TO_COLD`] batches in a row slower than [`Budget`] allows
//! turn the ring cold (one slow batch may just have been preempted): buffered reads are
//! then punted, and one batch in `probe_every` is still submitted inline as a
//! probe. A fast probe turns the ring warm again; a slow one doubles `probe_every` (up to
//! [`PROBE_MAX`]), so a long cold phase pays for very few slow submits. The policy affects
//! only speed: a read returns the same data and result either way.

/// How an io_uring ring runs buffered (not O_DIRECT) reads of regular files and block
/// devices. Other engines ignore it; O_DIRECT reads and every other operation are always
/// submitted inline (the block layer already makes them asynchronous).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AsyncBuffered {
    /// Punt buffered reads to the kernel's worker threads while `io_uring_enter` shows
    /// that they miss the page cache; submit them inline while they hit it.
    Auto,
    /// Always punt buffered reads (`IOSQE_ASYNC`): every submit is short, every read pays
    /// a thread hand-off.
    Always,
    /// Never punt: a read that misses the page cache starts readahead inside the submit.
    /// How aiolos behaved before this option existed.
    #[default]
    Never,
}

impl AsyncBuffered {
    /// The option's name, as `aiolos bench --async-buffered` and `AIOLOS_ASYNC_BUFFERED`
    /// spell it.
    pub fn name(self) -> &'static str {
        match self {
            AsyncBuffered::Auto => "auto",
            AsyncBuffered::Always => "always",
            AsyncBuffered::Never => "never",
        }
    }
}

impl std::fmt::Display for AsyncBuffered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for AsyncBuffered {
    type Err = String;
    fn from_str(s: &str) -> Result<AsyncBuffered, String> {
        match s {
            "auto" => Ok(AsyncBuffered::Auto),
            "always" => Ok(AsyncBuffered::Always),
            "never" => Ok(AsyncBuffered::Never),
            _ => Err(format!(
                "unknown async-buffered policy {s:?}: expected auto, always or never"
            )),
        }
    }
}

/// How long an inline `io_uring_enter` may take for its buffered reads before the ring
/// counts as cold: a fixed cost per call, a cost per read, and a copy speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Budget {
    pub base_ns: u64,
    pub per_read_ns: u64,
    /// Bytes copied per nanosecond from the page cache, at the least.
    pub bytes_per_ns: u64,
}

impl Budget {
    pub(crate) const DEFAULT: Budget = Budget {
        base_ns: 10_000,
        per_read_ns: 4_000,
        bytes_per_ns: 2,
    };

    fn allows(&self, reads: u32, bytes: u64, ns: u64) -> bool {
        let budget = self
            .base_ns
            .saturating_add(u64::from(reads).saturating_mul(self.per_read_ns))
            .saturating_add(bytes / self.bytes_per_ns.max(1));
        ns <= budget
    }
}

/// Inline batches in a row over budget that turn the ring cold.
pub(crate) const SLOW_TO_COLD: u32 = 2;
/// Probing interval (in batches with buffered reads) right after the ring turns cold.
pub(crate) const PROBE_MIN: u32 = 8;
/// The longest probing interval.
pub(crate) const PROBE_MAX: u32 = 1024;

/// What to do with the buffered reads of the next batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Submit inline and time the enter (the ring is warm).
    Inline,
    /// Submit inline and time the enter although the ring is cold.
    Probe,
    /// Punt to io-wq (`IOSQE_ASYNC`); nothing to learn from the enter.
    Punt,
}

impl Plan {
    pub(crate) fn punts(self) -> bool {
        self == Plan::Punt
    }
    /// Whether the enter that submits this batch is to be timed and reported.
    pub(crate) fn measures(self) -> bool {
        self != Plan::Punt
    }
}

/// The per-ring state of [`AsyncBuffered::Auto`] (and the fixed answers of the others).
#[derive(Clone, Debug)]
pub(crate) struct ReadPolicy {
    mode: AsyncBuffered,
    budget: Budget,
    cold: bool,
    /// Inline batches in a row over budget (while warm).
    slow: u32,
    since_probe: u32,
    probe_every: u32,
}

impl ReadPolicy {
    pub(crate) fn new(mode: AsyncBuffered, budget: Budget) -> ReadPolicy {
        ReadPolicy {
            mode,
            budget,
            cold: false,
            slow: 0,
            since_probe: 0,
            probe_every: PROBE_MIN,
        }
    }

    /// Whether anything is to be learned or decided per batch.
    pub(crate) fn mode(&self) -> AsyncBuffered {
        self.mode
    }

    /// Whether the ring currently counts as cold.
    #[cfg(test)]
    pub(crate) fn is_cold(&self) -> bool {
        self.cold
    }

    /// The plan for the next batch that has buffered reads.
    pub(crate) fn plan(&mut self) -> Plan {
        match self.mode {
            AsyncBuffered::Never => Plan::Inline,
            AsyncBuffered::Always => Plan::Punt,
            AsyncBuffered::Auto if !self.cold => Plan::Inline,
            AsyncBuffered::Auto => {
                self.since_probe += 1;
                if self.since_probe >= self.probe_every {
                    self.since_probe = 0;
                    Plan::Probe
                } else {
                    Plan::Punt
                }
            }
        }
    }

    /// What the enter of a measured batch cost: `reads` buffered reads of `bytes` in all,
    /// submitted inline in `ns` nanoseconds (the whole `io_uring_enter`).
    pub(crate) fn observe(&mut self, plan: Plan, reads: u32, bytes: u64, ns: u64) {
        if self.mode != AsyncBuffered::Auto || !plan.measures() || reads == 0 {
            return;
        }
        let fast = self.budget.allows(reads, bytes, ns);
        match (plan, fast) {
            (Plan::Inline, true) => self.slow = 0,
            (Plan::Inline, false) => {
                self.slow += 1;
                if self.slow >= SLOW_TO_COLD {
                    self.slow = 0;
                    self.cold = true;
                    self.since_probe = 0;
                    self.probe_every = PROBE_MIN;
                }
            }
            (Plan::Probe, true) => {
                self.cold = false;
                self.probe_every = PROBE_MIN;
            }
            (Plan::Probe, false) => {
                self.probe_every = (self.probe_every * 2).min(PROBE_MAX);
            }
            (Plan::Punt, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WARM_NS: u64 = 1_500; // one 4 KiB read found in the page cache
    const COLD_NS: u64 = 300_000; // a batch that started readahead

    fn auto() -> ReadPolicy {
        ReadPolicy::new(AsyncBuffered::Auto, Budget::DEFAULT)
    }

    /// Runs one batch of `reads` 4 KiB reads; an inline batch takes `inline_ns` per read.
    fn batch(p: &mut ReadPolicy, reads: u32, inline_ns: u64) -> Plan {
        let plan = p.plan();
        let ns = if plan.punts() {
            500
        } else {
            inline_ns * u64::from(reads)
        };
        p.observe(plan, reads, 4096 * u64::from(reads), ns);
        plan
    }

    #[test]
    fn a_warm_ring_submits_every_read_inline() {
        let mut p = auto();
        for _ in 0..10_000 {
            assert_eq!(batch(&mut p, 32, WARM_NS), Plan::Inline);
        }
        assert!(!p.is_cold());
    }

    #[test]
    fn two_slow_inline_batches_in_a_row_turn_the_ring_cold_and_later_batches_are_punted() {
        let mut p = auto();
        assert_eq!(batch(&mut p, 8, WARM_NS), Plan::Inline);
        assert_eq!(batch(&mut p, 8, COLD_NS), Plan::Inline);
        assert!(!p.is_cold());
        assert_eq!(batch(&mut p, 8, COLD_NS), Plan::Inline);
        assert!(p.is_cold());
        for _ in 1..PROBE_MIN {
            assert_eq!(batch(&mut p, 8, COLD_NS), Plan::Punt);
        }
        assert_eq!(batch(&mut p, 8, COLD_NS), Plan::Probe);
    }

    #[test]
    fn isolated_slow_batches_leave_a_warm_ring_warm() {
        let mut p = auto();
        for i in 0..1000 {
            // Every tenth batch was preempted in the kernel.
            let ns = if i % 10 == 0 { COLD_NS } else { WARM_NS };
            assert_eq!(batch(&mut p, 1, ns), Plan::Inline);
        }
        assert!(!p.is_cold());
    }

    #[test]
    fn slow_probes_back_off_to_one_inline_batch_in_probe_max() {
        let mut p = auto();
        batch(&mut p, 1, COLD_NS);
        batch(&mut p, 1, COLD_NS);
        let plans: Vec<Plan> = (0..20 * PROBE_MAX)
            .map(|_| batch(&mut p, 1, COLD_NS))
            .collect();
        assert!(p.is_cold());
        let probes: Vec<usize> = plans
            .iter()
            .enumerate()
            .filter(|(_, &pl)| pl == Plan::Probe)
            .map(|(i, _)| i)
            .collect();
        let gaps: Vec<usize> = probes.windows(2).map(|w| w[1] - w[0]).collect();
        // The interval doubles after every slow probe, then stays at the maximum.
        assert_eq!(&gaps[..3], &[16, 32, 64]);
        assert_eq!(*gaps.last().unwrap(), PROBE_MAX as usize);
        // Over the whole cold phase, fewer than 1% of batches went inline.
        assert!(probes.len() * 100 < plans.len(), "{} probes", probes.len());
    }

    #[test]
    fn a_fast_probe_turns_the_ring_warm_again() {
        let mut p = auto();
        batch(&mut p, 4, COLD_NS);
        batch(&mut p, 4, COLD_NS);
        assert!(p.is_cold());
        let mut inline_again = None;
        for i in 0..4 * PROBE_MAX {
            // The file's pages are in the page cache from now on.
            if batch(&mut p, 4, WARM_NS) == Plan::Probe {
                inline_again = Some(i);
                break;
            }
        }
        assert_eq!(inline_again, Some(PROBE_MIN - 1));
        assert!(!p.is_cold());
        assert_eq!(batch(&mut p, 4, WARM_NS), Plan::Inline);
    }

    #[test]
    fn large_warm_reads_are_allowed_their_copy_time() {
        let mut p = auto();
        // One 1 MiB read copied at 4 GB/s: 262 us inline, within the budget's copy speed.
        let plan = p.plan();
        p.observe(plan, 1, 1 << 20, 262_000);
        assert!(!p.is_cold());
        // The same read at 100 us per 4 KiB page is a miss.
        for _ in 0..SLOW_TO_COLD {
            let plan = p.plan();
            p.observe(plan, 1, 1 << 20, 256 * 100_000);
        }
        assert!(p.is_cold());
    }

    #[test]
    fn fixed_policies_never_change_their_answer() {
        let mut always = ReadPolicy::new(AsyncBuffered::Always, Budget::DEFAULT);
        let mut never = ReadPolicy::new(AsyncBuffered::Never, Budget::DEFAULT);
        for ns in [WARM_NS, COLD_NS, WARM_NS] {
            assert_eq!(batch(&mut always, 8, ns), Plan::Punt);
            assert_eq!(batch(&mut never, 8, ns), Plan::Inline);
        }
        assert!(!never.is_cold());
    }

    #[test]
    fn policy_names_round_trip() {
        for m in [
            AsyncBuffered::Auto,
            AsyncBuffered::Always,
            AsyncBuffered::Never,
        ] {
            assert_eq!(m.name().parse::<AsyncBuffered>(), Ok(m));
        }
        assert!("sometimes".parse::<AsyncBuffered>().is_err());
    }
}
