//! `call`: publish requests and wait for their replies through RabbitMQ's direct reply-to
//! (SPEC section 7). Used by the CLI, the README's quick start, and the integration tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, Consumer};
use serde_json::Value as Json;
use tokio::sync::oneshot;

use crate::transport::connection;
use crate::transport::topology::Topology;
use crate::transport::TransportError;

/// RabbitMQ's pseudo-queue for direct reply-to.
pub const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// A received reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub body: Json,
    pub headers: HashMap<String, String>,
    pub correlation_id: Option<String>,
}

/// Request options beyond the body.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    pub message_id: Option<String>,
    pub webhook_version: Option<AMQPValue>,
    pub content_type: Option<String>,
    pub headers: Vec<(String, AMQPValue)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("the reply consumer stopped")]
    Closed,
}

impl From<lapin::Error> for CallError {
    fn from(e: lapin::Error) -> Self {
        CallError::Transport(TransportError::Lapin(e))
    }
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Reply>>>>;

/// A client: one connection, one channel consuming direct reply-to, replies routed to
/// their caller by correlation_id, so many calls can be in flight at once.
pub struct Client {
    connection: Connection,
    channel: Channel,
    topology: Topology,
    waiters: Waiters,
}

/// A channel for requests that wait for their reply: publisher confirms on, and already
/// consuming direct reply-to with no_ack (RabbitMQ's rule: before the first publish).
pub async fn reply_channel(connection: &Connection) -> Result<(Channel, Consumer), lapin::Error> {
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let consumer = channel
        .basic_consume(
            DIRECT_REPLY_TO.into(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer))
}

impl Client {
    pub async fn connect(url: &str, topology: Topology) -> Result<Client, CallError> {
        let connection = connection::connect(url).await?;
        let (channel, mut consumer) = reply_channel(&connection).await?;
        let waiters: Waiters = Arc::default();
        let routes = waiters.clone();
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let reply = reply_of(&delivery);
                let Some(id) = reply.correlation_id.clone() else {
                    continue;
                };
                let waiter = routes.lock().ok().and_then(|mut w| w.remove(&id));
                if let Some(waiter) = waiter {
                    // The caller may have timed out and gone: nothing to do.
                    let _ = waiter.send(reply);
                }
            }
        });
        Ok(Client {
            connection,
            channel,
            topology,
            waiters,
        })
    }

    /// Publish a request (raw body) to `webhook` / `entity` and return its correlation id
    /// and a receiver for its reply.
    pub async fn send_raw(
        &self,
        entity: &str,
        body: &[u8],
        options: &CallOptions,
    ) -> Result<(String, oneshot::Receiver<Reply>), CallError> {
        let message_id = options
            .message_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let correlation = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiters.lock() {
            w.insert(correlation.clone(), tx);
        }
        let mut headers = FieldTable::default();
        if let Some(v) = &options.webhook_version {
            headers.insert("webhookVersion".into(), v.clone());
        }
        for (k, v) in &options.headers {
            headers.insert(k.as_str().into(), v.clone());
        }
        let properties = BasicProperties::default()
            .with_content_type(
                options
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/json".into())
                    .into(),
            )
            .with_message_id(message_id.into())
            .with_correlation_id(correlation.clone().into())
            .with_reply_to(DIRECT_REPLY_TO.into())
            .with_delivery_mode(2)
            .with_headers(headers);
        let confirm = self
            .channel
            .basic_publish(
                self.topology.request_exchange().into(),
                entity.into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                body,
                properties,
            )
            .await?
            .await?;
        if let Some(returned) = confirm.take_message() {
            return Err(CallError::Transport(TransportError::Returned {
                exchange: self.topology.request_exchange(),
                routing_key: entity.to_string(),
                reply_text: returned.reply_text.to_string(),
            }));
        }
        Ok((correlation, rx))
    }

    /// Publish a JSON request and wait for its reply.
    pub async fn call(
        &self,
        entity: &str,
        body: &Json,
        options: &CallOptions,
        wait: Duration,
    ) -> Result<Reply, CallError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let (_, rx) = self.send_raw(entity, &bytes, options).await?;
        wait_reply(rx, wait).await
    }

    pub async fn close(self) {
        // Best effort: the broker drops the connection's resources either way.
        let _ = self.connection.close(200, "bye".into()).await;
    }
}

/// Wait for a reply at most `wait`.
pub async fn wait_reply(rx: oneshot::Receiver<Reply>, wait: Duration) -> Result<Reply, CallError> {
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(_)) => Err(CallError::Closed),
        Err(_) => Err(CallError::Timeout(wait)),
    }
}

fn reply_of(delivery: &lapin::message::Delivery) -> Reply {
    let headers = delivery
        .properties
        .headers()
        .as_ref()
        .map(|h| {
            h.inner()
                .keys()
                .filter_map(|k| {
                    crate::transport::dead_letter::header_str(Some(h), k.as_str())
                        .map(|v| (k.to_string(), v))
                })
                .collect()
        })
        .unwrap_or_default();
    Reply {
        body: serde_json::from_slice(&delivery.data).unwrap_or(Json::Null),
        headers,
        correlation_id: delivery
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.to_string()),
    }
}
