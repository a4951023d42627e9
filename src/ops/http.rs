//! http: the operators' endpoints of SPEC section 7 on `METRICS_ADDR`: `/metrics`
//! (Prometheus text format), `/healthz` (process alive) and `/readyz` (broker and database
//! connected, consumers running), plus [`Readiness`], the flags behind `/readyz`.
//!
//! It must not know how connectivity is observed: startup and the reconnect loops set the
//! flags; this module only reads them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;

const PATH_METRICS: &str = "/metrics";
const PATH_HEALTHZ: &str = "/healthz";
const PATH_READYZ: &str = "/readyz";
/// The Prometheus text exposition format (prometheus::TEXT_FORMAT).
const METRICS_CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;
const BODY_HEALTHY: &str = "ok";
const BODY_READY: &str = "ready";

/// What `/readyz` reports (SPEC section 7): ready when the broker and the database are
/// connected and the consumers run. All false at start. Shared by `Arc`; setters are
/// lock-free so the reconnect loops can call them from any task.
#[derive(Debug, Default)]
pub struct Readiness {
    /// Connected to RabbitMQ.
    broker: AtomicBool,
    /// PostgreSQL answers.
    database: AtomicBool,
    /// The consumers of every served entity are running.
    consumers: AtomicBool,
}

impl Readiness {
    pub fn new() -> Readiness {
        Readiness::default()
    }

    pub fn set_broker(&self, connected: bool) {
        self.broker.store(connected, Ordering::Relaxed);
    }

    pub fn set_database(&self, connected: bool) {
        self.database.store(connected, Ordering::Relaxed);
    }

    pub fn set_consumers(&self, running: bool) {
        self.consumers.store(running, Ordering::Relaxed);
    }

    pub fn broker(&self) -> bool {
        self.broker.load(Ordering::Relaxed)
    }

    pub fn database(&self) -> bool {
        self.database.load(Ordering::Relaxed)
    }

    pub fn consumers(&self) -> bool {
        self.consumers.load(Ordering::Relaxed)
    }

    pub fn is_ready(&self) -> bool {
        self.broker() && self.database() && self.consumers()
    }

    /// The parts that are down, in words for the `/readyz` body; empty when ready.
    pub fn missing(&self) -> Vec<&'static str> {
        let parts = [
            (self.broker(), "broker disconnected"),
            (self.database(), "database disconnected"),
            (self.consumers(), "consumers not running"),
        ];
        parts
            .into_iter()
            .filter(|(up, _)| !up)
            .map(|(_, part)| part)
            .collect()
    }
}

/// What the handlers share.
#[derive(Clone)]
struct OpsState {
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
}

/// The routes, for [`serve`] and for tests.
pub fn router(metrics: Arc<Metrics>, readiness: Arc<Readiness>) -> Router {
    Router::new()
        .route(PATH_METRICS, get(metrics_handler))
        .route(PATH_HEALTHZ, get(healthz_handler))
        .route(PATH_READYZ, get(readyz_handler))
        .with_state(OpsState { metrics, readiness })
}

/// Serves the endpoints on `listener` until `cancel` fires, then finishes the requests in
/// progress and returns. The listener is bound by the caller (startup; tests use port 0).
///
/// Returns `Err` on an I/O error of the listener.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "serving /metrics, /healthz and /readyz");
    }
    axum::serve(listener, router(metrics, readiness))
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}

async fn metrics_handler(State(state): State<OpsState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        state.metrics.encode(),
    )
}

async fn healthz_handler() -> &'static str {
    BODY_HEALTHY
}

async fn readyz_handler(State(state): State<OpsState>) -> (StatusCode, String) {
    let missing = state.readiness.missing();
    if missing.is_empty() {
        (StatusCode::OK, BODY_READY.to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}", missing.join(", ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// One HTTP/1.1 GET over a raw socket (no HTTP client dependency): status line + body.
    async fn http_get(address: std::net::SocketAddr, path: &str) -> Result<String, std::io::Error> {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok(response)
    }

    #[test]
    fn readiness_needs_broker_database_and_consumers() {
        let readiness = Readiness::new();
        assert!(!readiness.is_ready());
        assert_eq!(readiness.missing().len(), 3);
        readiness.set_broker(true);
        readiness.set_database(true);
        assert_eq!(readiness.missing(), vec!["consumers not running"]);
        readiness.set_consumers(true);
        assert!(readiness.is_ready());
        readiness.set_broker(false);
        assert!(!readiness.is_ready());
    }

    #[tokio::test]
    async fn endpoints_answer_and_shutdown_is_graceful() -> TestResult {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let metrics = Arc::new(Metrics::new()?);
        metrics.broker_connected.set(1);
        let readiness = Arc::new(Readiness::new());
        let cancel = CancellationToken::new();
        let server = tokio::spawn(serve(listener, metrics, readiness.clone(), cancel.clone()));

        let health = http_get(address, "/healthz").await?;
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        assert!(health.ends_with("ok"), "{health}");

        let metrics_page = http_get(address, "/metrics").await?;
        assert!(metrics_page.starts_with("HTTP/1.1 200"), "{metrics_page}");
        assert!(
            metrics_page.contains("content-type: text/plain; version=0.0.4"),
            "{metrics_page}"
        );
        assert!(
            metrics_page.contains("webhook_broker_connected 1"),
            "{metrics_page}"
        );

        readiness.set_broker(true);
        let not_ready = http_get(address, "/readyz").await?;
        assert!(not_ready.starts_with("HTTP/1.1 503"), "{not_ready}");
        assert!(
            not_ready.ends_with("not ready: database disconnected, consumers not running"),
            "{not_ready}"
        );

        readiness.set_database(true);
        readiness.set_consumers(true);
        let ready = http_get(address, "/readyz").await?;
        assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
        assert!(ready.ends_with("ready"), "{ready}");

        cancel.cancel();
        let stopped = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
        Ok(())
    }
}
