//! Settings: flag > environment variable > default (SPEC section 7). The only module that
//! reads the environment (through clap's `env`). Defaults work against the local broker and
//! database with no flag. Passwords are redacted in `Debug`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::transport::topology::QueueKind;

/// Where the broker and the database are, and the topology's names. Global flags: they may
/// follow a nested subcommand (`dlq purge customer --topology-prefix t1.`).
#[derive(Clone, Args)]
pub struct Connections {
    /// RabbitMQ URL.
    #[arg(
        long,
        global = true,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// PostgreSQL URL; the database is created if missing.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/webhook"
    )]
    pub database_url: String,
    /// Prefix of every exchange and queue name, prepended as given (SPEC 11.16).
    #[arg(long, global = true, env = "TOPOLOGY_PREFIX", default_value = "")]
    pub topology_prefix: String,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            database_url: "postgres://postgres@127.0.0.1:5432/webhook".into(),
            topology_prefix: String::new(),
        }
    }
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field(
                "amqp_url",
                &crate::transport::connection::safe_url(&self.amqp_url),
            )
            .field(
                "database_url",
                &crate::transport::connection::safe_url(&self.database_url),
            )
            .field("topology_prefix", &self.topology_prefix)
            .finish()
    }
}

/// Everything `webhook-worker run` needs.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub connections: Connections,
    /// Address of /metrics, /healthz and /readyz (port 0 picks a free port).
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9187")]
    pub metrics_addr: SocketAddr,
    /// Entities this process serves, comma-separated; empty = all (SPEC section 1).
    #[arg(long, env = "ENTITIES", value_delimiter = ',', default_value = "")]
    pub entities: Vec<String>,
    /// Request queue type: quorum or classic.
    #[arg(long, env = "QUEUE_TYPE", default_value = "quorum")]
    pub queue_type: QueueKind,
    /// Deliveries of one message before it is dead-lettered as INTERNAL (quorum queues).
    #[arg(long, env = "DELIVERY_LIMIT", default_value_t = 5)]
    pub delivery_limit: u32,
    /// Partition queues per entity (0: off). Spreads requests by a consistent hash of their
    /// `webhook-code` header over queues with a single active consumer each, so that one
    /// code's requests stay in order across several workers (needs the RabbitMQ plugin
    /// rabbitmq_consistent_hash_exchange; docs/operating.md).
    #[arg(long, env = "PARTITIONS", default_value_t = 0)]
    pub partitions: u16,
    /// Unacknowledged deliveries per entity queue (basic.qos).
    #[arg(long, env = "PREFETCH", default_value_t = 64)]
    pub prefetch: u16,
    /// Requests processed at once by this process, all entities together.
    #[arg(long, env = "MAX_IN_FLIGHT", default_value_t = 16)]
    pub max_in_flight: usize,
    /// Largest request body accepted (SPEC section 2).
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = crate::request::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Attempts of a request that meets a transient fault, before it is requeued.
    #[arg(long, env = "RETRY_ATTEMPTS", default_value_t = 4)]
    pub retry_attempts: usize,
    /// First retry delay in milliseconds (doubles each time, with jitter).
    #[arg(long, env = "RETRY_BASE_MS", default_value_t = 100)]
    pub retry_base_ms: u64,
    /// Days an idempotency record (message_id) is kept.
    #[arg(long, env = "RETENTION_DAYS", default_value_t = 7)]
    pub retention_days: u64,
    /// Seconds in-flight requests get to finish on SIGTERM.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,
    /// Longest wait for a row lock (ms) before the attempt fails as a transient fault and is
    /// retried; 0 waits forever.
    #[arg(long, env = "LOCK_TIMEOUT_MS", default_value_t = 10_000)]
    pub lock_timeout_ms: u64,
    /// PostgreSQL connections in the pool.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,
    /// How long (ms) a PUT's lookup answers (generictype codes, existing references,
    /// declared dynamic fields) are reused by later PUTs; 0 looks everything up each time.
    #[arg(long, env = "REFERENCE_CACHE_MS", default_value_t = 1_000)]
    pub reference_cache_ms: u64,
    /// Log as JSON lines.
    #[arg(long, env = "LOG_JSON", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub log_json: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connections: Connections::default(),
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 9187)),
            entities: Vec::new(),
            queue_type: QueueKind::Quorum,
            delivery_limit: 5,
            partitions: 0,
            prefetch: 64,
            max_in_flight: 16,
            max_body_bytes: crate::request::DEFAULT_MAX_BODY_BYTES,
            retry_attempts: 4,
            retry_base_ms: 100,
            retention_days: 7,
            shutdown_timeout_secs: 30,
            lock_timeout_ms: 10_000,
            db_pool_size: 16,
            reference_cache_ms: 1_000,
            log_json: false,
        }
    }
}

impl Settings {
    pub fn retention(&self) -> Duration {
        Duration::from_secs(self.retention_days * 24 * 3600)
    }
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
    pub fn reference_cache(&self) -> Duration {
        Duration::from_millis(self.reference_cache_ms)
    }
}
