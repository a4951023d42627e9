//! Assertions shared by the entity tests: reply status, error code and details, and the
//! key-by-key, in-order comparison of a reply with a seed's example (SPEC section 3).

use serde_json::Value as Json;

use webhook_worker::call::Reply;

#[track_caller]
pub fn assert_ok(reply: &Reply) {
    assert_eq!(reply.body["status"], "ok", "{}", reply.body);
}

#[track_caller]
pub fn assert_error(reply: &Reply, code: &str) {
    assert_eq!(reply.body["status"], "error", "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.body);
}

/// `actual` equals `expected` at every depth: the same keys in the same order, then the
/// same values (SPEC 3: "keys come in the order of the seed's example").
#[track_caller]
pub fn assert_json_in_order(actual: &Json, expected: &Json) {
    compare_in_order("result", actual, expected);
}

#[track_caller]
pub fn compare_in_order(path: &str, actual: &Json, expected: &Json) {
    match (actual, expected) {
        (Json::Object(a), Json::Object(e)) => {
            let (ak, ek) = (keys(actual), keys(expected));
            let first = ak.iter().zip(&ek).position(|(x, y)| x != y);
            assert_eq!(ak, ek, "keys of {path} (first difference at {first:?})");
            for (key, value) in e {
                compare_in_order(&format!("{path}.{key}"), &a[key], value);
            }
        }
        (Json::Array(a), Json::Array(e)) => {
            assert_eq!(a.len(), e.len(), "length of {path}");
            for (i, (av, ev)) in a.iter().zip(e).enumerate() {
                compare_in_order(&format!("{path}[{i}]"), av, ev);
            }
        }
        _ => assert_eq!(actual, expected, "value of {path}"),
    }
}

pub fn keys(object: &Json) -> Vec<String> {
    object
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The `field` of every entry of an error reply's `details`, in order.
pub fn detail_fields(reply: &Reply) -> Vec<String> {
    reply.body["error"]["details"]
        .as_array()
        .unwrap_or_else(|| panic!("error details: {}", reply.body))
        .iter()
        .map(|d| d["field"].as_str().unwrap_or_default().to_string())
        .collect()
}
