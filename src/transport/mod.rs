//! transport: everything AMQP. Connecting to RabbitMQ (`connection`), the names and the
//! declaration of every exchange and queue (`topology`), publishing with confirms
//! (`publisher`), acking deliveries in batches (`settle`) and the `webhook-*` dead-letter
//! headers (`dead_letter`).
//!
//! It must not know about the database, the engine or the reply format: it moves bytes,
//! properties and headers, and reports broker faults as [`TransportError`], which is never
//! a reply code (STYLE section 3).

pub mod connection;
pub mod dead_letter;
pub mod publisher;
pub mod settle;
pub mod topology;

use lapin::types::ShortString;
use lapin::ErrorKind;

/// A broker fault. Returned by declare, publish and connect steps; the pipeline nacks with
/// requeue on any of them (SPEC section 5: "if that publish fails, the original is nacked
/// with requeue: never lost") and reconnects when [`TransportError::is_connection_error`].
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// lapin reported an error: I/O, a closed channel or connection, a protocol error
    /// (PRECONDITION_FAILED when a queue exists with other arguments, NOT_FOUND...).
    #[error(transparent)]
    Lapin(#[from] lapin::Error),
    /// The broker nacked a publish: it could not take responsibility for the message.
    #[error("broker nacked the publish to exchange {exchange:?} with routing key {routing_key:?}")]
    Nacked {
        exchange: String,
        routing_key: String,
    },
    /// A `mandatory` publish came back unroutable (`basic.return`, e.g. NO_ROUTE): no
    /// queue is bound for that routing key, so the message is nowhere.
    #[error("publish to exchange {exchange:?} with routing key {routing_key:?} was returned: {reply_text}")]
    Returned {
        exchange: String,
        routing_key: String,
        reply_text: String,
    },
    /// The channel was not in confirm mode, so the broker gave no confirm to wait for. A
    /// [`publisher::Publisher`] always selects confirm mode: this means a bug, not a fault.
    #[error("publish to exchange {exchange:?} with routing key {routing_key:?} was not confirmed (channel not in confirm mode)")]
    NotConfirmed {
        exchange: String,
        routing_key: String,
    },
    /// An exchange, queue or routing key longer than AMQP's 255-byte short string.
    #[error("AMQP name longer than 255 bytes: {name:?}")]
    NameTooLong { name: String },
}

impl TransportError {
    /// True when the connection or the channel the error came from is no longer usable, so
    /// the remedy is to reconnect (and re-declare, re-open channels), not to retry on it.
    /// A soft protocol error (e.g. NOT_FOUND on publish) closes its channel, so it counts.
    /// Nacks and returns leave the channel open: they are about one message.
    pub fn is_connection_error(&self) -> bool {
        match self {
            TransportError::Lapin(error) => match error.kind() {
                ErrorKind::IOError(_)
                | ErrorKind::RuntimeShutdownError(_)
                | ErrorKind::InvalidConnectionState(_)
                | ErrorKind::InvalidChannelState(..)
                | ErrorKind::InvalidChannel(_)
                | ErrorKind::MissingHeartbeatError
                | ErrorKind::ParsingError(_)
                | ErrorKind::ProtocolError(_) => true,
                // ChannelsLimitReached, SerialisationError, AuthProviderError, FutureCompleted,
                // NoDefaultRuntime, InvalidProtocolVersion, and variants added later
                // (ErrorKind is non_exhaustive): not fixed by reconnecting.
                _ => false,
            },
            TransportError::Nacked { .. }
            | TransportError::Returned { .. }
            | TransportError::NotConfirmed { .. }
            | TransportError::NameTooLong { .. } => false,
        }
    }
}

/// Converts a name to an AMQP short string. lapin's `From<&str>` panics past 255 bytes, and
/// names here come from configuration and messages (reply_to), so check instead.
pub(crate) fn short_string(name: &str) -> Result<ShortString, TransportError> {
    ShortString::try_new(name).map_err(|_| TransportError::NameTooLong {
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_over_255_bytes_is_an_error_not_a_panic() {
        let long = "q".repeat(256);
        assert!(matches!(
            short_string(&long),
            Err(TransportError::NameTooLong { .. })
        ));
        assert!(short_string(&"q".repeat(255)).is_ok());
    }

    #[test]
    fn io_errors_are_connection_errors_and_returns_are_not() {
        let io = lapin::Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(TransportError::from(io).is_connection_error());
        let returned = TransportError::Returned {
            exchange: "webhook".into(),
            routing_key: "nowhere".into(),
            reply_text: "NO_ROUTE".into(),
        };
        assert!(!returned.is_connection_error());
        let nacked = TransportError::Nacked {
            exchange: "webhook".into(),
            routing_key: "customer".into(),
        };
        assert!(!nacked.is_connection_error());
    }
}
