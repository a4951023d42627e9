//! telemetry: the tracing subscriber (SPEC section 7: structured logs, JSON selectable),
//! writing to stderr so stdout stays free for subcommands' output (`dlq list`, `call`).
//!
//! It must not know what is logged: spans and fields are the callers' business.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: the filter comes from `RUST_LOG` when set and valid, else
/// from `default_filter` (e.g. `"info"` or `"webhook_worker=debug,lapin=warn"`); one JSON
/// object per line when `json`, human-readable lines otherwise.
///
/// Uses `try_init`: when a subscriber is already installed (a second call, several tests in
/// one process) this call does nothing.
pub fn init_subscriber(json: bool, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: a log file or a container's log gets plain text, and the
    // worker does not pay for escape codes in every request span's fields (issue 8).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // Err only means a subscriber is already installed: keep it, as documented above.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_init_is_harmless() {
        init_subscriber(false, "info");
        init_subscriber(true, "debug");
        tracing::info!("still logging");
    }

    #[test]
    fn an_invalid_default_filter_does_not_panic() {
        init_subscriber(false, "not a [valid filter");
    }
}
