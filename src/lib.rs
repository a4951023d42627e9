//! webhook-worker: applies ERP webhook requests (GET, PUT, LIST, DELETE) from RabbitMQ to
//! PostgreSQL, one transaction per request, publishes a reply, and dead-letters what cannot
//! succeed as sent. `SPEC.md` (shared with the project) is the contract.
//!
//! # Layout
//!
//! Layers with one direction: transport → request decoding → engine → reply encoding.
//!
//! - [`transport`]: AMQP only: connection with backoff, topology names and declaration,
//!   confirmed publishing, the `webhook-*` dead-letter headers. Never SQL.
//! - [`request`]: an [`request::Envelope`] (bytes and properties) becomes a
//!   [`request::Request`] or a [`request::DecodeError`].
//! - [`engine`]: a request plus an [`engine::definition::EntityDef`] becomes SQL in one
//!   transaction (validate, check foreign keys, upsert, read, delete, dedup by
//!   message_id). No AMQP, no metrics.
//! - [`entities`]: the definitions, data only, and the registry ([`entities::all`]).
//! - [`reply`]: an outcome or an error becomes the reply body. Pure.
//! - [`pipeline`]: one delivery's life: decode, apply with retries, reply, dead-letter,
//!   ack; metrics and the request span.
//! - [`ordering`]: same-code requests in arrival order, others concurrent.
//! - [`startup`]: build the worker, consume, reconnect, drain on shutdown.
//! - [`ops`]: Prometheus metrics and the /metrics, /healthz, /readyz server.
//! - [`config`], [`cli`], [`telemetry`], [`database`]: settings, command line, logs,
//!   database creation and migrations.
//! - [`call`], [`import`], [`dlq`]: the `call`, `import` and `dlq` subcommands.
//! - [`schema`]: the AsyncAPI document of the messages (`schema` subcommand).

pub mod bench;
pub mod call;
pub mod cli;
pub mod config;
pub mod database;
pub mod dlq;
pub mod engine;
pub mod entities;
pub mod import;
pub mod ops;
pub mod ordering;
pub mod pipeline;
pub mod reply;
pub mod request;
pub mod schema;
pub mod startup;
pub mod telemetry;
pub mod transport;
