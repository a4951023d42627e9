//! settle: the acks and requeues of one consumer channel's deliveries, the acks in batches.
//!
//! A delivery is settled once its reply (and dead letter) is confirmed (pipeline.rs). One
//! `basic.ack` per delivery costs the worker a wake-up of lapin's I/O thread and a write,
//! and RabbitMQ a frame and a settle command in the quorum queue's log. This task acks the
//! finished deliveries of a channel that follow each other with one
//! `basic.ack(multiple = true)` instead (issue 8):
//!
//! - a finished delivery waits at most [`LINGER`] for the ones around it to finish;
//! - one that waits behind an earlier delivery still running (a slow request, a turn behind
//!   the same code) is acked on its own after [`HOLD`], so that a slow request does not hold
//!   the others' acks, nor the prefetch window they take;
//! - at most `limit` finished deliveries wait (half the prefetch): past it, every ack that
//!   can be sent is sent, so the broker always has room to deliver;
//! - a requeue (`basic.nack`) is sent at once, on its own;
//! - when every [`Settler`] is dropped, everything is sent before the task ends (the
//!   shutdown drain waits for it: see startup.rs).
//!
//! A multiple ack covers every unacknowledged delivery up to its tag, so it is only ever
//! sent for a tag whose own ack is unsent, and only when every earlier tag is finished and
//! none of them forgotten (a forgotten delivery is still the broker's to requeue).
//! Delivery tags of a channel count from 1 and every one of them reaches the settler
//! ([`Settler::ack`], [`Settler::requeue`] or [`Settler::forget`]): a tag that never did
//! would hold the acks after it for [`HOLD`] each.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Channel;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

/// How long a finished delivery's ack may wait for the deliveries around it.
pub const LINGER: Duration = Duration::from_millis(3);
/// How long an ack may wait behind an earlier delivery still running before it is sent on
/// its own.
pub const HOLD: Duration = Duration::from_millis(50);

/// What to do with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settle {
    Ack,
    Requeue,
    /// Not to be settled by us: the broker requeues it when the channel closes.
    Forget,
}

/// Settles the deliveries of one channel. Cheap to clone: clones share the task.
#[derive(Clone, Debug)]
pub struct Settler {
    tx: mpsc::UnboundedSender<(u64, Settle)>,
}

impl Settler {
    /// Starts the settling task of `channel` on `tracker`. `prefetch` is the channel's
    /// prefetch count (0: unlimited); at most half of it waits unacked.
    pub fn spawn(channel: Channel, prefetch: u16, tracker: &TaskTracker) -> Settler {
        let (tx, rx) = mpsc::unbounded_channel();
        let limit = match prefetch {
            0 => 64,
            n => usize::from(n / 2),
        };
        tracker.spawn(run(channel, rx, limit));
        Settler { tx }
    }

    /// Ack `delivery_tag` (its reply was confirmed).
    pub fn ack(&self, delivery_tag: u64) {
        self.send(delivery_tag, Settle::Ack);
    }

    /// Nack `delivery_tag` with requeue.
    pub fn requeue(&self, delivery_tag: u64) {
        self.send(delivery_tag, Settle::Requeue);
    }

    /// `delivery_tag` will not be settled (it was dropped as the channel stops): the acks
    /// after it need not wait for it.
    pub fn forget(&self, delivery_tag: u64) {
        self.send(delivery_tag, Settle::Forget);
    }

    /// Ack when `confirmed`, else requeue.
    pub fn settle(&self, delivery_tag: u64, confirmed: bool) {
        match confirmed {
            true => self.ack(delivery_tag),
            false => self.requeue(delivery_tag),
        }
    }

    fn send(&self, delivery_tag: u64, settle: Settle) {
        // Err: the task ended, which it does only once every Settler is dropped.
        let _ = self.tx.send((delivery_tag, settle));
    }
}

async fn run(channel: Channel, mut rx: mpsc::UnboundedReceiver<(u64, Settle)>, limit: usize) {
    let mut book = Book::default();
    let mut open = true;
    while open || book.unsent > 0 {
        let deadline = book.deadline();
        tokio::select! {
            received = rx.recv(), if open => match received {
                Some((tag, settle)) => book.take(&channel, tag, settle).await,
                None => open = false,
            },
            _ = sleep_until(deadline), if deadline.is_some() => {}
        }
        while let Ok((tag, settle)) = rx.try_recv() {
            book.take(&channel, tag, settle).await;
        }
        let force = !open || book.unsent >= limit;
        for send in book.due(Instant::now(), force) {
            send.run(&channel).await;
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

/// A `basic.ack` the book decides to send: of this tag and, with `multiple`, of every
/// unacked one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ack {
    tag: u64,
    multiple: bool,
}

impl Ack {
    async fn run(self, channel: &Channel) {
        let Ack { tag, multiple } = self;
        if let Err(e) = channel.basic_ack(tag, BasicAckOptions { multiple }).await {
            // The channel is gone (connection lost): the broker redelivers what was not
            // acked and the idempotency record answers it. Nothing else to do.
            tracing::warn!(error = %e, tag, multiple, "ack failed; the broker will redeliver");
        }
    }
}

/// Where a finished tag above `settled_to` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Its ack is unsent; it finished then.
    Unsent(Instant),
    /// Acked on its own, or requeued: the broker holds it no more.
    Settled,
    /// Dropped unsettled: the broker still holds it, and requeues it when the channel
    /// closes. No multiple ack may cover it, so it ends every run that reaches it.
    Forgotten,
}

/// The finished deliveries of a channel, pure bookkeeping (no I/O but the requeue).
#[derive(Debug, Default)]
struct Book {
    /// Every tag up to this one is settled.
    settled_to: u64,
    /// Finished tags above `settled_to`.
    finished: BTreeMap<u64, State>,
    /// How many of `finished` are `Unsent`.
    unsent: usize,
}

impl Book {
    async fn take(&mut self, channel: &Channel, tag: u64, settle: Settle) {
        if tag <= self.settled_to {
            return;
        }
        match settle {
            Settle::Ack => self.finish(tag, Instant::now()),
            Settle::Forget => self.mark(tag, State::Forgotten),
            Settle::Requeue => {
                let options = BasicNackOptions {
                    multiple: false,
                    requeue: true,
                };
                if let Err(e) = channel.basic_nack(tag, options).await {
                    tracing::warn!(error = %e, tag, "nack failed; the broker will redeliver");
                }
                self.mark(tag, State::Settled);
            }
        }
    }

    /// `tag`'s ack is to be sent, unless the tag is in the book already.
    fn finish(&mut self, tag: u64, now: Instant) {
        if let Entry::Vacant(entry) = self.finished.entry(tag) {
            entry.insert(State::Unsent(now));
            self.unsent += 1;
        }
    }

    /// `tag` needs no ack from us: settled otherwise, or forgotten.
    fn mark(&mut self, tag: u64, state: State) {
        if let Some(State::Unsent(_)) = self.finished.insert(tag, state) {
            self.unsent -= 1;
        }
    }

    /// When the next ack falls due, if any waits.
    fn deadline(&self) -> Option<Instant> {
        let (run_end, oldest_in_run) = self.run();
        let in_run = oldest_in_run.map(|at| at + LINGER);
        let behind = self
            .finished
            .range(run_end + 1..)
            .filter_map(|(_, state)| state.unsent_since())
            .min()
            .map(|at| at + HOLD);
        match (in_run, behind) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The run of finished tags right after `settled_to`, up to the first gap or forgotten
    /// tag: its last tag, and when its oldest unsent ack finished.
    fn run(&self) -> (u64, Option<Instant>) {
        let mut end = self.settled_to;
        let mut oldest: Option<Instant> = None;
        for (&tag, state) in &self.finished {
            if tag != end + 1 || *state == State::Forgotten {
                break;
            }
            end = tag;
            if let Some(at) = state.unsent_since() {
                oldest = Some(oldest.map_or(at, |o| o.min(at)));
            }
        }
        (end, oldest)
    }

    /// The acks due at `now` (all that can be sent when `force`), taken off the book.
    fn due(&mut self, now: Instant, force: bool) -> Vec<Ack> {
        let mut sends = Vec::new();
        let (run_end, oldest) = self.run();
        if oldest.is_none_or(|at| force || now >= at + LINGER) {
            // The whole run: one multiple ack up to its last unsent tag (those after it are
            // settled already), and the run leaves the book.
            let mut last_unsent = None;
            while let Some(entry) = self.finished.first_entry() {
                if *entry.key() > run_end {
                    break;
                }
                let (tag, state) = entry.remove_entry();
                if let State::Unsent(_) = state {
                    last_unsent = Some(tag);
                    self.unsent -= 1;
                }
                self.settled_to = tag;
            }
            if let Some(tag) = last_unsent {
                sends.push(Ack {
                    tag,
                    multiple: true,
                });
            }
        }
        // Behind a delivery still running: each on its own, once held long enough.
        for (&tag, state) in self.finished.range_mut(self.settled_to + 1..) {
            if let State::Unsent(when) = *state {
                if force || now >= when + HOLD {
                    *state = State::Settled;
                    self.unsent -= 1;
                    sends.push(Ack {
                        tag,
                        multiple: false,
                    });
                }
            }
        }
        sends
    }
}

impl State {
    fn unsent_since(self) -> Option<Instant> {
        match self {
            State::Unsent(at) => Some(at),
            State::Settled | State::Forgotten => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(tag: u64, multiple: bool) -> Ack {
        Ack { tag, multiple }
    }

    #[test]
    fn finished_deliveries_in_a_row_are_acked_by_one_frame_after_the_linger() {
        let t = Instant::now();
        let mut book = Book::default();
        for tag in 1..=5 {
            book.finish(tag, t);
        }
        assert_eq!(book.deadline(), Some(t + LINGER));
        assert!(book.due(t, false).is_empty(), "lingers");
        assert_eq!(book.due(t + LINGER, false), vec![ack(5, true)]);
        assert_eq!((book.settled_to, book.unsent), (5, 0));
        assert!(book.finished.is_empty());
        assert_eq!(book.deadline(), None);
    }

    #[test]
    fn acks_behind_a_running_delivery_wait_for_it_then_go_alone() {
        let t = Instant::now();
        let mut book = Book::default();
        book.finish(1, t);
        book.finish(3, t); // 2 still runs
        book.finish(4, t);
        assert_eq!(book.due(t + LINGER, false), vec![ack(1, true)]);
        assert_eq!(book.deadline(), Some(t + HOLD));
        // 2 finishes in time: one frame for 2, 3, 4.
        book.finish(2, t + LINGER);
        assert_eq!(book.due(t + LINGER * 2, false), vec![ack(4, true)]);
        assert_eq!(book.unsent, 0);

        // 6 never finishes in time: 7 and 8 go alone after the hold, and the run that
        // later covers them is not acked again.
        book.finish(7, t);
        book.finish(8, t);
        assert_eq!(
            book.due(t + HOLD, false),
            vec![ack(7, false), ack(8, false)]
        );
        book.finish(5, t + HOLD);
        book.finish(6, t + HOLD);
        assert_eq!(book.due(t + HOLD + LINGER, false), vec![ack(6, true)]);
        assert_eq!((book.settled_to, book.unsent), (8, 0));
    }

    #[test]
    fn a_multiple_ack_never_names_a_settled_tag() {
        let t = Instant::now();
        let mut book = Book::default();
        book.finish(1, t);
        book.mark(2, State::Settled); // requeued
        book.mark(3, State::Settled); // acked alone
        assert_eq!(book.due(t + LINGER, false), vec![ack(1, true)]);
        assert_eq!(book.settled_to, 3);
        // A run of settled tags only: no frame, but the book moves on.
        book.mark(4, State::Settled);
        assert!(book.due(t, false).is_empty());
        assert_eq!(book.settled_to, 4);
    }

    #[test]
    fn no_multiple_ack_covers_a_forgotten_tag() {
        let t = Instant::now();
        let mut book = Book::default();
        book.finish(1, t);
        book.mark(2, State::Forgotten); // still held by the broker
        book.finish(3, t);
        // 1 goes as a run; 3 waits behind 2 as behind a running delivery, then alone.
        assert_eq!(book.due(t + LINGER, false), vec![ack(1, true)]);
        assert_eq!(book.settled_to, 1);
        assert_eq!(book.deadline(), Some(t + HOLD));
        assert_eq!(book.due(t + HOLD, false), vec![ack(3, false)]);
        book.finish(4, t + HOLD);
        assert_eq!(book.due(t + HOLD, true), vec![ack(4, false)]);
        assert_eq!((book.settled_to, book.unsent), (1, 0));
    }

    #[test]
    fn force_sends_everything_that_can_be_sent() {
        let t = Instant::now();
        let mut book = Book::default();
        book.finish(1, t);
        book.finish(2, t);
        book.finish(4, t);
        assert_eq!(book.due(t, true), vec![ack(2, true), ack(4, false)]);
        assert_eq!(book.unsent, 0);
        assert_eq!(book.deadline(), None);
    }

    #[test]
    fn a_tag_settled_twice_counts_once() {
        let t = Instant::now();
        let mut book = Book::default();
        book.finish(2, t);
        book.finish(2, t);
        assert_eq!(book.unsent, 1);
        book.mark(2, State::Settled);
        book.mark(2, State::Settled);
        assert_eq!(book.unsent, 0);
        // An ack after its requeue changes nothing: the count stays right.
        book.finish(2, t);
        assert_eq!(book.unsent, 0);
        assert_eq!(book.finished.get(&2), Some(&State::Settled));
    }
}
