//! The worker answers a GET for a code that does not exist: NOT_FOUND, not dead-lettered.

use serde_json::json;

use crate::helpers::spawn_worker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_of_an_unknown_code_is_not_found_and_not_dead_lettered() {
    let app = spawn_worker().await;

    let reply = app.call("customer", json!({"verb": "GET", "code": "NOPE"})).await;

    assert_eq!(reply.body["status"], "error");
    assert_eq!(reply.body["error"]["code"], "NOT_FOUND");
    assert_eq!(reply.headers.get("status").map(String::as_str), Some("error"));
    app.stop_and_check_no_dead_letter("customer").await;
}
