//! dead_letter: the `webhook-*` header names of SPEC section 5 and the pure functions that
//! build them (dead-lettering), strip them (replay) and read them (replay count, delivery
//! count, `dlq list`).
//!
//! It must not know where the error came from: the code, message and details arrive as
//! strings, already in their wire form. No I/O here.

use chrono::{DateTime, SecondsFormat, Utc};
use lapin::types::{AMQPValue, FieldTable, LongString};

/// SPEC section 5: the error code of the reply (section 4), e.g. `INVALID_FOREIGN_KEY`.
pub const HEADER_ERROR_CODE: &str = "webhook-error-code";
/// SPEC section 5: the reply's error message.
pub const HEADER_ERROR_MESSAGE: &str = "webhook-error-message";
/// SPEC section 5: the reply's error details, as JSON.
pub const HEADER_ERROR_DETAILS: &str = "webhook-error-details";
/// SPEC section 5: the queue the request was consumed from.
pub const HEADER_ORIGINAL_QUEUE: &str = "webhook-original-queue";
/// SPEC section 5: when the worker dead-lettered it, RFC 3339.
pub const HEADER_DEAD_LETTERED_AT: &str = "webhook-dead-lettered-at";
/// SPEC section 5: how many times it was replayed before. Ours, not an `x-` header, since
/// the broker owns those and a count kept there does not survive a republish.
pub const HEADER_REPLAY_COUNT: &str = "webhook-replay-count";
/// RabbitMQ's own redelivery count, set on quorum-queue redeliveries (SPEC section 6).
pub const HEADER_DELIVERY_COUNT: &str = "x-delivery-count";

/// Headers a replay removes: the dead letter's diagnosis (SPEC section 5), and the broker's
/// delivery bookkeeping, so the replayed request starts afresh against the delivery limit
/// rather than being taken as past it on its first delivery.
const REPLAY_STRIPPED: [&str; 6] = [
    HEADER_ERROR_CODE,
    HEADER_ERROR_MESSAGE,
    HEADER_ERROR_DETAILS,
    HEADER_ORIGINAL_QUEUE,
    HEADER_DEAD_LETTERED_AT,
    HEADER_DELIVERY_COUNT,
];
/// Broker dead-lettering headers (`x-death`, `x-first-death-*`, `x-last-death-*`), present
/// when the broker's backstop dead-lettered the message; a replay removes them too.
const REPLAY_STRIPPED_PREFIXES: [&str; 3] = ["x-death", "x-first-death-", "x-last-death-"];

/// The headers of a dead letter (SPEC section 5): every header of the original request,
/// plus the `webhook-*` ones. The replay count is carried over from the original (0 for a
/// request never replayed), not incremented: only a replay increments it.
pub fn dead_letter_headers(
    original: Option<&FieldTable>,
    code: &str,
    message: &str,
    details_json: &str,
    original_queue: &str,
    at: DateTime<Utc>,
) -> FieldTable {
    let mut headers = original.cloned().unwrap_or_default();
    let webhook_headers = [
        (HEADER_ERROR_CODE, code),
        (HEADER_ERROR_MESSAGE, message),
        (HEADER_ERROR_DETAILS, details_json),
        (HEADER_ORIGINAL_QUEUE, original_queue),
    ];
    for (name, value) in webhook_headers {
        headers.insert(name.into(), long_string(value));
    }
    let at = at.to_rfc3339_opts(SecondsFormat::Millis, true);
    headers.insert(HEADER_DEAD_LETTERED_AT.into(), long_string(&at));
    let count = replay_count(original);
    headers.insert(HEADER_REPLAY_COUNT.into(), count_value(count));
    headers
}

/// The headers of a replayed request (SPEC section 5, `dlq replay`): the dead letter's
/// headers without the `webhook-error-*`, original-queue and dead-lettered-at ones (and
/// the broker's delivery bookkeeping), with `webhook-replay-count` + 1.
pub fn replay_headers(headers: Option<&FieldTable>) -> FieldTable {
    let mut replayed = FieldTable::default();
    if let Some(headers) = headers {
        for (name, value) in headers {
            if !is_stripped_on_replay(name.as_str()) {
                replayed.insert(name.clone(), value.clone());
            }
        }
    }
    let count = replay_count(headers).saturating_add(1);
    replayed.insert(HEADER_REPLAY_COUNT.into(), count_value(count));
    replayed
}

/// `webhook-replay-count`, 0 when absent or unreadable. Accepts any integer type and
/// decimal strings, since a message may have been republished by other tools.
pub fn replay_count(headers: Option<&FieldTable>) -> u32 {
    header_u32(headers, HEADER_REPLAY_COUNT)
}

/// RabbitMQ's `x-delivery-count`: how many times the broker delivered the message before
/// this delivery (quorum queues only; 0 when absent, e.g. on a first delivery).
pub fn delivery_count(headers: Option<&FieldTable>) -> u32 {
    header_u32(headers, HEADER_DELIVERY_COUNT)
}

/// A header as text: strings as they are (invalid UTF-8 replaced), numbers in decimal;
/// `None` when absent or of another type (tables, arrays, bytes, void, booleans).
pub fn header_str(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    let value = headers?.inner().get(name)?;
    match value {
        AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::Float(number) => Some(number.to_string()),
        AMQPValue::Double(number) => Some(number.to_string()),
        other => integer(other).map(|number| number.to_string()),
    }
}

fn is_stripped_on_replay(name: &str) -> bool {
    REPLAY_STRIPPED.contains(&name)
        || REPLAY_STRIPPED_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// A count header as u32: negative or unparsable is 0, beyond u32 saturates.
fn header_u32(headers: Option<&FieldTable>, name: &str) -> u32 {
    let Some(value) = headers.and_then(|headers| headers.inner().get(name)) else {
        return 0;
    };
    let number = match value {
        AMQPValue::ShortString(text) => text.as_str().trim().parse::<i128>().ok(),
        AMQPValue::LongString(text) => std::str::from_utf8(text.as_bytes())
            .ok()
            .and_then(|text| text.trim().parse::<i128>().ok()),
        other => integer(other),
    };
    match number {
        Some(number) if number > 0 => u32::try_from(number).unwrap_or(u32::MAX),
        _ => 0,
    }
}

/// Any AMQP integer variant, widened.
fn integer(value: &AMQPValue) -> Option<i128> {
    match *value {
        AMQPValue::ShortShortInt(n) => Some(n.into()),
        AMQPValue::ShortShortUInt(n) => Some(n.into()),
        AMQPValue::ShortInt(n) => Some(n.into()),
        AMQPValue::ShortUInt(n) => Some(n.into()),
        AMQPValue::LongInt(n) => Some(n.into()),
        AMQPValue::LongUInt(n) => Some(n.into()),
        AMQPValue::LongLongInt(n) => Some(n.into()),
        _ => None,
    }
}

fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// Counts go on the wire as a signed 64-bit integer (AMQP `l`), which RabbitMQ and every
/// client library read as a number.
fn count_value(count: u32) -> AMQPValue {
    AMQPValue::LongLongInt(i64::from(count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use lapin::types::ShortString;

    fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
        let mut table = FieldTable::default();
        for (name, value) in entries {
            table.insert((*name).into(), value.clone());
        }
        table
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 17, 8, 30, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn dead_letter_keeps_original_headers_and_adds_webhook_headers() {
        let original = table(&[("webhookVersion", AMQPValue::LongInt(2))]);
        let headers = dead_letter_headers(
            Some(&original),
            "INVALID_FOREIGN_KEY",
            "1 foreign key names no existing row",
            r#"[{"block":"customer","field":"baseuser_ID"}]"#,
            "webhook.customer",
            at(),
        );
        let text = |name| header_str(Some(&headers), name);
        assert_eq!(text("webhookVersion").as_deref(), Some("2"));
        assert_eq!(
            text(HEADER_ERROR_CODE).as_deref(),
            Some("INVALID_FOREIGN_KEY")
        );
        assert_eq!(
            text(HEADER_ERROR_MESSAGE).as_deref(),
            Some("1 foreign key names no existing row")
        );
        assert_eq!(
            text(HEADER_ERROR_DETAILS).as_deref(),
            Some(r#"[{"block":"customer","field":"baseuser_ID"}]"#)
        );
        assert_eq!(
            text(HEADER_ORIGINAL_QUEUE).as_deref(),
            Some("webhook.customer")
        );
        assert_eq!(
            text(HEADER_DEAD_LETTERED_AT).as_deref(),
            Some("2024-05-17T08:30:00.000Z")
        );
        assert_eq!(replay_count(Some(&headers)), 0);
    }

    #[test]
    fn dead_letter_carries_over_the_replay_count_without_incrementing() {
        let original = table(&[(HEADER_REPLAY_COUNT, AMQPValue::LongLongInt(3))]);
        let headers = dead_letter_headers(Some(&original), "CONFLICT", "m", "[]", "q", at());
        assert_eq!(replay_count(Some(&headers)), 3);
    }

    #[test]
    fn dead_letter_without_original_headers_has_only_webhook_headers() {
        let headers = dead_letter_headers(None, "MALFORMED_MESSAGE", "m", "[]", "q", at());
        assert_eq!(headers.inner().len(), 6);
        assert_eq!(replay_count(Some(&headers)), 0);
    }

    #[test]
    fn replay_count_accepts_every_integer_type_and_strings() {
        let cases = [
            (AMQPValue::ShortShortInt(1), 1),
            (AMQPValue::ShortShortUInt(2), 2),
            (AMQPValue::ShortInt(3), 3),
            (AMQPValue::ShortUInt(4), 4),
            (AMQPValue::LongInt(5), 5),
            (AMQPValue::LongUInt(6), 6),
            (AMQPValue::LongLongInt(7), 7),
            (AMQPValue::LongString(" 8 ".into()), 8),
            (AMQPValue::ShortString("9".into()), 9),
            (AMQPValue::LongLongInt(-1), 0),
            (AMQPValue::LongLongInt(i64::MAX), u32::MAX),
            (AMQPValue::LongString("many".into()), 0),
            (AMQPValue::Boolean(true), 0),
        ];
        for (value, expected) in cases {
            let headers = table(&[(HEADER_REPLAY_COUNT, value.clone())]);
            assert_eq!(replay_count(Some(&headers)), expected, "{value:?}");
        }
        assert_eq!(replay_count(None), 0);
        assert_eq!(replay_count(Some(&FieldTable::default())), 0);
    }

    #[test]
    fn replay_strips_the_diagnosis_and_increments_the_count() {
        let dead = dead_letter_headers(
            Some(&table(&[
                ("webhookVersion", AMQPValue::LongString("1".into())),
                (HEADER_REPLAY_COUNT, AMQPValue::LongLongInt(1)),
                (HEADER_DELIVERY_COUNT, AMQPValue::LongLongInt(4)),
                ("x-death", AMQPValue::FieldArray(Default::default())),
                (
                    "x-first-death-reason",
                    AMQPValue::LongString("delivery_limit".into()),
                ),
            ])),
            "INTERNAL",
            "m",
            "[]",
            "webhook.customer",
            at(),
        );
        let replayed = replay_headers(Some(&dead));
        let names: Vec<&str> = replayed.inner().keys().map(ShortString::as_str).collect();
        assert_eq!(names, vec![HEADER_REPLAY_COUNT, "webhookVersion"]);
        assert_eq!(replay_count(Some(&replayed)), 2);
    }

    #[test]
    fn replay_of_a_message_without_headers_has_count_one() {
        let replayed = replay_headers(None);
        assert_eq!(replay_count(Some(&replayed)), 1);
    }

    #[test]
    fn header_str_reads_strings_and_numbers() {
        let headers = table(&[
            ("long", AMQPValue::LongString("text".into())),
            ("short", AMQPValue::ShortString("short".into())),
            ("int", AMQPValue::LongInt(-12)),
            ("double", AMQPValue::Double(0.5)),
            ("bool", AMQPValue::Boolean(true)),
        ]);
        assert_eq!(header_str(Some(&headers), "long").as_deref(), Some("text"));
        assert_eq!(
            header_str(Some(&headers), "short").as_deref(),
            Some("short")
        );
        assert_eq!(header_str(Some(&headers), "int").as_deref(), Some("-12"));
        assert_eq!(header_str(Some(&headers), "double").as_deref(), Some("0.5"));
        assert_eq!(header_str(Some(&headers), "bool"), None);
        assert_eq!(header_str(Some(&headers), "absent"), None);
        assert_eq!(header_str(None, "long"), None);
    }

    #[test]
    fn delivery_count_reads_the_brokers_header_or_zero() {
        let headers = table(&[(HEADER_DELIVERY_COUNT, AMQPValue::LongLongInt(3))]);
        assert_eq!(delivery_count(Some(&headers)), 3);
        assert_eq!(delivery_count(Some(&FieldTable::default())), 0);
        assert_eq!(delivery_count(None), 0);
    }
}
