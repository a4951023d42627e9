//! The test harness: `spawn_worker()` starts a real worker in this process against the
//! local RabbitMQ and PostgreSQL, with its own database (`test_<uuid>`, created and
//! migrated by the worker itself), its own topology prefix (`t<uuid>.`) and /metrics on
//! port 0, and loads the demo data set. Helpers speak the spec's words: `call`,
//! `dead_letters`, `row`, `stop`.

// Each test module uses a different part of the harness.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::{json, Value as Json};
use sqlx::{PgPool, Row};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use webhook_worker::call::{CallOptions, Client, Reply};
use webhook_worker::config::Settings;
use webhook_worker::entities::Registry;
use webhook_worker::ops::http::Readiness;
use webhook_worker::startup::Worker;
use webhook_worker::transport::connection;
use webhook_worker::transport::dead_letter::header_str;
use webhook_worker::transport::topology::Topology;

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
/// A failure bound for waiting on replies, never a pause.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Settings of a test worker: its own database and topology prefix, metrics on port 0.
pub fn test_settings(entities: &[&str]) -> Settings {
    let id = unique();
    let mut settings = Settings::default();
    settings.connections.amqp_url = AMQP_URL.into();
    settings.connections.database_url = format!("{PG_SERVER}/test_{id}");
    settings.connections.topology_prefix = format!("t{id}.");
    settings.metrics_addr = "127.0.0.1:0".parse().expect("a socket address");
    settings.entities = entities.iter().map(|e| e.to_string()).collect();
    settings.retry_base_ms = 10;
    settings.db_pool_size = 8;
    settings
}

/// A running worker and a client to talk to it.
pub struct TestWorker {
    pub settings: Settings,
    pub pool: PgPool,
    pub client: Client,
    pub topology: Topology,
    pub metrics_addr: std::net::SocketAddr,
    pub readiness: Arc<Readiness>,
    cancel: CancellationToken,
    handle: Option<JoinHandle<()>>,
}

/// A worker serving `customer` and `customerextension`, with the demo data loaded.
pub async fn spawn_worker() -> TestWorker {
    spawn_worker_with(test_settings(&["customer", "customerextension"])).await
}

pub async fn spawn_worker_with(settings: Settings) -> TestWorker {
    init_test_log();
    sweep_leftovers().await;
    let worker = Worker::build(settings.clone())
        .await
        .expect("the worker builds");
    // The test's own connections (with sqlx's ping before each use), not the worker's pool:
    // a fault test may terminate every backend, and the worker finds its dead connections
    // by a failed statement that it retries, which a test's query would not.
    let pool = sqlx::PgPool::connect(&settings.connections.database_url)
        .await
        .expect("the test's own pool");
    let topology = worker.topology();
    let metrics_addr = worker.metrics_addr();
    let readiness = worker.readiness();
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(worker.run_until_stopped(cancel.clone()));
    wait_ready(&readiness).await;
    load_demo_data(&pool).await;
    let client = Client::connect(AMQP_URL, topology.clone())
        .await
        .expect("the test client connects");
    TestWorker {
        settings,
        pool,
        client,
        topology,
        metrics_addr,
        readiness,
        cancel,
        handle: Some(handle),
    }
}

/// Logs of the worker under test on stderr when TEST_LOG is set (e.g. TEST_LOG=debug).
pub fn init_test_log() {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        webhook_worker::telemetry::init_subscriber(false, &filter);
    }
}

/// Wait (bounded) until the worker consumes: its queues are declared then.
pub async fn wait_ready(readiness: &Arc<Readiness>) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !(readiness.broker() && readiness.consumers()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn load_demo_data(pool: &PgPool) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/demo-data.json"
    ))
    .expect("demo data");
    let data: Json = serde_json::from_str(&text).expect("demo data is JSON");
    let summary = webhook_worker::import::import(pool, &Registry::standard(), &data)
        .await
        .expect("import");
    assert!(
        summary.failed.is_empty(),
        "demo data failed: {:?}",
        summary.failed
    );
}

/// A seed example from tests/fixtures.
pub fn fixture(name: &str) -> Json {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A dead letter as browsed from a DLQ.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub body: Vec<u8>,
    pub headers: HashMap<String, String>,
    pub message_id: Option<String>,
    pub correlation_id: Option<String>,
}

impl DeadLetter {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("dead letter has no header {name}: {:?}", self.headers))
    }
    pub fn body_json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or(Json::Null)
    }
}

impl TestWorker {
    /// Send a request and wait for its reply.
    pub async fn call(&self, entity: &str, body: Json) -> Reply {
        self.call_with(entity, body, CallOptions::default()).await
    }

    pub async fn call_with(&self, entity: &str, body: Json, options: CallOptions) -> Reply {
        self.client
            .call(entity, &body, &options, WAIT)
            .await
            .expect("a reply")
    }

    /// Send raw bytes and wait for the reply.
    pub async fn call_raw(&self, entity: &str, body: &[u8], options: CallOptions) -> Reply {
        let (_, rx) = self
            .client
            .send_raw(entity, body, &options)
            .await
            .expect("published");
        webhook_worker::call::wait_reply(rx, WAIT)
            .await
            .expect("a reply")
    }

    /// PUT the demo customer of seed 004.
    pub async fn put_seed_customer(&self) -> Reply {
        let reply = self.call("customer", fixture("customer_put.json")).await;
        assert_eq!(reply.body["status"], "ok", "{}", reply.body);
        reply
    }

    /// Every message of E's dead-letter queue, once it holds at least `expected` (bounded
    /// wait: the dead letter is confirmed just after the reply). Browsing leaves the queue
    /// as it was: the channel closes without acking.
    pub async fn dead_letters(&self, entity: &str, expected: usize) -> Vec<DeadLetter> {
        let browse = self.browse_dead_letters(entity, expected);
        tokio::time::timeout(WAIT * 2, browse)
            .await
            .expect("browsing the DLQ hung")
    }

    async fn browse_dead_letters(&self, entity: &str, expected: usize) -> Vec<DeadLetter> {
        let conn = connection::connect(AMQP_URL).await.expect("connect");
        let queue = self.topology.dead_letter_queue(entity);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let channel = conn.create_channel().await.expect("channel");
            let ready = ready_messages(&channel, &queue).await;
            if ready as usize >= expected || tokio::time::Instant::now() > deadline {
                let mut out = Vec::new();
                while let Some(m) = channel
                    .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
                    .await
                    .expect("get")
                {
                    let props = &m.delivery.properties;
                    let headers = props.headers().as_ref();
                    let names: Vec<String> = headers
                        .map(|h| h.inner().keys().map(|k| k.to_string()).collect())
                        .unwrap_or_default();
                    out.push(DeadLetter {
                        body: m.delivery.data.clone(),
                        headers: names
                            .into_iter()
                            .filter_map(|n| header_str(headers, &n).map(|v| (n, v)))
                            .collect(),
                        message_id: props.message_id().as_ref().map(|s| s.to_string()),
                        correlation_id: props.correlation_id().as_ref().map(|s| s.to_string()),
                    });
                }
                let _ = channel.close(200, "browsed".into()).await;
                let _ = conn.close(200, "bye".into()).await;
                return out;
            }
            let _ = channel.close(200, "polling".into()).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A row as JSON (column names as keys), by code.
    pub async fn row(&self, table: &str, code_column: &str, code: &str) -> Option<Json> {
        let sql = format!("SELECT to_jsonb(t)::text FROM {table} t WHERE \"{code_column}\" = $1");
        let row = sqlx::query(&sql)
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .expect("query");
        row.map(|r| serde_json::from_str(&r.get::<String, _>(0)).expect("jsonb"))
    }

    /// The row, once it exists (bounded wait: for effects of requests that have no waiting
    /// caller, such as replayed dead letters).
    pub async fn wait_row(&self, table: &str, code_column: &str, code: &str) -> Json {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(row) = self.row(table, code_column, code).await {
                return row;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no row {code} in {table}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(&self.pool)
            .await
            .expect("count")
            .get::<i64, _>(0)
    }

    /// A fingerprint of every business table, to show that a failed request changed nothing.
    pub async fn snapshot(&self) -> String {
        let mut all = String::new();
        for table in [
            "sw_data_customer",
            "sw_data_customeruser",
            "sw_data_customercontact",
            "sw_data_customerextension",
            "webhook_inbox",
        ] {
            let sql = format!("SELECT coalesce(string_agg(to_jsonb(t)::text, '|' ORDER BY to_jsonb(t)::text), '') FROM {table} t");
            let text: String = sqlx::query(&sql)
                .fetch_one(&self.pool)
                .await
                .expect("snapshot")
                .get(0);
            all.push_str(&text);
            all.push('\n');
        }
        all
    }

    pub async fn metrics_text(&self) -> String {
        let url = format!("http://{}/metrics", self.metrics_addr);
        http_get(&url).await
    }

    /// Stop the worker and wait until it has drained: every delivery acked or requeued,
    /// every reply and dead letter confirmed. Queues and database stay for inspection.
    pub async fn drain(&mut self) {
        self.cancel.cancel();
        if let Some(handle) = self.handle.take() {
            // The worker bounds each stop step; this bound turns a hang into a failure.
            let stopped = tokio::time::timeout(Duration::from_secs(90), handle).await;
            assert!(stopped.is_ok(), "the worker did not stop within 90 s");
        }
    }

    /// Stop, then check that E's DLQ is empty (for errors that are not dead-lettered).
    pub async fn stop_and_check_no_dead_letter(mut self, entity: &str) {
        self.drain().await;
        let letters = self.dead_letters(entity, 0).await;
        assert!(letters.is_empty(), "unexpected dead letters: {letters:?}");
        self.stop().await;
    }

    /// Stop the worker gracefully (drained: every delivery acked), delete its queues and
    /// its database.
    pub async fn stop(mut self) {
        self.drain().await;
        cleanup(&self.settings, &self.topology).await;
    }
}

/// `queue` as the broker sees it now (a passive declaration: Err when it does not exist).
pub async fn passive_declare(
    channel: &lapin::Channel,
    queue: &str,
) -> Result<lapin::Queue, lapin::Error> {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
}

/// How many messages wait in `queue` (ready, not delivered).
pub async fn ready_messages(channel: &lapin::Channel, queue: &str) -> u32 {
    passive_declare(channel, queue)
        .await
        .unwrap_or_else(|e| panic!("queue {queue} exists: {e}"))
        .message_count()
}

/// Delete a test's topology and database.
pub async fn cleanup(settings: &Settings, topology: &Topology) {
    // Leftovers are harmless (unique names): never let cleanup hang a test.
    if tokio::time::timeout(WAIT, delete_resources(settings, topology))
        .await
        .is_err()
    {
        eprintln!("cleanup of {} timed out", topology.prefix());
    }
}

async fn delete_resources(settings: &Settings, topology: &Topology) {
    if let Ok(conn) = connection::connect(AMQP_URL).await {
        if let Ok(channel) = conn.create_channel().await {
            let names = Registry::standard().names();
            let _ = topology.delete(&channel, &names).await;
        }
        let _ = conn.close(200, "bye".into()).await;
    }
    let name = settings
        .connections
        .database_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    if let Ok(admin) = PgPool::connect(&format!("{PG_SERVER}/postgres")).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&admin)
            .await;
        admin.close().await;
    }
}

/// A minimal HTTP/1.1 GET (the tests need no HTTP client crate).
pub async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("connect to the metrics server");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}

// Data helpers shared by the entity tests.

/// A private individual's customer fields (isIndividual = 1).
pub fn individual(name: &str) -> Json {
    json!({
        "name": name, "contactFirstName": "Jeanne", "isIndividual": "1",
        "generictype_ID_civility": "CIVILITY-SA", "address1": "3 rue des Lilas",
        "postalCode": "21000", "city": "DIJON", "phoneNumber": "03 80 00 00 01",
        "mobilePhoneNumber": "06 00 00 00 01", "email": "jeanne@dupont.fr",
        "generictype_ID_country": "FR", "baseculture_ID": "FR-FR",
    })
}

/// The two slices of 004's indicators (labels as 004 shows them); the demo data has none.
pub async fn insert_turnover_and_workforce_slices(app: &TestWorker) {
    sql(
        app,
        r#"INSERT INTO sw_data_generictype (codegenerictype, label, "originalCode", "dataType")
           VALUES ('COMPANY_TURNOVER_SLICE-CA20-50M', 'CA 20 à 50 M€', 'CA20-50M',
                   'COMPANY_TURNOVER_SLICE'),
                  ('COMPANY_WORKFORCE_SLICE-EFF100-199', 'Effectif 100 à 199', 'EFF100-199',
                   'COMPANY_WORKFORCE_SLICE')"#,
    )
    .await;
}

/// The customer's main contacts, as rows.
pub async fn main_contacts(app: &TestWorker, customer: &str) -> Vec<Json> {
    let rows: Vec<String> = sqlx::query_scalar(
        r#"SELECT to_jsonb(k)::text FROM sw_data_customercontact k
           WHERE "customer_ID" = $1 AND "mainContact" ORDER BY codecustomercontact"#,
    )
    .bind(customer)
    .fetch_all(&app.pool)
    .await
    .expect("main contacts");
    rows.iter()
        .map(|r| serde_json::from_str(r).expect("jsonb"))
        .collect()
}

pub async fn sql(app: &TestWorker, statement: &str) {
    sqlx::query(statement)
        .execute(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Load reference rows through the engine, as the demo data is loaded.
pub async fn import(app: &TestWorker, data: Json) {
    let summary = webhook_worker::import::import(&app.pool, &Registry::standard(), &data)
        .await
        .expect("import");
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
}

/// The pool of a database that a worker process created and migrated, with the demo data
/// loaded (after the migration).
pub async fn prepared(settings: &Settings) -> PgPool {
    let pool = PgPool::connect(&settings.connections.database_url)
        .await
        .expect("db");
    load_demo_data(&pool).await;
    pool
}

/// The topology of a worker with `settings`.
pub fn topology_of(settings: &Settings) -> Topology {
    Topology::new(
        settings.connections.topology_prefix.clone(),
        settings.queue_type,
        settings.delivery_limit,
    )
    .with_partitions(settings.partitions)
}

/// The stored name of customer `code`.
pub async fn customer_name(pool: &PgPool, code: &str) -> String {
    sqlx::query_scalar("SELECT name FROM sw_data_customer WHERE codecustomer = $1")
        .bind(code)
        .fetch_one(pool)
        .await
        .expect("the customer's row")
}

/// Leftovers of test runs killed before their cleanup (STYLE section 7), swept once per
/// test process: databases `test_<id>` older than an hour, then queues and exchanges
/// `t<id>.*` whose database is gone. A test creates its database before its topology and
/// deletes its topology before its database, so a queue without its database belongs to
/// no running test, whichever process runs it. Best effort: a sweep that fails or takes
/// long is abandoned, never a test failure.
pub async fn sweep_leftovers() {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            if tokio::time::timeout(WAIT, sweep()).await.is_err() {
                eprintln!("the sweep of test leftovers timed out");
            }
        })
        .await;
}

async fn sweep() {
    let Ok(admin) = PgPool::connect(&format!("{PG_SERVER}/postgres")).await else {
        return;
    };
    // A database's PG_VERSION file is written when it is created (needs a superuser, as
    // the tests' `postgres` is; otherwise nothing is swept).
    let old: Vec<String> = sqlx::query_scalar(
        r#"SELECT datname FROM pg_database
           WHERE datname ~ '^test_[0-9a-f]{32}$'
             AND (pg_stat_file('base/' || oid || '/PG_VERSION')).modification
                 < now() - interval '1 hour'"#,
    )
    .fetch_all(&admin)
    .await
    .unwrap_or_default();
    for name in &old {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&admin)
            .await;
    }
    let listed = |what: &'static str| async move {
        let out = tokio::process::Command::new("rabbitmqctl")
            .args([what, "-q", "--no-table-headers", "name"])
            .output()
            .await;
        match out {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.trim().to_string())
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        }
    };
    // The names first, the live databases after: a name listed here belongs to a test whose
    // database was created before, so that test's database is in the list read next unless
    // the test has ended. Read the other way round, a test that starts in between has its
    // new queues swept from under it.
    let queues = listed("list_queues").await;
    let exchanges = listed("list_exchanges").await;
    let live: Vec<String> =
        sqlx::query_scalar("SELECT substr(datname, 6) FROM pg_database WHERE datname ~ '^test_'")
            .fetch_all(&admin)
            .await
            .unwrap_or_default();
    admin.close().await;
    let orphan = |name: &String| {
        let id = name
            .strip_prefix('t')
            .and_then(|rest| rest.split_once('.'))
            .map(|(id, _)| id);
        id.is_some_and(|id| {
            id.len() == 32
                && id.bytes().all(|b| b.is_ascii_hexdigit())
                && !live.iter().any(|l| l == id)
        })
    };
    let queues: Vec<String> = queues.into_iter().filter(orphan).collect();
    let exchanges: Vec<String> = exchanges.into_iter().filter(orphan).collect();
    if queues.is_empty() && exchanges.is_empty() {
        return;
    }
    let Ok(conn) = connection::connect(AMQP_URL).await else {
        return;
    };
    if let Ok(channel) = conn.create_channel().await {
        for queue in &queues {
            let _ = channel
                .queue_delete(queue.as_str().into(), Default::default())
                .await;
        }
        for exchange in &exchanges {
            let _ = channel
                .exchange_delete(exchange.as_str().into(), Default::default())
                .await;
        }
    }
    let _ = conn.close(200, "swept".into()).await;
}
