//! ops: what operators look at (SPEC section 7): Prometheus metrics and the HTTP endpoints
//! `/metrics`, `/healthz`, `/readyz`.
//!
//! It must not know about AMQP, the database or requests: others update the metrics and
//! the readiness flags; this module only holds and serves them.

pub mod http;
pub mod metrics;
