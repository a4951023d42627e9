//! Fault tests (SPEC sections 5 and 6): each publishes a known set of requests, injects a
//! fault, and checks the invariant: every request has exactly one applied effect in
//! PostgreSQL (one row, one idempotency record) and a reply or a dead letter; none vanished.

use std::time::Duration;

use serde_json::{json, Value as Json};
use tokio::process::Command;
use tokio::sync::oneshot;

use webhook_worker::call::{wait_reply, CallOptions, Reply};

use crate::helpers::{spawn_worker, unique, TestWorker, WAIT};

/// How many requests each fault test sends.
const N: usize = 200;

/// Publish N PUTs with distinct codes and message ids; the receivers get their replies.
async fn publish_stream(app: &TestWorker, run: &str) -> Vec<oneshot::Receiver<Reply>> {
    let mut pending = Vec::with_capacity(N);
    for i in 0..N {
        let body = json!({"verb": "PUT", "customer": {"codecustomer": format!("F{run}-{i}"), "name": format!("n{i}")},
                          "customeruser": [{"codecustomeruser": format!("F{run}-{i}-U"), "baseuser_ID": "TECH1"}]});
        let options = CallOptions {
            message_id: Some(format!("{run}-{i}")),
            ..CallOptions::default()
        };
        let bytes = serde_json::to_vec(&body).expect("json");
        pending.push(
            app.client
                .send_raw("customer", &bytes, &options)
                .await
                .expect("published")
                .1,
        );
    }
    pending
}

/// Every request answered ok; one customer, one customer user and one idempotency record each.
async fn check_invariant(app: &TestWorker, run: &str, pending: Vec<oneshot::Receiver<Reply>>) {
    for rx in pending {
        let reply = wait_reply(rx, Duration::from_secs(90))
            .await
            .expect("every request is answered");
        assert_eq!(reply.body["status"], "ok", "{}", reply.body);
    }
    let count = |sql: String| async move { app.count(&sql).await };
    let customers = count(format!(
        "SELECT count(*) FROM sw_data_customer WHERE codecustomer LIKE 'F{run}-%'"
    ))
    .await;
    let users = count(format!(
        "SELECT count(*) FROM sw_data_customeruser WHERE codecustomeruser LIKE 'F{run}-%'"
    ))
    .await;
    let records = count(format!(
        "SELECT count(*) FROM webhook_inbox WHERE message_id LIKE '{run}-%'"
    ))
    .await;
    assert_eq!((customers, users, records), (N as i64, N as i64, N as i64));
    let dead = app.dead_letters("customer", 0).await;
    assert!(
        dead.is_empty(),
        "nothing is dead-lettered by a transient fault: {dead:?}"
    );
}

/// Wait (bounded) until `done` requests of the run are applied, so a fault lands mid-stream.
async fn wait_applied(app: &TestWorker, run: &str, done: i64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let sql = format!("SELECT count(*) FROM webhook_inbox WHERE message_id LIKE '{run}-%'");
    while app.count(&sql).await < done {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_terminated_mid_stream_lose_nothing() {
    let app = spawn_worker().await;
    let run = unique();
    let db = app
        .settings
        .connections
        .database_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let pending = publish_stream(&app, &run).await;

    wait_applied(&app, &run, 20).await;
    let admin = sqlx::PgPool::connect(&format!("{}/postgres", crate::helpers::PG_SERVER))
        .await
        .expect("admin");
    for _ in 0..3 {
        // Every connection of the worker's database but this one.
        let killed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()) k",
        )
        .bind(&db)
        .fetch_one(&admin)
        .await
        .expect("terminate");
        assert!(killed >= 0);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    admin.close().await;

    check_invariant(&app, &run, pending).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_connection_closed_mid_stream_loses_nothing() {
    let app = spawn_worker().await;
    let run = unique();
    let prefix = app.settings.connections.topology_prefix.clone();
    let pending = publish_stream(&app, &run).await;

    wait_applied(&app, &run, 20).await;
    for pid in crate::delivery::worker_connections(&prefix).await {
        let status = Command::new("rabbitmqctl")
            .args(["close_connection", &pid, "fault test"])
            .status()
            .await
            .expect("rabbitmqctl");
        assert!(status.success());
    }

    check_invariant(&app, &run, pending).await;
    app.stop().await;
}

/// SPEC section 2 bounds, and inputs that must be refused or stored verbatim.
fn bad_inputs() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let nested = format!(
        r#"{{"verb":"GET","code":"C","x":{}{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let huge = format!(
        r#"{{"verb":"PUT","customer":{{"codecustomer":"H","name":"{}"}}}}"#,
        "x".repeat(10 * 1024 * 1024)
    );
    vec![
        ("truncated JSON", br#"{"verb":"PUT","customer":{"codecustomer":"T1""#.to_vec(), "MALFORMED_MESSAGE"),
        ("invalid UTF-8", b"{\"verb\":\"GET\",\"code\":\"\xff\xfe\"}".to_vec(), "MALFORMED_MESSAGE"),
        ("10 MB body", huge.into_bytes(), "MALFORMED_MESSAGE"),
        ("deeply nested", nested.into_bytes(), "MALFORMED_MESSAGE"),
        ("unknown verb", br#"{"verb":"PATCH","code":"C1"}"#.to_vec(), "INVALID_REQUEST"),
        ("huge LIST limit", br#"{"verb":"LIST","limit":99999999999}"#.to_vec(), "INVALID_REQUEST"),
        ("verb of the wrong type", br#"{"verb":42}"#.to_vec(), "INVALID_REQUEST"),
        ("filters of the wrong type", br#"{"verb":"LIST","filters":[1,2]}"#.to_vec(), "INVALID_REQUEST"),
        (
            "wrong types everywhere",
            serde_json::to_vec(&json!({"verb": "PUT", "customer": {"codecustomer": "W1", "name": ["x"], "blocked": "yes",
                "workforce": {"n": 1}, "discountRate": "ten", "vacationStart": "tomorrow", "isIndividual": 2}}))
            .expect("json"),
            "VALIDATION_FAILED",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_answered_and_dead_lettered_and_the_worker_keeps_serving() {
    let app = spawn_worker().await;
    let before = app.snapshot().await;
    let inputs = bad_inputs();

    for (what, body, code) in &inputs {
        let options = CallOptions {
            message_id: Some(format!("bad-{what}")),
            ..CallOptions::default()
        };
        let reply = app.call_raw("customer", body, options).await;
        assert_eq!(reply.body["error"]["code"], *code, "{what}: {}", reply.body);
    }

    assert_eq!(app.snapshot().await, before, "bad input changed nothing");
    let letters = app.dead_letters("customer", inputs.len()).await;
    assert_eq!(letters.len(), inputs.len());
    // Each request's reply is published before its dead letter, and the next request only
    // follows the reply: a small dead letter may reach the DLQ before the 10 MB one. The
    // DLQ promises no order across requests: each letter is matched by its message_id.
    for (what, body, code) in &inputs {
        let id = format!("bad-{what}");
        let letter = letters
            .iter()
            .find(|l| l.message_id.as_deref() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("{what}: no dead letter with message_id {id:?}"));
        assert_eq!(letter.header("webhook-error-code"), *code, "{what}");
        assert_eq!(&letter.body, body, "{what}: the body as sent");
    }
    let get = app
        .call("customer", json!({"verb": "GET", "code": "NOPE"}))
        .await;
    assert_eq!(get.body["error"]["code"], "NOT_FOUND", "still serving");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_metacharacters_are_stored_verbatim_and_filter_as_text() {
    let app = spawn_worker().await;
    let evil = r#"'; DROP TABLE sw_data_customer; -- %_\ "quoted" $1"#;
    let code = format!("Q{}", unique());
    let mut block = serde_json::Map::new();
    block.insert("codecustomer".into(), Json::String(code.clone()));
    for field in [
        "name", "address1", "address2", "address3", "city", "email", "website", "comment",
        "apeCode",
    ] {
        block.insert(field.into(), Json::String(evil.chars().take(60).collect()));
    }

    let put = app
        .call("customer", json!({"verb": "PUT", "customer": block}))
        .await;

    assert_eq!(put.body["status"], "ok", "{}", put.body);
    let row = app
        .row("sw_data_customer", "codecustomer", &code)
        .await
        .expect("stored");
    assert_eq!(row["name"], evil.chars().take(60).collect::<String>());
    for (filter, value) in [
        ("name", evil),
        ("city", "'; DROP"),
        ("emailDomain", "\"quoted\" $1"),
        ("codeCustomer", "' OR 1=1 --"),
    ] {
        let list = app
            .call(
                "customer",
                json!({"verb": "LIST", "filters": {filter: value}, "limit": 10}),
            )
            .await;
        assert_eq!(list.body["status"], "ok", "{filter}: {}", list.body);
        let codes: Vec<&str> = list.body["result"]["customer"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["codecustomer"].as_str())
            .collect();
        let expected: &[&str] = if filter == "codeCustomer" {
            &[]
        } else {
            &[code.as_str()]
        };
        assert_eq!(codes, expected, "{filter} matches as text only");
    }
    assert!(
        app.count("SELECT count(*) FROM sw_data_customer").await >= 1,
        "the table is still there"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_killed_midway_and_run_again_applies_every_dead_letter_once() {
    let app =
        crate::helpers::spawn_worker_with(crate::helpers::test_settings(&["customer", "baseuser"]))
            .await;
    let run = unique();
    const M: usize = 1000;
    // M requests dead-lettered for a missing baseuser.
    let mut pending = Vec::with_capacity(M);
    for i in 0..M {
        let body = json!({"verb": "PUT", "customer": {"codecustomer": format!("R{run}-{i}"), "baseuser_ID": format!("U{run}")}});
        let options = CallOptions {
            message_id: Some(format!("{run}-{i}")),
            ..CallOptions::default()
        };
        let bytes = serde_json::to_vec(&body).expect("json");
        pending.push(
            app.client
                .send_raw("customer", &bytes, &options)
                .await
                .expect("published")
                .1,
        );
    }
    for rx in pending {
        let reply = wait_reply(rx, Duration::from_secs(90))
            .await
            .expect("answered");
        assert_eq!(reply.body["error"]["code"], "INVALID_FOREIGN_KEY");
    }
    assert_eq!(app.dead_letters("customer", M).await.len(), M);
    let fixed = app
        .call(
            "baseuser",
            json!({"verb": "PUT", "baseuser": {"codebaseuser": format!("U{run}")}}),
        )
        .await;
    assert_eq!(fixed.body["status"], "ok");
    let prefix = app.settings.connections.topology_prefix.clone();
    let replay = || {
        Command::new(env!("CARGO_BIN_EXE_webhook-worker"))
            .args(["dlq", "replay", "customer", "--topology-prefix", &prefix])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the replay command starts")
    };

    // Kill the first replay (SIGKILL) once it has started moving messages.
    let mut first = replay();
    let conn = webhook_worker::transport::connection::connect(crate::helpers::AMQP_URL)
        .await
        .expect("connect");
    let dlq = webhook_worker::dlq::DeadLetterQueue::new(&conn, app.topology.clone(), "customer");
    let deadline = tokio::time::Instant::now() + WAIT;
    while dlq.depth().await.expect("depth") as usize >= M {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replay did not start"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.start_kill().expect("kill");
    let _ = first.wait().await;
    // Run it again to the end.
    let status = replay().wait().await.expect("second replay");
    assert!(status.success());

    // Every dead letter applied exactly once: one row and one record per message_id.
    let rows = format!("SELECT count(*) FROM sw_data_customer WHERE codecustomer LIKE 'R{run}-%'");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while app.count(&rows).await < M as i64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every replayed request was applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let records = app
        .count(&format!(
            "SELECT count(*) FROM webhook_inbox WHERE message_id LIKE '{run}-%'"
        ))
        .await;
    assert_eq!(records, M as i64);
    assert_eq!(
        dlq.depth().await.expect("depth"),
        0,
        "nothing left, nothing lost"
    );
    let _ = conn.close(200, "bye".into()).await;
    app.stop().await;
}

/// A worker that has started holds its whole pool open, each connection warmed by the
/// served entities' statements (engine::warm, issue 8: a cold connection answered its
/// first request ~20 ms late), and the warm-up wrote nothing: its one transaction per
/// entity was rolled back. All entities, so that a warm-up statement failing for any one
/// of them (which would stop the worker from starting) fails here.
#[tokio::test]
async fn a_started_worker_holds_its_pool_warm_and_the_warm_up_writes_nothing() {
    crate::helpers::init_test_log();
    let settings = crate::helpers::test_settings(&[]);
    let worker = webhook_worker::startup::Worker::build(settings.clone())
        .await
        .expect("the worker builds");
    assert_eq!(worker.pool().size(), settings.db_pool_size);

    let pool = sqlx::PgPool::connect(&settings.connections.database_url)
        .await
        .expect("the test's own pool");
    let backends: Vec<(String, String)> = sqlx::query_as(
        "SELECT state, query FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&pool)
    .await
    .expect("pg_stat_activity");
    assert_eq!(
        backends.len(),
        settings.db_pool_size as usize,
        "{backends:?}"
    );
    for (state, last_statement) in &backends {
        assert_eq!(state, "idle");
        assert_eq!(last_statement, "ROLLBACK", "the warm-up ends rolled back");
    }
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_inbox")
        .fetch_one(&pool)
        .await
        .expect("the inbox");
    assert_eq!(records, 0);
    pool.close().await;
    let topology = worker.topology();
    worker.pool().close().await;
    crate::helpers::cleanup(&settings, &topology).await;
}
