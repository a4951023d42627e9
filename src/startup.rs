//! The worker's life: `Worker::build` does every fallible step of start-up (database,
//! migrations, metrics listener); `run_until_stopped` connects to RabbitMQ (reconnecting
//! with backoff), declares the topology, consumes every served entity's queue with a
//! bounded number of requests in flight, and drains on shutdown (SPEC sections 6 and 7).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::database::{self, DatabaseError, Db};
use crate::engine::error::EngineError;
use crate::engine::known::Known;
use crate::entities::Registry;
use crate::ops::http::{self, Readiness};
use crate::ops::metrics::Metrics;
use crate::ordering::Ordering;
use crate::pipeline::{self, Context};
use crate::request;
use crate::transport::connection::{connect_with_backoff, safe_url, CONNECTION_NAME};
use crate::transport::publisher::Publisher;
use crate::transport::settle::Settler;
use crate::transport::topology::Topology;
use crate::transport::TransportError;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("unknown entity {0:?} in --entities")]
    UnknownEntity(String),
}

/// A worker ready to run.
pub struct Worker {
    settings: Arc<Settings>,
    registry: Registry,
    entities: Vec<&'static str>,
    db: Db,
    known: Arc<Known>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    listener: Option<TcpListener>,
}

impl Worker {
    /// Check the settings, prepare the database, bind the metrics listener.
    pub async fn build(settings: Settings) -> Result<Worker, StartupError> {
        let registry = Registry::standard();
        let entities = served_entities(&registry, &settings.entities)?;
        let pool = database::prepare_warm(
            &settings.connections.database_url,
            settings.db_pool_size,
            settings.lock_timeout_ms,
            Some(warm_up(registry.clone(), &entities)),
        )
        .await?;
        let listener = TcpListener::bind(settings.metrics_addr)
            .await
            .map_err(|source| StartupError::Listen {
                addr: settings.metrics_addr,
                source,
            })?;
        Ok(Worker {
            known: Arc::new(Known::new(settings.reference_cache())),
            settings: Arc::new(settings),
            registry,
            entities,
            db: Db::new(pool),
            metrics: Arc::new(Metrics::new()?),
            readiness: Arc::new(Readiness::new()),
            listener: Some(listener),
        })
    }

    fn take_listener(&mut self) -> Option<TcpListener> {
        self.listener.take()
    }

    /// Where /metrics, /healthz and /readyz listen (the real port when 0 was asked).
    pub fn metrics_addr(&self) -> SocketAddr {
        self.listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .unwrap_or(self.settings.metrics_addr)
    }

    pub fn pool(&self) -> &PgPool {
        self.db.pool()
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    pub fn readiness(&self) -> Arc<Readiness> {
        self.readiness.clone()
    }

    pub fn topology(&self) -> Topology {
        topology_of(&self.settings)
    }

    /// Run until `shutdown` is cancelled; then stop consuming, let in-flight requests
    /// finish (bounded by the shutdown timeout), and close.
    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) {
        let background = TaskTracker::new();
        let listener = self.take_listener();
        let (metrics, readiness) = (self.metrics.clone(), self.readiness.clone());
        let http_cancel = shutdown.child_token();
        if let Some(listener) = listener {
            background.spawn(async move {
                if let Err(e) = http::serve(listener, metrics, readiness, http_cancel).await {
                    tracing::error!(error = %e, "metrics server stopped");
                }
            });
        }
        background.spawn(watch_database(
            self.db.clone(),
            self.metrics.clone(),
            self.readiness.clone(),
            self.settings.clone(),
            shutdown.clone(),
        ));
        let shared = Shared {
            ordering: Arc::new(Ordering::new()),
            in_flight: Arc::new(Semaphore::new(self.settings.max_in_flight.max(1))),
            tracker: TaskTracker::new(),
        };
        // Named with the topology prefix, so environments sharing a broker are told apart.
        let name = format!(
            "{CONNECTION_NAME} {}",
            self.settings.connections.topology_prefix
        );
        let url = &self.settings.connections.amqp_url;
        let mut failures: u32 = 0;
        while let Some(connection) = connect_with_backoff(url, name.trim(), &shutdown).await {
            tracing::info!(url = %safe_url(&self.settings.connections.amqp_url), "connected to RabbitMQ");
            self.metrics.broker_connected.set(1);
            self.readiness.set_broker(true);
            let served = match self.serve_connection(&connection, &shared, &shutdown).await {
                Ok(served) => {
                    failures = 0;
                    served
                }
                Err(e) => {
                    // A setup that fails at once (e.g. a queue declared elsewhere with other
                    // arguments) would otherwise reconnect in a hot loop.
                    failures = failures.saturating_add(1);
                    let pause = Duration::from_millis(250)
                        .saturating_mul(1 << failures.min(7))
                        .min(Duration::from_secs(30));
                    tracing::error!(error = %e, retry_in = ?pause, "broker setup failed");
                    // Best effort: the connection is dropped either way.
                    let _ = bounded(connection.close(200, "setup failed".into())).await;
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(pause) => {}
                    }
                    Served::Lost
                }
            };
            self.readiness.set_consumers(false);
            self.readiness.set_broker(false);
            self.metrics.broker_connected.set(0);
            if let Served::Stopped(channels) = served {
                drain(&shared.tracker, self.settings.shutdown_timeout()).await;
                // Unacked deliveries go back to their queues when the connection closes.
                match bounded(connection.close(200, "shutdown".into())).await {
                    Some(Ok(())) => {}
                    Some(Err(e)) => tracing::debug!(error = %e, "closing the broker connection"),
                    None => tracing::warn!(
                        "the broker did not confirm the close; dropping the connection"
                    ),
                }
                drop(channels);
                break;
            }
            tracing::warn!("lost the broker connection; reconnecting");
        }
        shutdown.cancel();
        background.close();
        if bounded(background.wait()).await.is_none() {
            tracing::warn!("the metrics server or the database watcher did not stop in time");
        }
        if bounded(self.db.close()).await.is_none() {
            tracing::warn!("database connections were not returned in time");
        }
        tracing::info!("worker stopped");
    }

    /// Serve one broker connection, until shutdown is asked or the connection or a channel
    /// is lost (the caller then reconnects).
    async fn serve_connection(
        &self,
        connection: &Connection,
        shared: &Shared,
        shutdown: &CancellationToken,
    ) -> Result<Served, TransportError> {
        let topology = topology_of(&self.settings);
        let declare = connection.create_channel().await?;
        topology.declare(&declare, &self.entities).await?;
        let ctx = Arc::new(Context {
            db: self.db.clone(),
            known: self.known.clone(),
            registry: self.registry.clone(),
            topology: topology.clone(),
            publisher: Publisher::open(connection).await?,
            metrics: self.metrics.clone(),
            settings: self.settings.clone(),
        });
        let stop = shutdown.child_token();
        let mut consumers = JoinSet::new();
        let mut channels = Vec::new();
        let queues = self
            .entities
            .iter()
            .flat_map(|&e| topology.consumed_queues(e).into_iter().map(move |q| (e, q)));
        for (entity, queue) in queues {
            let channel = connection.create_channel().await?;
            channel
                .basic_qos(self.settings.prefetch, BasicQosOptions::default())
                .await?;
            let consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    format!("webhook-worker.{queue}").into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            channels.push((channel.clone(), consumer.tag()));
            // On the request tracker: the shutdown drain waits for its last acks.
            let settler = Settler::spawn(channel, self.settings.prefetch, &shared.tracker);
            consumers.spawn(consume(
                entity,
                consumer,
                settler,
                ctx.clone(),
                shared.clone(),
                stop.clone(),
            ));
        }
        let depth_channel = connection.create_channel().await?;
        consumers.spawn(poll_dead_letter_depth(
            depth_channel.clone(),
            topology.clone(),
            self.entities.clone(),
            self.metrics.clone(),
            stop.clone(),
        ));
        self.readiness.set_consumers(true);
        tracing::info!(entities = ?self.entities, "consuming");
        // The consumers stop on `shutdown` too (`stop` is its child), so both branches can
        // be ready at once: a stop must never be taken for a lost connection, which skips
        // the drain and drops the connection under the requests still running.
        let stopped = tokio::select! {
            biased;
            _ = shutdown.cancelled() => true,
            _ = consumers.join_next() => shutdown.is_cancelled(),
        };
        stop.cancel();
        if stopped {
            // Stop deliveries; what was delivered but not started is requeued on close.
            for (channel, tag) in &channels {
                let cancel = channel.basic_cancel(tag.clone(), BasicCancelOptions::default());
                match bounded(cancel).await {
                    Some(Ok(())) => {}
                    Some(Err(e)) => tracing::debug!(error = %e, "cancelling a consumer"),
                    None => tracing::warn!("the broker did not confirm a consumer cancel"),
                }
            }
        }
        consumers.shutdown().await;
        if !stopped {
            return Ok(Served::Lost);
        }
        let mut held: Vec<Channel> = channels.into_iter().map(|(channel, _)| channel).collect();
        held.extend([declare, depth_channel]);
        held.extend(ctx.publisher.channels().await);
        Ok(Served::Stopped(held))
    }
}

/// How serving a connection ended.
enum Served {
    /// Shutdown was asked. Every channel the connection opened, to be dropped only after
    /// the connection is closed: lapin closes a channel whose last handle is dropped, and
    /// such closes racing the connection's own close made lapin log "Connection error" at
    /// every graceful stop.
    Stopped(Vec<Channel>),
    /// The connection or a channel was lost.
    Lost,
}

/// What every connection's consumers share: per-code order, the in-flight bound, and the
/// tracker of running requests (drained on shutdown).
#[derive(Clone)]
struct Shared {
    ordering: Arc<Ordering>,
    in_flight: Arc<Semaphore>,
    tracker: TaskTracker,
}

/// Consume one entity's queue until the stream ends (connection lost) or `stop`.
async fn consume(
    entity: &'static str,
    mut consumer: Consumer,
    settler: Settler,
    ctx: Arc<Context>,
    shared: Shared,
    stop: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            next = consumer.next() => next,
        };
        let delivery = match next {
            Some(Ok(delivery)) => delivery,
            Some(Err(e)) => {
                tracing::warn!(%entity, error = %e, "consumer failed");
                return;
            }
            None => return,
        };
        // A delivery dropped here is requeued by the broker when the channel closes.
        let tag = delivery.delivery_tag;
        if !ctx.publisher.is_open() {
            tracing::warn!(%entity, "publisher channel closed");
            settler.forget(tag);
            return;
        }
        let permit = tokio::select! {
            biased;
            _ = stop.cancelled() => {
                settler.forget(tag);
                return;
            }
            permit = shared.in_flight.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => {
                    settler.forget(tag); // the semaphore is never closed
                    return;
                }
            },
        };
        let Some(def) = ctx.registry.get(entity) else {
            settler.forget(tag);
            return;
        };
        let envelope = pipeline::envelope_of(&delivery);
        let decoded = request::decode(&envelope, ctx.settings.max_body_bytes);
        let key = decoded
            .as_ref()
            .ok()
            .and_then(|r| request::ordering_code(r, def.block, def.code))
            .map(|code| format!("{entity}\u{0}{code}"));
        let mut turn = shared.ordering.enter(key);
        let ctx = ctx.clone();
        let settler = settler.clone();
        shared.tracker.spawn(async move {
            turn.wait().await;
            match ctx.registry.get(entity) {
                Some(def) => pipeline::handle(ctx.clone(), def, delivery, decoded, &settler).await,
                None => settler.forget(tag),
            }
            drop(turn);
            drop(permit);
        });
    }
}

/// Each step of stopping may wait at most this long on the broker or the database, so that
/// a shutdown always ends (SPEC section 6: bounded by a timeout).
const STOP_STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// `future`, or None when it takes longer than [`STOP_STEP_TIMEOUT`].
async fn bounded<F: std::future::Future>(future: F) -> Option<F::Output> {
    tokio::time::timeout(STOP_STEP_TIMEOUT, future).await.ok()
}

/// How often the DLQ depth gauge is refreshed.
const DLQ_DEPTH_EVERY: Duration = Duration::from_secs(15);

/// Keep `webhook_dead_letter_queue_depth{entity}` current (SPEC section 7; operators alert on
/// a growing DLQ). Ends with the connection (a channel error) or on `stop`.
async fn poll_dead_letter_depth(
    channel: lapin::Channel,
    topology: Topology,
    entities: Vec<&'static str>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(DLQ_DEPTH_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        for &entity in &entities {
            let options = lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            let name = topology.dead_letter_queue(entity);
            match channel
                .queue_declare(name.as_str().into(), options, FieldTable::default())
                .await
            {
                Ok(queue) => metrics
                    .dead_letter_queue_depth
                    .with_label_values(&[entity])
                    .set(queue.message_count() as i64),
                Err(e) => {
                    tracing::warn!(%entity, error = %e, "cannot read the DLQ depth");
                    return;
                }
            }
        }
    }
}

/// Wait for in-flight requests, at most `timeout` (SPEC section 6, graceful shutdown).
async fn drain(tracker: &TaskTracker, timeout: Duration) {
    tracker.close();
    if tokio::time::timeout(timeout, tracker.wait()).await.is_err() {
        tracing::warn!(
            ?timeout,
            "in-flight requests did not finish in time; they will be redelivered"
        );
    }
}

/// Readiness and pool metrics for the database, and pruning of idempotency records.
async fn watch_database(
    db: Db,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    settings: Arc<Settings>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last_prune: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let up = select_one(&db).await.is_ok();
        readiness.set_database(up);
        metrics.database_connected.set(up as i64);
        let idle = db.num_idle() as i64;
        metrics
            .db_pool_connections
            .with_label_values(&["idle"])
            .set(idle);
        metrics
            .db_pool_connections
            .with_label_values(&["used"])
            .set(db.pool().size() as i64 - idle);
        if up && last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            last_prune = Some(tokio::time::Instant::now());
            match prune(&db, settings.retention()).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "pruned idempotency records"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning idempotency records failed"),
            }
        }
    }
}

/// A round trip to the database.
async fn select_one(db: &Db) -> Result<(), sqlx::Error> {
    let mut conn = db.acquire().await?;
    sqlx::query("SELECT 1").execute(&mut *conn).await?;
    conn.release();
    Ok(())
}

async fn prune(db: &Db, retention: Duration) -> Result<u64, EngineError> {
    let mut conn = db.acquire().await?;
    let n = crate::engine::idempotency::prune(&mut conn, retention).await?;
    conn.release();
    Ok(n)
}

/// Each new connection runs the served entities' statements once before it serves
/// (engine::warm).
fn warm_up(registry: Registry, entities: &[&'static str]) -> database::WarmUp {
    let registry = Arc::new(registry);
    let entities: Arc<[&'static str]> = entities.into();
    Arc::new(move |conn| {
        let registry = registry.clone();
        let entities = entities.clone();
        Box::pin(async move {
            let started = std::time::Instant::now();
            let warmed = crate::engine::warm::warm_up(conn, &registry, &entities).await;
            tracing::debug!(elapsed = ?started.elapsed(), "warmed a database connection");
            warmed.map_err(|e| sqlx::Error::Protocol(format!("warming the connection: {e}")))
        })
    })
}

fn topology_of(settings: &Settings) -> Topology {
    Topology::new(
        settings.connections.topology_prefix.clone(),
        settings.queue_type,
        settings.delivery_limit,
    )
    .with_partitions(settings.partitions)
}

/// The entities of `--entities` (all when empty), checked against the registry.
fn served_entities(
    registry: &Registry,
    wanted: &[String],
) -> Result<Vec<&'static str>, StartupError> {
    let wanted: Vec<&str> = wanted
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if wanted.is_empty() {
        return Ok(registry.names());
    }
    wanted
        .into_iter()
        .map(|w| {
            registry
                .get(w)
                .map(|d| d.name)
                .ok_or_else(|| StartupError::UnknownEntity(w.to_string()))
        })
        .collect()
}
