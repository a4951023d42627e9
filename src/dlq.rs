//! Dead-letter operations (SPEC section 5): list, show, replay and purge an entity's DLQ.
//! AMQP only: this module never touches the engine or the database.
//!
//! Reading never disturbs a DLQ: messages are fetched unacknowledged on a channel of their
//! own, which is then closed without acking, so every message returns in its order with its
//! headers unchanged. A replay republishes each matching message to `webhook` (key E) with
//! `webhook-replay-count` + 1 and the diagnosis headers removed, waits for the broker's
//! confirm, and only then acks it from the DLQ; messages that do not match are never acked,
//! so they keep their place and order.

use std::collections::BTreeMap;

use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions, QueuePurgeOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};
use serde::Serialize;

use crate::transport::dead_letter::{
    self, header_str, HEADER_DEAD_LETTERED_AT, HEADER_ERROR_CODE, HEADER_ERROR_MESSAGE,
};
use crate::transport::publisher::Publisher;
use crate::transport::topology::Topology;
use crate::transport::TransportError;

/// One dead letter, as `dlq list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetterSummary {
    pub message_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub dead_lettered_at: Option<String>,
    pub replay_count: u32,
}

/// One dead letter in full, as `dlq show` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetterDetail {
    pub properties: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    /// The body, pretty-printed when it is JSON, else as (lossy) text.
    pub body: String,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplaySummary {
    /// Republished (or, with --dry-run, that would be).
    pub replayed: usize,
    /// Looked at and left in place (not matching, or past --limit).
    pub skipped: usize,
    /// Of the messages in the DLQ at the start, those still there (not replayed).
    pub left: u32,
}

/// Which dead letters a replay takes.
#[derive(Debug, Clone, Default)]
pub struct ReplayFilter {
    pub error_code: Option<String>,
    pub message_id: Option<String>,
    pub limit: Option<usize>,
    pub dry_run: bool,
}

impl ReplayFilter {
    fn matches(&self, message: &BasicGetMessage) -> bool {
        let headers = message.delivery.properties.headers().as_ref();
        let code_ok = self
            .error_code
            .as_deref()
            .is_none_or(|c| header_str(headers, HEADER_ERROR_CODE).as_deref() == Some(c));
        let id_ok = self.message_id.as_deref().is_none_or(|id| {
            message
                .delivery
                .properties
                .message_id()
                .as_ref()
                .map(|m| m.as_str())
                == Some(id)
        });
        code_ok && id_ok
    }
}

/// The DLQ of one entity, on one broker connection.
pub struct DeadLetterQueue<'c> {
    connection: &'c Connection,
    topology: Topology,
    entity: String,
}

impl<'c> DeadLetterQueue<'c> {
    pub fn new(connection: &'c Connection, topology: Topology, entity: &str) -> Self {
        DeadLetterQueue {
            connection,
            topology,
            entity: entity.to_string(),
        }
    }

    fn queue(&self) -> String {
        self.topology.dead_letter_queue(&self.entity)
    }

    /// Messages in the DLQ now. `Err` when the queue does not exist.
    pub async fn depth(&self) -> Result<u32, TransportError> {
        let channel = self.connection.create_channel().await?;
        let queue = channel
            .queue_declare(
                self.queue().as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        close(&channel).await;
        Ok(queue.message_count())
    }

    /// Browse up to `limit` messages without disturbing the queue, and map each.
    async fn browse<T>(
        &self,
        limit: usize,
        mut each: impl FnMut(&BasicGetMessage) -> Option<T>,
    ) -> Result<Vec<T>, TransportError> {
        let channel = self.connection.create_channel().await?;
        let mut out = Vec::new();
        let mut seen = 0;
        while seen < limit {
            let got = channel
                .basic_get(
                    self.queue().as_str().into(),
                    BasicGetOptions { no_ack: false },
                )
                .await?;
            let Some(message) = got else { break };
            seen += 1;
            if let Some(item) = each(&message) {
                out.push(item);
            }
        }
        // SPEC 5: close without acking: every message returns, in order, unchanged.
        close(&channel).await;
        Ok(out)
    }

    /// `dlq list`: a summary of the first `limit` dead letters, in queue order.
    pub async fn list(&self, limit: usize) -> Result<Vec<DeadLetterSummary>, TransportError> {
        self.browse(limit, |m| Some(summary(m))).await
    }

    /// `dlq show`: the dead letter with this message_id, if any (the whole queue is browsed).
    pub async fn show(&self, message_id: &str) -> Result<Option<DeadLetterDetail>, TransportError> {
        let depth = self.depth().await? as usize;
        let found = self
            .browse(depth, |m| {
                let id = m
                    .delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.as_str().to_string());
                (id.as_deref() == Some(message_id)).then(|| detail(m))
            })
            .await?;
        Ok(found.into_iter().next())
    }

    /// `dlq replay` (SPEC 5). `progress` is called after each message looked at, with the
    /// number looked at and the number to look at.
    pub async fn replay(
        &self,
        filter: &ReplayFilter,
        publisher: &Publisher,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<ReplaySummary, TransportError> {
        // Only the messages present at the start: a replayed request that fails again comes
        // back at the tail, and must not be replayed twice in one run.
        let total = self.depth().await? as usize;
        let channel = self.connection.create_channel().await?;
        let mut summary = ReplaySummary::default();
        for seen in 0..total {
            let got = channel
                .basic_get(
                    self.queue().as_str().into(),
                    BasicGetOptions { no_ack: false },
                )
                .await?;
            let Some(message) = got else { break };
            let wanted =
                filter.limit.is_none_or(|l| summary.replayed < l) && filter.matches(&message);
            if !wanted {
                summary.skipped += 1;
            } else if filter.dry_run {
                summary.replayed += 1;
            } else {
                self.republish(&message, publisher).await?;
                // SPEC 5: confirm first, then ack from the DLQ. A crash between the two
                // duplicates the request (the idempotency record absorbs it), never loses it.
                message
                    .delivery
                    .acker
                    .ack(BasicAckOptions::default())
                    .await?;
                summary.replayed += 1;
            }
            progress(seen + 1, total);
        }
        // Messages not replayed were never acked: closing returns them in their order. The
        // count is computed, not read back: a quorum queue requeues them a moment after the
        // close, so reading its depth then could miss them.
        close(&channel).await;
        let removed = if filter.dry_run { 0 } else { summary.replayed };
        summary.left = total.saturating_sub(removed) as u32;
        Ok(summary)
    }

    async fn republish(
        &self,
        message: &BasicGetMessage,
        publisher: &Publisher,
    ) -> Result<(), TransportError> {
        let props = &message.delivery.properties;
        let headers = dead_letter::replay_headers(props.headers().as_ref());
        let properties = props.clone().with_headers(headers).with_delivery_mode(2);
        publisher
            .publish_confirmed(
                &self.topology.request_exchange(),
                &self.entity,
                &message.delivery.data,
                properties,
                true,
            )
            .await
    }

    /// `dlq purge`: remove every dead letter; returns how many.
    pub async fn purge(&self) -> Result<u32, TransportError> {
        let channel = self.connection.create_channel().await?;
        let n = channel
            .queue_purge(self.queue().as_str().into(), QueuePurgeOptions::default())
            .await?;
        close(&channel).await;
        Ok(n)
    }
}

async fn close(channel: &Channel) {
    // Closing is what returns unacked messages; an error means the channel is already gone,
    // which returns them too.
    let _ = channel.close(200, "done".into()).await;
}

fn summary(message: &BasicGetMessage) -> DeadLetterSummary {
    let headers = message.delivery.properties.headers().as_ref();
    DeadLetterSummary {
        message_id: message
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.to_string()),
        error_code: header_str(headers, HEADER_ERROR_CODE),
        error_message: header_str(headers, HEADER_ERROR_MESSAGE),
        dead_lettered_at: header_str(headers, HEADER_DEAD_LETTERED_AT),
        replay_count: dead_letter::replay_count(headers),
    }
}

fn detail(message: &BasicGetMessage) -> DeadLetterDetail {
    let props: &BasicProperties = &message.delivery.properties;
    let mut properties = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            properties.insert(k.to_string(), v);
        }
    };
    put(
        "message_id",
        props.message_id().as_ref().map(|s| s.to_string()),
    );
    put(
        "correlation_id",
        props.correlation_id().as_ref().map(|s| s.to_string()),
    );
    put("reply_to", props.reply_to().as_ref().map(|s| s.to_string()));
    put(
        "content_type",
        props.content_type().as_ref().map(|s| s.to_string()),
    );
    put(
        "delivery_mode",
        props.delivery_mode().map(|d| d.to_string()),
    );
    put("timestamp", props.timestamp().map(|t| t.to_string()));
    let mut headers = BTreeMap::new();
    if let Some(table) = props.headers().as_ref() {
        for (name, value) in table {
            let text = header_str(Some(table), name.as_str()).unwrap_or_else(|| describe(value));
            headers.insert(name.to_string(), text);
        }
    }
    let body = match serde_json::from_slice::<serde_json::Value>(&message.delivery.data) {
        Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(&message.delivery.data).into_owned(),
    };
    DeadLetterDetail {
        properties,
        headers,
        body,
    }
}

fn describe(value: &AMQPValue) -> String {
    format!("{value:?}")
}

impl std::fmt::Display for DeadLetterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        write!(
            f,
            "{}\t{}\t{}\t{}\treplays={}",
            dash(&self.message_id),
            dash(&self.error_code),
            dash(&self.dead_lettered_at),
            dash(&self.error_message),
            self.replay_count
        )
    }
}
