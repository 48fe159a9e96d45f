//! Programs over libaio's entry points: what the generator makes, how a program is written
//! for the runner (`runner.c`, one call per line), and the proptest strategies.
//!
//! Every request (iocb K) has its own buffer area and its own file slot in the runner, so
//! the generator may put anything in an iocb without making results depend on timing. The
//! few rules below keep the runner's world deterministic and the host safe: no reads or
//! writes on pipes or eventfds (kernel AIO would block in `io_submit`), no `RWF_NOWAIT` on
//! the O_DIRECT file (`EAGAIN` there depends on the moment), appends only on the buffered
//! file, and writes never beyond the file slots (a file that grows under a concurrent read
//! would make the read's count depend on timing).

use proptest::prelude::*;
use std::fmt::{self, Write as _};

/// Iocbs a program may use (the runner's `NIOCB`).
pub const NIOCB: usize = 8;
/// Bytes of each iocb's file slot (the runner's `SLOT`).
pub const SLOT: i64 = 128 * 1024;
/// The size of both files (the runner's `FILE_SIZE`).
pub const FILE_SIZE: i64 = NIOCB as i64 * SLOT;
/// Bytes of each iocb's buffer area (the runner's `AREA`).
pub const AREA: u64 = 64 * 1024;

pub const PREAD: u16 = 0;
pub const PWRITE: u16 = 1;
pub const FSYNC: u16 = 2;
pub const FDSYNC: u16 = 3;
pub const POLL: u16 = 5;
pub const NOOP: u16 = 6;
pub const PREADV: u16 = 7;
pub const PWRITEV: u16 = 8;

pub const RESFD: u32 = 1;
pub const IOPRIO: u32 = 2;

pub const RWF_NOWAIT: i32 = 8;
pub const RWF_APPEND: i32 = 16;

/// Where a buffer (or an iovec array, or a poll's events) points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buf {
    /// Offset into the iocb's buffer area (for reads and writes).
    Area(u64),
    /// A raw value (a poll's events, fsync's must-be-zero field).
    Raw(u64),
    Null,
    /// An inaccessible page.
    Wild,
    /// A kernel address.
    Kernel,
}

/// A file offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Off {
    /// This many bytes into the iocb's own file slot.
    Slot(i64),
    Abs(i64),
}

/// One iocb, as `io_prep_*` (or a careless caller) would fill it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iocb {
    pub op: u16,
    /// A descriptor name of the runner: B buffered file, D O_DIRECT file, R read-only, DIR a
    /// directory, NUL /dev/null, PR/PW a pipe's ends, E an eventfd, X closed, M1 -1.
    pub fd: &'static str,
    pub buf: Buf,
    /// Bytes, or iovecs for the vectored commands.
    pub len: u64,
    pub off: Off,
    /// Bytes per iovec (vectored commands).
    pub seg: u64,
    pub flags: u32,
    pub resfd: &'static str,
    pub prio: i16,
    pub rwf: i32,
    pub rsv2: u64,
    pub key: u32,
}

/// A pointer in `io_submit`'s array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    Iocb(usize),
    Null,
    Wild,
}

/// How long `io_getevents` may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tmo {
    Null,
    Zero,
    Short,
    Long,
    Neg,
    BadNs,
    Wild,
}

impl Tmo {
    fn name(self) -> &'static str {
        match self {
            Tmo::Null => "null",
            Tmo::Zero => "zero",
            Tmo::Short => "short",
            Tmo::Long => "long",
            Tmo::Neg => "neg",
            Tmo::BadNs => "badns",
            Tmo::Wild => "wild",
        }
    }
    /// Whether the call waits until `min_nr` events are there (as far as the kernel goes).
    pub fn blocking(self) -> bool {
        matches!(self, Tmo::Null | Tmo::Long | Tmo::BadNs | Tmo::Neg)
    }
}

/// One call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `io_setup(n, &ctx[c])` (`qinit`: `io_queue_init`).
    Setup { c: u8, n: &'static str, qinit: bool },
    /// `io_setup(n, p)` with `p` NULL, a read-only page or an inaccessible one.
    SetupBad {
        n: &'static str,
        how: &'static str,
        qinit: bool,
    },
    /// `io_submit(ctx, nr, array)`; contexts 2 and 3 are a wild value and NULL.
    Submit {
        c: u8,
        nr: i64,
        arr: &'static str,
        items: Vec<Item>,
    },
    /// `io_getevents` (`mask`: `io_pgetevents` with that signal mask).
    GetEvents {
        c: u8,
        min: i64,
        nr: i64,
        tmo: Tmo,
        events: bool,
        mask: Option<&'static str>,
    },
    /// `io_cancel` of iocb K, of an iocb never submitted, or of a wild pointer.
    Cancel {
        c: u8,
        target: Option<usize>,
        wild: bool,
    },
    /// `io_destroy` (`release`: `io_queue_release`).
    Destroy { c: u8, release: bool },
    /// Read the ring header and reap from user space, as fio does.
    Ring { c: u8 },
    /// Write one byte into the pipe (polls for POLLIN on its read end fire).
    PipeWrite,
}

/// A program: its iocbs, then its calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub iocbs: Vec<Iocb>,
    pub steps: Vec<Step>,
}

impl Program {
    /// The iocb a step's index names (indices wrap, so shrinking the iocb list keeps every
    /// program valid).
    pub fn k(&self, k: usize) -> usize {
        k % self.iocbs.len().max(1)
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, cb) in self.iocbs.iter().enumerate() {
            let buf = match cb.buf {
                Buf::Area(o) | Buf::Raw(o) => o.to_string(),
                Buf::Null => "null".into(),
                Buf::Wild => "wild".into(),
                Buf::Kernel => "kernel".into(),
            };
            let off = match cb.off {
                Off::Slot(d) => k as i64 * SLOT + d,
                Off::Abs(o) => o,
            };
            writeln!(
                f,
                "prep {k} {} {} {buf} {} {off} {} {} {} {} {} {} {}",
                cb.op, cb.fd, cb.len, cb.seg, cb.flags, cb.resfd, cb.prio, cb.rwf, cb.rsv2, cb.key
            )?;
        }
        for s in &self.steps {
            match s {
                Step::Setup { c, n, qinit } => {
                    writeln!(f, "{} {c} {n}", if *qinit { "qinit" } else { "setup" })?
                }
                Step::SetupBad { n, how, qinit } => writeln!(
                    f,
                    "{} {n} {how}",
                    if *qinit { "qinit_bad" } else { "setup_bad" }
                )?,
                Step::Submit { c, nr, arr, items } => {
                    let mut list = String::new();
                    for (i, it) in items.iter().enumerate() {
                        if i > 0 {
                            list.push(',');
                        }
                        match it {
                            Item::Iocb(k) => write!(list, "{}", self.k(*k))?,
                            Item::Null => list.push_str("null"),
                            Item::Wild => list.push_str("wild"),
                        }
                    }
                    if list.is_empty() {
                        list.push_str("null");
                    }
                    writeln!(f, "submit {c} {nr} {arr} {list}")?
                }
                Step::GetEvents {
                    c,
                    min,
                    nr,
                    tmo,
                    events,
                    mask,
                } => {
                    let evs = if *events { "ok" } else { "null" };
                    match mask {
                        None => writeln!(f, "getev {c} {min} {nr} {} {evs}", tmo.name())?,
                        Some(m) => writeln!(f, "pgetev {c} {min} {nr} {} {evs} {m}", tmo.name())?,
                    }
                }
                Step::Cancel { c, target, wild } => match (target, wild) {
                    (_, true) => writeln!(f, "cancel {c} wild")?,
                    (Some(k), false) => writeln!(f, "cancel {c} {}", self.k(*k))?,
                    (None, false) => writeln!(f, "cancel {c} fresh")?,
                },
                Step::Destroy { c, release } => {
                    writeln!(f, "{} {c}", if *release { "qrelease" } else { "destroy" })?
                }
                Step::Ring { c } => writeln!(f, "ring {c}")?,
                Step::PipeWrite => writeln!(f, "pipewrite")?,
            }
        }
        Ok(())
    }
}

fn rw_fd() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        5 => Just("B"), 4 => Just("D"), 1 => Just("R"), 1 => Just("NUL"),
        1 => Just("DIR"), 1 => Just("X"), 1 => Just("M1"),
    ]
}

fn area_buf() -> impl Strategy<Value = Buf> {
    prop_oneof![
        12 => prop::sample::select(vec![0u64, 0, 0, 1, 512, 4096, AREA - 4096, AREA - 512, AREA - 1])
            .prop_map(Buf::Area),
        1 => Just(Buf::Null),
        1 => Just(Buf::Wild),
        1 => Just(Buf::Kernel),
    ]
}

fn rw_len() -> impl Strategy<Value = u64> {
    prop_oneof![
        10 => prop::sample::select(vec![0u64, 1, 511, 512, 4096, 4096, 4096, 8192, AREA]),
        2 => prop::sample::select(vec![AREA + 4096, 1 << 31, 1 << 63, u64::MAX, (1 << 63) - 1]),
    ]
}

fn slot_off() -> impl Strategy<Value = Off> {
    prop_oneof![
        10 => prop::sample::select(vec![0i64, 0, 1, 512, 4096, 8192]).prop_map(Off::Slot),
        2 => prop::sample::select(vec![
            -1i64, -4096, i64::MIN, 1 << 62, i64::MAX, i64::MAX - 511, FILE_SIZE, FILE_SIZE + 4096,
        ]).prop_map(Off::Abs),
    ]
}

fn common_tail() -> impl Strategy<Value = (u32, &'static str, i16, i32, u64, u32)> {
    (
        prop_oneof![8 => Just(0u32), 3 => Just(RESFD), 1 => Just(IOPRIO), 1 => Just(RESFD | IOPRIO), 1 => Just(4u32)],
        prop_oneof![6 => Just("E"), 1 => Just("B"), 1 => Just("X")],
        prop_oneof![6 => Just(0i16), 1 => Just((2 << 13) | 4), 1 => Just(7 << 13), 1 => Just(3 << 13), 1 => Just(1 << 13)],
        prop_oneof![
            12 => Just(0i32), 1 => Just(1), 1 => Just(2), 1 => Just(4),
            1 => Just(RWF_NOWAIT), 1 => Just(RWF_APPEND), 1 => Just(0x4000_0000),
        ],
        prop_oneof![12 => Just(0u64), 1 => Just(1u64)],
        prop_oneof![12 => Just(0u32), 1 => Just(7u32)],
    )
}

/// Applies the rules in this module's documentation.
fn sanitize(mut cb: Iocb) -> Iocb {
    let rw = matches!(cb.op, PREAD | PWRITE | PREADV | PWRITEV);
    let writes = matches!(cb.op, PWRITE | PWRITEV);
    if cb.fd == "D" && cb.rwf == RWF_NOWAIT {
        cb.rwf = 0;
    }
    if cb.rwf == RWF_APPEND && !(cb.fd == "B" && writes) {
        cb.rwf = 0;
    }
    if rw && writes {
        if let Off::Abs(o) = cb.off {
            if (0..(1 << 62)).contains(&o) {
                cb.off = Off::Slot(0);
            }
        }
    }
    if !rw && cb.rwf == RWF_APPEND {
        cb.rwf = 0;
    }
    cb
}

fn rw_iocb() -> impl Strategy<Value = Iocb> {
    (
        prop_oneof![Just(PREAD), Just(PWRITE)],
        rw_fd(),
        area_buf(),
        rw_len(),
        slot_off(),
        common_tail(),
    )
        .prop_map(
            |(op, fd, buf, len, off, (flags, resfd, prio, rwf, rsv2, key))| {
                sanitize(Iocb {
                    op,
                    fd,
                    buf,
                    len,
                    off,
                    seg: 0,
                    flags,
                    resfd,
                    prio,
                    rwf,
                    rsv2,
                    key,
                })
            },
        )
}

fn vec_iocb() -> impl Strategy<Value = Iocb> {
    (
        prop_oneof![Just(PREADV), Just(PWRITEV)],
        rw_fd(),
        prop_oneof![
            8 => prop::sample::select(vec![0u64, 0, 1, 512, 4096]).prop_map(Buf::Area),
            1 => Just(Buf::Null),
            1 => Just(Buf::Wild),
        ],
        prop::sample::select(vec![0u64, 1, 1, 2, 3, 16, 1024, 1025]),
        prop::sample::select(vec![0u64, 1, 512, 512, 4096, 4096]),
        slot_off(),
        common_tail(),
    )
        .prop_map(
            |(op, fd, buf, len, seg, off, (flags, resfd, prio, rwf, rsv2, key))| {
                sanitize(Iocb {
                    op,
                    fd,
                    buf,
                    len,
                    off,
                    seg,
                    flags,
                    resfd,
                    prio,
                    rwf,
                    rsv2,
                    key,
                })
            },
        )
}

fn poll_iocb() -> impl Strategy<Value = Iocb> {
    (
        prop_oneof![
            3 => Just("B"), 1 => Just("NUL"), 3 => Just("PR"), 2 => Just("PW"),
            1 => Just("X"), 1 => Just("M1"), 1 => Just("DIR"),
        ],
        prop::sample::select(vec![1u64, 1, 4, 5, 2, 0, 0x41, 0x10000]),
        prop_oneof![8 => Just(0u64), 1 => Just(1u64)],
        prop_oneof![8 => Just(Off::Abs(0)), 1 => Just(Off::Abs(1))],
        prop_oneof![8 => Just(0i32), 1 => Just(1i32)],
        common_tail(),
    )
        .prop_map(
            |(fd, events, len, off, rwf, (flags, resfd, prio, _, rsv2, key))| Iocb {
                op: POLL,
                fd,
                buf: Buf::Raw(events),
                len,
                off,
                seg: 0,
                flags,
                resfd,
                prio,
                rwf,
                rsv2,
                key,
            },
        )
}

fn sync_iocb() -> impl Strategy<Value = Iocb> {
    (
        prop_oneof![Just(FSYNC), Just(FDSYNC)],
        prop_oneof![
            4 => Just("B"), 3 => Just("D"), 1 => Just("R"), 1 => Just("PR"),
            1 => Just("NUL"), 1 => Just("X"), 1 => Just("DIR"),
        ],
        prop_oneof![8 => Just(Buf::Raw(0)), 1 => Just(Buf::Raw(1))],
        prop_oneof![8 => Just(0u64), 1 => Just(1u64)],
        prop_oneof![8 => Just(Off::Abs(0)), 1 => Just(Off::Abs(1))],
        common_tail(),
    )
        .prop_map(
            |(op, fd, buf, len, off, (flags, resfd, prio, _, rsv2, key))| Iocb {
                op,
                fd,
                buf,
                len,
                off,
                seg: 0,
                flags,
                resfd,
                prio,
                rwf: 0,
                rsv2,
                key,
            },
        )
}

fn odd_iocb() -> impl Strategy<Value = Iocb> {
    prop_oneof![
        Just(4u16),
        Just(NOOP),
        Just(9u16),
        Just(0x7fffu16),
        any::<u16>()
    ]
    .prop_map(|op| Iocb {
        op,
        fd: "B",
        buf: Buf::Area(0),
        len: 512,
        off: Off::Slot(0),
        seg: 0,
        flags: 0,
        resfd: "E",
        prio: 0,
        rwf: 0,
        rsv2: 0,
        key: 0,
    })
}

fn iocb() -> impl Strategy<Value = Iocb> {
    prop_oneof![
        8 => rw_iocb(),
        3 => vec_iocb(),
        3 => poll_iocb(),
        2 => sync_iocb(),
        1 => odd_iocb(),
    ]
}

fn maxevents() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        12 => prop::sample::select(vec!["1", "2", "3", "4", "7", "8", "16", "31", "64", "127", "128", "1000"]),
        2 => prop::sample::select(vec!["0", "-1", "max+1", "2097152", "2147483647"]),
    ]
}

fn ctx() -> impl Strategy<Value = u8> {
    prop_oneof![12 => Just(0u8), 3 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)]
}

fn tmo() -> impl Strategy<Value = Tmo> {
    prop_oneof![
        5 => Just(Tmo::Zero), 3 => Just(Tmo::Null), 2 => Just(Tmo::Short), 1 => Just(Tmo::Long),
        1 => Just(Tmo::Neg), 1 => Just(Tmo::BadNs), 1 => Just(Tmo::Wild),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![12 => (0..NIOCB).prop_map(Item::Iocb), 1 => Just(Item::Null), 1 => Just(Item::Wild)]
}

fn submit() -> impl Strategy<Value = Step> {
    (
        ctx(),
        prop::collection::vec(item(), 1..=4),
        prop_oneof![10 => Just(0i64), 1 => Just(-1), 1 => Just(1), 1 => Just(-100)],
        prop_oneof![14 => Just("ok"), 1 => Just("null"), 1 => Just("wild")],
    )
        .prop_map(|(c, items, delta, arr)| {
            // delta 0: the whole list; -1/1: one fewer or one more (a NULL pointer past the
            // list); -100: a negative count.
            let nr = match delta {
                -100 => -1,
                d => (items.len() as i64 + d).max(0),
            };
            Step::Submit { c, nr, arr, items }
        })
}

fn getevents() -> impl Strategy<Value = Step> {
    (
        ctx(),
        0i64..=8,
        0i64..=8,
        prop_oneof![12 => Just(0i64), 1 => Just(1), 1 => Just(-100)],
        tmo(),
        prop_oneof![12 => Just(true), 1 => Just(false)],
        prop_oneof![
            8 => Just(None),
            1 => Just(Some("null")), 1 => Just(Some("empty")), 1 => Just(Some("full")),
            1 => Just(Some("wild")),
        ],
    )
        .prop_map(|(c, a, b, odd, mut tmo, events, mask)| {
            // libaio itself reads *timeout on a live context: a wild one only elsewhere.
            if tmo == Tmo::Wild && c < 2 {
                tmo = Tmo::Zero;
            }
            let (mut min, mut nr) = (a.min(b), a.max(b));
            match odd {
                1 => min = nr + 1,
                -100 => {
                    if a % 2 == 0 {
                        min = -1
                    } else {
                        nr = -1
                    }
                }
                _ => {}
            }
            Step::GetEvents {
                c,
                min,
                nr,
                tmo,
                events,
                mask,
            }
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (prop_oneof![3 => Just(1u8), 1 => Just(0u8)], maxevents(), prop::bool::weighted(0.3))
            .prop_map(|(c, n, qinit)| Step::Setup { c, n, qinit }),
        1 => (
            prop::sample::select(vec!["0", "1", "-1"]),
            prop::sample::select(vec!["null", "ro", "wild"]),
            prop::bool::weighted(0.3),
        ).prop_map(|(n, how, qinit)| {
            // libaio's io_queue_init stores NULL through ctxp first (a crash for a bad one)
            // unless maxevents <= 0.
            let n = if qinit && n == "1" { "0" } else { n };
            Step::SetupBad { n, how, qinit }
        }),
        12 => submit(),
        10 => getevents(),
        3 => (ctx(), prop::option::weighted(0.85, 0..NIOCB), prop::bool::weighted(0.1))
            .prop_map(|(c, target, wild)| Step::Cancel { c, target, wild }),
        1 => (ctx(), prop::bool::weighted(0.3)).prop_map(|(c, release)| Step::Destroy { c, release }),
        3 => prop_oneof![4 => Just(0u8), 1 => Just(1u8)].prop_map(|c| Step::Ring { c }),
        1 => Just(Step::PipeWrite),
    ]
}

/// A program: a context set up first (with an odd size now and then), then 1 to 14 calls.
pub fn program() -> impl Strategy<Value = Program> {
    (
        prop::collection::vec(iocb(), 1..=NIOCB),
        prop_oneof![
            2 => prop::sample::select(vec!["1", "2", "3", "4"]),
            8 => prop::sample::select(vec!["7", "8", "16", "31", "64", "128"]),
            1 => maxevents(),
        ],
        prop::bool::weighted(0.2),
        prop::collection::vec(step(), 1..=14),
    )
        .prop_map(|(iocbs, n, qinit, mut steps)| {
            steps.insert(0, Step::Setup { c: 0, n, qinit });
            Program { iocbs, steps }
        })
}
