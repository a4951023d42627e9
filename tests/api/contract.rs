//! The Contract webhook (seed 002, SPEC 8.3): 002's PUT applied as written under
//! webhookVersion 1 (its `contracttype`, `customer` and `site` blocks written first), the
//! same contract under version 2 after those blocks went through their own queues, GET in
//! every result type compared with the fixtures built from the seed, the version rules and
//! the other errors (reply, database unchanged, dead letter), billing lines, the status
//! default, recoding, every LIST filter and DELETE's cascade. Each test has its own worker,
//! database and topology prefix. `tests/fixtures/README.md` says where each expected reply
//! comes from.

use lapin::types::AMQPValue;
use serde_json::{json, Map, Value as Json};
use sqlx::Row;

use webhook_worker::call::{CallOptions, Reply};

use crate::assertions::{assert_error, assert_json_in_order, assert_ok};
use crate::helpers::{fixture, spawn_worker_with, test_settings, DeadLetter, TestWorker};

const ENTITY: &str = "contract";
/// The contract, customer, site and contract type of 002's PUT example.
const SEED_CODE: &str = "C0000001-77";
const SEED_CUSTOMER: &str = "C0000001";
const SEED_SITE: &str = "C0000001-BDX";
/// The three blocks of SPEC 8.3, mandatory with webhookVersion 1, forbidden with 2.
const VERSION_1_BLOCKS: [&str; 3] = ["contracttype", "customer", "site"];

// ---------------------------------------------------------------------------------------
// webhookVersion 1: 002's PUT example as written (SPEC 8.3)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_of_the_seed_example_without_version_header_writes_the_three_blocks_then_the_contract_and_its_billing(
) {
    let app = spawn_contract_worker().await;

    let reply = app.call(ENTITY, fixture("contract_put.json")).await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], SEED_CODE);
    assert_eq!(reply.body["created"], json!(true));
    assert_json_in_order(
        &reply.body["result"],
        &fixture("contract_get_extended.json"),
    );
    assert_seed_rows(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_of_the_seed_example_with_version_header_1_or_the_string_1_is_applied() {
    let app = spawn_contract_worker().await;

    let first = app
        .call_with(
            ENTITY,
            fixture("contract_put.json"),
            version(AMQPValue::LongInt(1)),
        )
        .await;
    let second = app
        .call_with(
            ENTITY,
            fixture("contract_put.json"),
            version(AMQPValue::LongString("1".into())),
        )
        .await;

    assert_ok(&first);
    assert_eq!(first.body["created"], json!(true));
    assert_ok(&second);
    assert_eq!(second.body["created"], json!(false));
    assert_json_in_order(
        &second.body["result"],
        &fixture("contract_get_extended.json"),
    );
    assert_seed_rows(&app).await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// GET, compared with the fixtures key by key and in order (SPEC 3, 10, 11.1, 11.14)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_simple_returns_the_seed_simple_keys_in_order_with_codes_not_labels() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;

    let reply = app.call(ENTITY, get(SEED_CODE, "simple")).await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], SEED_CODE);
    assert_json_in_order(&reply.body["result"], &fixture("contract_get_simple.json"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_returns_the_seed_extended_keys_in_order_with_the_start_date_as_sent() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;

    let reply = app.call(ENTITY, get(SEED_CODE, "extended")).await;

    assert_ok(&reply);
    assert_json_in_order(
        &reply.body["result"],
        &fixture("contract_get_extended.json"),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_related_adds_contracttype_customer_status_deal_and_dealelement() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;

    let reply = app.call(ENTITY, get(SEED_CODE, "extendedRelated")).await;

    assert_ok(&reply);
    assert_json_in_order(
        &reply.body["result"],
        &fixture("contract_get_extended_related.json"),
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// webhookVersion 2: the blocks come through their own queues first (SPEC 8.3)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_version_2_after_contracttype_customer_and_site_through_their_own_queues_stores_the_same_contract(
) {
    let app = spawn_contract_worker().await;
    let seed = fixture("contract_put.json");
    for (block, entity) in [
        ("contracttype", "contracttype"),
        ("customer", "customer"),
        ("site", "customeraddress"),
    ] {
        let reply = app
            .call(entity, json!({"verb": "PUT", entity: seed[block]}))
            .await;
        assert_ok(&reply);
    }

    let reply = app
        .call_with(
            ENTITY,
            without_blocks(&seed, &VERSION_1_BLOCKS),
            version(AMQPValue::LongInt(2)),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["created"], json!(true));
    assert_json_in_order(
        &reply.body["result"],
        &fixture("contract_get_extended.json"),
    );
    assert_seed_rows(&app).await;
    let related = app.call(ENTITY, get(SEED_CODE, "extendedRelated")).await;
    assert_json_in_order(
        &related.body["result"],
        &fixture("contract_get_extended_related.json"),
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Version mismatches: error reply, nothing written, dead letter (SPEC 2, 4, 8.3)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_version_1_missing_any_of_the_three_blocks_is_dead_lettered_as_webhook_version_mismatch(
) {
    let app = spawn_contract_worker().await;
    let before = snapshot(&app).await;
    let mut sent = Vec::new();

    for block in VERSION_1_BLOCKS {
        let body = without_blocks(&fixture("contract_put.json"), &[block]);
        let reply = app.call(ENTITY, body.clone()).await;

        assert_error(&reply, "WEBHOOK_VERSION_MISMATCH");
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(block), "{block}: {message}");
        sent.push(body);
    }

    assert_eq!(snapshot(&app).await, before);
    assert_dead_letters(&app, "WEBHOOK_VERSION_MISMATCH", &sent).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_version_2_with_any_of_the_three_blocks_is_dead_lettered_as_webhook_version_mismatch() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;
    let before = snapshot(&app).await;
    let seed = fixture("contract_put.json");
    let mut sent = Vec::new();

    for block in VERSION_1_BLOCKS {
        let others: Vec<&str> = VERSION_1_BLOCKS
            .into_iter()
            .filter(|b| *b != block)
            .collect();
        let body = without_blocks(&seed, &others);
        let reply = app
            .call_with(ENTITY, body.clone(), version(AMQPValue::LongInt(2)))
            .await;

        assert_error(&reply, "WEBHOOK_VERSION_MISMATCH");
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(block), "{block}: {message}");
        sent.push(body);
    }

    assert_eq!(snapshot(&app).await, before);
    let letters = assert_dead_letters(&app, "WEBHOOK_VERSION_MISMATCH", &sent).await;
    for letter in &letters {
        assert_eq!(letter.header("webhookVersion"), "2", "kept as sent");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_with_webhook_version_3_or_abc_is_dead_lettered_as_webhook_version_mismatch() {
    let app = spawn_contract_worker().await;
    let before = snapshot(&app).await;
    let body = fixture("contract_put.json");

    for header in [AMQPValue::LongInt(3), AMQPValue::LongString("abc".into())] {
        let reply = app.call_with(ENTITY, body.clone(), version(header)).await;

        assert_error(&reply, "WEBHOOK_VERSION_MISMATCH");
        assert_eq!(reply.body["verb"], "PUT", "{}", reply.body);
    }

    assert_eq!(snapshot(&app).await, before);
    let letters = assert_dead_letters(
        &app,
        "WEBHOOK_VERSION_MISMATCH",
        &[body.clone(), body.clone()],
    )
    .await;
    let versions: Vec<&str> = letters.iter().map(|l| l.header("webhookVersion")).collect();
    assert_eq!(versions, ["3", "abc"]);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Foreign keys: contract_ID_parent must already exist (SPEC 8.3)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_with_an_unknown_parent_contract_is_dead_lettered_as_invalid_foreign_key() {
    let app = spawn_contract_worker().await;
    let before = snapshot(&app).await;
    let mut body = fixture("contract_put.json");
    body["contract"]["contract_ID_parent"] = json!("C0000001-76");

    let reply = app.call(ENTITY, body.clone()).await;

    assert_error(&reply, "INVALID_FOREIGN_KEY");
    assert_eq!(
        reply.body["error"]["details"],
        json!([{"block": "contract", "field": "contract_ID_parent", "value": "C0000001-76",
                "message": "no contract \"C0000001-76\"",
                "references": "sw_data_contract.codecontract"}])
    );
    assert_eq!(snapshot(&app).await, before);
    assert_dead_letters(&app, "INVALID_FOREIGN_KEY", &[body]).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_naming_a_parent_contract_written_before_is_applied() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;

    let reply = app
        .call_with(
            ENTITY,
            contract_v2("C0000001-78", json!({"contract_ID_parent": SEED_CODE})),
            version(AMQPValue::LongInt(2)),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(
        reply.body["result"]["contract"]["contract_ID_parent"],
        SEED_CODE
    );
    let row = contract_row(&app, "C0000001-78").await;
    assert_eq!(row["contract_ID_parent"], SEED_CODE);
    app.stop_and_check_no_dead_letter(ENTITY).await;
}

// ---------------------------------------------------------------------------------------
// Billing lines and the status default (SPEC 8, 8.3, 11.8)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_lines_are_upserted_by_code_and_their_contract_id_defaults_to_the_contract() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;
    assert_ok(
        &app.call(
            "frequency",
            json!({"verb": "PUT", "frequency": {"codefrequency": "MONTHLY", "label": "Mensuelle"}}),
        )
        .await,
    );
    let mut body = contract_v2(SEED_CODE, json!({}));
    body["contractbilling"] = json!([
        {"codecontractbilling": SEED_CODE, "amount": "250"},
        {"codecontractbilling": "C0000001-77-2", "startDate": "2021-01-01",
         "frequency_ID": "MONTHLY", "partsIncluded": "0"},
    ]);

    let reply = app
        .call_with(ENTITY, body, version(AMQPValue::LongInt(2)))
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["created"], json!(false));
    let updated = billing_row(&app, SEED_CODE).await;
    for (column, value) in [
        ("contract_ID", json!(SEED_CODE)),
        ("amount", json!(250)),
        ("startDate", json!("2020-06-01T00:00:00")),
        ("workforceIncluded", json!(true)),
        ("partsIncluded", json!(true)),
    ] {
        assert_eq!(updated[column], value, "the seed line's {column}");
    }
    let added = billing_row(&app, "C0000001-77-2").await;
    for (column, value) in [
        ("contract_ID", json!(SEED_CODE)),
        ("startDate", json!("2021-01-01T00:00:00")),
        ("frequency_ID", json!("MONTHLY")),
        ("partsIncluded", json!(false)),
        ("amount", Json::Null),
    ] {
        assert_eq!(added[column], value, "the new line's {column}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM sw_data_contractbilling")
            .await,
        2
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_contract_without_status_is_new_and_an_update_without_status_keeps_its_status() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;
    put_closed_status(&app).await;

    let created = put_v2(&app, contract_v2("K1", json!({}))).await;
    let created_empty = put_v2(
        &app,
        contract_v2("K2", json!({"generictype_ID_status": ""})),
    )
    .await;
    let closed = put_v2(
        &app,
        contract_v2("K1", json!({"generictype_ID_status": "CLOSED"})),
    )
    .await;
    let untouched = put_v2(&app, contract_v2("K1", json!({"label": "Renamed"}))).await;

    assert_eq!(created.body["created"], json!(true));
    assert_eq!(
        created.body["result"]["contract"]["generictype_ID_status"],
        "NEW"
    );
    assert_eq!(
        created_empty.body["result"]["contract"]["generictype_ID_status"], "NEW",
        "SPEC 11.8: \"\" on create means not given"
    );
    assert_eq!(
        closed.body["result"]["contract"]["generictype_ID_status"],
        "CLOSED"
    );
    assert_eq!(
        untouched.body["result"]["contract"]["generictype_ID_status"],
        "CLOSED"
    );
    assert_eq!(
        contract_row(&app, "K1").await["generictype_ID_status"],
        "CONTRACT_STATUS-CLOSED"
    );
    assert_eq!(
        contract_row(&app, "K2").await["generictype_ID_status"],
        "CONTRACT_STATUS-NEW"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Recoding (SPEC 8.1, 11.4)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_recoded_by_a_version_1_put_takes_its_contracts_and_sites_along() {
    let app = spawn_contract_worker().await;
    assert_ok(
        &app.call(
            "customer",
            json!({"verb": "PUT", "customer": {"codecustomer": "OLD1", "name": "AVANT"}}),
        )
        .await,
    );
    put_v2(
        &app,
        json!({"verb": "PUT", "contract": {"codecontract": "K-OLD", "customer_ID": "OLD1"}}),
    )
    .await;
    let mut body = fixture("contract_put.json");
    body["customer"]["internalCodeCustomer"] = json!("OLD1");
    body["site"]["internalcustomer_ID"] = json!("OLD1");
    body["contract"]["internalCodeCustomer"] = json!("OLD1");

    let reply = app.call(ENTITY, body).await;

    assert_ok(&reply);
    assert_eq!(
        app.row("sw_data_customer", "codecustomer", "OLD1").await,
        None
    );
    assert_eq!(
        contract_row(&app, "K-OLD").await["customer_ID"],
        SEED_CUSTOMER
    );
    assert_eq!(
        contract_row(&app, SEED_CODE).await["customer_ID"],
        SEED_CUSTOMER
    );
    let site = app
        .row("sw_data_customeraddress", "codecustomeraddress", SEED_SITE)
        .await
        .expect("the site");
    assert_eq!(site["customer_ID"], SEED_CUSTOMER);
    assert_eq!(app.count("SELECT count(*) FROM sw_data_customer").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_recoded_with_internalcodecontract_takes_its_billing_lines_along() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;

    let reply = put_v2(
        &app,
        json!({"verb": "PUT", "contract": {"codecontract": "C0000001-99",
                                           "internalcodecontract": SEED_CODE}}),
    )
    .await;

    assert_eq!(reply.body["created"], json!(false));
    assert_eq!(
        app.row("sw_data_contract", "codecontract", SEED_CODE).await,
        None
    );
    assert_eq!(
        contract_row(&app, "C0000001-99").await["label"],
        "Test contrat"
    );
    assert_eq!(
        billing_row(&app, SEED_CODE).await["contract_ID"],
        "C0000001-99"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// LIST (SPEC 2, 8.3)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_filter_of_the_seed_selects_exactly_the_matching_contracts() {
    let app = spawn_contract_worker().await;
    put_list_contracts(&app).await;
    let cases: [(Json, &[&str]); 15] = [
        (json!({}), &[SEED_CODE, "K2", "K3"]),
        (json!({"codeContract": "K2"}), &["K2"]),
        (json!({"label": "contrat"}), &[SEED_CODE, "K3"]),
        (json!({"label": "MAINTENANCE"}), &["K2", "K3"]),
        (json!({"codeCustomer": SEED_CUSTOMER}), &[SEED_CODE, "K3"]),
        (json!({"codeCustomer": "C0000002"}), &["K2"]),
        (json!({"contractType": "MAINT"}), &["K2", "K3"]),
        (json!({"codeDeal": "D0000001"}), &["K2"]),
        (json!({"codeStatus": "CLOSED"}), &["K2"]),
        (
            json!({"codeStatus": "CONTRACT_STATUS-NEW"}),
            &[SEED_CODE, "K3"],
        ),
        (json!({"codeEquipment": "EQ-1"}), &[SEED_CODE, "K2"]),
        (json!({"codeEquipment": "EQ-2"}), &["K2"]),
        (json!({"codeEquipment": "EQ-9"}), &[]),
        (
            json!({"codeCustomer": SEED_CUSTOMER, "contractType": "MAINT"}),
            &["K3"],
        ),
        (
            json!({"CODEEQUIPMENT": "EQ-1", "codestatus": "NEW"}),
            &[SEED_CODE],
        ),
    ];

    for (filters, expected) in cases {
        let reply = app
            .call(ENTITY, json!({"verb": "LIST", "filters": filters}))
            .await;

        assert_ok(&reply);
        assert_eq!(list_codes(&reply), expected, "filters {filters}");
        assert_eq!(reply.body["total"], json!(expected.len()), "{filters}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_items_have_the_keys_of_the_result_type() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;

    let simple = app
        .call(ENTITY, json!({"verb": "LIST", "resultType": "simple"}))
        .await;
    let extended = app
        .call(ENTITY, json!({"verb": "LIST", "resultType": "extended"}))
        .await;

    assert_ok(&simple);
    assert_json_in_order(
        &simple.body["result"],
        &json!({"contract": [fixture("contract_get_simple.json")["contract"]]}),
    );
    assert_ok(&extended);
    assert_json_in_order(
        &extended.body["result"],
        &json!({"contract": [fixture("contract_get_extended.json")["contract"]]}),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_with_an_unknown_filter_is_dead_lettered_as_invalid_request() {
    let app = spawn_contract_worker().await;
    let body = json!({"verb": "LIST", "filters": {"codeEquipement": "EQ-1"}});

    let reply = app.call(ENTITY, body.clone()).await;

    assert_error(&reply, "INVALID_REQUEST");
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("codeEquipment"),
        "lists the known filters: {message}"
    );
    assert_dead_letters(&app, "INVALID_REQUEST", &[body]).await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// DELETE (SPEC 8.1, 8.3, 11.13)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cascades_to_billing_lines_and_equipment_links_and_counts_them() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;
    let mut second_line = contract_v2(SEED_CODE, json!({}));
    second_line["contractbilling"] = json!([{"codecontractbilling": "C0000001-77-2"}]);
    put_v2(&app, second_line).await;
    put_equipment_link(&app, "CE-1", SEED_CODE, "EQ-1").await;

    let reply = app
        .call(ENTITY, json!({"verb": "DELETE", "code": SEED_CODE}))
        .await;

    assert_ok(&reply);
    assert_eq!(
        reply.body["deleted"],
        json!({"contract": 1, "contractbilling": 2, "contractequipment": 1})
    );
    for table in [
        "sw_data_contract",
        "sw_data_contractbilling",
        "sw_data_contractequipment",
    ] {
        let count = app.count(&format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(count, 0, "{table}");
    }
    for (table, column, code) in [
        ("sw_data_customer", "codecustomer", SEED_CUSTOMER),
        ("sw_data_customeraddress", "codecustomeraddress", SEED_SITE),
        ("sw_data_contracttype", "codecontracttype", "LICENCE"),
    ] {
        assert!(
            app.row(table, column, code).await.is_some(),
            "{table} stays"
        );
    }
    app.stop_and_check_no_dead_letter(ENTITY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_parent_contract_still_referenced_is_a_dead_lettered_conflict() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;
    put_v2(
        &app,
        contract_v2("C0000001-78", json!({"contract_ID_parent": SEED_CODE})),
    )
    .await;
    let before = snapshot(&app).await;
    let body = json!({"verb": "DELETE", "code": SEED_CODE});

    let reply = app.call(ENTITY, body.clone()).await;

    assert_error(&reply, "CONFLICT");
    assert_eq!(
        reply.body["error"]["details"][0]["field"],
        "contract_ID_parent"
    );
    assert_eq!(snapshot(&app).await, before);
    assert_dead_letters(&app, "CONFLICT", &[body]).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_customer_that_still_has_a_contract_is_a_dead_lettered_conflict() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;
    let before = snapshot(&app).await;
    let body = json!({"verb": "DELETE", "code": SEED_CUSTOMER});

    let reply = app.call("customer", body.clone()).await;

    assert_error(&reply, "CONFLICT");
    let details = &reply.body["error"]["details"];
    assert!(
        details
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["block"] == "contract")),
        "{details}"
    );
    assert_eq!(snapshot(&app).await, before);
    let letters = app.dead_letters("customer", 1).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].header("webhook-error-code"), "CONFLICT");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_an_unknown_contract_is_not_found_and_not_dead_lettered() {
    let app = spawn_contract_worker().await;

    let reply = app
        .call(ENTITY, json!({"verb": "DELETE", "code": "C0000001-404"}))
        .await;

    assert_error(&reply, "NOT_FOUND");
    app.stop_and_check_no_dead_letter(ENTITY).await;
}

// ---------------------------------------------------------------------------------------
// The customer's openedContract (SPEC 8.1)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_indicators_count_its_contracts_that_are_not_closed() {
    let app = spawn_contract_worker().await;
    put_seed_contract(&app).await;
    put_v2(
        &app,
        contract_v2("K-CLOSED", json!({"closingDate": "2021-12-31"})),
    )
    .await;
    put_v2(
        &app,
        contract_v2("K-CLOSING", json!({"closingDate": "2999-12-31"})),
    )
    .await;

    let reply = app
        .call(
            "customer",
            json!({"verb": "GET", "code": SEED_CUSTOMER, "settings": {"getIndicators": "1"}}),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["result"]["indicators"][0]["openedContract"], "2");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A worker serving the contract webhook and the queues its tests send to, with the demo data.
async fn spawn_contract_worker() -> TestWorker {
    spawn_worker_with(test_settings(&[
        "contract",
        "contracttype",
        "frequency",
        "contractequipment",
        "customer",
        "customeraddress",
        "generictype",
    ]))
    .await
}

fn version(header: AMQPValue) -> CallOptions {
    CallOptions {
        webhook_version: Some(header),
        ..CallOptions::default()
    }
}

fn get(code: &str, result_type: &str) -> Json {
    json!({"verb": "GET", "code": code, "resultType": result_type})
}

/// 002's PUT example under webhookVersion 1 (no header).
async fn put_seed_contract(app: &TestWorker) -> Reply {
    let reply = app.call(ENTITY, fixture("contract_put.json")).await;
    assert_ok(&reply);
    reply
}

/// A PUT under webhookVersion 2, which must succeed.
async fn put_v2(app: &TestWorker, body: Json) -> Reply {
    let reply = app
        .call_with(ENTITY, body, version(AMQPValue::LongInt(2)))
        .await;
    assert_ok(&reply);
    reply
}

/// A version 2 contract PUT for the seed's customer and contract type.
fn contract_v2(code: &str, fields: Json) -> Json {
    let mut block = Map::new();
    block.insert("codecontract".into(), json!(code));
    block.insert("customer_ID".into(), json!(SEED_CUSTOMER));
    block.insert("contracttype_ID".into(), json!("LICENCE"));
    block.extend(fields.as_object().cloned().unwrap_or_default());
    json!({"verb": "PUT", "contract": block})
}

/// `body` without the named top-level blocks.
fn without_blocks(body: &Json, blocks: &[&str]) -> Json {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        for block in blocks {
            object.remove(*block);
        }
    }
    body
}

/// A CONTRACT_STATUS the demo data does not have.
async fn put_closed_status(app: &TestWorker) {
    let reply = app
        .call(
            "generictype",
            json!({"verb": "PUT", "generictype": {"codegenerictype": "CONTRACT_STATUS-CLOSED",
                   "label": "Clôturé", "originalCode": "CLOSED", "dataType": "CONTRACT_STATUS"}}),
        )
        .await;
    assert_ok(&reply);
}

async fn put_equipment_link(app: &TestWorker, code: &str, contract: &str, equipment: &str) {
    let reply = app
        .call(
            "contractequipment",
            json!({"verb": "PUT", "contractequipment": {"codecontractequipment": code,
                   "contract_ID": contract, "equipment_ID": equipment}}),
        )
        .await;
    assert_ok(&reply);
}

/// Three contracts that LIST's filters tell apart: the seed's, and two of type MAINT, one of
/// another customer, closed, with a deal and two equipments. The deal is inserted in SQL:
/// this test is about the contract's filter, not the opportunity webhook.
async fn put_list_contracts(app: &TestWorker) {
    put_seed_contract(app).await;
    put_closed_status(app).await;
    assert_ok(
        &app.call(
            "customer",
            json!({"verb": "PUT", "customer": {"codecustomer": "C0000002", "name": "AUTRE"}}),
        )
        .await,
    );
    assert_ok(
        &app.call(
            "contracttype",
            json!({"verb": "PUT", "contracttype": {"codecontracttype": "MAINT",
                   "label": "Maintenance"}}),
        )
        .await,
    );
    sqlx::query(r#"INSERT INTO sw_data_deal (codedeal, "customer_ID") VALUES ($1, $2)"#)
        .bind("D0000001")
        .bind("C0000002")
        .execute(&app.pool)
        .await
        .expect("the deal");
    put_v2(
        app,
        contract_v2(
            "K2",
            json!({"label": "Maintenance chaudière", "customer_ID": "C0000002",
                   "contracttype_ID": "MAINT", "generictype_ID_status": "CLOSED",
                   "deal_ID": "D0000001"}),
        ),
    )
    .await;
    put_v2(
        app,
        contract_v2(
            "K3",
            json!({"label": "CONTRAT de maintenance", "contracttype_ID": "MAINT"}),
        ),
    )
    .await;
    put_equipment_link(app, "CE-1", SEED_CODE, "EQ-1").await;
    put_equipment_link(app, "CE-2", "K2", "EQ-1").await;
    put_equipment_link(app, "CE-3", "K2", "EQ-2").await;
}

/// The rows 002's PUT leaves, as stored (full generictype codes, SPEC 3, 11.7).
async fn assert_seed_rows(app: &TestWorker) {
    let contract = contract_row(app, SEED_CODE).await;
    for (column, stored) in [
        ("label", json!("Test contrat")),
        ("contractNumber", json!("CONTRACT_000077")),
        ("customer_ID", json!(SEED_CUSTOMER)),
        ("generictype_ID_status", json!("CONTRACT_STATUS-NEW")),
        ("contracttype_ID", json!("LICENCE")),
        ("startDate", json!("2020-06-01T00:00:00")),
        ("endDate", Json::Null),
        ("amount", json!(200)),
        ("contract_ID_parent", Json::Null),
        ("deal_ID", Json::Null),
        ("dealelement_ID", Json::Null),
    ] {
        assert_eq!(contract[column], stored, "sw_data_contract.{column}");
    }
    let billing = billing_row(app, SEED_CODE).await;
    for (column, stored) in [
        ("contract_ID", json!(SEED_CODE)),
        ("startDate", json!("2020-06-01T00:00:00")),
        ("endDate", Json::Null),
        ("frequency_ID", Json::Null),
        ("workforceIncluded", json!(true)),
        ("partsIncluded", json!(true)),
        ("travelsIncluded", json!(true)),
        ("amount", json!(200)),
    ] {
        assert_eq!(billing[column], stored, "sw_data_contractbilling.{column}");
    }
    let site = app
        .row("sw_data_customeraddress", "codecustomeraddress", SEED_SITE)
        .await
        .expect("the site");
    for (column, stored) in [
        ("customer_ID", json!(SEED_CUSTOMER)),
        ("postalCode", json!("21000 ")),
        ("generictype_ID_country", json!("COUNTRY-FR")),
        ("site", json!(true)),
        ("siteName", json!("Entrepôt Dijon")),
        ("baseuser_ID_favoriteTechnician", json!("TECH-01")),
    ] {
        assert_eq!(site[column], stored, "sw_data_customeraddress.{column}");
    }
    let customer = app
        .row("sw_data_customer", "codecustomer", SEED_CUSTOMER)
        .await
        .expect("the customer");
    assert_eq!(customer["generictype_ID_customerType"], "CUSTOMER_TYPE-CTC");
    assert_eq!(customer["workforce"], json!(23));
    let contracttype = app
        .row("sw_data_contracttype", "codecontracttype", "LICENCE")
        .await
        .expect("the contract type");
    assert_eq!(contracttype["label"], "Abonnement licence");
    for (table, rows) in [
        ("sw_data_contract", 1),
        ("sw_data_contractbilling", 1),
        ("sw_data_customeraddress", 1),
        ("sw_data_customer", 1),
        ("sw_data_contracttype", 1),
    ] {
        let count = app.count(&format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(count, rows, "{table}");
    }
}

async fn contract_row(app: &TestWorker, code: &str) -> Json {
    app.row("sw_data_contract", "codecontract", code)
        .await
        .unwrap_or_else(|| panic!("contract {code}"))
}

async fn billing_row(app: &TestWorker, code: &str) -> Json {
    app.row("sw_data_contractbilling", "codecontractbilling", code)
        .await
        .unwrap_or_else(|| panic!("contractbilling {code}"))
}

/// A fingerprint of every table a contract request may write, to show that a failed
/// request changed nothing.
async fn snapshot(app: &TestWorker) -> String {
    let mut all = String::new();
    for table in [
        "sw_data_contract",
        "sw_data_contractbilling",
        "sw_data_contractequipment",
        "sw_data_contracttype",
        "sw_data_customer",
        "sw_data_customeraddress",
        "sw_data_customercontact",
        "webhook_inbox",
    ] {
        let sql = format!(
            "SELECT coalesce(string_agg(to_jsonb(t)::text, '|' ORDER BY to_jsonb(t)::text), '') \
             FROM {table} t"
        );
        let text: String = sqlx::query(&sql)
            .fetch_one(&app.pool)
            .await
            .expect("snapshot")
            .get(0);
        all.push_str(&text);
        all.push('\n');
    }
    all
}

/// The contract DLQ holds exactly these bodies, in order, each with `code` and the
/// worker's headers (SPEC 5).
async fn assert_dead_letters(app: &TestWorker, code: &str, bodies: &[Json]) -> Vec<DeadLetter> {
    let letters = app.dead_letters(ENTITY, bodies.len()).await;
    assert_eq!(letters.len(), bodies.len(), "{letters:?}");
    for (letter, body) in letters.iter().zip(bodies) {
        assert_eq!(letter.header("webhook-error-code"), code);
        assert_eq!(
            letter.header("webhook-original-queue"),
            app.topology.request_queue(ENTITY)
        );
        assert_eq!(&letter.body_json(), body, "the body as sent");
    }
    letters
}

/// The codes of a LIST reply's items, in order.
fn list_codes(reply: &Reply) -> Vec<String> {
    reply.body["result"]["contract"]
        .as_array()
        .unwrap_or_else(|| panic!("a LIST result: {}", reply.body))
        .iter()
        .map(|item| {
            item["codecontract"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}
