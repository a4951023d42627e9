//! Request decoding: an `Envelope` (the body and the few AMQP properties that matter, with
//! no AMQP type) becomes a `Request`, or a `DecodeError` with its SPEC section 4 code.
//! Nothing here touches the database; the entity's blocks stay JSON for the engine.

use serde_json::{Map, Value as Json};

use crate::engine::error::ErrorCode;

/// Default and ceiling of a request body (SPEC section 2, `MAX_BODY_BYTES`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Deepest nesting a body may have (SPEC section 2).
pub const MAX_DEPTH: usize = 64;
/// LIST paging (SPEC section 2).
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// What the transport hands over: bytes and properties, already stripped of AMQP types.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    /// The `webhookVersion` header as sent: `Some(text)` for strings and integers,
    /// `Some("<other>")` for any other AMQP type.
    pub webhook_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Verb {
    Get,
    Put,
    List,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Put => "PUT",
            Verb::List => "LIST",
            Verb::Delete => "DELETE",
        }
    }
    /// PUT and DELETE change data; their message_id is recorded (SPEC section 6).
    pub fn writes(self) -> bool {
        matches!(self, Verb::Put | Verb::Delete)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultType {
    Simple,
    Extended,
    ExtendedRelated,
}

/// `settings` of GET and LIST: `"1"` (or 1) means on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    pub get_indicators: bool,
    pub get_partners: bool,
}

/// A decoded request.
#[derive(Debug, Clone)]
pub struct Request {
    pub verb: Verb,
    /// The code of GET and DELETE (PUT's code is in its entity block).
    pub code: Option<String>,
    pub result_type: ResultType,
    pub settings: Settings,
    /// LIST filters, in the order sent, values as text.
    pub filters: Vec<(String, String)>,
    pub order_by: Option<String>,
    pub limit: u32,
    pub offset: u64,
    /// The body's top level (PUT blocks live here).
    pub body: Map<String, Json>,
    /// 1 or 2 (SPEC section 2).
    pub webhook_version: u8,
}

/// Why a message is not a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("webhook version mismatch: {0}")]
    VersionMismatch(String),
}

impl DecodeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::Malformed(_) => ErrorCode::MalformedMessage,
            DecodeError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            DecodeError::VersionMismatch(_) => ErrorCode::WebhookVersionMismatch,
        }
    }
}

/// Decode an envelope. Errors are checked in the order of SPEC section 4's table.
pub fn decode(envelope: &Envelope, max_body_bytes: usize) -> Result<Request, DecodeError> {
    let body = parse_body(envelope, max_body_bytes)?;
    let verb = match body.get("verb") {
        None => return Err(DecodeError::InvalidRequest("missing verb".into())),
        Some(Json::String(v)) => parse_verb(v)?,
        Some(other) => {
            return Err(DecodeError::InvalidRequest(format!(
                "verb must be a string, got {other}"
            )))
        }
    };
    let webhook_version = parse_webhook_version(envelope.webhook_version.as_deref())?;
    let result_type = match body.get("resultType") {
        None | Some(Json::Null) => ResultType::Simple,
        Some(Json::String(s)) => parse_result_type(s)?,
        Some(other) => {
            return Err(DecodeError::InvalidRequest(format!(
                "unknown resultType {other}"
            )))
        }
    };
    let code = match (verb, body.get("code")) {
        (Verb::Get | Verb::Delete, Some(Json::String(c))) if !c.is_empty() => Some(c.clone()),
        (Verb::Get | Verb::Delete, Some(Json::Number(n))) => Some(n.to_string()),
        (Verb::Get | Verb::Delete, _) => {
            return Err(DecodeError::InvalidRequest("missing code".into()))
        }
        _ => None,
    };
    let (limit, offset) = parse_paging(&body)?;
    Ok(Request {
        verb,
        code,
        result_type,
        settings: parse_settings(body.get("settings"))?,
        filters: parse_filters(body.get("filters"))?,
        order_by: parse_order_by(body.get("orderBy"))?,
        limit,
        offset,
        body,
        webhook_version,
    })
}

fn parse_body(
    envelope: &Envelope,
    max_body_bytes: usize,
) -> Result<Map<String, Json>, DecodeError> {
    if let Some(ct) = &envelope.content_type {
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(DecodeError::Malformed(format!(
                "content_type {ct:?} is not application/json"
            )));
        }
    }
    if envelope.body.len() > max_body_bytes {
        return Err(DecodeError::Malformed(format!(
            "body of {} bytes is larger than {max_body_bytes}",
            envelope.body.len()
        )));
    }
    let text = std::str::from_utf8(&envelope.body)
        .map_err(|e| DecodeError::Malformed(format!("body is not UTF-8: {e}")))?;
    if nesting_depth(text) > MAX_DEPTH {
        return Err(DecodeError::Malformed(format!(
            "body is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(_) => Err(DecodeError::Malformed("body is not a JSON object".into())),
        Err(e) => Err(DecodeError::Malformed(format!("body is not JSON: {e}"))),
    }
}

/// The deepest nesting of arrays and objects, counted on the raw text (outside strings),
/// so that a deep body is refused before the parser recurses into it.
fn nesting_depth(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            // A string is skipped to its closing quote, escapes and all, with a SIMD
            // search: most of a body is strings, and a byte-by-byte loop was ~5% of a
            // PUT's instructions (issue 8).
            b'"' => loop {
                let Some(k) = bytes
                    .get(i..)
                    .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                else {
                    return max; // not closed: the parser tells
                };
                let escape = bytes[i + k] == b'\\';
                i += k + 1;
                if !escape {
                    break;
                }
                i += 1; // the escaped byte
            },
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn parse_verb(v: &str) -> Result<Verb, DecodeError> {
    match v.to_ascii_uppercase().as_str() {
        "GET" => Ok(Verb::Get),
        "PUT" => Ok(Verb::Put),
        "LIST" => Ok(Verb::List),
        "DELETE" => Ok(Verb::Delete),
        _ => Err(DecodeError::InvalidRequest(format!("unknown verb {v:?}"))),
    }
}

fn parse_result_type(s: &str) -> Result<ResultType, DecodeError> {
    match s.to_ascii_lowercase().as_str() {
        "" | "simple" => Ok(ResultType::Simple),
        "extended" => Ok(ResultType::Extended),
        "extendedrelated" => Ok(ResultType::ExtendedRelated),
        _ => Err(DecodeError::InvalidRequest(format!(
            "unknown resultType {s:?}"
        ))),
    }
}

/// SPEC section 2: integer 1 or 2, or the strings "1"/"2"; absent means 1.
fn parse_webhook_version(header: Option<&str>) -> Result<u8, DecodeError> {
    match header.map(str::trim) {
        None => Ok(1),
        Some("1") => Ok(1),
        Some("2") => Ok(2),
        Some(other) => Err(DecodeError::VersionMismatch(format!(
            "unsupported webhookVersion {other:?} (1 or 2)"
        ))),
    }
}

fn parse_settings(settings: Option<&Json>) -> Result<Settings, DecodeError> {
    let map = match settings {
        None | Some(Json::Null) => return Ok(Settings::default()),
        Some(Json::Object(m)) => m,
        Some(other) => {
            return Err(DecodeError::InvalidRequest(format!(
                "settings must be an object, got {other}"
            )))
        }
    };
    let on = |key: &str| {
        map.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case(key)
                && match v {
                    Json::String(s) => s == "1" || s.eq_ignore_ascii_case("true"),
                    Json::Number(n) => n.as_i64() == Some(1),
                    Json::Bool(b) => *b,
                    _ => false,
                }
        })
    };
    Ok(Settings {
        get_indicators: on("getIndicators"),
        get_partners: on("getPartners"),
    })
}

fn parse_filters(filters: Option<&Json>) -> Result<Vec<(String, String)>, DecodeError> {
    let map = match filters {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Object(m)) => m,
        Some(other) => {
            return Err(DecodeError::InvalidRequest(format!(
                "filters must be an object, got {other}"
            )))
        }
    };
    map.iter()
        .map(|(name, value)| match value {
            Json::String(s) => Ok((name.clone(), s.clone())),
            Json::Number(n) => Ok((name.clone(), n.to_string())),
            Json::Bool(b) => Ok((name.clone(), if *b { "1" } else { "0" }.to_string())),
            other => Err(DecodeError::InvalidRequest(format!(
                "filter {name:?} must be a string or a number, got {other}"
            ))),
        })
        .collect()
}

fn parse_order_by(order_by: Option<&Json>) -> Result<Option<String>, DecodeError> {
    match order_by {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(DecodeError::InvalidRequest(format!(
            "orderBy must be a string, got {other}"
        ))),
    }
}

fn parse_paging(body: &Map<String, Json>) -> Result<(u32, u64), DecodeError> {
    let number = |key: &str| -> Result<Option<u64>, DecodeError> {
        match body.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
                DecodeError::InvalidRequest(format!("{key} must be a whole number >= 0, got {n}"))
            }),
            Some(Json::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| {
                DecodeError::InvalidRequest(format!("{key} must be a whole number >= 0, got {s:?}"))
            }),
            Some(other) => Err(DecodeError::InvalidRequest(format!(
                "{key} must be a number, got {other}"
            ))),
        }
    };
    let limit = number("limit")?.unwrap_or(DEFAULT_LIMIT as u64);
    if limit > MAX_LIMIT as u64 {
        return Err(DecodeError::InvalidRequest(format!(
            "limit {limit} is above {MAX_LIMIT}"
        )));
    }
    Ok((limit as u32, number("offset")?.unwrap_or(0)))
}

/// The entity code a request is about, for per-code ordering (SPEC section 6): GET and
/// DELETE's `code`, or the code field of PUT's entity block (matched case-insensitively).
pub fn ordering_code(request: &Request, block: &str, code_field: &str) -> Option<String> {
    if let Some(code) = &request.code {
        return Some(code.clone());
    }
    let entity = request
        .body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(block))?
        .1;
    match entity
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(code_field))?
        .1
    {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The verb and code of a body that did not decode, as far as it is a readable JSON object
/// within `max_body_bytes`, for labelling its error reply.
pub fn peek(
    body: &[u8],
    max_body_bytes: usize,
    block: &str,
    code_field: &str,
) -> (Option<String>, Option<String>) {
    if body.len() > max_body_bytes {
        return (None, None);
    }
    let Ok(Json::Object(map)) = serde_json::from_slice::<Json>(body) else {
        return (None, None);
    };
    let verb = map.get("verb").and_then(Json::as_str).map(String::from);
    let code = match map.get("code") {
        Some(Json::String(c)) if !c.is_empty() => Some(c.clone()),
        Some(Json::Number(n)) => Some(n.to_string()),
        _ => {
            let entity = map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(block))
                .and_then(|(_, v)| v.as_object());
            entity
                .and_then(|e| e.iter().find(|(k, _)| k.eq_ignore_ascii_case(code_field)))
                .and_then(|(_, v)| v.as_str())
                .map(String::from)
        }
    };
    (verb, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(body: &str) -> Envelope {
        Envelope {
            body: body.as_bytes().to_vec(),
            ..Envelope::default()
        }
    }

    fn decode_str(body: &str) -> Result<Request, DecodeError> {
        decode(&envelope(body), DEFAULT_MAX_BODY_BYTES)
    }

    #[test]
    fn verb_is_case_insensitive() {
        assert_eq!(
            decode_str(r#"{"verb":"get","code":"C1"}"#).map(|r| r.verb),
            Ok(Verb::Get)
        );
    }

    #[test]
    fn non_json_non_object_and_non_utf8_bodies_are_malformed() {
        for body in [&b"{"[..], b"[1,2]", b"\"x\"", b"\xff\xfe"] {
            let e = decode(
                &Envelope {
                    body: body.to_vec(),
                    ..Envelope::default()
                },
                1024,
            )
            .unwrap_err();
            assert_eq!(e.code(), ErrorCode::MalformedMessage, "{body:?}");
        }
    }

    #[test]
    fn wrong_content_type_is_malformed() {
        let mut env = envelope(r#"{"verb":"GET","code":"C1"}"#);
        env.content_type = Some("text/plain".into());
        assert_eq!(
            decode(&env, 1024).unwrap_err().code(),
            ErrorCode::MalformedMessage
        );
        env.content_type = Some("application/json; charset=utf-8".into());
        assert!(decode(&env, 1024).is_ok());
    }

    /// The nesting check as it was first written, one byte at a time: the reference.
    fn depth_byte_by_byte(text: &str) -> usize {
        let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
        for b in text.bytes() {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        max
    }

    #[test]
    fn brackets_in_strings_do_not_nest() {
        let text = r#"{"a":"[[{\"x\\","b":[{}],"c":"\\"}"#;
        assert_eq!(nesting_depth(text), 3);
        assert_eq!(depth_byte_by_byte(text), 3);
        assert_eq!(nesting_depth(r#"["[[[\"#), 1);
    }

    #[test]
    fn body_too_large_or_too_deep_is_malformed() {
        let big = format!(r#"{{"verb":"GET","code":"{}"}}"#, "x".repeat(2000));
        assert_eq!(
            decode(&envelope(&big), 1000).unwrap_err().code(),
            ErrorCode::MalformedMessage
        );
        let deep = format!(
            r#"{{"verb":"GET","code":"C","x":{}{}}}"#,
            "[".repeat(70),
            "]".repeat(70)
        );
        assert_eq!(
            decode_str(&deep).unwrap_err().code(),
            ErrorCode::MalformedMessage
        );
        let ok = format!(
            r#"{{"verb":"GET","code":"C","x":{}{}}}"#,
            "[".repeat(60),
            "]".repeat(60)
        );
        assert!(decode_str(&ok).is_ok());
        // brackets inside strings do not count
        let quoted = format!(r#"{{"verb":"GET","code":"{}"}}"#, "[".repeat(100));
        assert!(decode_str(&quoted).is_ok());
    }

    #[test]
    fn unknown_verb_result_type_and_missing_code_are_invalid_requests() {
        for body in [
            r#"{"verb":"PATCH"}"#,
            r#"{"code":"C1"}"#,
            r#"{"verb":"GET"}"#,
            r#"{"verb":"GET","code":"C1","resultType":"full"}"#,
            r#"{"verb":"LIST","limit":1001}"#,
            r#"{"verb":"LIST","limit":-1}"#,
            r#"{"verb":"LIST","filters":{"city":{"a":1}}}"#,
        ] {
            assert_eq!(
                decode_str(body).unwrap_err().code(),
                ErrorCode::InvalidRequest,
                "{body}"
            );
        }
    }

    #[test]
    fn webhook_version_is_1_2_or_absent() {
        for (header, version) in [(None, 1), (Some("1"), 1), (Some("2"), 2)] {
            let mut env = envelope(r#"{"verb":"GET","code":"C1"}"#);
            env.webhook_version = header.map(String::from);
            assert_eq!(decode(&env, 1024).map(|r| r.webhook_version), Ok(version));
        }
        for header in ["3", "abc", ""] {
            let mut env = envelope(r#"{"verb":"GET","code":"C1"}"#);
            env.webhook_version = Some(header.into());
            assert_eq!(
                decode(&env, 1024).unwrap_err().code(),
                ErrorCode::WebhookVersionMismatch
            );
        }
    }

    #[test]
    fn list_defaults_and_settings() {
        let r = decode_str(
            r#"{"verb":"LIST","filters":{"city":"DIJ","n":3},"settings":{"getIndicators":"1"}}"#,
        )
        .unwrap();
        assert_eq!((r.limit, r.offset), (100, 0));
        assert_eq!(
            r.filters,
            vec![("city".into(), "DIJ".into()), ("n".into(), "3".into())]
        );
        assert!(r.settings.get_indicators);
        assert!(!r.settings.get_partners);
    }

    #[test]
    fn peek_reads_verb_and_code_of_a_body_that_did_not_decode() {
        let body = br#"{"verb":"get","code":"C1","resultType":"full"}"#;
        assert_eq!(
            peek(body, 1024, "customer", "codecustomer"),
            (Some("get".into()), Some("C1".into()))
        );
        let put = br#"{"verb":"PUT","customer":{"codecustomer":"C2"}}"#;
        assert_eq!(
            peek(put, 1024, "customer", "codecustomer").1,
            Some("C2".into())
        );
        assert_eq!(peek(body, 10, "customer", "codecustomer"), (None, None));
    }

    #[test]
    fn ordering_code_reads_put_blocks_case_insensitively() {
        let r = decode_str(r#"{"verb":"PUT","Customer":{"CodeCustomer":"C9"}}"#).unwrap();
        assert_eq!(
            ordering_code(&r, "customer", "codecustomer"),
            Some("C9".into())
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// JSON-ish text: the decoder's hard cases are near-JSON, not random bytes.
        fn jsonish() -> impl Strategy<Value = String> {
            let atom = prop_oneof![
                Just("{".to_string()),
                Just("}".to_string()),
                Just("[".to_string()),
                Just("]".to_string()),
                Just(",".to_string()),
                Just(":".to_string()),
                Just("\"verb\"".to_string()),
                Just("\"GET\"".to_string()),
                Just("\"PUT\"".to_string()),
                Just("\"LIST\"".to_string()),
                Just("\"code\"".to_string()),
                Just("\"limit\"".to_string()),
                Just("\"filters\"".to_string()),
                Just("\"resultType\"".to_string()),
                Just("\"\\\"\"".to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                "[a-z0-9 ]{0,8}".prop_map(|s| format!("\"{s}\"")),
            ];
            proptest::collection::vec(atom, 0..60).prop_map(|atoms| atoms.concat())
        }

        proptest! {
            #[test]
            fn decoding_arbitrary_bytes_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
                let envelope = Envelope { body, ..Envelope::default() };
                let _ = decode(&envelope, DEFAULT_MAX_BODY_BYTES);
            }

            #[test]
            fn decoding_json_like_text_gives_a_request_or_a_spec_error(text in jsonish(), version in proptest::option::of("[0-9a-z]{0,3}")) {
                let envelope = Envelope { body: text.into_bytes(), content_type: None, webhook_version: version };
                match decode(&envelope, DEFAULT_MAX_BODY_BYTES) {
                    Ok(request) => prop_assert!(request.limit <= MAX_LIMIT),
                    Err(e) => prop_assert!(matches!(
                        e.code(),
                        ErrorCode::MalformedMessage | ErrorCode::InvalidRequest | ErrorCode::WebhookVersionMismatch
                    )),
                }
            }

            #[test]
            fn nesting_depth_is_never_below_the_parsers_view(depth in 0usize..200) {
                let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
                prop_assert_eq!(nesting_depth(&text), depth);
            }

            #[test]
            fn nesting_depth_skips_strings_as_a_byte_by_byte_scan_does(text in "[\\[\\]{}\"\\\\a]{0,40}") {
                prop_assert_eq!(nesting_depth(&text), depth_byte_by_byte(&text));
            }
        }
    }
}
