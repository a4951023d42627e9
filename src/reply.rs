//! Reply encoding (SPEC section 3): an outcome or an error becomes the reply body. Pure:
//! no AMQP, no database.

use serde_json::{json, Map, Value as Json};

use crate::engine::error::{ErrorCode, FieldError};
use crate::engine::render::JsonText;
use crate::engine::Outcome;

/// `status` header and body field values.
pub const STATUS_OK: &str = "ok";
pub const STATUS_ERROR: &str = "error";

/// A reply ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: &'static str,
    /// `verb` header: the request's verb, or `UNKNOWN` when the body names no known verb.
    pub verb: String,
    pub body: Json,
    /// A result already written as JSON text (a GET's, a PUT's): the body's last key,
    /// `result`.
    pub result_text: Option<JsonText>,
}

/// The first allocation of a reply's bytes.
const REPLY_CAPACITY: usize = 8 * 1024;

impl Reply {
    pub fn to_bytes(&self) -> Vec<u8> {
        // A GET extended is ~4 KB: sized up front instead of doubling from empty, a copy
        // of the whole text each time (issue 8).
        let mut bytes = Vec::with_capacity(REPLY_CAPACITY);
        if serde_json::to_writer(&mut bytes, &self.body).is_err() {
            return Vec::new();
        }
        if let Some(result) = &self.result_text {
            result.append_as_result(&mut bytes);
        }
        bytes
    }
}

fn head(status: &str, entity: &str, verb: &str, code: Option<&str>) -> Map<String, Json> {
    let mut body = Map::new();
    body.insert("status".into(), json!(status));
    body.insert("entity".into(), json!(entity));
    body.insert("verb".into(), json!(verb));
    if let Some(code) = code {
        body.insert("code".into(), json!(code));
    }
    body
}

/// The reply of an applied request.
pub fn ok(entity: &str, outcome: Outcome) -> Reply {
    let mut result_text = None;
    let (verb, body) = match outcome {
        Outcome::Get { code, result } => {
            result_text = Some(result);
            ("GET", head(STATUS_OK, entity, "GET", Some(&code)))
        }
        Outcome::List {
            result,
            count,
            total,
            limit,
            offset,
            has_more,
        } => {
            let mut body = head(STATUS_OK, entity, "LIST", None);
            body.insert("count".into(), json!(count));
            body.insert("total".into(), json!(total));
            body.insert("limit".into(), json!(limit));
            body.insert("offset".into(), json!(offset));
            body.insert("hasMore".into(), json!(has_more));
            body.insert("result".into(), Json::Object(result));
            ("LIST", body)
        }
        Outcome::Put {
            code,
            created,
            result,
        } => {
            let mut body = head(STATUS_OK, entity, "PUT", Some(&code));
            body.insert("created".into(), json!(created));
            result_text = Some(result);
            ("PUT", body)
        }
        Outcome::Delete { code, deleted } => {
            let mut body = head(STATUS_OK, entity, "DELETE", Some(&code));
            body.insert("deleted".into(), Json::Object(deleted));
            ("DELETE", body)
        }
    };
    Reply {
        status: STATUS_OK,
        verb: verb.to_string(),
        body: Json::Object(body),
        result_text,
    }
}

/// The reply of a request that was not applied. `details` lists every offending field.
pub fn error(
    entity: &str,
    verb: &str,
    code: Option<&str>,
    error_code: ErrorCode,
    message: &str,
    details: &[FieldError],
) -> Reply {
    let mut body = head(STATUS_ERROR, entity, verb, code);
    body.insert(
        "error".into(),
        json!({"code": error_code.as_str(), "message": message, "details": details}),
    );
    Reply {
        status: STATUS_ERROR,
        verb: verb.to_string(),
        body: Json::Object(body),
        result_text: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_reply_writes_created_then_its_result_text_last() {
        let block = json!({"customer": {"codecustomer": "C1", "name": "A \"B\""}});
        let outcome = Outcome::Put {
            code: "C1".into(),
            created: true,
            result: serde_json::from_value(block.clone()).unwrap(),
        };
        let reply = ok("customer", outcome);
        let text = String::from_utf8(reply.to_bytes()).unwrap();
        assert_eq!(
            text,
            r#"{"status":"ok","entity":"customer","verb":"PUT","code":"C1","created":true,"result":{"customer":{"codecustomer":"C1","name":"A \"B\""}}}"#
        );
        let body: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(body["result"], block);
    }

    #[test]
    fn a_put_outcome_is_recorded_with_its_result_text_as_it_is_and_read_back() {
        let block = json!({"customer": {"name": "A", "codecustomer": "C1"}});
        let outcome = Outcome::Put {
            code: "C1".into(),
            created: false,
            result: serde_json::from_value(block).unwrap(),
        };
        let saved = outcome.to_record();
        assert_eq!(
            saved,
            r#"{"verb":"PUT","code":"C1","created":false,"result":{"customer":{"name":"A","codecustomer":"C1"}}}"#
        );
        assert_eq!(
            saved,
            serde_json::to_string(&outcome).unwrap(),
            "as serde writes it"
        );
        let back: Outcome = serde_json::from_str(&saved).unwrap();
        assert_eq!(back, outcome);
        let delete = Outcome::Delete {
            code: "C1".into(),
            deleted: Map::new(),
        };
        assert_eq!(delete.to_record(), serde_json::to_string(&delete).unwrap());
    }

    #[test]
    fn a_result_text_goes_last_into_an_object_only() {
        let result: JsonText = serde_json::from_str("[1]").unwrap();
        for (object, expected) in [
            ("{}", r#"{"result":[1]}"#),
            (r#"{"a":1}"#, r#"{"a":1,"result":[1]}"#),
        ] {
            let mut bytes = object.as_bytes().to_vec();
            assert!(result.append_as_result(&mut bytes));
            assert_eq!(String::from_utf8(bytes).unwrap(), expected);
        }
        let mut not_an_object = b"[]".to_vec();
        assert!(!result.append_as_result(&mut not_an_object));
        assert_eq!(not_an_object, b"[]");
    }

    #[test]
    fn get_reply_writes_its_result_text_last() {
        let block = json!({"customer": {"codecustomer": "C1", "name": "A \"B\""}});
        let result: JsonText = serde_json::from_value(block.clone()).unwrap();
        let reply = ok(
            "customer",
            Outcome::Get {
                code: "C1".into(),
                result,
            },
        );
        let text = String::from_utf8(reply.to_bytes()).unwrap();
        assert_eq!(
            text,
            r#"{"status":"ok","entity":"customer","verb":"GET","code":"C1","result":{"customer":{"codecustomer":"C1","name":"A \"B\""}}}"#
        );
        let body: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(body["result"], block);
    }

    #[test]
    fn error_reply_names_every_field() {
        let details = vec![
            FieldError::new("customer", "workforce", json!("x"), "not an integer"),
            FieldError::new("customer", "blocked", json!("2"), "not a bool"),
        ];
        let reply = error(
            "customer",
            "PUT",
            Some("C1"),
            ErrorCode::ValidationFailed,
            "2 fields",
            &details,
        );
        assert_eq!(reply.status, "error");
        assert_eq!(reply.body["error"]["code"], "VALIDATION_FAILED");
        assert_eq!(reply.body["error"]["details"][1]["field"], "blocked");
    }

    #[test]
    fn list_reply_paging_fields_are_numbers_and_a_bool() {
        let outcome = Outcome::List {
            result: Map::new(),
            count: 2,
            total: 5,
            limit: 2,
            offset: 0,
            has_more: true,
        };
        let body = ok("customer", outcome).body;
        assert_eq!(
            (
                body["count"].clone(),
                body["total"].clone(),
                body["hasMore"].clone()
            ),
            (json!(2), json!(5), json!(true))
        );
    }
}
