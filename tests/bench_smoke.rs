//! Smoke test of `webhook-worker bench --quick`: the whole bench runs in this process with
//! tiny numbers against the local RabbitMQ and PostgreSQL (worker processes are the built
//! binary), and its JSON report carries every key of issue 8. No timing is asserted: the
//! figures of a run this small mean nothing.

use serde_json::Value as Json;

use webhook_worker::bench::{self, BenchArgs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_bench_writes_every_key() {
    let dir = std::env::temp_dir().join(format!("bench-smoke-{}", uuid::Uuid::new_v4().simple()));
    let path = dir.join("bench.json");
    let args = BenchArgs {
        quick: true,
        json: Some(path.clone()),
        puts: Some(200),
        latency_requests: Some(100),
        scale_puts: Some(100),
        reads: Some(50),
        tables: vec![500, 2_000],
        pgbench_secs: Some(1),
        scale_in_flight: vec![1, 8],
        scale_processes: vec![1, 2],
        worker_bin: Some(env!("CARGO_BIN_EXE_webhook-worker").into()),
        ..BenchArgs::default()
    };
    let report = bench::run(args)
        .await
        .expect("the quick bench runs to the end");
    assert!(report.quick);

    let text = std::fs::read_to_string(&path).expect("the JSON report is written");
    let json: Json = serde_json::from_str(&text).expect("the report is JSON");
    for key in [
        "put_per_s",
        "put_paced_per_s",
        "db_ceiling_per_s",
        "db_full_sql_per_s",
        "engine_put_per_s",
        "broker_ceiling_per_s",
        "lower_ceiling_per_s",
        "put_ratio",
        "put_p50_ms",
        "put_p99_ms",
        "put_after_bulk_p99_ms",
        "put_p999_ms",
        "get_per_s",
        "get_db_ceiling_per_s",
        "get_broker_closed_loop_per_s",
        "get_ratio",
        "list_contains_p99_ms",
        "list_table_rows",
        "peak_rss_mb",
        "scale_in_flight",
        "scale_processes",
        "reads",
        "targets",
        "params",
    ] {
        assert!(json.get(key).is_some(), "the report has no {key:?}: {text}");
    }
    for key in ["n", "in_flight", "workers", "quick", "tables"] {
        assert!(
            json["params"].get(key).is_some(),
            "the report's params have no {key:?}: {text}"
        );
    }
    assert_eq!(json["params"]["n"], 200);
    // The GET's comparator is the null worker's closed loop run around it, on every table.
    let gets: Vec<&Json> = json["reads"]
        .as_array()
        .map(|points| {
            points
                .iter()
                .filter(|p| p["kind"] == "get_extended_by_code")
                .collect()
        })
        .unwrap_or_default();
    assert!(!gets.is_empty(), "{text}");
    for get in gets {
        assert!(
            get["broker_closed_loop_per_s"]
                .as_f64()
                .is_some_and(|r| r > 0.0),
            "{get}"
        );
    }
    // The database's ceiling: pgbench right before and right after the backlog, their mean.
    let runs: Vec<f64> = json["db_ceiling_runs_per_s"]
        .as_array()
        .map(|runs| runs.iter().filter_map(Json::as_f64).collect())
        .unwrap_or_default();
    assert_eq!(runs.len(), 2, "{text}");
    assert!(runs.iter().all(|r| *r > 0.0), "{text}");
    let mean = json["db_ceiling_per_s"].as_f64().unwrap_or(f64::NAN);
    assert!((mean - (runs[0] + runs[1]) / 2.0).abs() < 1e-6, "{text}");
    let cpu_runs: Vec<&str> = json["cpu"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["run"].as_str()).collect())
        .unwrap_or_default();
    let at = |run: &str| cpu_runs.iter().position(|r| *r == run);
    let order = (
        at("pgbench PUT writes (right before the backlog)"),
        at("PUT backlog"),
        at("pgbench PUT writes (right after the backlog)"),
    );
    assert!(
        matches!(order, (Some(b), Some(w), Some(a)) if b < w && w < a),
        "{cpu_runs:?}"
    );
    // The engine in process ran (its check that every PUT left its rows passed) and was
    // metered apart.
    assert!(
        json["engine_put_per_s"].as_f64().is_some_and(|r| r > 0.0),
        "{text}"
    );
    assert!(
        cpu_runs
            .iter()
            .any(|r| r.starts_with("engine in process, no broker")),
        "{cpu_runs:?}"
    );
    assert_eq!(json["quick"], true);
    assert_eq!(json["list_table_rows"], 2_000);
    assert_eq!(json["scale_in_flight"].as_array().map(Vec::len), Some(2));
    // Process counts 1 and 2, at in-flight 1 and at the main runs' in-flight (16).
    let in_flight: Vec<u64> = json["scale_processes"]
        .as_array()
        .map(|points| {
            points
                .iter()
                .filter_map(|p| p["in_flight"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(in_flight, [1, 1, 16, 16]);
    // Three read kinds on two table sizes.
    assert_eq!(json["reads"].as_array().map(Vec::len), Some(6));
    // A quick run judges no target.
    assert!(json["targets"]
        .as_array()
        .is_some_and(|t| !t.is_empty() && t.iter().all(|t| t["met"].is_null())));
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM (or Ctrl-C) in the middle of a run stops the bench with an error, and the bench
/// still removes what it made: no database and no queue with its id is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_bench_leaves_no_database_nor_queue() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let defaults = BenchArgs::default();
    let mut child = Command::new(env!("CARGO_BIN_EXE_webhook-worker"))
        .args(["bench", "--quick", "--puts", "20000", "--skip-reads"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the bench starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    // "bench: databases bench_<id>_*, topology prefix bench<id>., ..."
    let mut id = None;
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("stderr is text");
        seen.push(line.clone());
        if let Some(rest) = line.strip_prefix("bench: databases bench_") {
            id = rest.split('_').next().map(str::to_string);
        }
        // The bench database and the queues exist once the PUTs are being published.
        if step(&line).is_some_and(|s| s.starts_with("PUT: publishing")) {
            break;
        }
    }
    let id = id.unwrap_or_else(|| panic!("no bench id in {seen:?}"));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let rest: Vec<String> = lines.map_while(|l| l.ok()).collect();
    let status = child.wait().expect("the bench exits");
    assert!(
        !status.success(),
        "an interrupted bench is not a result: {rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.contains("interrupted")),
        "it says why it stopped: {rest:?}"
    );
    assert!(
        rest.iter().any(|l| step(l) == Some("cleaning up")),
        "{rest:?}"
    );

    let server = defaults.database_url.replace("/webhook", "/postgres");
    let pool = sqlx::PgPool::connect(&server)
        .await
        .expect("PostgreSQL is up");
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname LIKE $1 || '%'")
            .bind(format!("bench_{id}_"))
            .fetch_one(&pool)
            .await
            .expect("pg_database is readable");
    assert_eq!(left, 0, "databases of bench {id} are left");

    let connection = webhook_worker::transport::connection::connect(&defaults.amqp_url)
        .await
        .expect("RabbitMQ is up");
    for queue in [
        "webhook.customer",
        "webhook.customer.reply",
        "webhook.benchnull",
    ] {
        let channel = connection.create_channel().await.expect("a channel");
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let declared = channel
            .queue_declare(
                format!("bench{id}.{queue}").as_str().into(),
                passive,
                Default::default(),
            )
            .await;
        assert!(declared.is_err(), "queue bench{id}.{queue} is left");
    }
}

/// What a step line of the bench says, without its "bench: HH:MM:SS " head.
fn step(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("bench: ")?;
    let (time, what) = rest.split_once(' ')?;
    let is_time = time.len() == 8 && time.split(':').all(|p| p.parse::<u8>().is_ok());
    is_time.then_some(what)
}
