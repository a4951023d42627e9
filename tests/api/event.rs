//! The Event webhook (seed 000, SPEC 8.2): 000's PUT applied as written, GET in every result
//! type compared with the fixtures built from the seed, the `eventDate` default, foreign
//! keys and validation, every LIST filter and orderBy of 000, and DELETE. Each test has its
//! own worker, database and topology prefix. `tests/fixtures/README.md` ("Event") says where
//! each expected reply comes from.

use serde_json::{json, Map, Value as Json};

use crate::assertions::{assert_error, assert_json_in_order, assert_ok, detail_fields, keys};
use crate::helpers::import;
use crate::helpers::{fixture, spawn_worker_with, test_settings, DeadLetter, TestWorker};
use webhook_worker::call::Reply;

/// The queues these tests talk to.
const ENTITIES: &[&str] = &["event", "customer", "opportunity"];

/// The value the event fixtures give `eventDate`: 000's PUT sends `""`, so the date is the
/// time of the PUT (SPEC 8.2, 11.8), checked by [`assert_now`] and then put in its place.
const NOW: &str = "NOW";

// ---------------------------------------------------------------------------------------
// PUT of 000's example
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_of_the_seed_example_creates_the_event_dated_now_with_every_reference() {
    let app = spawn_with_seed_rows().await;
    let before = now_to_the_second();

    let reply = app.call("event", fixture("event_put.json")).await;

    let after = chrono::Local::now().naive_local();
    assert_ok(&reply);
    assert_eq!(reply.body["code"], "EXT00000001");
    assert_eq!(reply.body["created"], json!(true));
    let date = assert_now(&reply.body["result"]["event"]["eventDate"], before, after);
    assert_json_in_order(
        &reply.body["result"],
        &dated(fixture("event_get_extended.json"), &date),
    );
    let row = app
        .row("sw_data_event", "codeevent", "EXT00000001")
        .await
        .expect("the event row");
    for (column, stored) in [
        ("eventtype_ID", json!("PhoneCall")),
        ("label", json!("A rappeler")),
        ("comment", Json::Null),
        ("customer_ID", json!("C0000001")),
        ("customercontact_ID", json!("C0000001-BDX")),
        ("baseuser_ID", json!("B0000001-BDX")),
        ("deal_ID", json!("D0000001-BDX")),
        ("marketinglead_ID", json!("ML0000001-BDX")),
        ("customer_ID_dealPartner", json!("CDP0000001-BDX")),
        ("gpsLongitude", Json::Null),
    ] {
        assert_eq!(row[column], stored, "sw_data_event.{column}");
    }
    app.stop_and_check_no_dead_letter("event").await;
}

// ---------------------------------------------------------------------------------------
// GET, compared with the fixtures key by key and in order (SPEC 3, 10)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_simple_returns_the_seed_simple_keys_in_order() {
    let (app, date) = spawn_with_seed_event().await;

    let reply = app
        .call(
            "event",
            json!({"verb": "GET", "code": "EXT00000001", "resultType": "simple"}),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "EXT00000001");
    assert_json_in_order(
        &reply.body["result"],
        &dated(fixture("event_get_simple.json"), &date),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_returns_the_seed_extended_keys_in_order() {
    let (app, date) = spawn_with_seed_event().await;

    let reply = app
        .call(
            "event",
            json!({"verb": "GET", "code": "EXT00000001", "resultType": "extended"}),
        )
        .await;

    assert_ok(&reply);
    assert_json_in_order(
        &reply.body["result"],
        &dated(fixture("event_get_extended.json"), &date),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_related_adds_the_customer_baseuser_contact_deal_and_deal_partner_blocks() {
    let (app, date) = spawn_with_seed_event().await;

    let reply = app
        .call(
            "event",
            json!({"verb": "GET", "code": "EXT00000001", "resultType": "extendedRelated"}),
        )
        .await;

    assert_ok(&reply);
    assert_json_in_order(
        &reply.body["result"],
        &dated(fixture("event_get_extended_related.json"), &date),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_related_gives_every_key_empty_for_each_empty_foreign_key() {
    let app = spawn_with_seed_rows().await;
    assert_ok(
        &app.call(
            "event",
            put_event(
                "EXT00000002",
                json!({"eventDate": "2021-06-04 11:03:50", "customer_ID": "C0000001"}),
            ),
        )
        .await,
    );
    let expected = fixture("event_get_extended_related.json");
    let expected_related = &expected["related"][0];

    let reply = app
        .call(
            "event",
            json!({"verb": "GET", "code": "EXT00000002", "resultType": "extendedRelated"}),
        )
        .await;

    assert_ok(&reply);
    let related = &reply.body["result"]["related"][0];
    assert_json_in_order(&related["customer"], &expected_related["customer"]);
    for key in [
        "baseuser",
        "customercontact",
        "deal",
        "customer_dealPartner",
    ] {
        let mut empty = expected_related[key].clone();
        for value in empty.as_object_mut().expect("a block").values_mut() {
            *value = json!("");
        }
        assert_json_in_order(&related[key], &empty);
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// eventDate (SPEC 8.2, 11.8)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absent_event_date_is_now_a_given_one_is_kept_and_an_empty_one_clears_it_on_update() {
    let app = spawn_with_seed_rows().await;
    let before = now_to_the_second();

    let absent = app
        .call("event", put_event("EXT00000003", json!({"label": "X"})))
        .await;
    let after = chrono::Local::now().naive_local();
    let given = app
        .call(
            "event",
            put_event("EXT00000004", json!({"eventDate": "2021-06-04 11:03"})),
        )
        .await;
    let kept = app
        .call("event", put_event("EXT00000004", json!({"label": "Y"})))
        .await;
    let cleared = app
        .call("event", put_event("EXT00000004", json!({"eventDate": ""})))
        .await;

    assert_ok(&absent);
    assert_now(&absent.body["result"]["event"]["eventDate"], before, after);
    assert_ok(&given);
    assert_eq!(
        given.body["result"]["event"]["eventDate"],
        "2021-06-04 11:03:00"
    );
    assert_ok(&kept);
    assert_eq!(
        kept.body["result"]["event"]["eventDate"],
        "2021-06-04 11:03:00"
    );
    assert_ok(&cleared);
    assert_eq!(cleared.body["result"]["event"]["eventDate"], "");
    let row = app
        .row("sw_data_event", "codeevent", "EXT00000004")
        .await
        .expect("the event");
    assert_eq!(row["eventDate"], Json::Null);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Refused requests
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_naming_no_existing_row_in_every_foreign_key_is_invalid_foreign_key_listing_each_one()
{
    let app = spawn_with_seed_rows().await;
    let before = event_snapshot(&app).await;
    let request = put_event(
        "EXT00000005",
        json!({
            "customer_ID": "C9", "customercontact_ID": "C9-K", "baseuser_ID": "NOBODY",
            "deal_ID": "D9", "marketinglead_ID": "ML9", "customer_ID_dealPartner": "CDP9",
            "eventtype_ID": "Telepathy"
        }),
    );

    let reply = app.call("event", request.clone()).await;

    assert_error(&reply, "INVALID_FOREIGN_KEY");
    let details = reply.body["error"]["details"].as_array().expect("details");
    let mut listed: Vec<(String, String, String)> = details
        .iter()
        .map(|d| {
            let text = |key: &str| d[key].as_str().unwrap_or_default().to_string();
            (text("field"), text("value"), text("references"))
        })
        .collect();
    listed.sort();
    let expected = [
        ("baseuser_ID", "NOBODY", "sw_data_baseuser.codebaseuser"),
        ("customer_ID", "C9", "sw_data_customer.codecustomer"),
        (
            "customer_ID_dealPartner",
            "CDP9",
            "sw_data_customer.codecustomer",
        ),
        (
            "customercontact_ID",
            "C9-K",
            "sw_data_customercontact.codecustomercontact",
        ),
        ("deal_ID", "D9", "sw_data_deal.codedeal"),
        (
            "eventtype_ID",
            "Telepathy",
            "sw_data_eventtype.codeeventtype",
        ),
        (
            "marketinglead_ID",
            "ML9",
            "sw_data_marketinglead.codemarketinglead",
        ),
    ]
    .map(|(f, v, r)| (f.to_string(), v.to_string(), r.to_string()));
    assert_eq!(listed, expected);
    assert!(details.iter().all(|d| d["block"] == "event"));
    assert_eq!(event_snapshot(&app).await, before);
    let letter = assert_dead_lettered(&app, "INVALID_FOREIGN_KEY").await;
    assert_eq!(letter.body_json(), request);
    let header_details: Json =
        serde_json::from_str(letter.header("webhook-error-details")).expect("JSON details");
    assert_eq!(header_details, reply.body["error"]["details"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_with_several_invalid_fields_is_validation_failed_naming_every_one_and_writes_nothing(
) {
    let app = spawn_with_seed_rows().await;
    let before = event_snapshot(&app).await;

    let reply = app
        .call(
            "event",
            put_event(
                "EXT00000006",
                json!({
                    "eventDate": "2021-13-01",
                    "label": "x".repeat(256),
                    "gpsLongitude": "east",
                    "priority": "high",
                    "customer_ID": "C0000001"
                }),
            ),
        )
        .await;

    assert_error(&reply, "VALIDATION_FAILED");
    let mut fields = detail_fields(&reply);
    fields.sort();
    assert_eq!(fields, ["eventDate", "gpsLongitude", "label", "priority"]);
    assert_eq!(event_snapshot(&app).await, before);
    assert_dead_lettered(&app, "VALIDATION_FAILED").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_opportunity_or_a_customer_that_an_event_names_is_a_dead_lettered_conflict() {
    let (app, _) = spawn_with_seed_event().await;
    let before = event_snapshot(&app).await;

    let opportunity = app
        .call(
            "opportunity",
            json!({"verb": "DELETE", "code": "D0000001-BDX"}),
        )
        .await;
    let partner = app
        .call(
            "customer",
            json!({"verb": "DELETE", "code": "CDP0000001-BDX"}),
        )
        .await;

    assert_error(&opportunity, "CONFLICT");
    assert_eq!(
        opportunity.body["error"]["details"][0]["references"],
        "sw_data_event.deal_ID"
    );
    assert_error(&partner, "CONFLICT");
    assert_eq!(
        partner.body["error"]["details"][0]["references"],
        "sw_data_event.customer_ID_dealPartner"
    );
    assert_eq!(event_snapshot(&app).await, before);
    assert_eq!(app.dead_letters("opportunity", 1).await.len(), 1);
    assert_eq!(app.dead_letters("customer", 1).await.len(), 1);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// LIST (000's filters and orderBy)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_filter_of_the_seed_selects_exactly_the_matching_events() {
    let app = spawn_with_list_events().await;
    let cases: &[(Json, &[&str])] = &[
        (json!({"codeEvent": "EVT-2"}), &["EVT-2"]),
        (json!({"label": "RAPPEL"}), &["EVT-3"]),
        (json!({"comment": "commande"}), &["EVT-2", "EVT-3"]),
        (json!({"eventDate": "2021-06-05"}), &["EVT-1", "EVT-2"]),
        (
            json!({"eventDate": "2021-06-10 09:00"}),
            &["EVT-1", "EVT-2"],
        ),
        (
            json!({"eventDateBetween": "2021-06-01|2021-06-30"}),
            &["EVT-1", "EVT-3"],
        ),
        (
            json!({"eventDateBetween": "2021-06-04 11:03:50|2021-06-10 09:00:00"}),
            &["EVT-1", "EVT-3"],
        ),
        (json!({"codeCustomer": "C0000001"}), &["EVT-2", "EVT-3"]),
        (json!({"codeBaseuser": "MOREL"}), &["EVT-1"]),
        (json!({"codeCustomerContact": "C0000001-BDX"}), &["EVT-3"]),
        (json!({"codeDeal": "D0000001-BDX"}), &["EVT-3"]),
        (json!({"codeMarketingLead": "ML0000001-BDX"}), &["EVT-3"]),
        (json!({"codeEventType": "PhoneCall"}), &["EVT-2", "EVT-3"]),
        (json!({"codeEventType": "phonecall"}), &[]),
        (
            json!({"codeCustomer": "C0000001", "eventDate": "2021-07-01"}),
            &["EVT-2"],
        ),
    ];

    for (filters, expected) in cases {
        let reply = app
            .call("event", json!({"verb": "LIST", "filters": filters}))
            .await;

        assert_ok(&reply);
        assert_eq!(list_codes(&reply), *expected, "filters {filters}");
        assert_eq!(
            reply.body["total"],
            json!(expected.len()),
            "filters {filters}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_orders_by_code_by_default_and_by_event_date_with_each_order_by_of_the_seed() {
    let app = spawn_with_list_events().await;
    let cases: &[(Option<&str>, [&str; 3])] = &[
        (None, ["EVT-1", "EVT-2", "EVT-3"]),
        (Some("eventDateDesc"), ["EVT-2", "EVT-1", "EVT-3"]),
        (Some("eventDateAsc"), ["EVT-3", "EVT-1", "EVT-2"]),
    ];

    for (order_by, expected) in cases {
        let mut request = json!({"verb": "LIST"});
        if let Some(order_by) = order_by {
            request["orderBy"] = json!(order_by);
        }
        let reply = app.call("event", request).await;

        assert_ok(&reply);
        assert_eq!(list_codes(&reply), expected, "orderBy {order_by:?}");
        assert_eq!(
            keys(&reply.body["result"]["event"][0]),
            keys(&fixture("event_get_simple.json")["event"]),
            "each item is shaped as GET simple"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_with_an_unknown_filter_an_unknown_order_or_a_bad_between_is_an_invalid_request() {
    let app = spawn_with_seed_rows().await;
    let requests = [
        json!({"verb": "LIST", "filters": {"codeOpportunity": "D0000001-BDX"}}),
        json!({"verb": "LIST", "orderBy": "labelAsc"}),
        json!({"verb": "LIST", "filters": {"eventDateBetween": "2021-06-01"}}),
        json!({"verb": "LIST", "filters": {"eventDate": "tomorrow"}}),
    ];

    for request in &requests {
        let reply = app.call("event", request.clone()).await;
        assert_error(&reply, "INVALID_REQUEST");
    }
    let letters = app.dead_letters("event", requests.len()).await;
    assert_eq!(letters.len(), requests.len(), "{letters:?}");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// DELETE
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_event_and_leaves_what_it_names() {
    let (app, _) = spawn_with_seed_event().await;

    let reply = app
        .call("event", json!({"verb": "DELETE", "code": "EXT00000001"}))
        .await;
    let again = app
        .call("event", json!({"verb": "DELETE", "code": "EXT00000001"}))
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["deleted"], json!({"event": 1}));
    assert_eq!(app.count("SELECT count(*) FROM sw_data_event").await, 0);
    assert!(app
        .row("sw_data_deal", "codedeal", "D0000001-BDX")
        .await
        .is_some());
    assert!(app
        .row("sw_data_customer", "codecustomer", "CDP0000001-BDX")
        .await
        .is_some());
    assert_error(&again, "NOT_FOUND");
    app.stop_and_check_no_dead_letter("event").await;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A worker serving [`ENTITIES`], with the demo data, 004's customer `C0000001` and the rows
/// of 000's PUT that belong to customers (partner `CDP0000001-BDX`, contact `C0000001-BDX`,
/// opportunity `D0000001-BDX`): `tests/fixtures/README.md` says why they are not in the
/// demo data.
async fn spawn_with_seed_rows() -> TestWorker {
    let app = spawn_worker_with(test_settings(ENTITIES)).await;
    app.put_seed_customer().await;
    import(&app, fixture("event_customer_rows.json")).await;
    app
}

/// The same, with 000's PUT applied; returns the event's date (the time of the PUT).
async fn spawn_with_seed_event() -> (TestWorker, String) {
    let app = spawn_with_seed_rows().await;
    let before = now_to_the_second();
    let reply = app.call("event", fixture("event_put.json")).await;
    let after = chrono::Local::now().naive_local();
    assert_ok(&reply);
    let date = assert_now(&reply.body["result"]["event"]["eventDate"], before, after);
    (app, date)
}

/// Three events that 000's filters and orders tell apart. Code order is neither date order.
async fn spawn_with_list_events() -> TestWorker {
    let app = spawn_with_seed_rows().await;
    let events = [
        (
            "EVT-1",
            json!({"eventDate": "2021-06-10 09:00", "label": "Commande", "comment": "",
                   "customer_ID": "CDP0000001-BDX", "baseuser_ID": "MOREL",
                   "eventtype_ID": "Order"}),
        ),
        (
            "EVT-2",
            json!({"eventDate": "2022-01-15 14:30", "label": "Relance devis",
                   "comment": "Rappeler pour la COMMANDE", "customer_ID": "C0000001",
                   "eventtype_ID": "PhoneCall"}),
        ),
        (
            "EVT-3",
            json!({"eventDate": "2021-06-04 11:03:50", "label": "A rappeler",
                   "comment": "commande urgente", "customer_ID": "C0000001",
                   "baseuser_ID": "B0000001-BDX", "customercontact_ID": "C0000001-BDX",
                   "deal_ID": "D0000001-BDX", "marketinglead_ID": "ML0000001-BDX",
                   "eventtype_ID": "PhoneCall"}),
        ),
    ];
    for (code, fields) in events {
        assert_ok(&app.call("event", put_event(code, fields)).await);
    }
    app
}

/// An event PUT: `{"verb":"PUT","event":{"codeevent": code, ...fields}}`.
fn put_event(code: &str, fields: Json) -> Json {
    let mut block = Map::new();
    block.insert("codeevent".into(), json!(code));
    block.extend(fields.as_object().cloned().unwrap_or_default());
    json!({"verb": "PUT", "event": block})
}

/// A fixture whose `eventDate` is [`NOW`], with the event's actual date in its place.
fn dated(mut expected: Json, date: &str) -> Json {
    let slot = &mut expected["event"]["eventDate"];
    assert_eq!(*slot, NOW, "the fixture's eventDate is {NOW}");
    *slot = json!(date);
    expected
}

/// An `eventDate` as replied (`YYYY-MM-DD HH:MM:SS`) that lies between `before` and
/// `after`: "now" at the time of the PUT. Returns it.
#[track_caller]
fn assert_now(value: &Json, before: chrono::NaiveDateTime, after: chrono::NaiveDateTime) -> String {
    let text = value.as_str().unwrap_or_default();
    let date = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("eventDate {text:?}: {e}"));
    assert!(
        before <= date && date <= after,
        "{date} is now ({before}..{after})"
    );
    text.to_string()
}

fn now_to_the_second() -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let now = chrono::Local::now().naive_local();
    now.with_nanosecond(0).unwrap_or(now)
}

/// A fingerprint of the event table, the deal table and the customer's tables.
async fn event_snapshot(app: &TestWorker) -> String {
    let mut all = app.snapshot().await;
    for table in ["sw_data_event", "sw_data_deal"] {
        let sql = format!(
            "SELECT coalesce(string_agg(to_jsonb(t)::text, '|' ORDER BY to_jsonb(t)::text), '') FROM {table} t"
        );
        let text: String = sqlx::query_scalar(&sql)
            .fetch_one(&app.pool)
            .await
            .expect("snapshot");
        all.push_str(&text);
        all.push('\n');
    }
    all
}

/// The codes of a LIST reply's items, in order.
fn list_codes(reply: &Reply) -> Vec<String> {
    reply.body["result"]["event"]
        .as_array()
        .unwrap_or_else(|| panic!("a LIST result: {}", reply.body))
        .iter()
        .map(|item| item["codeevent"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The one dead letter of the event queue, with its error code header.
async fn assert_dead_lettered(app: &TestWorker, code: &str) -> DeadLetter {
    let mut letters = app.dead_letters("event", 1).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = letters.remove(0);
    assert_eq!(letter.header("webhook-error-code"), code);
    letter
}
