//! publisher: confirm-mode publishing. `publish_confirmed` returns only once the broker has
//! taken responsibility for the message, and reports nacks and returned (unroutable)
//! messages as errors: an ack alone does not mean "routed".
//!
//! It must not know what it publishes (replies, dead letters, replays are all bytes plus
//! properties here) nor what the caller does on failure.

use std::sync::Arc;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use tokio::sync::Mutex;

use super::{short_string, TransportError};

/// Publishes with publisher confirms. Cheap to clone: clones share the channels, and each
/// caller awaits only its own confirm, so N concurrent publishes have N confirms
/// outstanding (pipelined by concurrency, no batching code; STYLE section 5).
#[derive(Clone)]
pub struct Publisher {
    /// Confirm-mode channel for non-mandatory publishes, shared by every concurrent caller.
    channel: Channel,
    /// Confirm-mode channel for mandatory publishes, used by one publish at a time. lapin
    /// hands a `basic.return` to the first confirm it resolves next; when RabbitMQ
    /// coalesces confirms (`multiple = true`) that can be another in-flight publish, so a
    /// returned message would be reported on the wrong caller and the unroutable one seen
    /// as delivered. With one outstanding publish on this channel the return is always
    /// ours. Mandatory publishes (dead letters) are the rare path, so the lost pipelining
    /// is cheap.
    mandatory: Arc<Mutex<Channel>>,
}

impl Publisher {
    /// Opens the two channels on `connection` and puts both in confirm mode.
    ///
    /// Returns `Err` when the connection is closed or the broker refuses a channel.
    pub async fn open(connection: &Connection) -> Result<Publisher, TransportError> {
        let channel = confirm_channel(connection).await?;
        let mandatory = confirm_channel(connection).await?;
        Ok(Publisher {
            channel,
            mandatory: Arc::new(Mutex::new(mandatory)),
        })
    }

    /// Handles of its two channels (a channel closes itself when its last handle is
    /// dropped: see startup.rs).
    pub async fn channels(&self) -> [Channel; 2] {
        let mandatory = self.mandatory.lock().await.clone();
        [self.channel.clone(), mandatory]
    }

    /// True while the shared channel is open; false after a channel or connection error,
    /// when the caller should reconnect and open a new `Publisher`.
    pub fn is_open(&self) -> bool {
        self.channel.status().connected()
    }

    /// Publishes `body` with `properties` to `exchange` / `routing_key` and waits for the
    /// broker's confirm.
    ///
    /// Returns `Err` when the publish could not be sent or the channel closed before the
    /// confirm ([`TransportError::Lapin`]), when the broker nacked it
    /// ([`TransportError::Nacked`]), or when `mandatory` is set and no queue is bound for
    /// `routing_key` ([`TransportError::Returned`]). `Ok` means the broker stored it (SPEC
    /// section 6: only then may the request be acked).
    #[tracing::instrument(level = "debug", skip_all, fields(%exchange, %routing_key, mandatory))]
    pub async fn publish_confirmed(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
        mandatory: bool,
    ) -> Result<(), TransportError> {
        let exchange_name = short_string(exchange)?;
        let routing_key_name = short_string(routing_key)?;
        let options = BasicPublishOptions {
            mandatory,
            immediate: false,
        };
        let confirmation = if mandatory {
            // Held until the confirm arrives: see the `mandatory` field.
            let channel = self.mandatory.lock().await;
            channel
                .basic_publish(exchange_name, routing_key_name, options, body, properties)
                .await?
                .await?
        } else {
            self.channel
                .basic_publish(exchange_name, routing_key_name, options, body, properties)
                .await?
                .await?
        };
        check_confirmation(confirmation, exchange, routing_key)
    }
}

async fn confirm_channel(connection: &Connection) -> Result<Channel, TransportError> {
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

/// The broker's answer as a result. A returned message wins over ack/nack: it says why.
fn check_confirmation(
    confirmation: Confirmation,
    exchange: &str,
    routing_key: &str,
) -> Result<(), TransportError> {
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
            Err(TransportError::Returned {
                exchange: exchange.to_owned(),
                routing_key: routing_key.to_owned(),
                reply_text: returned.reply_text.to_string(),
            })
        }
        Confirmation::Nack(None) => Err(TransportError::Nacked {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
        }),
        Confirmation::NotRequested => Err(TransportError::NotConfirmed {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_ack_is_success() {
        assert!(check_confirmation(Confirmation::Ack(None), "webhook", "customer").is_ok());
    }

    #[test]
    fn a_nack_is_an_error() {
        let result = check_confirmation(Confirmation::Nack(None), "webhook", "customer");
        assert!(matches!(
            result,
            Err(TransportError::Nacked { exchange, routing_key })
                if exchange == "webhook" && routing_key == "customer"
        ));
    }

    #[test]
    fn no_confirm_is_an_error() {
        let result = check_confirmation(Confirmation::NotRequested, "webhook", "customer");
        assert!(matches!(result, Err(TransportError::NotConfirmed { .. })));
    }
}
