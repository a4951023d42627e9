//! Several worker processes on the same queues (issue 9): work is shared, each request is
//! applied once, killing one worker loses nothing; in partitioned mode, requests for one
//! code are applied in order even with several workers.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use lapin::types::AMQPValue;
use serde_json::json;
use tokio::process::{Child, Command};

use webhook_worker::call::{wait_reply, CallOptions, Client};
use webhook_worker::config::Settings;
use webhook_worker::transport::topology::PARTITION_HEADER;

use crate::helpers::{
    cleanup, customer_name, http_get, prepared, test_settings, topology_of, unique, AMQP_URL, WAIT,
};

/// A free local port for a worker's /metrics (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Process {
    child: Child,
    metrics: String,
}

fn start(settings: &Settings, extra: &[(&str, &str)]) -> Process {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_webhook-worker"));
    command
        .arg("run")
        .env("AMQP_URL", &settings.connections.amqp_url)
        .env("DATABASE_URL", &settings.connections.database_url)
        .env("TOPOLOGY_PREFIX", &settings.connections.topology_prefix)
        .env("METRICS_ADDR", format!("127.0.0.1:{port}"))
        .env("ENTITIES", "customer")
        .env("MAX_IN_FLIGHT", "8")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (k, v) in extra {
        command.env(k, v);
    }
    Process {
        child: command.spawn().expect("the worker starts"),
        metrics: format!("http://127.0.0.1:{port}/metrics"),
    }
}

/// Kill the workers and wait for their end, before the cleanup deletes their queues (a
/// worker alive then would see its consumers cancelled, reconnect and declare them again).
async fn stop_all(processes: Vec<Process>) {
    for mut p in processes {
        let _ = p.child.start_kill();
        let _ = tokio::time::timeout(WAIT, p.child.wait()).await;
    }
}

/// Wait (bounded) until every process answers /readyz.
async fn wait_ready(processes: &[Process]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for p in processes {
        let ready = p.metrics.replace("/metrics", "/readyz");
        loop {
            let answered = tokio::time::timeout(Duration::from_secs(2), try_get(&ready))
                .await
                .ok()
                .flatten();
            if answered.is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "a worker did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn try_get(url: &str) -> Option<String> {
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()?
        .to_string();
    tokio::net::TcpStream::connect(host).await.ok()?;
    Some(http_get(url).await)
}

/// PUTs completed by one process, from its /metrics.
async fn completed_puts(p: &Process) -> u64 {
    let text = http_get(&p.metrics).await;
    text.lines()
        .filter(|l| l.starts_with("webhook_requests_completed_total") && l.contains("verb=\"PUT\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_the_work_apply_each_request_once_and_survive_a_kill() {
    let settings = test_settings(&["customer"]);
    let mut processes = vec![start(&settings, &[])];
    wait_ready(&processes).await;
    processes.push(start(&settings, &[]));
    processes.push(start(&settings, &[]));
    wait_ready(&processes).await;
    let pool = prepared(&settings).await;
    let topology = topology_of(&settings);
    let client = Client::connect(AMQP_URL, topology.clone())
        .await
        .expect("client");
    let run = unique();
    const N: usize = 600;
    let mut pending = Vec::new();
    for i in 0..N {
        let body = json!({"verb": "PUT", "customer": {"codecustomer": format!("S{run}-{i}"), "name": "x"}});
        let options = CallOptions {
            message_id: Some(format!("{run}-{i}")),
            ..CallOptions::default()
        };
        let bytes = serde_json::to_vec(&body).expect("json");
        pending.push(
            client
                .send_raw("customer", &bytes, &options)
                .await
                .expect("published")
                .1,
        );
    }

    // Kill one worker (SIGKILL) while the stream is being processed.
    let applied = format!("SELECT count(*) FROM webhook_inbox WHERE message_id LIKE '{run}-%'");
    let deadline = tokio::time::Instant::now() + WAIT;
    while sqlx::query_scalar::<_, i64>(&applied)
        .fetch_one(&pool)
        .await
        .expect("count")
        < (N / 5) as i64
    {
        assert!(tokio::time::Instant::now() < deadline, "nothing applied");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let shares_before_kill = [
        completed_puts(&processes[1]).await,
        completed_puts(&processes[2]).await,
    ];
    processes[0].child.start_kill().expect("kill");

    for rx in pending {
        let reply = wait_reply(rx, Duration::from_secs(90))
            .await
            .expect("every request answered");
        assert_eq!(reply.body["status"], "ok", "{}", reply.body);
    }
    let rows: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM sw_data_customer WHERE codecustomer LIKE 'S{run}-%'"
    ))
    .fetch_one(&pool)
    .await
    .expect("count");
    let records: i64 = sqlx::query_scalar(&applied)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(
        (rows, records),
        (N as i64, N as i64),
        "each request applied once"
    );
    // The surviving workers both took part.
    let shares = [
        completed_puts(&processes[1]).await,
        completed_puts(&processes[2]).await,
    ];
    assert!(
        shares.iter().all(|&s| s > 0),
        "work is shared: {shares:?} (before the kill: {shares_before_kill:?})"
    );
    pool.close().await;
    client.close().await;
    stop_all(processes).await;
    cleanup(&settings, &topology).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_partitioned_mode_one_codes_requests_stay_in_order_across_workers() {
    require_consistent_hash_plugin().await;
    let mut settings = test_settings(&["customer"]);
    settings.partitions = 4;
    let extra = [("PARTITIONS", "4")];
    let mut processes = vec![start(&settings, &extra)];
    wait_ready(&processes).await;
    processes.push(start(&settings, &extra));
    wait_ready(&processes).await;
    let pool = prepared(&settings).await;
    let topology = topology_of(&settings);
    let client = Client::connect(AMQP_URL, topology.clone())
        .await
        .expect("client");
    let run = unique();
    let codes: Vec<String> = (0..8).map(|i| format!("P{run}-{i}")).collect();
    const VERSIONS: usize = 25;
    let mut pending: HashMap<String, Vec<_>> = HashMap::new();
    // Interleaved: v0 of every code, then v1 of every code, ...
    for v in 0..VERSIONS {
        for code in &codes {
            let body =
                json!({"verb": "PUT", "customer": {"codecustomer": code, "name": format!("v{v}")}});
            let options = CallOptions {
                headers: vec![(
                    PARTITION_HEADER.to_string(),
                    AMQPValue::LongString(code.as_str().into()),
                )],
                ..CallOptions::default()
            };
            let bytes = serde_json::to_vec(&body).expect("json");
            pending.entry(code.clone()).or_default().push(
                client
                    .send_raw("customer", &bytes, &options)
                    .await
                    .expect("published")
                    .1,
            );
        }
    }

    for (code, replies) in pending {
        for (v, rx) in replies.into_iter().enumerate() {
            let reply = wait_reply(rx, WAIT).await.expect("answered");
            // Each reply shows its own version: no later PUT of the code overtook it.
            assert_eq!(
                reply.body["result"]["customer"]["name"],
                format!("v{v}"),
                "{code}"
            );
        }
        assert_eq!(
            customer_name(&pool, &code).await,
            format!("v{}", VERSIONS - 1)
        );
    }
    // Each request was processed by exactly one worker: with a single active consumer per
    // partition, the other worker is a hot standby for it.
    let shares = [
        completed_puts(&processes[0]).await,
        completed_puts(&processes[1]).await,
    ];
    assert_eq!(shares.iter().sum::<u64>(), (codes.len() * VERSIONS) as u64);
    pool.close().await;
    client.close().await;
    stop_all(processes).await;
    cleanup(&settings, &topology).await;
}

/// Partitioned mode needs a broker plugin: say so plainly instead of timing out on a
/// worker that cannot declare its exchange.
async fn require_consistent_hash_plugin() {
    let conn = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
        .await
        .expect("broker connection");
    let channel = conn.create_channel().await.expect("channel");
    let name = format!("t{}.probe-consistent-hash", unique());
    let declared = channel
        .exchange_declare(
            name.as_str().into(),
            lapin::ExchangeKind::Custom("x-consistent-hash".into()),
            lapin::options::ExchangeDeclareOptions {
                auto_delete: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await;
    assert!(
        declared.is_ok(),
        "partitioned mode needs the RabbitMQ plugin rabbitmq_consistent_hash_exchange: \
         run `rabbitmq-plugins enable rabbitmq_consistent_hash_exchange` (.ci/run does): {declared:?}"
    );
    let _ = channel
        .exchange_delete(name.as_str().into(), Default::default())
        .await;
    let _ = conn.close(200, "probe done".into()).await;
}
