//! One delivery's life (SPEC sections 5 and 6, STYLE section 5), in this order: decode,
//! apply with retries of transient faults, publish the reply and await its confirm,
//! publish the dead letter and await its confirm, and only then ack. Any publish failure:
//! nack with requeue. Metrics and the request span live here, never in the engine.

use std::sync::Arc;
use std::time::Instant;

use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use tokio_retry::strategy::{jitter, ExponentialBackoff};
use tokio_retry::RetryIf;
use tracing::{field, Instrument};

use crate::config::Settings;
use crate::database::Db;
use crate::engine::definition::EntityDef;
use crate::engine::error::{EngineError, ErrorCode, FieldError};
use crate::engine::known::Known;
use crate::engine::{self, Applied};
use crate::entities::Registry;
use crate::ops::metrics::Metrics;
use crate::reply::{self, Reply};
use crate::request::{self, DecodeError, Envelope, Request};
use crate::transport::dead_letter::{self, header_str};
use crate::transport::publisher::Publisher;
use crate::transport::settle::Settler;
use crate::transport::topology::Topology;
use crate::transport::TransportError;

/// The request header carrying the webhook version (SPEC section 2).
pub const HEADER_WEBHOOK_VERSION: &str = "webhookVersion";
/// Reply headers (SPEC section 3).
pub const HEADER_STATUS: &str = "status";
pub const HEADER_ENTITY: &str = "entity";
pub const HEADER_VERB: &str = "verb";

/// What every delivery of one broker connection shares.
pub struct Context {
    pub db: Db,
    pub known: Arc<Known>,
    pub registry: Registry,
    pub topology: Topology,
    pub publisher: Publisher,
    pub metrics: Arc<Metrics>,
    pub settings: Arc<Settings>,
}

/// The bytes and properties of a delivery, without AMQP types (for `request::decode`).
pub fn envelope_of(delivery: &Delivery) -> Envelope {
    let headers = delivery.properties.headers().as_ref();
    let webhook_version = match headers.and_then(|h| h.inner().get(HEADER_WEBHOOK_VERSION)) {
        None | Some(AMQPValue::Void) => None,
        Some(_) => Some(
            header_str(headers, HEADER_WEBHOOK_VERSION)
                .unwrap_or_else(|| "<unsupported type>".into()),
        ),
    };
    Envelope {
        body: delivery.data.clone(),
        content_type: delivery
            .properties
            .content_type()
            .as_ref()
            .map(|c| c.to_string()),
        webhook_version,
    }
}

/// Why a request was not applied.
enum Failure {
    Decode(DecodeError),
    Engine(EngineError),
}

impl Failure {
    fn code(&self) -> ErrorCode {
        match self {
            Failure::Decode(e) => e.code(),
            Failure::Engine(e) => e.code(),
        }
    }
    fn message(&self) -> String {
        match self {
            Failure::Decode(e) => e.to_string(),
            Failure::Engine(e) => e.to_string(),
        }
    }
    fn details(&self) -> &[FieldError] {
        match self {
            Failure::Decode(_) => &[],
            Failure::Engine(e) => e.details(),
        }
    }
}

/// Handle one delivery to the end: before this returns, it is handed to `settler` to be
/// acked (its reply confirmed), or nacked with requeue.
pub async fn handle(
    ctx: Arc<Context>,
    def: &EntityDef,
    delivery: Delivery,
    decoded: Result<Request, DecodeError>,
    settler: &Settler,
) {
    let props = &delivery.properties;
    let message_id = props.message_id().as_ref().map(|m| m.to_string());
    let correlation_id = props.correlation_id().as_ref().map(|c| c.to_string());
    let (verb, code) = labels(&delivery, &decoded, def, ctx.settings.max_body_bytes);
    // Every field known here is given at creation: each later `record` formats the
    // span's fields again (issue 8: the span was ~5% of a GET's instructions).
    let span = tracing::info_span!(
        "request",
        entity = def.name,
        verb = verb.as_str(),
        code = code.as_deref(),
        message_id = message_id.as_deref().unwrap_or(""),
        correlation_id = correlation_id.as_deref().unwrap_or(""),
        outcome = field::Empty,
    );
    async move {
        let started = Instant::now();
        let m = &ctx.metrics;
        m.requests_received
            .with_label_values(&[def.name, &verb])
            .inc();
        m.in_flight.with_label_values(&[def.name]).inc();
        if dead_letter::replay_count(delivery.properties.headers().as_ref()) > 0 {
            m.replays.with_label_values(&[def.name]).inc();
        }
        let result = match decoded {
            Err(e) => Err(Failure::Decode(e)),
            Ok(request) => apply_with_retries(&ctx, def, &request, message_id.as_deref())
                .await
                .map_err(Failure::Engine),
        };
        let outcome_label = match &result {
            Ok(_) => "ok".to_string(),
            Err(f) => f.code().as_str().to_string(),
        };
        tracing::Span::current().record("outcome", outcome_label.as_str());
        let finished = finish(&ctx, def, &delivery, &verb, code.as_deref(), result).await;
        settler.settle(delivery.delivery_tag, finished.is_ok());
        m.in_flight.with_label_values(&[def.name]).dec();
        m.requests_completed
            .with_label_values(&[def.name, &verb, &outcome_label])
            .inc();
        m.request_duration
            .with_label_values(&[def.name, &verb])
            .observe(started.elapsed().as_secs_f64());
    }
    .instrument(span)
    .await
}

/// The verb and code a reply and the metrics name: from the decoded request, or, when it
/// did not decode, read from the body as far as it is readable (never past the size
/// limit), so that an error reply still names the code it is about (SPEC section 3).
fn labels(
    delivery: &Delivery,
    decoded: &Result<Request, DecodeError>,
    def: &EntityDef,
    max_body_bytes: usize,
) -> (String, Option<String>) {
    if let Ok(r) = decoded {
        return (
            r.verb.as_str().to_string(),
            request::ordering_code(r, def.block, def.code),
        );
    }
    let (verb, code) = request::peek(&delivery.data, max_body_bytes, def.block, def.code);
    let verb = match verb.map(|v| v.to_ascii_uppercase()).as_deref() {
        Some(v @ ("GET" | "PUT" | "LIST" | "DELETE")) => v.to_string(),
        Some(_) | None => "UNKNOWN".to_string(),
    };
    (verb, code)
}

/// SPEC section 6: transient faults are retried with exponential backoff and jitter; other
/// errors are returned at once.
async fn apply_with_retries(
    ctx: &Context,
    def: &EntityDef,
    request: &Request,
    message_id: Option<&str>,
) -> Result<Applied, EngineError> {
    let strategy = ExponentialBackoff::from_millis(2)
        .factor(ctx.settings.retry_base_ms.max(1) / 2 + 1)
        .max_delay(std::time::Duration::from_secs(5))
        .map(jitter)
        .take(ctx.settings.retry_attempts.saturating_sub(1));
    let mut attempt = 0u32;
    RetryIf::start(
        strategy,
        || {
            attempt += 1;
            if attempt > 1 {
                ctx.metrics.retries.with_label_values(&[def.name]).inc();
                tracing::warn!(attempt, "retrying after a transient fault");
            }
            engine::apply(&ctx.db, &ctx.registry, &ctx.known, def, request, message_id)
        },
        EngineError::is_transient,
    )
    .await
}

/// Reply, then dead-letter. `Ok`: the delivery is to be acked; `Err`: requeued (a publish
/// failed, or a transient fault outlived its retries).
async fn finish(
    ctx: &Context,
    def: &EntityDef,
    delivery: &Delivery,
    verb: &str,
    code: Option<&str>,
    result: Result<Applied, Failure>,
) -> Result<(), Requeue> {
    let props = &delivery.properties;
    let failure = match result {
        Ok(applied) => {
            if applied.deduplicated {
                ctx.metrics
                    .deduplicated
                    .with_label_values(&[def.name])
                    .inc();
            }
            let reply = reply::ok(def.name, applied.outcome);
            return publish_reply(ctx, def, props, &reply).await;
        }
        Err(Failure::Engine(e)) if e.is_transient() => {
            // Past its retries. Requeue, unless the broker's delivery limit is reached:
            // then it is dead-lettered as INTERNAL, with the last error (SPEC section 6).
            let deliveries = dead_letter::delivery_count(props.headers().as_ref()) + 1;
            if deliveries < ctx.settings.delivery_limit {
                tracing::warn!(error = %e, deliveries, "transient fault outlived its retries: requeued");
                return Err(Requeue);
            }
            let message = format!("transient fault after {deliveries} deliveries: {e}");
            tracing::error!(%message, "dead-lettering as INTERNAL");
            (ErrorCode::Internal, message, Vec::new())
        }
        Err(f) => (f.code(), f.message(), f.details().to_vec()),
    };
    let (error_code, message, details) = failure;
    let reply = reply::error(def.name, verb, code, error_code, &message, &details);
    let mut published = publish_reply(ctx, def, props, &reply).await;
    if published.is_ok() && error_code.dead_letters() {
        published = publish_dead_letter(ctx, def, delivery, error_code, &message, &details).await;
        if published.is_ok() {
            ctx.metrics
                .dead_lettered
                .with_label_values(&[def.name, error_code.as_str()])
                .inc();
        }
    }
    published
}

/// A publish failed: the delivery goes back to its queue.
struct Requeue;

impl From<TransportError> for Requeue {
    fn from(e: TransportError) -> Self {
        tracing::warn!(error = %e, "publish failed: the request is requeued");
        Requeue
    }
}

/// SPEC section 2: to `reply_to` through the default exchange, else `webhook.reply` / E.
async fn publish_reply(
    ctx: &Context,
    def: &EntityDef,
    props: &BasicProperties,
    reply: &Reply,
) -> Result<(), Requeue> {
    let correlation = props
        .correlation_id()
        .clone()
        .or_else(|| props.message_id().clone());
    let mut headers = FieldTable::default();
    headers.insert(
        HEADER_STATUS.into(),
        AMQPValue::LongString(reply.status.into()),
    );
    headers.insert(HEADER_ENTITY.into(), AMQPValue::LongString(def.name.into()));
    headers.insert(
        HEADER_VERB.into(),
        AMQPValue::LongString(reply.verb.as_str().into()),
    );
    let mut properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_headers(headers);
    if let Some(c) = correlation {
        properties = properties.with_correlation_id(c);
    }
    let (exchange, routing_key) = match props.reply_to() {
        Some(reply_to) => (String::new(), reply_to.to_string()),
        None => (ctx.topology.reply_exchange(), def.name.to_string()),
    };
    ctx.publisher
        .publish_confirmed(
            &exchange,
            &routing_key,
            &reply.to_bytes(),
            properties,
            false,
        )
        .await?;
    Ok(())
}

/// SPEC section 5: the same body and properties, plus the `webhook-*` headers, to
/// `webhook.dlx` / E, mandatory (a missing DLQ must not swallow it) and confirmed.
async fn publish_dead_letter(
    ctx: &Context,
    def: &EntityDef,
    delivery: &Delivery,
    error_code: ErrorCode,
    message: &str,
    details: &[FieldError],
) -> Result<(), Requeue> {
    let details_json = serde_json::to_string(details).unwrap_or_else(|_| "[]".into());
    let headers = dead_letter::dead_letter_headers(
        delivery.properties.headers().as_ref(),
        error_code.as_str(),
        message,
        &details_json,
        &ctx.topology.request_queue(def.name),
        chrono::Utc::now(),
    );
    let properties = delivery
        .properties
        .clone()
        .with_headers(headers)
        .with_delivery_mode(2);
    ctx.publisher
        .publish_confirmed(
            &ctx.topology.dead_letter_exchange(),
            def.name,
            &delivery.data,
            properties,
            true,
        )
        .await?;
    Ok(())
}
