//! connection: opening the AMQP connection, once or with backoff until cancelled, and
//! `safe_url` so that no log line ever carries the broker password.
//!
//! It must not know what the connection is for: no topology, no channels, no readiness
//! flags (the caller sets those from the result).

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;

use super::TransportError;

/// Shown as the connection's name in the RabbitMQ management UI, so operators can tell the
/// worker's connections from the ERP's.
pub const CONNECTION_NAME: &str = "webhook-worker";

/// SPEC section 6 ("reconnects with backoff"): first delay, doubled per failure up to the max.
const BACKOFF_INITIAL: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Bounds one attempt: an unreachable host can otherwise hang in TCP connect for minutes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens one connection to `url`, named [`CONNECTION_NAME`], driven by the current tokio
/// runtime (lapin 4 runs its I/O loop on an `async_rs` runtime; with the `default-runtime`
/// feature that is tokio's current handle, so this must be called inside a tokio runtime).
///
/// Returns `Err` when the URL is invalid, the broker is unreachable or refuses the login or
/// the vhost.
pub async fn connect(url: &str) -> Result<Connection, TransportError> {
    connect_named(url, CONNECTION_NAME).await
}

/// [`connect`] with another connection name (the worker adds its topology prefix, so that
/// operators and tests can tell environments apart on one broker).
pub async fn connect_named(url: &str, name: &str) -> Result<Connection, TransportError> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    let runtime = lapin::runtime::default_runtime()?;
    Ok(Connection::connect_with_runtime(url, properties, runtime).await?)
}

/// Connects to `url`, retrying with exponential backoff and jitter (100 ms doubling up to
/// 5 s) and logging each failure without the password. Returns `None` once `cancel` fires
/// (shutdown while the broker is away is not an error), never gives up otherwise.
pub async fn connect_with_backoff(
    url: &str,
    name: &str,
    cancel: &CancellationToken,
) -> Option<Connection> {
    let shown = safe_url(url);
    let mut attempt: u32 = 0;
    loop {
        let result = tokio::select! {
            biased;
            () = cancel.cancelled() => return None,
            result = tokio::time::timeout(CONNECT_TIMEOUT, connect_named(url, name)) => result,
        };
        let error = match result {
            Ok(Ok(connection)) => {
                tracing::info!(url = %shown, attempt, "connected to the broker");
                return Some(connection);
            }
            Ok(Err(error)) => error.to_string(),
            Err(_elapsed) => format!("no answer within {CONNECT_TIMEOUT:?}"),
        };
        let delay = backoff_delay(attempt);
        tracing::warn!(url = %shown, attempt, retry_in = ?delay, %error, "broker connection failed");
        attempt = attempt.saturating_add(1);
        tokio::select! {
            biased;
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// The delay before retry number `attempt` (0-based): `min(100 ms * 2^attempt, 5 s)`, of
/// which the upper half is random ("equal jitter") so that workers restarted together do
/// not reconnect in lockstep, while the delay never collapses to zero.
fn backoff_delay(attempt: u32) -> Duration {
    let ceiling = BACKOFF_INITIAL
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(BACKOFF_MAX);
    let half = ceiling / 2;
    half + tokio_retry::strategy::jitter(half)
}

/// `url` with the password replaced by `***` (`amqp://guest:***@host:5672/%2f`), for logs.
/// A URL without a password is returned unchanged.
pub fn safe_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    // The authority ends at the first '/', '?' or '#'; a '@' after it is not userinfo.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end],
        &userinfo[..colon],
        &url[scheme_end + at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_url_hides_the_password() {
        assert_eq!(
            safe_url("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            safe_url("amqps://user:p%40ss:w@rd@broker.example:5671/vhost?heartbeat=10"),
            "amqps://user:***@broker.example:5671/vhost?heartbeat=10"
        );
    }

    #[test]
    fn safe_url_leaves_urls_without_password_alone() {
        for url in [
            "amqp://127.0.0.1:5672/%2f",
            "amqp://guest@127.0.0.1:5672/%2f",
            "amqp://127.0.0.1/with@at-in-path",
            "not a url",
            "",
        ] {
            assert_eq!(safe_url(url), url);
        }
    }

    #[test]
    fn backoff_doubles_from_100ms_and_stays_under_5s() {
        for attempt in 0..40 {
            let ceiling = Duration::from_millis(100 * 2u64.pow(attempt.min(10))).min(BACKOFF_MAX);
            let delay = backoff_delay(attempt);
            assert!(
                delay >= ceiling / 2,
                "attempt {attempt}: {delay:?} < {:?}",
                ceiling / 2
            );
            assert!(
                delay <= ceiling,
                "attempt {attempt}: {delay:?} > {ceiling:?}"
            );
        }
    }

    #[tokio::test]
    async fn connect_with_backoff_returns_none_when_cancelled() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        // Port 1 on localhost refuses connections; cancellation must win regardless.
        let connection = connect_with_backoff(
            "amqp://guest:guest@127.0.0.1:1/%2f",
            CONNECTION_NAME,
            &cancel,
        )
        .await;
        assert!(connection.is_none());
    }

    #[tokio::test]
    async fn connect_to_a_closed_port_is_an_error() {
        let result = connect("amqp://guest:guest@127.0.0.1:1/%2f").await;
        assert!(result.is_err());
    }
}
