//! The load client: publishes requests to `webhook` (routing key = entity) with publisher
//! confirms, pipelined, and receives the replies through RabbitMQ's direct reply-to, as the
//! `call` subcommand does. Each request's correlation id is its index, so a reply is matched
//! to its publish time without a lock.
//!
//! Three ways to offer the load ([`Mode`]): all at once before the worker runs (a backlog),
//! paced at a fixed rate (open loop: the schedule does not wait for replies), or closed loop
//! (at most W requests without a reply).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::BasicPublishOptions;
use lapin::PublisherConfirm;
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use serde_json::{json, Value as Json};
use tokio::sync::{Notify, Semaphore};

use super::process::WorkerProcess;
use super::{data, Bench, BenchError, Result};
use crate::call::DIRECT_REPLY_TO;
use crate::transport::dead_letter::header_str;

/// Unconfirmed publishes kept in flight by one client (as in shared/LIMITS.md).
const CONFIRM_WINDOW: usize = 256;

/// How the requests are offered.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Publish everything as fast as confirms allow; the worker is started afterwards.
    Preload,
    /// Open loop: request i is published at `i / rate` seconds.
    Paced(f64),
    /// Closed loop: at most this many requests without a reply.
    Closed(usize),
}

/// Publish and reply times of one run, in nanoseconds since the client's origin (+1, so
/// that 0 means "not yet").
struct State {
    origin: Instant,
    n: usize,
    sent: Vec<AtomicU64>,
    received: Vec<AtomicU64>,
    got: AtomicUsize,
    errors: AtomicUsize,
    first_error: Mutex<Option<String>>,
    window: Semaphore,
    done: Notify,
}

impl State {
    fn now(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64 + 1
    }
}

/// One connection, one confirm-mode channel consuming direct reply-to.
pub struct LoadClient {
    connection: Connection,
    channel: Channel,
    exchange: String,
    routing_key: String,
    state: Arc<State>,
}

impl LoadClient {
    /// A client for `n` requests to `entity` under the bench topology.
    pub async fn connect(bench: &Bench, entity: &str, n: usize) -> Result<LoadClient> {
        let exchange = bench.topology.request_exchange();
        Self::connect_to(&bench.amqp_url, &exchange, entity, n).await
    }

    /// A client publishing to `exchange` with `routing_key`.
    pub async fn connect_to(
        amqp_url: &str,
        exchange: &str,
        routing_key: &str,
        n: usize,
    ) -> Result<LoadClient> {
        let connection =
            crate::transport::connection::connect_named(amqp_url, "webhook-bench").await?;
        let (channel, mut consumer) = crate::call::reply_channel(&connection).await?;
        let state = Arc::new(State {
            origin: Instant::now(),
            n,
            sent: (0..n).map(|_| AtomicU64::new(0)).collect(),
            received: (0..n).map(|_| AtomicU64::new(0)).collect(),
            got: AtomicUsize::new(0),
            errors: AtomicUsize::new(0),
            first_error: Mutex::new(None),
            window: Semaphore::new(0),
            done: Notify::new(),
        });
        let collector = state.clone();
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let now = collector.now();
                let Some(i) = delivery
                    .properties
                    .correlation_id()
                    .as_ref()
                    .and_then(|c| c.as_str().parse::<usize>().ok())
                    .filter(|i| *i < collector.n)
                else {
                    continue;
                };
                if header_str(delivery.properties.headers().as_ref(), "status").as_deref()
                    == Some("error")
                {
                    collector.errors.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut first) = collector.first_error.lock() {
                        first.get_or_insert_with(|| {
                            String::from_utf8_lossy(&delivery.data).into_owned()
                        });
                    }
                }
                let fresh = collector.received[i]
                    .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok();
                if fresh {
                    collector.window.add_permits(1);
                    if collector.got.fetch_add(1, Ordering::AcqRel) + 1 == collector.n {
                        collector.done.notify_one();
                    }
                }
            }
        });
        Ok(LoadClient {
            connection,
            channel,
            exchange: exchange.to_string(),
            routing_key: routing_key.to_string(),
            state,
        })
    }

    /// Publish the n requests (`body(i)`) as `mode` says; returns once every publish is
    /// confirmed (replies may still be on their way).
    pub async fn publish(&self, body: impl Fn(usize) -> Vec<u8>, mode: Mode) -> Result<()> {
        let state = &self.state;
        if let Mode::Closed(window) = mode {
            state.window.add_permits(window.max(1));
        }
        let mut pending: VecDeque<PublisherConfirm> = VecDeque::with_capacity(CONFIRM_WINDOW);
        let start = tokio::time::Instant::now();
        for i in 0..state.n {
            match mode {
                Mode::Preload => {}
                Mode::Paced(rate) => {
                    let due = start + Duration::from_secs_f64(i as f64 / rate.max(0.001));
                    if due > tokio::time::Instant::now() {
                        tokio::time::sleep_until(due).await;
                    }
                }
                Mode::Closed(_) => match state.window.acquire().await {
                    Ok(permit) => permit.forget(),
                    Err(_) => return Err(BenchError::Failed("the reply window closed".into())),
                },
            }
            let payload = body(i);
            let properties = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_message_id(uuid::Uuid::new_v4().to_string().into())
                .with_correlation_id(i.to_string().into())
                .with_reply_to(DIRECT_REPLY_TO.into())
                .with_delivery_mode(2);
            state.sent[i].store(state.now(), Ordering::Relaxed);
            let confirm = self
                .channel
                .basic_publish(
                    self.exchange.as_str().into(),
                    self.routing_key.as_str().into(),
                    BasicPublishOptions::default(),
                    &payload,
                    properties,
                )
                .await?;
            pending.push_back(confirm);
            while pending.len() >= CONFIRM_WINDOW {
                if let Some(confirm) = pending.pop_front() {
                    check(confirm.await?)?;
                }
            }
        }
        for confirm in pending {
            check(confirm.await?)?;
        }
        Ok(())
    }

    /// Wait for every reply. Fails when none arrives for `stall`, when the worker process
    /// exits, or when any reply is an error (the bench's requests must all succeed).
    pub async fn finish(self, stall: Duration, worker: Option<&WorkerProcess>) -> Result<RunStats> {
        let state = self.state.clone();
        let mut last = (0usize, Instant::now());
        loop {
            let got = state.got.load(Ordering::Acquire);
            if got >= state.n {
                break;
            }
            if got != last.0 {
                last = (got, Instant::now());
            } else if last.1.elapsed() > stall {
                return Err(BenchError::Failed(format!(
                    "no reply for {stall:?}: {got} of {} received",
                    state.n
                )));
            }
            if let Some(worker) = worker.filter(|w| !w.is_alive()) {
                return Err(BenchError::Failed(format!(
                    "the worker process exited ({got} of {} replies); see {}",
                    state.n,
                    worker.log_path().display()
                )));
            }
            tokio::select! {
                _ = state.done.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
        let _ = self.connection.close(200, "bench run done".into()).await;
        let errors = state.errors.load(Ordering::Relaxed);
        if errors > 0 {
            let first = state
                .first_error
                .lock()
                .ok()
                .and_then(|f| f.clone())
                .unwrap_or_default();
            return Err(BenchError::Failed(format!(
                "{errors} of {} replies were errors; the first: {first}",
                state.n
            )));
        }
        Ok(RunStats {
            origin: state.origin,
            sent: state
                .sent
                .iter()
                .map(|t| t.load(Ordering::Relaxed))
                .collect(),
            received: state
                .received
                .iter()
                .map(|t| t.load(Ordering::Relaxed))
                .collect(),
        })
    }
}

fn check(confirmation: Confirmation) -> Result<()> {
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        other => Err(BenchError::Failed(format!(
            "the broker did not take a request: {other:?}"
        ))),
    }
}

/// Publish and reply times of one completed run.
#[derive(Debug, Clone)]
pub struct RunStats {
    origin: Instant,
    /// Nanoseconds since `origin` (+1), per request.
    sent: Vec<u64>,
    received: Vec<u64>,
}

impl RunStats {
    pub fn requests(&self) -> usize {
        self.received.len()
    }

    fn span_s(from: u64, to: u64) -> f64 {
        (to.saturating_sub(from) as f64 / 1e9).max(1e-9)
    }

    /// Requests per second from the first reply to the last (the backlog runs).
    pub fn reply_rate(&self) -> f64 {
        let (Some(first), Some(last)) = (self.received.iter().min(), self.received.iter().max())
        else {
            return 0.0;
        };
        (self.requests().saturating_sub(1)) as f64 / Self::span_s(*first, *last)
    }

    /// Requests per second from the first publish to the last reply (paced and
    /// closed-loop runs, where the publisher is part of the run).
    pub fn reply_rate_from_first_send(&self) -> f64 {
        let (Some(first), Some(last)) = (self.sent.iter().min(), self.received.iter().max()) else {
            return 0.0;
        };
        self.requests() as f64 / Self::span_s(*first, *last)
    }

    /// Seconds from the first publish to the last reply.
    pub fn duration_s(&self) -> f64 {
        let first = self.sent.iter().min().copied().unwrap_or(0);
        let last = self.received.iter().max().copied().unwrap_or(0);
        Self::span_s(first, last)
    }

    /// Time from `since` to the first reply.
    pub fn first_reply_after(&self, since: Instant) -> Option<Duration> {
        let first = *self.received.iter().min()?;
        let at = self.origin + Duration::from_nanos(first.saturating_sub(1));
        at.checked_duration_since(since)
    }

    /// Per request: its publish time and its publish-to-reply time, in nanoseconds.
    fn sent_and_latency_ns(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.sent
            .iter()
            .zip(&self.received)
            .map(|(s, r)| (*s, r.saturating_sub(*s)))
    }

    /// One line per request, in publishing order: milliseconds from the run's first
    /// publish to this one's, and its publish-to-reply time (a tail's trace over time).
    pub fn trace_csv(&self) -> String {
        let first = self.sent.iter().min().copied().unwrap_or(0);
        let mut lines: Vec<(u64, u64)> = self.sent_and_latency_ns().collect();
        lines.sort_unstable();
        let mut csv = String::from("sent_ms,latency_ms\n");
        for (sent, latency) in lines {
            let _ = writeln!(
                csv,
                "{:.3},{:.3}",
                sent.saturating_sub(first) as f64 / 1e6,
                latency as f64 / 1e6
            );
        }
        csv
    }

    /// Publish-to-reply times in milliseconds, sorted.
    pub fn latencies_ms(&self) -> Vec<f64> {
        let mut l: Vec<f64> = self
            .sent_and_latency_ns()
            .map(|(_, latency)| latency as f64 / 1e6)
            .collect();
        l.sort_by(f64::total_cmp);
        l
    }
}

/// Seed 004's PUT example (tests/fixtures/customer_put.json), compact, split around its
/// code so that request i gets its own customer (and customeruser) codes.
fn put_template() -> &'static [String] {
    static TEMPLATE: OnceLock<Vec<String>> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let seed: Json = serde_json::from_str(SEED_PUT).unwrap_or(Json::Null);
        let compact = serde_json::to_string(&seed).unwrap_or_default();
        compact.split(SEED_CODE).map(str::to_string).collect()
    })
}

const SEED_PUT: &str = include_str!("../../tests/fixtures/customer_put.json");
const SEED_CODE: &str = "C0000001";

/// The code of PUT number `i` of the run tagged `tag`.
pub fn put_code(tag: &str, i: usize) -> String {
    format!("{tag}{i:08}")
}

/// PUT number `i`: seed 004's example with the code `put_code(tag, i)` everywhere the
/// seed has its own (customer code, account number, customeruser codes and parent).
pub fn put_body(tag: &str, i: usize) -> Vec<u8> {
    put_template().join(&put_code(tag, i)).into_bytes()
}

/// The request kinds of the GET / LIST section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// GET extended of a random existing code.
    GetByCode,
    /// LIST `name` contains a word found in one row, ordered by name.
    ListSelective,
    /// LIST `name` contains a word found in 2% of the rows, ordered by name.
    ListBroad,
}

impl ReadKind {
    pub fn name(self) -> &'static str {
        match self {
            ReadKind::GetByCode => "get_extended_by_code",
            ReadKind::ListSelective => "list_contains_selective",
            ReadKind::ListBroad => "list_contains_broad",
        }
    }
}

/// Request `i` of a read run on a table of `rows` loaded customers.
pub fn read_body(kind: ReadKind, rows: u64, i: usize) -> Vec<u8> {
    let row = 1 + mix(i as u64) % rows.max(1);
    let body = match kind {
        ReadKind::GetByCode => json!({
            "verb": "GET",
            "code": data::code_of(row),
            "resultType": "extended",
        }),
        ReadKind::ListSelective => list(&data::token_of(row)),
        ReadKind::ListBroad => list(data::broad_word(i as u64)),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

fn list(word: &str) -> Json {
    json!({
        "verb": "LIST",
        "resultType": "simple",
        "filters": {"name": word},
        "orderBy": "nameAsc",
        "limit": 100,
        "offset": 0,
        "settings": {},
    })
}

/// splitmix64: spreads request numbers over the table.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_bodies_carry_their_own_codes_and_the_seed_shape() {
        let body: Json = serde_json::from_slice(&put_body("B07", 42)).unwrap();
        assert_eq!(body["verb"], "PUT");
        assert_eq!(body["customer"]["codecustomer"], "B0700000042");
        assert_eq!(body["customer"]["accountNumber"], "B0700000042");
        assert_eq!(
            body["customeruser"][0]["codecustomeruser"],
            "B0700000042-95"
        );
        assert_eq!(body["customeruser"][1]["customer_ID"], "B0700000042");
        assert_eq!(body["customer"]["name"], "ENTREPRISE DIJON GUICHARD");
        assert!(!String::from_utf8(put_body("B07", 42))
            .unwrap()
            .contains(SEED_CODE));
    }

    #[test]
    fn read_bodies_name_loaded_rows() {
        let get: Json = serde_json::from_slice(&read_body(ReadKind::GetByCode, 10, 3)).unwrap();
        let code = get["code"].as_str().unwrap();
        assert!(code.starts_with('L') && code[1..].parse::<u64>().unwrap() <= 10);
        let list: Json =
            serde_json::from_slice(&read_body(ReadKind::ListSelective, 10, 3)).unwrap();
        assert_eq!(list["orderBy"], "nameAsc");
        assert_eq!(list["filters"]["name"].as_str().unwrap().len(), 7);
    }

    #[test]
    fn rates_and_latencies() {
        let stats = RunStats {
            origin: Instant::now(),
            sent: vec![1, 1_000_001, 2_000_001],
            received: vec![1_000_001_001, 1_500_000_001, 2_000_000_001],
        };
        assert!((stats.reply_rate() - 2.0).abs() < 1e-3);
        assert_eq!(stats.latencies_ms().len(), 3);
        assert!(stats.latencies_ms()[0] <= stats.latencies_ms()[2]);
    }
}
