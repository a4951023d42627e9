//! Dead-letter operations (SPEC section 5) and poison messages (SPEC section 6): listing
//! never disturbs a DLQ, replay republishes what matches (confirm, then ack) and leaves the
//! rest in order, a replay that fails again comes back with its count raised, purge, and a
//! transient fault past the delivery limit is dead-lettered as INTERNAL.

use lapin::Connection;
use serde_json::{json, Value as Json};

use webhook_worker::call::CallOptions;
use webhook_worker::dlq::{DeadLetterQueue, ReplayFilter};
use webhook_worker::transport::connection;
use webhook_worker::transport::publisher::Publisher;

use crate::helpers::{
    spawn_worker, spawn_worker_with, test_settings, unique, TestWorker, AMQP_URL,
};

const ENTITY: &str = "customer";

/// A PUT whose baseuser does not exist yet: INVALID_FOREIGN_KEY until it does.
fn put_with_baseuser(code: &str, baseuser: &str) -> Json {
    json!({"verb": "PUT", "customer": {"codecustomer": code, "name": "DLQ", "baseuser_ID": baseuser}})
}

/// Send a request with a known message_id and wait for its (error) reply.
async fn send(app: &TestWorker, message_id: &str, body: &[u8]) -> Json {
    let options = CallOptions {
        message_id: Some(message_id.into()),
        ..CallOptions::default()
    };
    app.call_raw(ENTITY, body, options).await.body
}

/// Three dead letters: a missing baseuser, a malformed body, another missing baseuser.
async fn three_dead_letters(app: &TestWorker, run: &str) -> Vec<String> {
    let ids: Vec<String> = (1..=3).map(|i| format!("{run}-{i}")).collect();
    let fk = serde_json::to_vec(&put_with_baseuser(&format!("D{run}1"), &format!("U{run}")))
        .unwrap_or_default();
    let fk2 = serde_json::to_vec(&put_with_baseuser(&format!("D{run}3"), &format!("U{run}")))
        .unwrap_or_default();
    assert_eq!(
        send(app, &ids[0], &fk).await["error"]["code"],
        "INVALID_FOREIGN_KEY"
    );
    assert_eq!(
        send(app, &ids[1], b"{not json").await["error"]["code"],
        "MALFORMED_MESSAGE"
    );
    assert_eq!(
        send(app, &ids[2], &fk2).await["error"]["code"],
        "INVALID_FOREIGN_KEY"
    );
    app.dead_letters(ENTITY, 3).await;
    ids
}

async fn broker() -> Connection {
    connection::connect(AMQP_URL).await.expect("connect")
}

fn ids_of(letters: &[crate::helpers::DeadLetter]) -> Vec<Option<String>> {
    letters.iter().map(|l| l.message_id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_a_dlq_shows_each_dead_letter_and_leaves_the_queue_as_it_was() {
    let app = spawn_worker().await;
    let run = unique();
    let ids = three_dead_letters(&app, &run).await;
    let before = app.dead_letters(ENTITY, 3).await;
    let conn = broker().await;
    let dlq = DeadLetterQueue::new(&conn, app.topology.clone(), ENTITY);

    let listed = dlq.list(100).await.expect("list");

    let listed_ids: Vec<_> = listed
        .iter()
        .map(|l| l.message_id.clone().unwrap_or_default())
        .collect();
    assert_eq!(listed_ids, ids);
    let codes: Vec<_> = listed
        .iter()
        .map(|l| l.error_code.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        codes,
        [
            "INVALID_FOREIGN_KEY",
            "MALFORMED_MESSAGE",
            "INVALID_FOREIGN_KEY"
        ]
    );
    assert!(listed
        .iter()
        .all(|l| l.replay_count == 0 && l.dead_lettered_at.is_some() && l.error_message.is_some()));
    // Same messages, same order, same headers afterwards.
    let after = app.dead_letters(ENTITY, 3).await;
    assert_eq!(ids_of(&after), ids_of(&before));
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(a.headers, b.headers);
        assert_eq!(a.body, b.body);
    }
    let shown = dlq.show(&ids[1]).await.expect("show").expect("found");
    assert_eq!(
        shown.headers.get("webhook-error-code").map(String::as_str),
        Some("MALFORMED_MESSAGE")
    );
    assert_eq!(shown.properties.get("message_id"), Some(&ids[1]));
    assert_eq!(shown.body, "{not json");
    assert!(dlq.show("no-such-id").await.expect("show").is_none());
    let _ = conn.close(200, "bye".into()).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_by_error_code_applies_the_fixed_requests_and_leaves_the_others_in_order() {
    let app = spawn_worker_with(test_settings(&["customer", "baseuser"])).await;
    let run = unique();
    let ids = three_dead_letters(&app, &run).await;
    // The cause is fixed: the baseuser now exists.
    let fixed = app
        .call(
            "baseuser",
            json!({"verb": "PUT", "baseuser": {"codebaseuser": format!("U{run}")}}),
        )
        .await;
    assert_eq!(fixed.body["status"], "ok", "{}", fixed.body);
    let conn = broker().await;
    let dlq = DeadLetterQueue::new(&conn, app.topology.clone(), ENTITY);
    let publisher = Publisher::open(&conn).await.expect("publisher");

    // A dry run changes nothing.
    let filter = ReplayFilter {
        error_code: Some("INVALID_FOREIGN_KEY".into()),
        ..ReplayFilter::default()
    };
    let dry = dlq
        .replay(
            &ReplayFilter {
                dry_run: true,
                ..filter.clone()
            },
            &publisher,
            |_, _| {},
        )
        .await
        .expect("dry run");
    assert_eq!((dry.replayed, dry.skipped, dry.left), (2, 1, 3));

    let summary = dlq
        .replay(&filter, &publisher, |_, _| {})
        .await
        .expect("replay");

    assert_eq!((summary.replayed, summary.skipped, summary.left), (2, 1, 1));
    let left = app.dead_letters(ENTITY, 1).await;
    assert_eq!(
        ids_of(&left),
        vec![Some(ids[1].clone())],
        "the malformed one stays"
    );
    // The replayed requests are applied: their customers now exist.
    for code in [format!("D{run}1"), format!("D{run}3")] {
        let row = app
            .wait_row("sw_data_customer", "codecustomer", &code)
            .await;
        assert_eq!(row["baseuser_ID"], format!("U{run}"));
    }
    let _ = conn.close(200, "bye".into()).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_request_that_fails_again_returns_to_the_dlq_with_its_count_raised() {
    let app = spawn_worker().await;
    let run = unique();
    let id = format!("{run}-again");
    let body =
        serde_json::to_vec(&put_with_baseuser(&format!("A{run}"), "NOBODY")).unwrap_or_default();
    send(&app, &id, &body).await;
    app.dead_letters(ENTITY, 1).await;
    let conn = broker().await;
    let dlq = DeadLetterQueue::new(&conn, app.topology.clone(), ENTITY);
    let publisher = Publisher::open(&conn).await.expect("publisher");

    let filter = ReplayFilter {
        message_id: Some(id.clone()),
        ..ReplayFilter::default()
    };
    let summary = dlq
        .replay(&filter, &publisher, |_, _| {})
        .await
        .expect("replay");
    assert_eq!(summary.replayed, 1);

    // It failed again (still no such baseuser) and is back, replayed once.
    let mut letters = app.dead_letters(ENTITY, 1).await;
    let deadline = tokio::time::Instant::now() + crate::helpers::WAIT;
    while letters
        .first()
        .map(|l| l.header("webhook-replay-count").to_string())
        != Some("1".into())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replayed request did not come back: {letters:?}"
        );
        letters = app.dead_letters(ENTITY, 1).await;
    }
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].message_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        letters[0].header("webhook-error-code"),
        "INVALID_FOREIGN_KEY"
    );
    assert_eq!(letters[0].body, body);
    let _ = conn.close(200, "bye".into()).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_empties_the_dlq() {
    let app = spawn_worker().await;
    three_dead_letters(&app, &unique()).await;
    let conn = broker().await;
    let dlq = DeadLetterQueue::new(&conn, app.topology.clone(), ENTITY);

    let purged = dlq.purge().await.expect("purge");

    assert_eq!(purged, 3);
    assert_eq!(dlq.depth().await.expect("depth"), 0);
    let _ = conn.close(200, "bye".into()).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_command_refuses_without_yes() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_webhook-worker"))
        .args([
            "dlq",
            "purge",
            "customer",
            "--topology-prefix",
            &format!("t{}.", unique()),
        ])
        .output()
        .await
        .expect("runs");

    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_fault_past_the_delivery_limit_is_dead_lettered_as_internal() {
    let mut settings = test_settings(&["customer"]);
    settings.lock_timeout_ms = 50;
    settings.retry_attempts = 2;
    settings.delivery_limit = 2;
    let app = spawn_worker_with(settings).await;
    let code = format!("L{}", unique());
    app.call(
        "customer",
        json!({"verb": "PUT", "customer": {"codecustomer": code, "name": "locked"}}),
    )
    .await;
    // Hold the row: every attempt of the next PUT times out on the lock (a transient fault).
    let mut lock = app.pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM sw_data_customer WHERE codecustomer = $1 FOR UPDATE")
        .bind(&code)
        .execute(&mut *lock)
        .await
        .expect("lock");

    let reply = app
        .call(
            "customer",
            json!({"verb": "PUT", "customer": {"codecustomer": code, "name": "never"}}),
        )
        .await;

    assert_eq!(reply.body["error"]["code"], "INTERNAL", "{}", reply.body);
    lock.rollback().await.expect("release");
    let letters = app.dead_letters(ENTITY, 1).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].header("webhook-error-code"), "INTERNAL");
    assert!(
        letters[0].header("webhook-error-message").contains("lock"),
        "{:?}",
        letters[0].headers
    );
    let row = app
        .row("sw_data_customer", "codecustomer", &code)
        .await
        .expect("row");
    assert_eq!(row["name"], "locked", "nothing applied");
    app.stop().await;
}
