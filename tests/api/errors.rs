//! Errors of SPEC section 4 on the `customer` entity, each with its three effects: the
//! error reply (body and headers, SPEC section 3), the dead letter with its `webhook-*`
//! headers (SPEC section 5; none for NOT_FOUND), and a database left as it was. Then
//! idempotency (SPEC section 6), serving on after bad input, and the metrics (section 7).
//!
//! FORBIDDEN_OPERATION and INTERNAL have no test here: no customer request raises the
//! first (it is the opportunity's `dealelement` rule), and the second needs a transient
//! fault that outlives its retries and the delivery limit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lapin::types::AMQPValue;
use serde_json::{json, Value as Json};

use webhook_worker::call::{CallOptions, Reply};
use webhook_worker::database::Db;
use webhook_worker::engine;
use webhook_worker::engine::known::Known;
use webhook_worker::entities::Registry;
use webhook_worker::request::{self, Envelope};

use crate::helpers::{
    fixture, spawn_worker, spawn_worker_with, sql, test_settings, unique, DeadLetter, TestWorker,
    WAIT,
};

const ENTITY: &str = "customer";
/// The seed customer of `customer_put.json`.
const SEED_CODE: &str = "C0000001";
/// A header of the ERP's own, which a dead letter must keep.
const TRACE_HEADER: &str = "erp-trace-id";

// MALFORMED_MESSAGE ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_that_is_not_json_is_dead_lettered_as_malformed_message() {
    let app = spawn_worker().await;
    let body = br#"{"verb": "GET", "code": "C0000001""#;

    let reply = reject(app, body, traced(), Expected::decoding("MALFORMED_MESSAGE")).await;

    assert_eq!(reply.body["verb"], "UNKNOWN", "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_that_is_not_utf8_is_dead_lettered_as_malformed_message() {
    let app = spawn_worker().await;
    let body = b"{\"verb\":\"GET\",\"code\":\"C\xff\xfe\"}";

    let reply = reject(app, body, traced(), Expected::decoding("MALFORMED_MESSAGE")).await;

    assert_eq!(reply.body["verb"], "UNKNOWN", "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_array_body_is_dead_lettered_as_malformed_message() {
    let app = spawn_worker().await;
    let body = br#"[{"verb":"GET","code":"C0000001"}]"#;

    let reply = reject(app, body, traced(), Expected::decoding("MALFORMED_MESSAGE")).await;

    assert_eq!(reply.body["verb"], "UNKNOWN", "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_other_than_json_is_dead_lettered_as_malformed_message() {
    let app = spawn_worker().await;
    let body = br#"{"verb":"GET","code":"C0000001"}"#;
    let options = CallOptions {
        content_type: Some("text/plain".into()),
        ..traced()
    };

    let reply = reject(app, body, options, Expected::decoding("MALFORMED_MESSAGE")).await;

    assert_eq!(reply.body["verb"], "GET", "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_max_body_bytes_is_dead_lettered_as_malformed_message() {
    let mut settings = test_settings(&["customer", "customerextension"]);
    settings.max_body_bytes = 256;
    let app = spawn_worker_with(settings).await;
    let at_limit = get_padded_to(256);
    let over = get_padded_to(257);
    // A body of exactly the limit is decoded (the GET finds no such customer).
    let reply = app
        .call_raw(ENTITY, &at_limit, CallOptions::default())
        .await;
    assert_eq!(reply.body["error"]["code"], "NOT_FOUND", "{}", reply.body);

    let reply = reject(
        app,
        &over,
        traced(),
        Expected::decoding("MALFORMED_MESSAGE"),
    )
    .await;

    // A body over the limit is not read at all, not even for its verb.
    assert_eq!(reply.body["verb"], "UNKNOWN", "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_nested_deeper_than_64_levels_is_dead_lettered_as_malformed_message() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    // The body object is level 1: 63 arrays inside make 64 levels, 64 arrays make 65.
    let reply = app
        .call_raw(ENTITY, &get_nested(63), CallOptions::default())
        .await;
    assert_eq!(reply.body["status"], "ok", "{}", reply.body);

    reject(
        app,
        &get_nested(64),
        traced(),
        Expected::decoding("MALFORMED_MESSAGE"),
    )
    .await;
}

// INVALID_REQUEST -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_verb_is_dead_lettered_as_invalid_request() {
    let app = spawn_worker().await;
    let body = br#"{"verb":"PATCH","code":"C0000001"}"#;

    let reply = reject(app, body, traced(), Expected::decoding("INVALID_REQUEST")).await;

    assert_eq!(reply.body["verb"], "UNKNOWN", "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_result_type_is_dead_lettered_as_invalid_request() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let body = br#"{"verb":"GET","code":"C0000001","resultType":"full"}"#;

    let reply = reject(app, body, traced(), Expected::decoding("INVALID_REQUEST")).await;

    assert_eq!(reply.body["verb"], "GET", "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_without_code_is_dead_lettered_as_invalid_request() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let body = br#"{"verb":"GET","resultType":"extended"}"#;

    let reply = reject(app, body, traced(), Expected::decoding("INVALID_REQUEST")).await;

    assert_eq!(reply.body["verb"], "GET", "{}", reply.body);
    assert!(reply.body.get("code").is_none(), "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_without_the_customer_block_is_dead_lettered_as_invalid_request() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let mut request = fixture("customer_put.json");
    let customer = request
        .as_object_mut()
        .and_then(|body| body.remove("customer"));
    assert!(customer.is_some(), "the fixture has a customer block");
    let body = to_bytes(&request);

    let reply = reject(app, &body, traced(), Expected::decoding("INVALID_REQUEST")).await;

    assert_eq!(reply.body["verb"], "PUT", "{}", reply.body);
    assert!(reply.body.get("code").is_none(), "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_with_limit_above_1000_is_dead_lettered_as_invalid_request() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let at_most = app
        .call(ENTITY, json!({"verb": "LIST", "limit": 1000}))
        .await;
    assert_eq!(at_most.body["status"], "ok", "{}", at_most.body);
    assert_eq!(at_most.body["limit"], 1000, "{}", at_most.body);
    let body = br#"{"verb":"LIST","resultType":"simple","limit":1001,"offset":0}"#;

    let reply = reject(app, body, traced(), Expected::decoding("INVALID_REQUEST")).await;

    assert_eq!(reply.body["verb"], "LIST", "{}", reply.body);
}

// VALIDATION_FAILED ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_with_several_invalid_fields_is_dead_lettered_as_validation_failed_listing_each() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let mut request = fixture("customer_put.json");
    let customer = &mut request["customer"];
    customer["name"] = json!("A VALID NEW NAME THAT MUST NOT BE STORED");
    customer["workforce"] = json!("many");
    customer["blocked"] = json!("2");
    customer["vacationStart"] = json!("2024-13-45");
    customer["postalCode"] = json!("1".repeat(17));
    customer["colour"] = json!("blue");
    request["customeruser"][1]["generictype_ID_category"] = json!(["not", "a", "code"]);
    let body = to_bytes(&request);

    let reply = reject(
        app,
        &body,
        traced(),
        Expected::engine("PUT", SEED_CODE, "VALIDATION_FAILED"),
    )
    .await;

    assert_lists_exactly(
        &reply.body,
        &[
            ("customer", None, "workforce", json!("many")),
            ("customer", None, "blocked", json!("2")),
            ("customer", None, "vacationStart", json!("2024-13-45")),
            ("customer", None, "postalCode", json!("1".repeat(17))),
            ("customer", None, "colour", json!("blue")),
            (
                "customeruser",
                Some(1),
                "generictype_ID_category",
                json!(["not", "a", "code"]),
            ),
        ],
    );
    for detail in details(&reply.body) {
        assert!(is_text(&detail["message"]), "a message per field: {detail}");
    }
}

// INVALID_FOREIGN_KEY -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_with_unknown_baseuser_is_dead_lettered_as_invalid_foreign_key() {
    let app = spawn_worker().await;

    refused_for_baseuser(app, "GRO-NORD").await;
}

/// Seed 004's PUT naming baseuser `user`, refused as INVALID_FOREIGN_KEY with `reject`'s
/// checks: its one detail, on the customer's `baseuser_ID`.
async fn refused_for_baseuser(app: TestWorker, user: &str) -> Json {
    let mut request = fixture("customer_put.json");
    request["customer"]["baseuser_ID"] = json!(user);
    let body = to_bytes(&request);
    let reply = reject(
        app,
        &body,
        traced(),
        Expected::engine("PUT", SEED_CODE, "INVALID_FOREIGN_KEY"),
    )
    .await;
    let details = details(&reply.body);
    assert_eq!(details.len(), 1, "{}", reply.body);
    let detail = details[0].clone();
    assert_eq!(detail["block"], "customer", "{detail}");
    assert_eq!(detail["field"], "baseuser_ID", "{detail}");
    assert_eq!(detail["value"], user, "{detail}");
    assert_eq!(
        detail["references"], "sw_data_baseuser.codebaseuser",
        "{detail}"
    );
    detail
}

/// A baseuser row, written through the worker.
async fn put_baseuser(app: &TestWorker, user: &str) {
    let body = json!({"verb": "PUT", "baseuser": {"codebaseuser": user, "lastName": "X"}});
    let reply = app.call("baseuser", body).await;
    assert_eq!(reply.body["status"], "ok", "{}", reply.body);
}

/// Delete a baseuser with SQL, as another process would: not through the worker.
async fn delete_baseuser(app: &TestWorker, user: &str) {
    let statement = format!("DELETE FROM sw_data_baseuser WHERE codebaseuser = '{user}'");
    sql(app, &statement).await;
}

/// An earlier PUT found the reference (engine/known.rs keeps it); its row was deleted since,
/// not through this worker. The write's foreign key refuses it, and the PUT is run again
/// without the cache for the precise answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_naming_a_reference_deleted_since_an_earlier_put_found_it_is_invalid_foreign_key() {
    let mut settings = test_settings(&["customer", "baseuser"]);
    settings.reference_cache_ms = 600_000;
    let app = spawn_worker_with(settings).await;
    let run = &unique()[..8];
    let (user, other) = (format!("U{run}"), format!("C{run}"));
    put_baseuser(&app, &user).await;
    for baseuser in [json!(user), json!("")] {
        let put = json!({"verb": "PUT", "customer": {
            "codecustomer": other, "name": "REFS", "baseuser_ID": baseuser}});
        let reply = app.call(ENTITY, put).await;
        assert_eq!(reply.body["status"], "ok", "{}", reply.body);
    }
    delete_baseuser(&app, &user).await;

    let detail = refused_for_baseuser(app, &user).await;

    assert_eq!(
        detail["message"],
        format!("no baseuser {user:?}"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_with_several_unknown_references_lists_every_one_as_invalid_foreign_key() {
    let app = spawn_worker().await;
    let mut request = fixture("customer_put.json");
    request["customer"]["baseuser_ID"] = json!("GRO-NORD");
    request["customer"]["generictype_ID_country"] = json!("COUNTRY-XX");
    request["customeruser"][1]["baseuser_ID"] = json!("TECH9");
    let body = to_bytes(&request);

    let reply = reject(
        app,
        &body,
        traced(),
        Expected::engine("PUT", SEED_CODE, "INVALID_FOREIGN_KEY"),
    )
    .await;

    assert_lists_exactly(
        &reply.body,
        &[
            ("customer", None, "baseuser_ID", json!("GRO-NORD")),
            (
                "customer",
                None,
                "generictype_ID_country",
                json!("COUNTRY-XX"),
            ),
            ("customeruser", Some(1), "baseuser_ID", json!("TECH9")),
        ],
    );
    for detail in details(&reply.body) {
        assert!(is_text(&detail["references"]), "{detail}");
    }
}

// WEBHOOK_VERSION_MISMATCH --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_version_3_is_dead_lettered_as_webhook_version_mismatch() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let options = CallOptions {
        webhook_version: Some(AMQPValue::LongInt(3)),
        ..traced()
    };
    let body = br#"{"verb":"GET","code":"C0000001"}"#;

    let reply = reject(
        app,
        body,
        options,
        Expected::decoding("WEBHOOK_VERSION_MISMATCH"),
    )
    .await;

    assert_eq!(reply.body["verb"], "GET", "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_version_abc_is_dead_lettered_as_webhook_version_mismatch() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let options = CallOptions {
        webhook_version: Some(AMQPValue::LongString("abc".into())),
        ..traced()
    };
    let body = br#"{"verb":"PUT","customer":{"codecustomer":"C0000001","name":"X"}}"#;

    let reply = reject(
        app,
        body,
        options,
        Expected::decoding("WEBHOOK_VERSION_MISMATCH"),
    )
    .await;

    assert_eq!(reply.body["verb"], "PUT", "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_version_1_string_2_and_absent_are_accepted() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let versions = [
        Some(AMQPValue::LongInt(1)),
        Some(AMQPValue::LongString("2".into())),
        None,
    ];

    for version in versions {
        let options = CallOptions {
            webhook_version: version.clone(),
            ..CallOptions::default()
        };
        let reply = app
            .call_with(ENTITY, json!({"verb": "GET", "code": SEED_CODE}), options)
            .await;
        assert_eq!(reply.body["status"], "ok", "{version:?}: {}", reply.body);
        assert_eq!(reply.body["code"], SEED_CODE, "{version:?}: {}", reply.body);
    }

    app.stop_and_check_no_dead_letter(ENTITY).await;
}

// CONFLICT ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_customer_paying_for_another_is_dead_lettered_as_conflict() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let payer = app
        .call(
            ENTITY,
            json!({"verb": "PUT", "customer": {
                "codecustomer": "C0000002", "name": "FILIALE GUICHARD",
                "customer_ID_paying": SEED_CODE}}),
        )
        .await;
    assert_eq!(payer.body["status"], "ok", "{}", payer.body);
    let body = br#"{"verb":"DELETE","code":"C0000001"}"#;

    let reply = reject(
        app,
        body,
        traced(),
        Expected::engine("DELETE", SEED_CODE, "CONFLICT"),
    )
    .await;

    let details = details(&reply.body);
    assert!(
        details
            .iter()
            .any(|d| d["field"] == "customer_ID_paying" && d["value"] == SEED_CODE),
        "details name the referencing field: {}",
        reply.body
    );
}

// NOT_FOUND -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_of_an_unknown_code_is_answered_not_found_and_not_dead_lettered() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let before = app.snapshot().await;

    let reply = app
        .call_raw(ENTITY, br#"{"verb":"GET","code":"C9999999"}"#, traced())
        .await;

    assert_error_reply(&reply, "GET", Some("C9999999"), "NOT_FOUND");
    assert_eq!(app.snapshot().await, before, "the database changed");
    app.stop_and_check_no_dead_letter(ENTITY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_an_unknown_code_is_answered_not_found_and_not_dead_lettered() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let before = app.snapshot().await;

    let reply = app
        .call_raw(ENTITY, br#"{"verb":"DELETE","code":"C9999999"}"#, traced())
        .await;

    assert_error_reply(&reply, "DELETE", Some("C9999999"), "NOT_FOUND");
    assert_eq!(app.snapshot().await, before, "the database changed");
    app.stop_and_check_no_dead_letter(ENTITY).await;
}

// The `code` of an error reply ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_reply_names_the_code_of_a_readable_body_refused_at_decoding() {
    let app = spawn_worker().await;
    let bad_version = CallOptions {
        webhook_version: Some(AMQPValue::LongInt(3)),
        ..CallOptions::default()
    };

    let version = app
        .call_raw(ENTITY, br#"{"verb":"GET","code":"C0000001"}"#, bad_version)
        .await;
    let result_type = app
        .call_raw(
            ENTITY,
            br#"{"verb":"GET","code":"C0000001","resultType":"full"}"#,
            CallOptions::default(),
        )
        .await;

    assert_eq!(version.body["code"], SEED_CODE, "{}", version.body);
    assert_eq!(result_type.body["code"], SEED_CODE, "{}", result_type.body);
    app.stop().await;
}

// Idempotency (SPEC section 6) ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_delivered_twice_with_one_message_id_is_applied_once_and_answered_alike() {
    let app = spawn_worker().await;
    let body = to_bytes(&fixture("customer_put.json"));
    let options = traced();
    let message_id = options.message_id.clone().unwrap_or_default();

    let first = app.call_raw(ENTITY, &body, options.clone()).await;
    let row_after_first = app.row("sw_data_customer", "codecustomer", SEED_CODE).await;
    let after_first = app.snapshot().await;
    let second = app.call_raw(ENTITY, &body, options).await;

    assert_eq!(first.body["status"], "ok", "{}", first.body);
    assert_eq!(first.body["created"], true, "{}", first.body);
    assert_eq!(
        second.body, first.body,
        "the recorded reply is re-published"
    );
    assert_eq!(second.headers, first.headers);
    assert!(
        row_after_first.is_some(),
        "the first delivery created the row"
    );
    assert_eq!(
        app.row("sw_data_customer", "codecustomer", SEED_CODE).await,
        row_after_first
    );
    assert_eq!(
        app.snapshot().await,
        after_first,
        "the redelivery changed data"
    );
    assert_eq!(inbox_records(&app, &message_id).await, 1);
    let metrics = app.metrics_text().await;
    assert_eq!(
        metric(
            &metrics,
            "webhook_deduplicated_total",
            &[("entity", ENTITY)]
        ),
        Some(1.0),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_put_does_not_undo_a_later_update() {
    let app = spawn_worker().await;
    let original = to_bytes(&fixture("customer_put.json"));
    let options = traced();
    let first = app.call_raw(ENTITY, &original, options.clone()).await;
    assert_eq!(first.body["status"], "ok", "{}", first.body);
    let rename = json!({"verb": "PUT", "customer": {"codecustomer": SEED_CODE, "name": "RENAMED"}});
    let renamed = app.call(ENTITY, rename).await;
    assert_eq!(renamed.body["status"], "ok", "{}", renamed.body);

    let again = app.call_raw(ENTITY, &original, options).await;

    assert_eq!(again.body, first.body, "the recorded reply is re-published");
    let row = app.row("sw_data_customer", "codecustomer", SEED_CODE).await;
    assert_eq!(row.map(|r| r["name"].clone()), Some(json!("RENAMED")));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_put_leaves_no_inbox_record_and_is_applied_afresh_once_its_cause_is_fixed() {
    let app = spawn_worker_with(test_settings(&["customer", "baseuser"])).await;
    let mut request = fixture("customer_put.json");
    request["customer"]["baseuser_ID"] = json!("GRO-NORD");
    let body = to_bytes(&request);
    let options = traced();
    let message_id = options.message_id.clone().unwrap_or_default();
    let refused = app.call_raw(ENTITY, &body, options.clone()).await;
    assert_eq!(
        refused.body["error"]["code"], "INVALID_FOREIGN_KEY",
        "{}",
        refused.body
    );
    assert_eq!(inbox_records(&app, &message_id).await, 0);
    let baseuser = json!({"verb": "PUT", "baseuser": {
        "codebaseuser": "GRO-NORD", "lastName": "Grossistes Nord"}});
    let fixed = app.call("baseuser", baseuser).await;
    assert_eq!(fixed.body["status"], "ok", "{}", fixed.body);

    let applied = app.call_raw(ENTITY, &body, options).await;

    assert_eq!(applied.body["status"], "ok", "{}", applied.body);
    assert_eq!(applied.body["created"], true, "{}", applied.body);
    let row = app.row("sw_data_customer", "codecustomer", SEED_CODE).await;
    assert_eq!(
        row.map(|r| r["baseuser_ID"].clone()),
        Some(json!("GRO-NORD"))
    );
    assert_eq!(inbox_records(&app, &message_id).await, 1);
    let metrics = app.metrics_text().await;
    assert_eq!(
        metric(
            &metrics,
            "webhook_deduplicated_total",
            &[("entity", ENTITY)]
        )
        .unwrap_or(0.0),
        0.0,
        "{metrics}"
    );
    app.stop().await;
}

/// A prospect row to recode (SPEC 8.1), written directly.
async fn insert_prospect(app: &TestWorker, code: &str) {
    sql(
        app,
        &format!(
            r#"INSERT INTO sw_data_customer (codecustomer, name, "generictype_ID_customerType")
               VALUES ('{code}', 'CHEZ SOI', 'CUSTOMER_TYPE-CTP')"#
        ),
    )
    .await;
}

fn recoding_put(code: &str, origin: &str) -> Json {
    json!({"verb": "PUT", "customer": {
        "codecustomer": code, "name": "CHEZ SOI", "internalcodecustomer": origin}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_recoding_put_is_answered_from_its_record_although_its_origin_is_gone() {
    let app = spawn_worker().await;
    let run = &unique()[..8];
    let (origin, code) = (format!("P{run}"), format!("C{run}"));
    insert_prospect(&app, &origin).await;
    let body = to_bytes(&recoding_put(&code, &origin));
    let options = traced();
    let message_id = options.message_id.clone().unwrap_or_default();

    let first = app.call_raw(ENTITY, &body, options.clone()).await;
    let second = app.call_raw(ENTITY, &body, options).await;

    assert_eq!(first.body["status"], "ok", "{}", first.body);
    assert_eq!(second.body, first.body, "not NOT_FOUND: the record answers");
    assert!(app
        .row("sw_data_customer", "codecustomer", &code)
        .await
        .is_some());
    assert!(app
        .row("sw_data_customer", "codecustomer", &origin)
        .await
        .is_none());
    assert_eq!(inbox_records(&app, &message_id).await, 1);
    app.stop_and_check_no_dead_letter(ENTITY).await;
}

/// A record written before migration 0007 holds its outcome as jsonb in `outcome`: a
/// redelivery of its message is still answered from it, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_written_as_jsonb_before_migration_0007_still_answers_its_redelivery() {
    let app = spawn_worker().await;
    let code = format!("C{}", &unique()[..8]);
    let options = traced();
    let message_id = options.message_id.clone().unwrap_or_default();
    let saved = json!({"verb": "PUT", "code": code, "created": true,
        "result": {"customer": {"codecustomer": code, "name": "AS RECORDED"}}});
    sqlx::query(
        "INSERT INTO webhook_inbox (message_id, entity, outcome) VALUES ($1, $2, $3::jsonb)",
    )
    .bind(&message_id)
    .bind(ENTITY)
    .bind(saved.to_string())
    .execute(&app.pool)
    .await
    .expect("an old record");
    let body = to_bytes(&json!({"verb": "PUT", "customer": {"codecustomer": code, "name": "NEW"}}));

    let reply = app.call_raw(ENTITY, &body, options).await;

    assert_eq!(reply.body["status"], "ok", "{}", reply.body);
    assert_eq!(reply.body["created"], true);
    assert_eq!(reply.body["result"], saved["result"], "the recorded result");
    assert!(
        app.row("sw_data_customer", "codecustomer", &code)
            .await
            .is_none(),
        "nothing written"
    );
    assert_eq!(inbox_records(&app, &message_id).await, 1);
    app.stop_and_check_no_dead_letter(ENTITY).await;
}

/// A PUT's record holds its outcome as the worker wrote it, as text (migration 0007).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_is_recorded_as_text_the_reply_as_sent() {
    let app = spawn_worker().await;
    let code = format!("C{}", &unique()[..8]);
    let text = fixture("customer_put.json").to_string();
    let request: Json =
        serde_json::from_str(&text.replace("C0000001", &code)).expect("the seed parses");
    let options = traced();
    let message_id = options.message_id.clone().unwrap_or_default();

    let reply = app.call_raw(ENTITY, &to_bytes(&request), options).await;

    assert_eq!(reply.body["status"], "ok", "{}", reply.body);
    let (text, jsonb): (Option<String>, Option<Json>) = sqlx::query_as(
        "SELECT outcome_text, outcome FROM webhook_inbox WHERE entity = $1 AND message_id = $2",
    )
    .bind(ENTITY)
    .bind(&message_id)
    .fetch_one(&app.pool)
    .await
    .expect("the record");
    assert_eq!(jsonb, None);
    let text = text.expect("the outcome as text");
    let recorded: Json = serde_json::from_str(&text).expect("JSON");
    assert_eq!(recorded["result"], reply.body["result"]);
    assert_eq!(recorded["code"], json!(code));
    let keys = |v: &Json| -> Vec<String> {
        v["result"]["customer"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(keys(&recorded), keys(&reply.body), "in the reply's order");
    app.stop_and_check_no_dead_letter(ENTITY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_put_is_answered_from_its_record_although_a_reference_is_gone() {
    let app = spawn_worker_with(test_settings(&["customer", "baseuser"])).await;
    let run = &unique()[..8];
    let (user, code) = (format!("U{run}"), format!("C{run}"));
    put_baseuser(&app, &user).await;
    let body = to_bytes(&json!({"verb": "PUT", "customer": {
        "codecustomer": code, "name": "REFS", "baseuser_ID": user}}));
    let options = traced();
    let first = app.call_raw(ENTITY, &body, options.clone()).await;
    assert_eq!(first.body["status"], "ok", "{}", first.body);
    let unlink = json!({"verb": "PUT", "customer": {"codecustomer": code, "baseuser_ID": ""}});
    assert_eq!(app.call(ENTITY, unlink).await.body["status"], "ok");
    delete_baseuser(&app, &user).await;

    let again = app.call_raw(ENTITY, &body, options).await;

    assert_eq!(
        again.body, first.body,
        "not INVALID_FOREIGN_KEY: the record answers"
    );
    let row = app.row("sw_data_customer", "codecustomer", &code).await;
    assert_eq!(row.map(|r| r["baseuser_ID"].clone()), Some(Json::Null));
    app.stop_and_check_no_dead_letter(ENTITY).await;
}

/// Two deliveries of one message at once (a redelivery while the first is still running,
/// e.g. after a lost broker connection): both wait on the recoding origin's lock; the one
/// that gets it applies the PUT; the other then finds the origin gone, and answers with the
/// first one's record instead of NOT_FOUND.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deliveries_of_one_recoding_put_at_once_apply_it_once_and_answer_alike() {
    let app = spawn_worker().await;
    let run = &unique()[..8];
    let (origin, code) = (format!("P{run}"), format!("C{run}"));
    insert_prospect(&app, &origin).await;
    let envelope = Envelope {
        body: to_bytes(&recoding_put(&code, &origin)),
        content_type: Some("application/json".into()),
        webhook_version: None,
    };
    let request = Arc::new(request::decode(&envelope, 1 << 20).expect("decodes"));
    let registry = Arc::new(Registry::standard());
    let known = Arc::new(Known::new(Duration::from_secs(1)));
    let message_id = format!("msg-{}", unique());
    let mut blocker = app.pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM sw_data_customer WHERE codecustomer = $1 FOR UPDATE")
        .bind(&origin)
        .execute(&mut *blocker)
        .await
        .expect("lock the origin");
    let deliveries: Vec<_> = (0..2)
        .map(|_| {
            let (pool, registry, request) = (app.pool.clone(), registry.clone(), request.clone());
            let known = known.clone();
            let message_id = message_id.clone();
            tokio::spawn(async move {
                let def = registry.get(ENTITY).expect("customer");
                let db = Db::new(pool);
                engine::apply(&db, &registry, &known, def, &request, Some(&message_id)).await
            })
        })
        .collect();
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'";
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.count(waiting).await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "both deliveries wait on the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    blocker.commit().await.expect("release");

    let mut applied = Vec::new();
    for delivery in deliveries {
        applied.push(delivery.await.expect("joined").expect("applied"));
    }

    assert_eq!(applied[0].outcome, applied[1].outcome, "one answer");
    assert_eq!(
        applied.iter().filter(|a| a.deduplicated).count(),
        1,
        "one applied it, the other answered from its record"
    );
    assert!(app
        .row("sw_data_customer", "codecustomer", &code)
        .await
        .is_some());
    assert_eq!(inbox_records(&app, &message_id).await, 1);
    app.stop().await;
}

// Serving on, and metrics -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_keeps_serving_after_malformed_messages() {
    let mut app = spawn_worker().await;
    app.put_seed_customer().await;
    let bad: [&[u8]; 3] = [b"not json", b"\xff\xfe\xfd", b"[]"];
    for body in bad {
        let reply = app.call_raw(ENTITY, body, CallOptions::default()).await;
        assert_eq!(
            reply.body["error"]["code"], "MALFORMED_MESSAGE",
            "{}",
            reply.body
        );
    }

    let reply = app
        .call(ENTITY, json!({"verb": "GET", "code": SEED_CODE}))
        .await;

    assert_eq!(reply.body["status"], "ok", "{}", reply.body);
    assert_eq!(reply.body["result"]["customer"]["codecustomer"], SEED_CODE);
    app.drain().await;
    let letters = app.dead_letters(ENTITY, bad.len()).await;
    let bodies: Vec<&[u8]> = letters.iter().map(|l| l.body.as_slice()).collect();
    assert_eq!(bodies, bad.to_vec(), "each bad message is parked, in order");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_completed_requests_by_outcome_and_dead_letters_by_error_code() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let mut request = fixture("customer_put.json");
    request["customer"]["baseuser_ID"] = json!("GRO-NORD");
    let refused = app.call(ENTITY, request).await;
    assert_eq!(
        refused.body["error"]["code"], "INVALID_FOREIGN_KEY",
        "{}",
        refused.body
    );
    // SPEC section 6: requests for one code run in arrival order, so once this GET is
    // answered, both PUTs have finished, their metrics included.
    let barrier = app
        .call(ENTITY, json!({"verb": "GET", "code": SEED_CODE}))
        .await;
    assert_eq!(barrier.body["status"], "ok", "{}", barrier.body);

    let metrics = app.metrics_text().await;

    let completed = |outcome| {
        metric(
            &metrics,
            "webhook_requests_completed_total",
            &[("entity", ENTITY), ("verb", "PUT"), ("outcome", outcome)],
        )
    };
    assert_eq!(completed("ok"), Some(1.0), "{metrics}");
    assert_eq!(completed("INVALID_FOREIGN_KEY"), Some(1.0), "{metrics}");
    let dead_lettered = |error_code| {
        metric(
            &metrics,
            "webhook_dead_lettered_total",
            &[("entity", ENTITY), ("error_code", error_code)],
        )
    };
    assert_eq!(dead_lettered("INVALID_FOREIGN_KEY"), Some(1.0), "{metrics}");
    app.stop().await;
}

// Helpers -------------------------------------------------------------------------------

/// What an error reply must say.
struct Expected<'a> {
    /// The reply's `verb`, when the test knows it in advance (`None`: checked by the test).
    verb: Option<&'a str>,
    /// The reply's `code`, when the worker knows it (`None`: not checked).
    code: Option<&'a str>,
    error_code: &'a str,
}

impl<'a> Expected<'a> {
    /// A request refused while decoding: the test checks the verb.
    fn decoding(error_code: &'a str) -> Self {
        Expected {
            verb: None,
            code: None,
            error_code,
        }
    }

    /// A request refused by the engine: verb and code are known.
    fn engine(verb: &'a str, code: &'a str, error_code: &'a str) -> Self {
        Expected {
            verb: Some(verb),
            code: Some(code),
            error_code,
        }
    }
}

/// Send `body` as is and check the three effects of a dead-lettered error: the error reply,
/// the database unchanged, and (once the worker has drained) exactly this request in the
/// DLQ with its diagnosis. Stops the worker; returns the reply for the test's own checks.
async fn reject(
    mut app: TestWorker,
    body: &[u8],
    options: CallOptions,
    expected: Expected<'_>,
) -> Reply {
    let before = app.snapshot().await;
    let sent_at = chrono::Utc::now();

    let reply = app.call_raw(ENTITY, body, options.clone()).await;

    let verb = reply.body["verb"].as_str().unwrap_or_default().to_string();
    assert_error_reply(
        &reply,
        expected.verb.unwrap_or(&verb),
        expected.code,
        expected.error_code,
    );
    assert_eq!(app.snapshot().await, before, "the database changed");
    app.drain().await;
    let letters = app.dead_letters(ENTITY, 1).await;
    assert_eq!(letters.len(), 1, "one dead letter: {letters:?}");
    assert_dead_letter(&app, &letters[0], body, &options, &reply, sent_at);
    app.stop().await;
    reply
}

/// SPEC section 3: the error reply's body and headers.
fn assert_error_reply(reply: &Reply, verb: &str, code: Option<&str>, error_code: &str) {
    let body = &reply.body;
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["entity"], ENTITY, "{body}");
    assert_eq!(body["verb"], verb, "{body}");
    if let Some(code) = code {
        assert_eq!(body["code"], code, "{body}");
    }
    assert_eq!(body["error"]["code"], error_code, "{body}");
    assert!(is_text(&body["error"]["message"]), "a message: {body}");
    assert!(body["error"]["details"].is_array(), "details: {body}");
    let header = |name: &str| reply.headers.get(name).map(String::as_str);
    assert_eq!(header("status"), Some("error"), "{:?}", reply.headers);
    assert_eq!(header("entity"), Some(ENTITY), "{:?}", reply.headers);
    assert_eq!(header("verb"), Some(verb), "{:?}", reply.headers);
}

/// SPEC section 5: the original body and properties, the ERP's headers, and the
/// `webhook-*` headers agreeing with the reply.
fn assert_dead_letter(
    app: &TestWorker,
    letter: &DeadLetter,
    body: &[u8],
    options: &CallOptions,
    reply: &Reply,
    sent_at: chrono::DateTime<chrono::Utc>,
) {
    assert_eq!(letter.body, body, "the body as sent, byte for byte");
    assert_eq!(letter.message_id, options.message_id);
    assert!(
        reply.correlation_id.is_some(),
        "the reply has a correlation_id"
    );
    assert_eq!(letter.correlation_id, reply.correlation_id);
    let error = &reply.body["error"];
    assert_eq!(letter.header("webhook-error-code"), error["code"]);
    assert_eq!(letter.header("webhook-error-message"), error["message"]);
    let details: Json = serde_json::from_str(letter.header("webhook-error-details"))
        .expect("webhook-error-details is JSON");
    assert_eq!(details, error["details"]);
    assert_eq!(
        letter.header("webhook-original-queue"),
        app.topology.request_queue(ENTITY)
    );
    let at = chrono::DateTime::parse_from_rfc3339(letter.header("webhook-dead-lettered-at"))
        .expect("webhook-dead-lettered-at is RFC 3339");
    let since_sent = at.signed_duration_since(sent_at);
    assert!(
        since_sent > -chrono::Duration::seconds(1) && since_sent < chrono::Duration::minutes(1),
        "dead-lettered at {at}, sent at {sent_at}"
    );
    assert_eq!(letter.header("webhook-replay-count"), "0");
    for (name, value) in &options.headers {
        assert_eq!(letter.header(name), text_of(value), "header {name}");
    }
    if let Some(version) = &options.webhook_version {
        assert_eq!(letter.header("webhookVersion"), text_of(version));
    }
}

/// Options of a request with its own message_id and a header of the ERP's.
fn traced() -> CallOptions {
    CallOptions {
        message_id: Some(format!("msg-{}", unique())),
        headers: vec![(
            TRACE_HEADER.to_string(),
            AMQPValue::LongString(format!("trace-{}", unique()).into()),
        )],
        ..CallOptions::default()
    }
}

/// A header value as the harness reads it back.
fn text_of(value: &AMQPValue) -> String {
    match value {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        other => panic!("no text form for {other:?}"),
    }
}

fn to_bytes(json: &Json) -> Vec<u8> {
    serde_json::to_vec(json).expect("JSON serialises")
}

/// A GET of an unknown code, padded with a `note` to exactly `len` bytes.
fn get_padded_to(len: usize) -> Vec<u8> {
    let empty = br#"{"verb":"GET","code":"C9999999","note":""}"#.len();
    let body = format!(
        r#"{{"verb":"GET","code":"C9999999","note":"{}"}}"#,
        "x".repeat(len - empty)
    );
    assert_eq!(body.len(), len);
    body.into_bytes()
}

/// A GET of the seed customer carrying `arrays` nested arrays under `x`.
fn get_nested(arrays: usize) -> Vec<u8> {
    format!(
        r#"{{"verb":"GET","code":"{SEED_CODE}","x":{}{}}}"#,
        "[".repeat(arrays),
        "]".repeat(arrays)
    )
    .into_bytes()
}

fn details(body: &Json) -> Vec<Json> {
    body["error"]["details"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The error's `details` name exactly these (block, index, field, value), in any order.
fn assert_lists_exactly(body: &Json, expected: &[(&str, Option<usize>, &str, Json)]) {
    let key = |block: &str, index: Option<u64>, field: &str, value: &Json| {
        format!("{block}[{index:?}].{field} = {value}")
    };
    let mut listed: Vec<String> = details(body)
        .iter()
        .map(|d| {
            let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            key(
                &text("block"),
                d["index"].as_u64(),
                &text("field"),
                &d["value"],
            )
        })
        .collect();
    let mut expected: Vec<String> = expected
        .iter()
        .map(|(block, index, field, value)| key(block, index.map(|i| i as u64), field, value))
        .collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected, "{body}");
}

fn is_text(value: &Json) -> bool {
    value.as_str().is_some_and(|s| !s.is_empty())
}

async fn inbox_records(app: &TestWorker, message_id: &str) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM webhook_inbox WHERE message_id = '{}'",
        message_id.replace('\'', "''")
    );
    app.count(&sql).await
}

/// The value of the sample `name{labels}` in a Prometheus text exposition, whatever the
/// order of its labels (and however many more it has).
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (sample, rest) = series.split_once('{')?;
        if sample != name {
            return None;
        }
        let pairs: HashMap<&str, &str> = rest
            .trim_end_matches('}')
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k, v.trim_matches('"')))
            .collect();
        let matches = labels.iter().all(|(k, v)| pairs.get(k) == Some(v));
        matches.then(|| value.parse().ok()).flatten()
    })
}
