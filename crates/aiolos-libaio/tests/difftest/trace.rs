//! Traces printed by the runner, and the two checks made on them:
//!
//! - [`contract`]: each trace on its own against kernel AIO's contract where the kernel
//!   leaves room (how many events a reap may return, given which requests are certainly
//!   complete), exactly-once completion, `errno` untouched. The system library's trace is
//!   checked too: a violation there means this model of kernel AIO is wrong, and fails.
//! - [`compare`]: the deterministic part of an engine's trace against the system library's,
//!   exactly: every return value, the ring header, what every request finally returned,
//!   both files, every buffer area, the eventfd's count. Comparison stops at the first
//!   differing answer (what follows depends on it).

use super::program::{Item, Program, Step};
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// One event: iocb index (-1 unknown), res, res2, and the runner's remarks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ev {
    pub k: i64,
    pub res: i64,
    pub res2: i64,
    pub remark: String,
}

/// What one call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Out {
    pub verb: String,
    /// `None`: the runner did not make the call ("skip"), or a ring read.
    pub ret: Option<i64>,
    pub errno_ok: bool,
    /// Accepted requests and their classes.
    pub acc: Vec<(usize, char)>,
    pub phantom: bool,
    pub evs: Vec<Ev>,
    /// A ring read's header fields.
    pub header: Option<String>,
}

/// A whole run.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub lib: String,
    pub steps: Vec<Out>,
    /// Per live context at the end: its events and its remarks ("stuck").
    pub finals: Vec<(u8, Vec<Ev>, Vec<String>)>,
    pub final_destroy: Vec<String>,
    pub files: String,
    pub areas: String,
    pub eventfd: String,
    /// The run did not end normally: exit status, time-out, stderr.
    pub failure: Option<String>,
    pub raw: String,
}

fn parse_ev(tok: &str) -> Option<Ev> {
    let mut it = tok.split(':');
    let k = it.next()?.parse().ok()?;
    let res = it.next()?.parse().ok()?;
    let res2 = it.next()?.parse().ok()?;
    Some(Ev {
        k,
        res,
        res2,
        remark: it.collect::<Vec<_>>().join(":"),
    })
}

impl Trace {
    /// Parses the runner's output.
    pub fn parse(out: &str) -> Trace {
        let mut t = Trace {
            raw: out.to_string(),
            ..Trace::default()
        };
        for line in out.lines() {
            let toks: Vec<&str> = line.split_whitespace().collect();
            let Some(&first) = toks.first() else { continue };
            match first {
                "lib" => t.lib = toks[1..].join(" "),
                "files" => t.files = toks[1..].join(" "),
                "areas" => t.areas = toks[1..].join(" "),
                "eventfd" => t.eventfd = toks[1..].join(" "),
                "final-destroy" => t.final_destroy.push(toks[1..].join(" ")),
                "final" => {
                    let c = toks.get(1).and_then(|c| c.parse().ok()).unwrap_or(9);
                    let mut evs = Vec::new();
                    let mut remarks = Vec::new();
                    for tok in toks.iter().skip(3) {
                        match parse_ev(tok) {
                            Some(e) if !tok.starts_with("stuck") => evs.push(e),
                            _ => remarks.push(tok.to_string()),
                        }
                    }
                    t.finals.push((c, evs, remarks));
                }
                _ if first.chars().all(|c| c.is_ascii_digit()) => {
                    t.steps.push(parse_step(&toks[1..]));
                }
                _ => {}
            }
        }
        t
    }
}

fn parse_step(toks: &[&str]) -> Out {
    let mut o = Out {
        verb: toks.first().unwrap_or(&"").to_string(),
        ..Out::default()
    };
    let rest = &toks[1.min(toks.len())..];
    if rest.first() == Some(&"skip") {
        o.errno_ok = true;
        return o;
    }
    let mut i = 0;
    if o.verb == "ring" {
        let mut header = Vec::new();
        while i < rest.len() && rest[i] != "ev" {
            header.push(rest[i]);
            i += 1;
        }
        o.header = Some(header.join(" "));
        o.errno_ok = true;
    } else {
        o.ret = rest.first().and_then(|r| r.parse().ok());
        o.errno_ok = o.verb == "pipewrite" || rest.get(1) == Some(&"1");
        i = 2;
    }
    let mut mode = "";
    while i < rest.len() {
        match rest[i] {
            "acc" | "ev" => mode = rest[i],
            "phantom" => o.phantom = true,
            tok if mode == "acc" => {
                let (k, cls) = tok.split_at(tok.len() - 1);
                if let Ok(k) = k.parse() {
                    o.acc.push((k, cls.chars().next().unwrap_or('?')));
                }
            }
            tok if mode == "ev" => {
                if let Some(e) = parse_ev(tok) {
                    o.evs.push(e);
                }
            }
            _ => {}
        }
        i += 1;
    }
    o
}

/// What kernel AIO's contract says a trace may not do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// A reap that does not wait (`min_nr` 0, a zero or past timeout, or reading the ring
    /// from user space) returned fewer events than requests certainly complete.
    NonBlockingReapMissesCompleted,
    /// A reap that waits returned fewer than `min_nr` (or than what is certainly complete).
    BlockingReapShort,
    /// More events than requests that could have completed.
    MoreThanPossible,
    /// An event for no outstanding request (a double or phantom completion).
    UnknownEvent,
    /// An event whose `data` is not its iocb's.
    BadData,
    /// `errno` changed.
    ErrnoChanged,
    /// A request accepted and never completed.
    Lost,
    /// The eventfd was not signalled once per completed request that named it.
    EventfdCount,
    /// `io_submit` counted a NULL or unreadable iocb pointer as accepted.
    PhantomAccept,
    /// With a NULL event array: `EFAULT` although nothing could be copied, or 0 although
    /// a completion was certainly waiting.
    NullEvents,
    /// The run crashed, hung or printed something the runner never prints.
    Run,
}

/// One difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// Step `step` answered `got` where kernel AIO answered `want`.
    Answer {
        step: usize,
        want: String,
        got: String,
    },
    /// Step `step` (or the end, `None`) breaks the contract.
    Contract {
        step: Option<usize>,
        rule: Rule,
        detail: String,
    },
    /// Request `k`'s completions (res, res2; sorted) differ.
    Completion {
        k: usize,
        want: Vec<(i64, i64)>,
        got: Vec<(i64, i64)>,
    },
    /// The end state differs.
    End {
        what: &'static str,
        want: String,
        got: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Answer { step, want, got } => {
                write!(
                    f,
                    "step {step}: kernel AIO answered {want:?}, this engine {got:?}"
                )
            }
            Mismatch::Contract { step, rule, detail } => match step {
                Some(s) => write!(f, "step {s}: {rule:?}: {detail}"),
                None => write!(f, "at the end: {rule:?}: {detail}"),
            },
            Mismatch::Completion { k, want, got } => write!(
                f,
                "iocb {k} completed with (res, res2) {got:?}, kernel AIO with {want:?}"
            ),
            Mismatch::End { what, want, got } => {
                write!(f, "{what}: kernel AIO left {want:?}, this engine {got:?}")
            }
        }
    }
}

/// What the contract check learns that the comparison needs: calls whose answer depends
/// on timing, and the requests they touch. A cancel racing a poll the pipe has woken is one;
/// a submit beyond the context's size is another (kernel AIO guarantees `maxevents`
/// requests in flight and takes more while its ring, sized to the CPUs, has room; how many
/// are in flight depends on how many earlier reaps found).
#[derive(Clone, Default)]
pub struct Racy {
    pub steps: HashSet<usize>,
    /// Requests whose number of completions depends on timing: only the values are compared.
    pub ks: HashSet<usize>,
    /// Polls whose result depends on timing (fired or cancelled).
    pub polls: HashSet<usize>,
    /// Submits beyond the context's size, with the room kernel AIO guarantees there
    /// (`maxevents` less the requests in flight in this run).
    pub over: BTreeMap<usize, i64>,
}

impl Racy {
    /// Both traces' timing-dependent calls.
    pub fn union(mut self, other: Racy) -> Racy {
        self.steps.extend(other.steps);
        self.ks.extend(other.ks);
        self.polls.extend(other.polls);
        for (step, room) in other.over {
            let r = self.over.entry(step).or_insert(room);
            *r = (*r).min(room);
        }
        self
    }
}

const EFAULT: i64 = -14;
const EINPROGRESS: i64 = -115;

struct Model {
    out: [Vec<(usize, char)>; 2],
    cap: [usize; 2],
    live: [bool; 2],
    pipe: bool,
}

impl Model {
    /// Context c goes away (destroyed, or its handle overwritten): whatever it had in flight
    /// may or may not have been reaped before, depending on timing.
    fn forget(&mut self, c: usize, racy: &mut Racy) {
        for (k, _) in self.out[c].drain(..) {
            racy.ks.insert(k);
        }
        self.live[c] = false;
    }
}

impl Model {
    fn certain(&self, c: usize) -> usize {
        self.out[c].iter().filter(|(_, cls)| *cls == 'c').count()
    }
    fn could(&self, c: usize) -> usize {
        self.out[c]
            .iter()
            .filter(|(_, cls)| matches!(cls, 'c' | 'a') || (*cls == 'w' && self.pipe))
            .count()
    }
    /// Takes the events off context c's outstanding list; reports the ones that match
    /// nothing.
    fn reap(&mut self, c: usize, evs: &[Ev], step: Option<usize>, v: &mut Vec<Mismatch>) {
        for e in evs {
            if e.remark.contains("baddata") {
                v.push(Mismatch::Contract {
                    step,
                    rule: Rule::BadData,
                    detail: format!("event for iocb {} carries another data", e.k),
                });
            }
            let pos = self.out[c].iter().position(|(k, _)| *k as i64 == e.k);
            match pos {
                Some(p) => {
                    self.out[c].swap_remove(p);
                }
                None => v.push(Mismatch::Contract {
                    step,
                    rule: Rule::UnknownEvent,
                    detail: format!(
                        "event for iocb {} (res {}) with none outstanding",
                        e.k, e.res
                    ),
                }),
            }
        }
    }
}

fn reap_bounds(
    rule_short: Rule,
    got: usize,
    lo: usize,
    hi: usize,
    step: usize,
    what: &str,
    v: &mut Vec<Mismatch>,
) {
    if got < lo {
        v.push(Mismatch::Contract {
            step: Some(step),
            rule: rule_short,
            detail: format!("{what} returned {got} events; at least {lo} were certainly there"),
        });
    } else if got > hi {
        v.push(Mismatch::Contract {
            step: Some(step),
            rule: Rule::MoreThanPossible,
            detail: format!("{what} returned {got} events; at most {hi} could be complete"),
        });
    }
}

/// Checks one trace against kernel AIO's contract.
pub fn contract(p: &Program, t: &Trace) -> (Vec<Mismatch>, Racy) {
    let mut v = Vec::new();
    let mut racy = Racy::default();
    if let Some(f) = &t.failure {
        v.push(Mismatch::Contract {
            step: None,
            rule: Rule::Run,
            detail: f.clone(),
        });
    }
    let mut m = Model {
        out: [Vec::new(), Vec::new()],
        cap: [0, 0],
        live: [false, false],
        pipe: false,
    };
    for (i, (step, o)) in p.steps.iter().zip(&t.steps).enumerate() {
        if !o.errno_ok {
            v.push(Mismatch::Contract {
                step: Some(i),
                rule: Rule::ErrnoChanged,
                detail: format!("{} changed errno", o.verb),
            });
        }
        match step {
            Step::Setup { c, n, qinit } => {
                let c = *c as usize;
                if *qinit && m.live[c] && n.parse::<i64>().is_ok_and(|n| n > 0) {
                    m.forget(c, &mut racy);
                }
                if o.ret == Some(0) {
                    m.forget(c, &mut racy);
                    m.live[c] = true;
                    m.cap[c] = n.parse().unwrap_or(0);
                }
            }
            Step::Submit { c, nr, items, arr } => {
                let c = *c as usize;
                if c < 2 && *arr == "ok" {
                    let valid = items
                        .iter()
                        .take((*nr).max(0) as usize)
                        .take_while(|it| matches!(it, Item::Iocb(_)))
                        .count();
                    if m.out[c].len() + valid > m.cap[c] {
                        racy.over.insert(i, m.cap[c] as i64 - m.out[c].len() as i64);
                        for it in items {
                            if let Item::Iocb(k) = it {
                                racy.ks.insert(p.k(*k));
                            }
                        }
                    }
                }
                if o.phantom {
                    v.push(Mismatch::Contract {
                        step: Some(i),
                        rule: Rule::PhantomAccept,
                        detail: "a NULL or unreadable iocb pointer was counted as queued".into(),
                    });
                }
                if c < 2 {
                    m.out[c].extend(o.acc.iter().copied());
                }
            }
            Step::GetEvents {
                c,
                min,
                nr,
                tmo,
                events,
                mask,
            } => {
                let Some(ret) = o.ret else { continue };
                // An unreadable signal mask is EFAULT before anything else.
                if *mask == Some("wild") && ret == EFAULT {
                    continue;
                }
                if (*c as usize) >= 2 || !m.live[*c as usize] || *min < 0 || *nr < 0 || min > nr {
                    continue;
                }
                let c = *c as usize;
                let nr = *nr as usize;
                let mut lo = nr.min(m.certain(c));
                if tmo.blocking() {
                    lo = lo.max(*min as usize);
                }
                let hi = nr.min(m.could(c));
                if !events {
                    let ok = match ret {
                        0 => lo == 0,
                        EFAULT => hi >= 1,
                        _ => true,
                    };
                    if !ok {
                        v.push(Mismatch::Contract {
                            step: Some(i),
                            rule: Rule::NullEvents,
                            detail: format!(
                                "returned {ret} with a NULL event array; {lo} to {hi} events ready"
                            ),
                        });
                    }
                    continue;
                }
                if ret < 0 {
                    continue;
                }
                let short = if tmo.blocking() {
                    Rule::BlockingReapShort
                } else {
                    Rule::NonBlockingReapMissesCompleted
                };
                let what = format!("{}(min_nr {min}, nr {nr}, timeout {tmo:?})", o.verb);
                reap_bounds(short, ret as usize, lo, hi, i, &what, &mut v);
                m.reap(c, &o.evs, Some(i), &mut v);
            }
            Step::Ring { c } => {
                let c = *c as usize;
                if o.header.is_none() || !m.live[c] {
                    continue;
                }
                let (lo, hi) = (m.certain(c), m.could(c));
                reap_bounds(
                    Rule::NonBlockingReapMissesCompleted,
                    o.evs.len(),
                    lo,
                    hi,
                    i,
                    "reading the ring from user space",
                    &mut v,
                );
                m.reap(c, &o.evs, Some(i), &mut v);
            }
            Step::Cancel {
                c, target, wild, ..
            } => {
                let c = *c as usize;
                if c >= 2 || *wild {
                    continue;
                }
                let Some(k) = target.map(|k| p.k(k)) else {
                    continue;
                };
                if m.pipe && m.out[c].iter().any(|&(kk, cls)| kk == k && cls == 'w') {
                    racy.steps.insert(i);
                    racy.polls.insert(k);
                }
                if racy.ks.contains(&k) {
                    racy.steps.insert(i);
                }
                if o.ret == Some(EINPROGRESS) {
                    if let Some(e) = m.out[c]
                        .iter_mut()
                        .find(|(kk, cls)| *kk == k && matches!(cls, 'p' | 'w'))
                    {
                        e.1 = 'a';
                    }
                }
            }
            Step::Destroy { c, .. } => {
                if (*c as usize) < 2 && o.ret == Some(0) {
                    m.forget(*c as usize, &mut racy);
                }
            }
            Step::PipeWrite => m.pipe = true,
            Step::SetupBad { .. } => {}
        }
    }
    // Each accepted request with IOCB_FLAG_RESFD on the eventfd signals it once when it
    // completes; every request has completed once the runner destroyed its contexts.
    let signals = t
        .steps
        .iter()
        .flat_map(|o| &o.acc)
        .filter(|(k, _)| {
            p.iocbs
                .get(*k)
                .is_some_and(|cb| cb.flags & super::program::RESFD != 0 && cb.resfd == "E")
        })
        .count();
    if t.failure.is_none() && t.eventfd != signals.to_string() {
        v.push(Mismatch::Contract {
            step: None,
            rule: Rule::EventfdCount,
            detail: format!(
                "the eventfd counts {}, for {signals} completed requests that name it",
                t.eventfd
            ),
        });
    }
    for (c, evs, remarks) in &t.finals {
        let c = *c as usize;
        if c >= 2 {
            continue;
        }
        m.reap(c, evs, None, &mut v);
        if !m.out[c].is_empty() || !remarks.is_empty() {
            v.push(Mismatch::Contract {
                step: None,
                rule: Rule::Lost,
                detail: format!(
                    "context {c}: requests {:?} never completed {remarks:?}",
                    m.out[c]
                ),
            });
        }
    }
    (v, racy)
}

fn answer(o: Option<&Out>) -> String {
    match o {
        None => "(no answer: the run ended)".into(),
        Some(o) => {
            let mut s = format!("{} ", o.verb);
            match (&o.header, o.ret) {
                (Some(h), _) => s.push_str(h),
                (None, Some(r)) => s.push_str(&r.to_string()),
                (None, None) => s.push_str("skip"),
            }
            if !o.acc.is_empty() {
                s.push_str(" accepted");
                for (k, cls) in &o.acc {
                    s.push_str(&format!(" {k}{cls}"));
                }
            }
            s
        }
    }
}

fn completions(t: &Trace, racy: &Racy) -> BTreeMap<usize, Vec<(i64, i64)>> {
    let mut by_k: BTreeMap<usize, Vec<(i64, i64)>> = BTreeMap::new();
    let all = t
        .steps
        .iter()
        .flat_map(|o| o.evs.iter())
        .chain(t.finals.iter().flat_map(|(_, e, _)| e.iter()));
    for e in all {
        let Ok(k) = usize::try_from(e.k) else {
            continue;
        };
        // A poll cancelled while the pipe may have woken it: fired or cancelled (res 0).
        let r = if racy.polls.contains(&k) {
            (0, 0)
        } else {
            (e.res, e.res2)
        };
        by_k.entry(k).or_default().push(r);
    }
    for (k, v) in by_k.iter_mut() {
        v.sort();
        if racy.ks.contains(k) {
            v.dedup();
        }
    }
    by_k
}

/// A submit beyond the context's size: kernel AIO takes at least `room` requests and may
/// take more, so the answers must agree only below that (a refusal for any reason but
/// `EAGAIN`, or a stop before the room ran out, is the request's own doing).
fn over_capacity_agrees(a: Option<i64>, b: Option<i64>, room: i64) -> bool {
    const EAGAIN: i64 = -11;
    let (Some(a), Some(b)) = (a, b) else {
        return a == b;
    };
    if a == b {
        return true;
    }
    let full = |r: i64| r == EAGAIN && room <= 0;
    match (a < 0, b < 0) {
        (true, true) => full(a) || full(b),
        (true, false) => full(a) || (a == EAGAIN && b <= room),
        (false, true) => full(b) || (b == EAGAIN && a <= room),
        (false, false) => a.min(b) >= room,
    }
}

/// Compares an engine's trace with the system library's, exactly where kernel AIO is
/// deterministic.
pub fn compare(p: &Program, kernel: &Trace, other: &Trace, racy: &Racy) -> Vec<Mismatch> {
    let mut v = Vec::new();
    for (i, step) in p.steps.iter().enumerate() {
        if racy.steps.contains(&i) {
            continue;
        }
        let (a, b) = (kernel.steps.get(i), other.steps.get(i));
        // A wait the runner did not make in one run (it would have blocked for ever there:
        // fewer requests in flight, which depends on what earlier reaps found).
        if matches!(step, Step::GetEvents { .. })
            && matches!((a, b), (Some(a), Some(b)) if a.ret.is_none() != b.ret.is_none())
        {
            continue;
        }
        let same = match (a, b) {
            (Some(a), Some(b)) => {
                let rets = match step {
                    Step::Submit { .. } if racy.over.contains_key(&i) => {
                        over_capacity_agrees(a.ret, b.ret, racy.over[&i])
                    }
                    Step::GetEvents { events: false, .. }
                        if matches!(a.ret, Some(0 | EFAULT))
                            && matches!(b.ret, Some(0 | EFAULT)) =>
                    {
                        true
                    }
                    Step::GetEvents { .. } if a.ret >= Some(0) && b.ret >= Some(0) => true,
                    _ => a.ret == b.ret,
                };
                let accs = racy.over.contains_key(&i) || a.acc == b.acc;
                rets && accs && a.header == b.header && a.verb == b.verb
            }
            (None, None) => true,
            _ => false,
        };
        if !same {
            v.push(Mismatch::Answer {
                step: i,
                want: answer(a),
                got: answer(b),
            });
            return v;
        }
    }
    let (want, got) = (completions(kernel, racy), completions(other, racy));
    for k in want.keys().chain(got.keys()).collect::<HashSet<_>>() {
        let (w, g) = (
            want.get(k).cloned().unwrap_or_default(),
            got.get(k).cloned().unwrap_or_default(),
        );
        // A request in a submit beyond the context's size may have been taken in one run
        // only; where both ran it, its results must agree.
        if racy.ks.contains(k) && (w.is_empty() || g.is_empty()) {
            continue;
        }
        if w != g {
            v.push(Mismatch::Completion {
                k: *k,
                want: w,
                got: g,
            });
        }
    }
    v.sort_by_key(|m| match m {
        Mismatch::Completion { k, .. } => *k,
        _ => 0,
    });
    // What a request taken by one run only (beyond the context's size) did is not
    // compared: its buffer area; the files, if it writes; the eventfd, if it names it (each
    // run's count is checked against its own requests in `contract`).
    let areas = |t: &Trace| -> Vec<String> {
        t.areas
            .split_whitespace()
            .enumerate()
            .map(|(k, h)| {
                if racy.ks.contains(&k) {
                    "-".into()
                } else {
                    h.into()
                }
            })
            .collect()
    };
    let writes = racy.ks.iter().any(|&k| {
        p.iocbs
            .get(k)
            .is_some_and(|cb| matches!(cb.op, super::program::PWRITE | super::program::PWRITEV))
    });
    let signals = racy.ks.iter().any(|&k| {
        p.iocbs
            .get(k)
            .is_some_and(|cb| cb.flags & super::program::RESFD != 0)
    });
    for (what, a, b) in [
        (
            "files (hash, size)",
            if writes {
                String::new()
            } else {
                kernel.files.clone()
            },
            if writes {
                String::new()
            } else {
                other.files.clone()
            },
        ),
        (
            "buffer areas",
            areas(kernel).join(" "),
            areas(other).join(" "),
        ),
        (
            "eventfd count",
            if signals {
                String::new()
            } else {
                kernel.eventfd.clone()
            },
            if signals {
                String::new()
            } else {
                other.eventfd.clone()
            },
        ),
    ] {
        if a != b {
            v.push(Mismatch::End {
                what,
                want: a,
                got: b,
            });
        }
    }
    if kernel.final_destroy != other.final_destroy {
        v.push(Mismatch::End {
            what: "io_destroy at the end",
            want: kernel.final_destroy.join("; "),
            got: other.final_destroy.join("; "),
        });
    }
    v
}
