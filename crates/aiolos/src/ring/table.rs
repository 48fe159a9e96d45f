//! The in-flight table: one slot per accepted request, from `push` until its completion is
//! handed to whoever waits for it. This is the only completion table of the workspace: the
//! async layer, `DirectFile` and the libaio drop-in keep no table of their own.
//!
//! A slot holds the request's op (and so its buffers), a caller payload, the completion's
//! result once it has arrived, and who waits for it:
//!
//! - nobody in particular ([`Waiter::Any`]): the completion goes to the queue of
//!   completions that [`Ring::wait`](super::Ring::wait) hands out, in completion order;
//! - a thread blocked in [`Ring::wait_for`](super::Ring::wait_for) for this one request,
//!   woken through the ring's condition variable;
//! - a task ([`Ring::poll_token`](super::Ring::poll_token)), whose waker is stored in the
//!   slot and woken (after the table's lock is released) by whoever reaps the completion.
//!
//! A request taken by its token may still have an entry in the queue of completions (it
//! was queued before anybody asked for it by token): entries carry the slot's generation,
//! and an entry whose slot has moved on is skipped.

use super::types::{Completion, Token};
use crate::buf::IoBufMut;
use crate::engine::{Cqe, Sqe};
use crate::op::Op;
use crate::sys::IoVec;
use std::collections::VecDeque;
use std::task::Waker;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SlotState {
    Free,
    /// Pushed, not yet handed to the engine.
    Queued,
    /// The engine has it.
    InFlight,
    /// Complete; the result waits for its taker.
    Ready,
}

/// Who takes a slot's completion.
#[derive(Debug)]
pub(super) enum Waiter {
    /// Whoever calls `wait` (the completion joins the ready queue).
    Any,
    /// A thread blocked in `wait_for` on this slot.
    Thread,
    /// A task that polled this slot's token.
    Task(Waker),
}

pub(super) struct Slot<B, T> {
    pub generation: u32,
    pub state: SlotState,
    pub op: Option<Op<B>>,
    pub payload: Option<T>,
    /// The iovec table of a vectored request (the engine reads it until completion).
    pub iovecs: Vec<IoVec>,
    /// Bytes transferred, or a negated errno.
    pub result: i64,
    pub cancel_requested: bool,
    /// Nobody will take the completion: free the slot when it arrives.
    pub detached: bool,
    pub waiter: Waiter,
    /// The slot has a (live) entry in the ready queue.
    pub queued_ready: bool,
}

impl<B, T> Slot<B, T> {
    fn new() -> Slot<B, T> {
        Slot {
            generation: 1,
            state: SlotState::Free,
            op: None,
            payload: None,
            iovecs: Vec::new(),
            result: 0,
            cancel_requested: false,
            detached: false,
            waiter: Waiter::Any,
            queued_ready: false,
        }
    }
}

/// How many slots (and scratch entries) a table starts with room for.
const INITIAL_SLOTS: usize = 64;

/// Where completions that nobody waits for by token go instead of the ready queue (see
/// [`Ring::set_sink`](super::Ring::set_sink)).
pub(super) type Sink<B, T> = Box<dyn FnMut(Completion<B, T>) + Send>;

/// Everything the ring's lock protects.
pub(super) struct State<B, T> {
    /// The ring's id (for the tokens of completions built here).
    pub ring: u32,
    /// The most slots the table makes.
    pub capacity: u32,
    pub sink: Option<Sink<B, T>>,
    pub slots: Vec<Slot<B, T>>,
    pub free: Vec<u32>,
    pub queued: VecDeque<u32>,
    /// Completions for whoever waits: (slot, generation). Entries of slots taken by token
    /// since are stale and skipped.
    pub ready: VecDeque<(u32, u32)>,
    /// Live entries in `ready`.
    pub unclaimed: usize,
    pub in_flight: usize,
    /// Completions applied since the ring was made (wrapping), for `drive`'s count.
    pub applied: u64,
    /// A thread is reaping from the engine (without the lock).
    pub reaping: bool,
    /// A non-blocking reap found another thread reaping: that thread looks at the engine
    /// once more before its turn ends, so nothing complete by then is left behind.
    pub reap_again: bool,
    /// A thread is handing queued requests to the engine (without the lock).
    pub submitting: bool,
    /// A completion joined the ready queue since the lock was last released by
    /// [`Ring::unlock`](super::Ring): if it is still there then, the notification
    /// descriptor is signalled for it (when somebody watches the descriptor).
    pub rearm: bool,
    /// Threads sleeping on the condition variable.
    pub waiters: usize,
    pub closed: bool,
    /// Tasks waiting for a free slot.
    pub space: Vec<Waker>,
    /// Wakers to wake once the lock is released.
    pub wake: Vec<Waker>,
    /// Ops of detached requests, dropped once the lock is released.
    pub trash: Vec<Op<B>>,
    pub sqes: Vec<Sqe>,
    pub cqes: Vec<Cqe>,
}

impl<B: IoBufMut, T> State<B, T> {
    pub fn new(ring: u32, capacity: u32) -> State<B, T> {
        // Slots are made as they are first needed, up to `capacity`, so a ring sized for
        // the worst case (the libaio drop-in's one ring per process) costs memory in
        // proportion to the requests it has held at once, not to its capacity. The
        // scratch vectors grow the same way and are then reused.
        let n = (capacity as usize).min(INITIAL_SLOTS);
        State {
            ring,
            capacity,
            sink: None,
            slots: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            queued: VecDeque::with_capacity(n),
            ready: VecDeque::with_capacity(n),
            unclaimed: 0,
            in_flight: 0,
            applied: 0,
            reaping: false,
            reap_again: false,
            submitting: false,
            rearm: false,
            waiters: 0,
            closed: false,
            space: Vec::new(),
            wake: Vec::new(),
            trash: Vec::new(),
            sqes: Vec::with_capacity(n),
            cqes: Vec::with_capacity(n),
        }
    }

    /// Takes a free slot for `op` and queues it (making a new slot while fewer than the
    /// capacity exist); gives both back when every slot is in use.
    pub fn alloc(&mut self, op: Op<B>, payload: T, waiter: Waiter) -> Result<u32, (Op<B>, T)> {
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.slots.len() < self.capacity as usize => {
                self.slots.push(Slot::new());
                (self.slots.len() - 1) as u32
            }
            None => return Err((op, payload)),
        };
        let slot = &mut self.slots[index as usize];
        slot.state = SlotState::Queued;
        slot.op = Some(op);
        slot.payload = Some(payload);
        slot.cancel_requested = false;
        slot.detached = false;
        slot.waiter = waiter;
        self.queued.push_back(index);
        Ok(index)
    }

    /// The slot a token names, if it is still that request's.
    pub fn slot_of(&mut self, ring: u32, token: Token) -> Option<&mut Slot<B, T>> {
        if token.ring != ring {
            return None;
        }
        self.slots
            .get_mut(token.index as usize)
            .filter(|s| s.generation == token.generation && s.state != SlotState::Free)
    }

    /// Records a completion: the slot's waiter is woken (or the completion joins the ready
    /// queue); a detached slot is freed at once.
    pub fn finish(&mut self, index: u32, res: i64) {
        let slot = &mut self.slots[index as usize];
        slot.result = res;
        if slot.detached {
            self.release(index);
            return;
        }
        slot.state = SlotState::Ready;
        match std::mem::replace(&mut slot.waiter, Waiter::Any) {
            Waiter::Any if self.sink.is_some() => {
                let c = self.take(self.ring, index);
                if let Some(sink) = self.sink.as_mut() {
                    sink(c);
                }
            }
            Waiter::Any => {
                self.rearm = true;
                slot.queued_ready = true;
                let generation = slot.generation;
                self.ready.push_back((index, generation));
                self.unclaimed += 1;
            }
            // The thread finds its slot Ready when the reaper's round wakes it.
            Waiter::Thread => slot.waiter = Waiter::Thread,
            Waiter::Task(w) => self.wake.push(w),
        }
    }

    /// Applies the engine's completions to their slots. Completions for slots that moved
    /// on (stale generation) are ignored.
    pub fn apply(&mut self, cqes: &[Cqe]) {
        for cqe in cqes {
            let index = cqe.user_data as u32;
            let generation = (cqe.user_data >> 32) as u32;
            let Some(slot) = self.slots.get(index as usize) else {
                continue;
            };
            if slot.generation != generation || slot.state != SlotState::InFlight {
                continue;
            }
            self.in_flight -= 1;
            self.applied = self.applied.wrapping_add(1);
            self.finish(index, cqe.res);
        }
    }

    /// Frees a slot (its op goes to `trash`, dropped outside the lock) and lets a task
    /// waiting for space try again.
    pub fn release(&mut self, index: u32) {
        let res = self.slots[index as usize].result;
        let mut op = self.free_slot(index);
        // Nobody takes this completion: a descriptor the request opened is closed with it.
        if let Some(op) = op.as_mut() {
            op.adopt_orphan(res);
        }
        self.trash.extend(op);
    }

    /// Frees a slot and returns its op.
    pub fn free_slot(&mut self, index: u32) -> Option<Op<B>> {
        let slot = &mut self.slots[index as usize];
        slot.state = SlotState::Free;
        slot.generation = slot.generation.wrapping_add(1).max(1);
        slot.waiter = Waiter::Any;
        slot.payload = None;
        if slot.queued_ready {
            slot.queued_ready = false;
            self.unclaimed -= 1;
        }
        let op = slot.op.take();
        self.free.push(index);
        // Every task waiting for space tries again: a wake-up given to one task that no
        // longer needs the slot must not strand another that does.
        self.wake.append(&mut self.space);
        op
    }

    /// The next live entry of the ready queue.
    pub fn pop_ready(&mut self) -> Option<u32> {
        while let Some((index, generation)) = self.ready.pop_front() {
            let slot = &self.slots[index as usize];
            if slot.generation == generation && slot.queued_ready {
                return Some(index);
            }
        }
        None
    }

    /// Drops stale ready-queue entries when they outnumber the slots (requests taken by
    /// token leave one behind each), so the queue stays bounded.
    pub fn compact_ready(&mut self) {
        if self.ready.len() > 2 * self.slots.len() + 16 {
            let slots = &self.slots;
            self.ready.retain(|&(i, g)| {
                slots[i as usize].generation == g && slots[i as usize].queued_ready
            });
        }
    }

    /// Takes the completion of a Ready slot and frees the slot.
    pub fn take(&mut self, ring: u32, index: u32) -> Completion<B, T> {
        let slot = &mut self.slots[index as usize];
        let token = Token {
            ring,
            index,
            generation: slot.generation,
        };
        let res = slot.result;
        let cancel_requested = slot.cancel_requested;
        let payload = slot.payload.take();
        let op = self.free_slot(index);
        self.compact_ready();
        super::complete::completion(token, res, cancel_requested, payload, op)
    }

    /// Outstanding requests (queued, in flight or complete and not yet taken).
    pub fn outstanding(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether a request can be accepted now: a free slot, or room to make one.
    pub fn has_room(&self) -> bool {
        !self.free.is_empty() || self.slots.len() < self.capacity as usize
    }
}

/// The wakers and ops a locked section collected, to be dealt with once it is unlocked.
pub(super) struct Deferred<B> {
    pub wake: Vec<Waker>,
    pub trash: Vec<Op<B>>,
}

impl<B> Deferred<B> {
    /// Wakes the tasks and drops the ops (outside the lock: a waker or a buffer's `Drop`
    /// may do anything, including calling back into the ring).
    pub fn run(&mut self) {
        for w in self.wake.drain(..) {
            w.wake();
        }
        self.trash.clear();
    }
}

impl<B: IoBufMut, T> State<B, T> {
    /// Moves what must be done outside the lock into `d` (reusing its vectors).
    pub fn defer(&mut self, d: &mut Deferred<B>) {
        std::mem::swap(&mut self.wake, &mut d.wake);
        std::mem::swap(&mut self.trash, &mut d.trash);
    }

    /// Gives `d`'s (empty) vectors back for reuse.
    pub fn recycle(&mut self, d: &mut Deferred<B>) {
        if self.wake.capacity() == 0 {
            std::mem::swap(&mut self.wake, &mut d.wake);
        }
        if self.trash.capacity() == 0 {
            std::mem::swap(&mut self.trash, &mut d.trash);
        }
    }
}

/// Slots a completion queue reports by index: the engine's `user_data`.
pub(super) fn user_data(index: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(index)
}
