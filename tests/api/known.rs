//! The reference cache (engine/known.rs, `REFERENCE_CACHE_MS`): a PUT whose references an
//! earlier PUT found runs no lookup statement, a reply whose generictype labels an earlier
//! one showed reads none, and what the cache cannot know (a row created, edited or deleted
//! since) still gets the answer the database gives now.

use std::time::Duration;

use serde_json::{json, Value as Json};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use webhook_worker::database::Db;
use webhook_worker::engine::known::Known;
use webhook_worker::engine::{self, Applied, Outcome};
use webhook_worker::entities::Registry;
use webhook_worker::request::{self, Envelope};

use crate::helpers::{fixture, spawn_worker, spawn_worker_with, sql, test_settings, unique};

const ENTITY: &str = "customer";

/// Seed 004's PUT under another code (its customeruser lines too), its country sent as an
/// originalCode ("FR"), which the lookup completes to the full code.
fn seed_put(code: &str) -> Json {
    let text = fixture("customer_put.json").to_string();
    let mut body: Json =
        serde_json::from_str(&text.replace("C0000001", code)).expect("the seed parses");
    body["customer"]["generictype_ID_country"] = json!("FR");
    body
}

async fn apply(pool: &PgPool, known: &Known, body: &Json, message_id: &str) -> Applied {
    let envelope = Envelope {
        body: serde_json::to_vec(body).expect("JSON serialises"),
        content_type: Some("application/json".into()),
        webhook_version: None,
    };
    let request = request::decode(&envelope, 1 << 20).expect("decodes");
    let registry = Registry::standard();
    let def = registry.get(ENTITY).expect("customer");
    // A `Db` of its own: the connection is back in `pool` once it is dropped.
    let db = Db::new(pool.clone());
    engine::apply(&db, &registry, known, def, &request, Some(message_id))
        .await
        .unwrap_or_else(|e| panic!("{body}: {e}"))
}

/// How many times this session ran the statements whose text is LIKE `pattern`, from its
/// prepared statements' plan counts.
async fn runs(pool: &PgPool, pattern: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(generic_plans + custom_plans), 0)::int8 \
         FROM pg_prepared_statements WHERE statement LIKE $1",
    )
    .bind(pattern)
    .fetch_one(pool)
    .await
    .expect("prepared statements")
}

/// A PUT's lookup statement (engine/lookup.rs: a `UNION ALL` of parenthesised branches,
/// here with the generictype completion).
const LOOKUP: &str = "(SELECT%sw_data_generictype%";
/// The statement reading the labels of generictype codes (engine/render.rs).
const LABELS: &str = "SELECT codegenerictype::text, coalesce%";

fn code_of(applied: &Applied) -> Json {
    match &applied.outcome {
        Outcome::Put { result, .. } => {
            result.to_json()["customer"]["generictype_ID_country"].clone()
        }
        other => panic!("not a PUT outcome: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_whose_references_an_earlier_put_found_runs_no_lookup_and_writes_the_same() {
    let app = spawn_worker().await;
    // One connection: the prepared statements counted are those of every PUT below.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&app.settings.connections.database_url)
        .await
        .expect("a one-connection pool");
    let known = Known::new(Duration::from_secs(600));
    let run = &unique()[..8];
    let codes: Vec<String> = (0..3).map(|i| format!("K{run}{i}")).collect();
    let ids: Vec<String> = (0..3).map(|i| format!("msg-{run}-{i}")).collect();

    let mut applied = Vec::new();
    for (code, id) in codes.iter().zip(&ids) {
        applied.push(apply(&pool, &known, &seed_put(code), id).await);
    }
    let again = apply(&pool, &known, &seed_put(&codes[1]), &ids[1]).await;
    let get = json!({"verb": "GET", "code": codes[2]});
    let shown = apply(&pool, &known, &get, "get").await;

    assert_eq!(runs(&pool, LOOKUP).await, 1, "only the first PUT looked up");
    assert_eq!(
        runs(&pool, LABELS).await,
        1,
        "only the first reply read labels"
    );
    match &shown.outcome {
        Outcome::Get { result, .. } => {
            let result = result.to_json();
            let customer = &result["customer"];
            assert_eq!(customer["generictype_ID_country"], "FR", "{customer}");
            assert_eq!(customer["generictype_ID_civility"], "SA", "{customer}");
        }
        other => panic!("not a GET outcome: {other:?}"),
    }
    for (code, applied) in codes.iter().zip(&applied) {
        assert!(!applied.deduplicated);
        assert_eq!(code_of(applied), "FR", "the reply shows the originalCode");
        let row = app.row("sw_data_customer", "codecustomer", code).await;
        let row = row.unwrap_or_else(|| panic!("{code} written"));
        assert_eq!(row["generictype_ID_country"], "COUNTRY-FR", "{code}");
        assert_eq!(row["baseuser_ID"], "GRO-OUES", "{code}");
    }
    assert!(
        again.deduplicated,
        "the redelivery is answered from its record"
    );
    assert_eq!(again.outcome, applied[1].outcome);
    let records = format!("SELECT count(*) FROM webhook_inbox WHERE message_id LIKE 'msg-{run}-%'");
    assert_eq!(app.count(&records).await, 3);

    // The same PUT without the cache runs its lookup: the count above can tell.
    let fresh = apply(
        &pool,
        &Known::disabled(),
        &seed_put(&format!("K{run}x")),
        "x",
    )
    .await;
    assert_eq!(code_of(&fresh), "FR");
    assert_eq!(runs(&pool, LOOKUP).await, 2);
    assert_eq!(runs(&pool, LABELS).await, 2);
    pool.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_field_declared_after_the_catalog_was_kept_is_accepted_at_once() {
    let mut settings = test_settings(&["customer"]);
    settings.reference_cache_ms = 600_000;
    let app = spawn_worker_with(settings).await;
    let run = &unique()[..8];
    let first = app.call(ENTITY, seed_put(&format!("D{run}0"))).await;
    assert_eq!(first.body["status"], "ok", "{}", first.body);
    sql(
        &app,
        "INSERT INTO sw_data_dynamicfield (codedynamicfield, entity, fieldname, label, \"fieldType\") \
         VALUES ('customer-CLI60', 'customer', 'CLI60', 'Champ libre client 60', 'Int')",
    )
    .await;
    let mut body = seed_put(&format!("D{run}1"));
    body["customer"]["v_CLI60"] = json!("6");

    let reply = app.call(ENTITY, body).await;

    assert_eq!(reply.body["status"], "ok", "{}", reply.body);
    assert_eq!(
        reply.body["result"]["customer"]["v_CLI60"], "6",
        "{}",
        reply.body
    );
    let row = app
        .row("sw_data_customer", "codecustomer", &format!("D{run}1"))
        .await;
    assert_eq!(
        row.map(|r| r["dynamicfields"]["CLI60"].clone()),
        Some(json!("6"))
    );
    app.stop_and_check_no_dead_letter(ENTITY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generictype_edited_through_the_worker_is_seen_by_the_next_put() {
    let mut settings = test_settings(&["customer", "generictype"]);
    settings.reference_cache_ms = 600_000;
    let app = spawn_worker_with(settings).await;
    let run = &unique()[..8];
    let first = app.call(ENTITY, seed_put(&format!("G{run}0"))).await;
    assert_eq!(first.body["status"], "ok", "{}", first.body);
    let edit = json!({"verb": "PUT", "generictype": {
        "codegenerictype": "COUNTRY-FR", "originalCode": "FRA"}});
    let edited = app.call("generictype", edit).await;
    assert_eq!(edited.body["status"], "ok", "{}", edited.body);

    let refused = app.call(ENTITY, seed_put(&format!("G{run}1"))).await;
    let shown = app
        .call(ENTITY, json!({"verb": "GET", "code": format!("G{run}0")}))
        .await;

    assert_eq!(
        refused.body["error"]["code"], "INVALID_FOREIGN_KEY",
        "{}",
        refused.body
    );
    let details = refused.body["error"]["details"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(details.len(), 1, "{}", refused.body);
    assert_eq!(
        details[0]["field"], "generictype_ID_country",
        "{}",
        refused.body
    );
    assert_eq!(details[0]["value"], "FR", "{}", refused.body);
    assert!(app
        .row("sw_data_customer", "codecustomer", &format!("G{run}1"))
        .await
        .is_none());
    // The label the first reply showed was kept; the GET shows the edited one.
    assert_eq!(
        first.body["result"]["customer"]["generictype_ID_country"],
        "FR"
    );
    assert_eq!(
        shown.body["result"]["customer"]["generictype_ID_country"], "FRA",
        "{}",
        shown.body
    );
    app.stop().await;
}
