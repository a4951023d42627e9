//! topology: every exchange, queue and binding name of SPEC section 1, prefix-aware, and
//! their idempotent declaration (re-run after each reconnect).
//!
//! This is the one place where the name patterns and the `x-` queue arguments live. It must
//! not know what flows through the queues: no request, reply or entity rules here; an
//! entity is only a name.

use std::fmt;
use std::str::FromStr;

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

use super::{short_string, TransportError};

/// SPEC section 1: the request exchange; every other name extends it.
const REQUEST_EXCHANGE: &str = "webhook";
/// SPEC section 1: `webhook.dlx`, dead letters, routing key = entity.
const DEAD_LETTER_EXCHANGE_SUFFIX: &str = ".dlx";
/// SPEC section 1: `webhook.E.dlq`.
const DEAD_LETTER_QUEUE_SUFFIX: &str = ".dlq";
/// SPEC section 1: `webhook.reply` and `webhook.E.reply`.
const REPLY_SUFFIX: &str = ".reply";

/// RabbitMQ queue arguments (RabbitMQ docs: quorum queues, dead lettering).
const ARG_QUEUE_TYPE: &str = "x-queue-type";
const ARG_DELIVERY_LIMIT: &str = "x-delivery-limit";
const ARG_DEAD_LETTER_EXCHANGE: &str = "x-dead-letter-exchange";
const ARG_DEAD_LETTER_ROUTING_KEY: &str = "x-dead-letter-routing-key";
const QUEUE_TYPE_QUORUM: &str = "quorum";
const QUEUE_TYPE_CLASSIC: &str = "classic";
/// Partitioned mode (per-code order across workers, docs/operating.md): the RabbitMQ plugin
/// exchange type, the header it hashes, and the argument that keeps one active consumer.
const CONSISTENT_HASH: &str = "x-consistent-hash";
const ARG_HASH_HEADER: &str = "hash-header";
const ARG_SINGLE_ACTIVE_CONSUMER: &str = "x-single-active-consumer";
/// The request header carrying the entity code, hashed to choose a partition. Publishers
/// set it in partitioned mode (`call` does); without it a request goes to one partition.
pub const PARTITION_HEADER: &str = "webhook-code";

/// The kind of the request queues (SPEC section 1: quorum by default, classic selectable).
/// Dead-letter and reply queues are always classic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueKind {
    /// Replicated; the broker counts deliveries (`x-delivery-count`) and enforces
    /// `x-delivery-limit` (SPEC section 6).
    #[default]
    Quorum,
    /// Single-node; no delivery count, so no delivery limit.
    Classic,
}

impl QueueKind {
    /// The `x-queue-type` value, also accepted by [`QueueKind::from_str`].
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::Quorum => QUEUE_TYPE_QUORUM,
            QueueKind::Classic => QUEUE_TYPE_CLASSIC,
        }
    }
}

impl fmt::Display for QueueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A queue kind other than `quorum` or `classic`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown queue kind {0:?} (expected \"quorum\" or \"classic\")")]
pub struct UnknownQueueKind(pub String);

impl FromStr for QueueKind {
    type Err = UnknownQueueKind;

    /// Accepts `quorum` or `classic`, case-insensitively and ignoring surrounding blanks.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            QUEUE_TYPE_QUORUM => Ok(QueueKind::Quorum),
            QUEUE_TYPE_CLASSIC => Ok(QueueKind::Classic),
            _ => Err(UnknownQueueKind(s.to_owned())),
        }
    }
}

/// The names of SPEC section 1 under one prefix, and how request queues are declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Prepended as given to every exchange and queue name (SPEC 11.16: `t1.` gives
    /// `t1.webhook`); empty by default.
    prefix: String,
    /// Kind of the request queues.
    kind: QueueKind,
    /// `x-delivery-limit` of quorum request queues (SPEC section 6: set explicitly).
    delivery_limit: u32,
    /// Partition queues per entity; 0 = one request queue (the default).
    partitions: u16,
}

impl Topology {
    pub fn new(prefix: impl Into<String>, kind: QueueKind, delivery_limit: u32) -> Self {
        Topology {
            prefix: prefix.into(),
            kind,
            delivery_limit,
            partitions: 0,
        }
    }

    /// Partitioned mode: requests of each entity are spread over `partitions` queues by a
    /// consistent hash of their [`PARTITION_HEADER`], each queue with a single active
    /// consumer, so that requests for one code are applied in order across several workers.
    pub fn with_partitions(mut self, partitions: u16) -> Self {
        self.partitions = partitions;
        self
    }

    pub fn partitions(&self) -> u16 {
        self.partitions
    }

    /// `{p}webhook.{entity}.hash`: the consistent-hash exchange of partitioned mode.
    pub fn partition_exchange(&self, entity: &str) -> String {
        format!("{}{REQUEST_EXCHANGE}.{entity}.hash", self.prefix)
    }

    /// `{p}webhook.{entity}.p{index}`: one partition queue.
    pub fn partition_queue(&self, entity: &str, index: u16) -> String {
        format!("{}{REQUEST_EXCHANGE}.{entity}.p{index}", self.prefix)
    }

    /// The queues a worker consumes for `entity`: the request queue, and in partitioned
    /// mode every partition queue too (the request queue then only drains what it held).
    pub fn consumed_queues(&self, entity: &str) -> Vec<String> {
        let mut queues = vec![self.request_queue(entity)];
        queues.extend((0..self.partitions).map(|i| self.partition_queue(entity, i)));
        queues
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn kind(&self) -> QueueKind {
        self.kind
    }

    pub fn delivery_limit(&self) -> u32 {
        self.delivery_limit
    }

    /// `{p}webhook`: requests, routing key = entity.
    pub fn request_exchange(&self) -> String {
        format!("{}{REQUEST_EXCHANGE}", self.prefix)
    }

    /// `{p}webhook.{entity}`: the requests of one entity.
    pub fn request_queue(&self, entity: &str) -> String {
        format!("{}{REQUEST_EXCHANGE}.{entity}", self.prefix)
    }

    /// `{p}webhook.dlx`: dead letters, routing key = entity.
    pub fn dead_letter_exchange(&self) -> String {
        format!(
            "{}{REQUEST_EXCHANGE}{DEAD_LETTER_EXCHANGE_SUFFIX}",
            self.prefix
        )
    }

    /// `{p}webhook.{entity}.dlq`: the dead letters of one entity.
    pub fn dead_letter_queue(&self, entity: &str) -> String {
        format!(
            "{}{REQUEST_EXCHANGE}.{entity}{DEAD_LETTER_QUEUE_SUFFIX}",
            self.prefix
        )
    }

    /// `{p}webhook.reply`: replies of requests without `reply_to`, routing key = entity.
    pub fn reply_exchange(&self) -> String {
        format!("{}{REQUEST_EXCHANGE}{REPLY_SUFFIX}", self.prefix)
    }

    /// `{p}webhook.{entity}.reply`: the default reply queue of one entity.
    pub fn reply_queue(&self, entity: &str) -> String {
        format!("{}{REQUEST_EXCHANGE}.{entity}{REPLY_SUFFIX}", self.prefix)
    }

    /// Declares SPEC section 1 for `entities`: the three durable direct exchanges, then per
    /// entity the request queue, its dead-letter queue and its reply queue, each bound with
    /// key = entity. Idempotent: declaring what exists with the same arguments is a no-op.
    ///
    /// Returns `Err` on any broker refusal. Notably a queue that exists with other
    /// arguments (another kind or delivery limit) is PRECONDITION_FAILED, which also closes
    /// `channel`: we surface it rather than guess which side is right.
    #[tracing::instrument(skip_all, fields(prefix = %self.prefix, kind = %self.kind))]
    pub async fn declare(
        &self,
        channel: &Channel,
        entities: &[&str],
    ) -> Result<(), TransportError> {
        for exchange in self.exchanges() {
            channel
                .exchange_declare(
                    short_string(&exchange)?,
                    ExchangeKind::Direct,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
        }
        for entity in entities {
            let queues = [
                (
                    self.request_queue(entity),
                    self.request_exchange(),
                    self.request_queue_arguments(entity),
                ),
                (
                    self.dead_letter_queue(entity),
                    self.dead_letter_exchange(),
                    classic_arguments(),
                ),
                (
                    self.reply_queue(entity),
                    self.reply_exchange(),
                    classic_arguments(),
                ),
            ];
            for (queue, exchange, arguments) in queues {
                declare_bound_queue(channel, &queue, &exchange, entity, arguments).await?;
            }
            if self.partitions > 0 {
                self.declare_partitions(channel, entity).await?;
            }
        }
        tracing::debug!(entities = entities.len(), "topology declared");
        Ok(())
    }

    /// Deletes the queues of `entities` (with their messages) and the three exchanges. For
    /// tests' cleanup and operators' teardown; deleting what does not exist is not an error.
    #[tracing::instrument(skip_all, fields(prefix = %self.prefix))]
    pub async fn delete(&self, channel: &Channel, entities: &[&str]) -> Result<(), TransportError> {
        for entity in entities {
            for queue in [
                self.request_queue(entity),
                self.dead_letter_queue(entity),
                self.reply_queue(entity),
            ]
            .into_iter()
            .chain((0..self.partitions).map(|i| self.partition_queue(entity, i)))
            {
                channel
                    .queue_delete(short_string(&queue)?, QueueDeleteOptions::default())
                    .await?;
            }
            if self.partitions > 0 {
                let exchange = short_string(&self.partition_exchange(entity))?;
                channel
                    .exchange_delete(exchange, ExchangeDeleteOptions::default())
                    .await?;
            }
        }
        for exchange in self.exchanges() {
            channel
                .exchange_delete(short_string(&exchange)?, ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }

    /// Partitioned mode for one entity: `webhook` → (key entity) → the consistent-hash
    /// exchange → the partition queues (weight 1 each, single active consumer, the request
    /// queue's arguments); the request queue is unbound so each request is routed once.
    async fn declare_partitions(
        &self,
        channel: &Channel,
        entity: &str,
    ) -> Result<(), TransportError> {
        let exchange = self.partition_exchange(entity);
        let mut arguments = FieldTable::default();
        arguments.insert(ARG_HASH_HEADER.into(), long_string(PARTITION_HEADER));
        let options = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        let kind = ExchangeKind::Custom(CONSISTENT_HASH.to_string());
        channel
            .exchange_declare(short_string(&exchange)?, kind, options, arguments)
            .await?;
        let (source, key) = (
            short_string(&self.request_exchange())?,
            short_string(entity)?,
        );
        channel
            .exchange_bind(
                short_string(&exchange)?,
                source.clone(),
                key.clone(),
                Default::default(),
                FieldTable::default(),
            )
            .await?;
        for index in 0..self.partitions {
            let mut arguments = self.request_queue_arguments(entity);
            arguments.insert(ARG_SINGLE_ACTIVE_CONSUMER.into(), AMQPValue::Boolean(true));
            // For a consistent-hash exchange the binding key is the partition's weight.
            declare_bound_queue(
                channel,
                &self.partition_queue(entity, index),
                &exchange,
                "1",
                arguments,
            )
            .await?;
        }
        channel
            .queue_unbind(
                short_string(&self.request_queue(entity))?,
                source,
                key,
                FieldTable::default(),
            )
            .await?;
        Ok(())
    }

    fn exchanges(&self) -> [String; 3] {
        [
            self.request_exchange(),
            self.dead_letter_exchange(),
            self.reply_exchange(),
        ]
    }

    /// SPEC sections 1 and 6. Quorum: the broker counts deliveries and stops at the limit.
    /// Both kinds: past the limit (or on a reject without requeue) the broker dead-letters
    /// to the DLX with key = entity. That is only a backstop: the worker dead-letters
    /// first, as INTERNAL with its `webhook-*` headers (SPEC section 6).
    fn request_queue_arguments(&self, entity: &str) -> FieldTable {
        let mut arguments = FieldTable::default();
        arguments.insert(ARG_QUEUE_TYPE.into(), long_string(self.kind.as_str()));
        if self.kind == QueueKind::Quorum {
            arguments.insert(
                ARG_DELIVERY_LIMIT.into(),
                AMQPValue::LongLongInt(i64::from(self.delivery_limit)),
            );
        }
        arguments.insert(
            ARG_DEAD_LETTER_EXCHANGE.into(),
            long_string(&self.dead_letter_exchange()),
        );
        arguments.insert(ARG_DEAD_LETTER_ROUTING_KEY.into(), long_string(entity));
        arguments
    }
}

/// Dead-letter and reply queues: classic, stated explicitly so that a broker whose default
/// queue type is quorum still gives SPEC section 1's "classic, no delivery limit".
fn classic_arguments() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(ARG_QUEUE_TYPE.into(), long_string(QUEUE_TYPE_CLASSIC));
    arguments
}

fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// Declares one durable queue and binds it to `exchange` with `routing_key`.
async fn declare_bound_queue(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    routing_key: &str,
    arguments: FieldTable,
) -> Result<(), TransportError> {
    channel
        .queue_declare(
            short_string(queue)?,
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await?;
    channel
        .queue_bind(
            short_string(queue)?,
            short_string(exchange)?,
            short_string(routing_key)?,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(table: &'a FieldTable, key: &str) -> Option<&'a AMQPValue> {
        table.inner().get(key)
    }

    #[test]
    fn names_follow_spec_section_1_without_prefix() {
        let topology = Topology::new("", QueueKind::Quorum, 20);
        assert_eq!(topology.request_exchange(), "webhook");
        assert_eq!(topology.request_queue("customer"), "webhook.customer");
        assert_eq!(topology.dead_letter_exchange(), "webhook.dlx");
        assert_eq!(
            topology.dead_letter_queue("customer"),
            "webhook.customer.dlq"
        );
        assert_eq!(topology.reply_exchange(), "webhook.reply");
        assert_eq!(topology.reply_queue("customer"), "webhook.customer.reply");
    }

    #[test]
    fn prefix_is_prepended_as_given() {
        // SPEC 11.16: TOPOLOGY_PREFIX=t1. gives t1.webhook, t1.webhook.customer.
        let topology = Topology::new("t1.", QueueKind::Quorum, 20);
        assert_eq!(topology.request_exchange(), "t1.webhook");
        assert_eq!(topology.request_queue("customer"), "t1.webhook.customer");
        assert_eq!(topology.dead_letter_exchange(), "t1.webhook.dlx");
        assert_eq!(topology.dead_letter_queue("event"), "t1.webhook.event.dlq");
        assert_eq!(topology.reply_exchange(), "t1.webhook.reply");
        assert_eq!(topology.reply_queue("event"), "t1.webhook.event.reply");
    }

    #[test]
    fn queue_kind_parses_quorum_and_classic_only() {
        assert_eq!("quorum".parse(), Ok(QueueKind::Quorum));
        assert_eq!(" Classic ".parse(), Ok(QueueKind::Classic));
        assert!("stream".parse::<QueueKind>().is_err());
        assert_eq!(QueueKind::default(), QueueKind::Quorum);
        assert_eq!(QueueKind::Classic.to_string(), "classic");
    }

    #[test]
    fn quorum_request_queue_has_delivery_limit_and_dead_letter_backstop() {
        let topology = Topology::new("t1.", QueueKind::Quorum, 7);
        let arguments = topology.request_queue_arguments("customer");
        assert_eq!(
            value(&arguments, ARG_QUEUE_TYPE),
            Some(&long_string("quorum"))
        );
        assert_eq!(
            value(&arguments, ARG_DELIVERY_LIMIT),
            Some(&AMQPValue::LongLongInt(7))
        );
        assert_eq!(
            value(&arguments, ARG_DEAD_LETTER_EXCHANGE),
            Some(&long_string("t1.webhook.dlx"))
        );
        assert_eq!(
            value(&arguments, ARG_DEAD_LETTER_ROUTING_KEY),
            Some(&long_string("customer"))
        );
    }

    #[test]
    fn classic_request_queue_has_no_delivery_limit_but_keeps_the_backstop() {
        let topology = Topology::new("", QueueKind::Classic, 7);
        let arguments = topology.request_queue_arguments("event");
        assert_eq!(
            value(&arguments, ARG_QUEUE_TYPE),
            Some(&long_string("classic"))
        );
        assert_eq!(value(&arguments, ARG_DELIVERY_LIMIT), None);
        assert_eq!(
            value(&arguments, ARG_DEAD_LETTER_EXCHANGE),
            Some(&long_string("webhook.dlx"))
        );
        assert_eq!(
            value(&arguments, ARG_DEAD_LETTER_ROUTING_KEY),
            Some(&long_string("event"))
        );
    }
}
