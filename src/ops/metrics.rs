//! metrics: every Prometheus collector of SPEC section 7, in one `Registry` owned by
//! [`Metrics`], built once at start and passed by `Arc`.
//!
//! The registry is our own, never prometheus' global one: two workers in one test process
//! would otherwise collide (`AlreadyReg`). This module only defines and encodes; it must
//! not know when things happen (the pipeline and startup update the collectors).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// SPEC section 7, named per Prometheus conventions (`_total` counters, `_seconds` units).
const REQUESTS_RECEIVED: &str = "webhook_requests_received_total";
const REQUESTS_COMPLETED: &str = "webhook_requests_completed_total";
const REQUEST_DURATION: &str = "webhook_request_duration_seconds";
const DEAD_LETTERED: &str = "webhook_dead_lettered_total";
const RETRIES: &str = "webhook_retries_total";
const DEDUPLICATED: &str = "webhook_deduplicated_total";
const IN_FLIGHT: &str = "webhook_in_flight";
const REPLAYS: &str = "webhook_replays_total";
const DB_POOL_CONNECTIONS: &str = "webhook_db_pool_connections";
const BROKER_CONNECTED: &str = "webhook_broker_connected";
const DATABASE_CONNECTED: &str = "webhook_database_connected";
const DLQ_DEPTH: &str = "webhook_dead_letter_queue_depth";

/// Label names.
pub const LABEL_ENTITY: &str = "entity";
pub const LABEL_VERB: &str = "verb";
pub const LABEL_OUTCOME: &str = "outcome";
pub const LABEL_ERROR_CODE: &str = "error_code";
pub const LABEL_STATE: &str = "state";

/// `outcome` of a request completed without error; otherwise the outcome is its error code.
pub const OUTCOME_OK: &str = "ok";
/// `state` values of `webhook_db_pool_connections`.
pub const POOL_STATE_IDLE: &str = "idle";
pub const POOL_STATE_USED: &str = "used";

/// Processing-time buckets, 1 ms to 10 s: a GET by code is a millisecond, a large PUT with
/// retries can take seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The worker's collectors (SPEC section 7). Labels are listed per field, in order.
pub struct Metrics {
    /// The registry holding every collector below; encoded by [`Metrics::encode`].
    registry: Registry,
    /// Requests taken from a queue. Labels: entity, verb.
    pub requests_received: IntCounterVec,
    /// Requests answered. Labels: entity, verb, outcome ([`OUTCOME_OK`] or an error code).
    pub requests_completed: IntCounterVec,
    /// Time from delivery to ack, seconds. Labels: entity, verb.
    pub request_duration: HistogramVec,
    /// Requests dead-lettered. Labels: entity, error_code.
    pub dead_lettered: IntCounterVec,
    /// Retries of transient faults (each attempt after the first). Labels: entity.
    pub retries: IntCounterVec,
    /// Redeliveries answered from the recorded reply (SPEC section 6). Labels: entity.
    pub deduplicated: IntCounterVec,
    /// Requests being processed now. Labels: entity.
    pub in_flight: IntGaugeVec,
    /// Replayed requests received (their `webhook-replay-count` is above 0). Labels: entity.
    pub replays: IntCounterVec,
    /// Messages in each served entity's dead-letter queue, polled. Labels: entity.
    pub dead_letter_queue_depth: IntGaugeVec,
    /// PostgreSQL pool connections. Labels: state ([`POOL_STATE_IDLE`], [`POOL_STATE_USED`]).
    pub db_pool_connections: IntGaugeVec,
    /// 1 while connected to RabbitMQ, else 0.
    pub broker_connected: IntGauge,
    /// 1 while PostgreSQL answers, else 0.
    pub database_connected: IntGauge,
}

impl Metrics {
    /// Builds every collector and registers it in a new registry.
    ///
    /// Returns `Err` only on an invalid metric definition (a bug caught by the tests).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let entity_verb = [LABEL_ENTITY, LABEL_VERB];
        let metrics = Metrics {
            requests_received: counter_vec(
                REQUESTS_RECEIVED,
                "Webhook requests received.",
                &entity_verb,
            )?,
            requests_completed: counter_vec(
                REQUESTS_COMPLETED,
                "Webhook requests completed, by outcome (ok or an error code).",
                &[LABEL_ENTITY, LABEL_VERB, LABEL_OUTCOME],
            )?,
            request_duration: HistogramVec::new(
                HistogramOpts::new(
                    REQUEST_DURATION,
                    "Webhook request processing time in seconds.",
                )
                .buckets(DURATION_BUCKETS.to_vec()),
                &entity_verb,
            )?,
            dead_lettered: counter_vec(
                DEAD_LETTERED,
                "Webhook requests dead-lettered, by error code.",
                &[LABEL_ENTITY, LABEL_ERROR_CODE],
            )?,
            retries: counter_vec(RETRIES, "Retries after a transient fault.", &[LABEL_ENTITY])?,
            deduplicated: counter_vec(
                DEDUPLICATED,
                "Redelivered requests answered from the recorded reply.",
                &[LABEL_ENTITY],
            )?,
            in_flight: IntGaugeVec::new(
                Opts::new(IN_FLIGHT, "Webhook requests being processed."),
                &[LABEL_ENTITY],
            )?,
            replays: counter_vec(
                REPLAYS,
                "Replayed requests received (webhook-replay-count above 0).",
                &[LABEL_ENTITY],
            )?,
            dead_letter_queue_depth: IntGaugeVec::new(
                Opts::new(
                    DLQ_DEPTH,
                    "Messages waiting in the dead-letter queue, polled.",
                ),
                &[LABEL_ENTITY],
            )?,
            db_pool_connections: IntGaugeVec::new(
                Opts::new(
                    DB_POOL_CONNECTIONS,
                    "Database pool connections, by state (idle, used).",
                ),
                &[LABEL_STATE],
            )?,
            broker_connected: IntGauge::new(BROKER_CONNECTED, "1 when connected to RabbitMQ.")?,
            database_connected: IntGauge::new(
                DATABASE_CONNECTED,
                "1 when PostgreSQL is reachable.",
            )?,
            registry,
        };
        metrics.register_all()?;
        Ok(metrics)
    }

    fn register_all(&self) -> Result<(), prometheus::Error> {
        let registry = &self.registry;
        registry.register(Box::new(self.requests_received.clone()))?;
        registry.register(Box::new(self.requests_completed.clone()))?;
        registry.register(Box::new(self.request_duration.clone()))?;
        registry.register(Box::new(self.dead_lettered.clone()))?;
        registry.register(Box::new(self.retries.clone()))?;
        registry.register(Box::new(self.deduplicated.clone()))?;
        registry.register(Box::new(self.in_flight.clone()))?;
        registry.register(Box::new(self.replays.clone()))?;
        registry.register(Box::new(self.dead_letter_queue_depth.clone()))?;
        registry.register(Box::new(self.db_pool_connections.clone()))?;
        registry.register(Box::new(self.broker_connected.clone()))?;
        registry.register(Box::new(self.database_connected.clone()))?;
        Ok(())
    }

    /// The registry's metrics in Prometheus text format (version 0.0.4). An encoding failure
    /// (not expected with these collectors) is logged and yields what was encoded so far.
    pub fn encode(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "failed to encode metrics");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

fn counter_vec(
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_instances_do_not_collide() {
        let first = Metrics::new();
        let second = Metrics::new();
        assert!(first.is_ok());
        assert!(second.is_ok());
    }

    #[test]
    fn encode_shows_every_metric_with_its_labels() -> Result<(), prometheus::Error> {
        let metrics = Metrics::new()?;
        metrics
            .requests_received
            .with_label_values(&["customer", "GET"])
            .inc();
        metrics
            .requests_completed
            .with_label_values(&["customer", "PUT", "INVALID_FOREIGN_KEY"])
            .inc();
        metrics
            .request_duration
            .with_label_values(&["customer", "GET"])
            .observe(0.003);
        metrics
            .dead_lettered
            .with_label_values(&["customer", "INVALID_FOREIGN_KEY"])
            .inc();
        metrics.retries.with_label_values(&["customer"]).inc();
        metrics.deduplicated.with_label_values(&["customer"]).inc();
        metrics.in_flight.with_label_values(&["customer"]).set(2);
        metrics.replays.with_label_values(&["customer"]).inc();
        metrics
            .db_pool_connections
            .with_label_values(&[POOL_STATE_IDLE])
            .set(3);
        metrics.broker_connected.set(1);
        metrics.database_connected.set(1);

        let text = metrics.encode();

        for line in [
            r#"webhook_requests_received_total{entity="customer",verb="GET"} 1"#,
            r#"webhook_requests_completed_total{entity="customer",outcome="INVALID_FOREIGN_KEY",verb="PUT"} 1"#,
            r#"webhook_request_duration_seconds_bucket{entity="customer",verb="GET",le="0.005"} 1"#,
            r#"webhook_request_duration_seconds_bucket{entity="customer",verb="GET",le="10"} 1"#,
            r#"webhook_dead_lettered_total{entity="customer",error_code="INVALID_FOREIGN_KEY"} 1"#,
            r#"webhook_retries_total{entity="customer"} 1"#,
            r#"webhook_deduplicated_total{entity="customer"} 1"#,
            r#"webhook_in_flight{entity="customer"} 2"#,
            r#"webhook_replays_total{entity="customer"} 1"#,
            r#"webhook_db_pool_connections{state="idle"} 3"#,
            "webhook_broker_connected 1",
            "webhook_database_connected 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        Ok(())
    }

    #[test]
    fn duration_buckets_span_1ms_to_10s() {
        assert_eq!(DURATION_BUCKETS.first(), Some(&0.001));
        assert_eq!(DURATION_BUCKETS.last(), Some(&10.0));
        assert!(DURATION_BUCKETS.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
