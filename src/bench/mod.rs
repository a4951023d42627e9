//! `webhook-worker bench`: measures the worker against the local RabbitMQ and PostgreSQL and
//! against the ceilings of both, in the same run (issue 8).
//!
//! Everything the bench creates carries its own names, so it never touches real data:
//! databases `bench_<id>_<purpose>` on the server of `DATABASE_URL` (each throughput
//! comparison starts on a fresh one), and the topology prefix `bench<id>.`. All are deleted
//! at the end, also when a step fails.
//!
//! Sections, in run order:
//! 1. PUT throughput: N Customer PUTs shaped like seed 004's example, all published (with
//!    confirms) before the worker process starts ([`load`], [`process`]).
//! 2. The same with the worker running and the publisher pacing the load.
//! 3. PUT latency at 50% of the measured maximum (paced publisher).
//! 4. Peak RSS of that worker process (VmHWM).
//! 5. Ceilings: pgbench with the worker's PUT SQL, and a null worker ([`ceilings`]).
//! 6. Scale: in-flight limits and 1..3 worker processes on one queue.
//! 7. GET and LIST on tables of two sizes, loaded server-side ([`data`]).
//!
//! Every run also records where the CPU went ([`cpu`]); [`report`] prints the table and
//! writes the JSON. `docs/performance.md` says how to run it and what each figure means.
//! The library returns [`BenchError`]; `anyhow` stays in `main.rs`.

pub mod ceilings;
pub mod cpu;
pub mod data;
pub mod load;
pub mod process;
pub mod report;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::entities::Registry;
use crate::transport::topology::{QueueKind, Topology};
use crate::transport::TransportError;
use load::{LoadClient, Mode, RunStats};
use process::{WorkerOptions, WorkerProcess};
use report::{Report, Row};

/// The entity the bench drives.
pub const ENTITY: &str = "customer";
/// The queue of the null worker (a pseudo-entity under the bench prefix).
pub const NULL_ENTITY: &str = "benchnull";

/// `webhook-worker bench [--quick] [--json FILE]`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Small numbers (a few minutes): a smoke test, targets are not judged.
    #[arg(long)]
    pub quick: bool,
    /// Where to write the JSON report (default: bench/results/bench-<UTC time>[-quick].json).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Customer PUTs of the throughput runs [default: 100000; --quick: 2000].
    #[arg(long, env = "BENCH_PUTS")]
    pub puts: Option<usize>,
    /// Requests of the latency run [default: 20000; --quick: 1000].
    #[arg(long, env = "BENCH_LATENCY_REQUESTS")]
    pub latency_requests: Option<usize>,
    /// PUTs of each scale point [default: 20000; --quick: 600].
    #[arg(long, env = "BENCH_SCALE_PUTS")]
    pub scale_puts: Option<usize>,
    /// Requests of each GET / LIST run [default: 20000 GET, 5000 LIST; --quick: 500].
    #[arg(long, env = "BENCH_READS")]
    pub reads: Option<usize>,
    /// Rows of the small and the large customer table [default: 10000,1000000; --quick:
    /// 10000,100000].
    #[arg(long, env = "BENCH_TABLES", value_delimiter = ',')]
    pub tables: Vec<u64>,
    /// Seconds of each pgbench run [default: 30; --quick: 5].
    #[arg(long, env = "BENCH_PGBENCH_SECS")]
    pub pgbench_secs: Option<u64>,
    /// MAX_IN_FLIGHT of the worker in the main runs (the worker's default).
    #[arg(long, env = "BENCH_IN_FLIGHT", default_value_t = 16)]
    pub in_flight: usize,
    /// In-flight limits of the scale run.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,128")]
    pub scale_in_flight: Vec<usize>,
    /// Worker process counts of the scale run.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub scale_processes: Vec<usize>,
    /// In-flight limit of each process in the process scale run, one series each
    /// [default: 1 (each process latency-bound: the database is not the bottleneck) and
    /// --in-flight].
    #[arg(long, value_delimiter = ',')]
    pub scale_process_in_flight: Vec<usize>,
    /// The worker binary to start (default: this executable).
    #[arg(long, env = "BENCH_WORKER_BIN")]
    pub worker_bin: Option<PathBuf>,
    /// Skip the GET / LIST section (its 1M-row load is the longest step).
    #[arg(long)]
    pub skip_reads: bool,
    /// RabbitMQ URL.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// PostgreSQL URL: only its server is used; the bench's databases are its own.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/webhook"
    )]
    pub database_url: String,
}

impl Default for BenchArgs {
    fn default() -> Self {
        BenchArgs {
            quick: false,
            json: None,
            puts: None,
            latency_requests: None,
            scale_puts: None,
            reads: None,
            tables: Vec::new(),
            pgbench_secs: None,
            in_flight: 16,
            scale_in_flight: vec![1, 8, 32, 128],
            scale_processes: vec![1, 2, 3],
            scale_process_in_flight: Vec::new(),
            worker_bin: None,
            skip_reads: false,
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            database_url: "postgres://postgres@127.0.0.1:5432/webhook".into(),
        }
    }
}

/// Why the bench could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database set-up: {0}")]
    Prepare(#[from] crate::database::DatabaseError),
    #[error("broker: {0}")]
    Transport(#[from] TransportError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Failed(String),
}

impl From<lapin::Error> for BenchError {
    fn from(e: lapin::Error) -> Self {
        BenchError::Transport(TransportError::Lapin(e))
    }
}

pub type Result<T, E = BenchError> = std::result::Result<T, E>;

/// The run's parameters, resolved from the arguments (quick or full defaults); written to
/// the JSON report as they were.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub quick: bool,
    /// PUTs of the throughput runs (N).
    pub n: usize,
    pub latency_requests: usize,
    pub scale_puts: usize,
    pub get_requests: usize,
    pub list_requests: usize,
    /// LIST with a broad word: each costs ~1,000x a selective one on 1M rows.
    pub list_broad_requests: usize,
    pub tables: Vec<u64>,
    pub pgbench_secs: u64,
    /// MAX_IN_FLIGHT of the worker in the main runs.
    pub in_flight: usize,
    /// PREFETCH and DB_POOL_SIZE of the worker in the main runs.
    pub prefetch: u16,
    pub db_pool_size: u32,
    /// Worker processes of the main runs.
    pub workers: usize,
    pub queue_type: String,
    pub scale_in_flight: Vec<usize>,
    pub scale_processes: Vec<usize>,
    pub scale_process_in_flight: Vec<usize>,
    /// Client connections of pgbench: the worker's database concurrency,
    /// min(in_flight, db_pool_size).
    pub pgbench_clients: usize,
    /// Unacknowledged deliveries of the null worker (as in shared/LIMITS.md).
    pub null_worker_prefetch: u16,
    /// Requests kept outstanding by the closed-loop GET / LIST clients.
    pub read_window: usize,
    pub skip_reads: bool,
    pub cpus: usize,
}

impl Params {
    pub fn from_args(args: &BenchArgs) -> Params {
        let q = args.quick;
        let pick =
            |v: Option<usize>, full: usize, quick: usize| v.unwrap_or(if q { quick } else { full });
        let defaults = crate::config::Settings::default();
        let tables = match args.tables.as_slice() {
            [small, large, ..] => vec![*small, *large],
            [one] => vec![*one],
            [] if q => vec![10_000, 100_000],
            [] => vec![10_000, 1_000_000],
        };
        let in_flight = args.in_flight.max(1);
        Params {
            quick: q,
            n: pick(args.puts, 100_000, 2_000).max(2),
            latency_requests: pick(args.latency_requests, 20_000, 1_000).max(2),
            scale_puts: pick(args.scale_puts, 20_000, 600).max(2),
            get_requests: pick(args.reads, 20_000, 500).max(2),
            list_requests: pick(args.reads, 5_000, 500).max(2),
            list_broad_requests: pick(args.reads.map(|r| r / 10), 500, 100).max(2),
            tables,
            pgbench_secs: args.pgbench_secs.unwrap_or(if q { 5 } else { 30 }).max(1),
            in_flight,
            prefetch: defaults.prefetch,
            db_pool_size: defaults.db_pool_size,
            workers: 1,
            queue_type: defaults.queue_type.to_string(),
            scale_in_flight: args.scale_in_flight.clone(),
            scale_processes: args.scale_processes.clone(),
            scale_process_in_flight: if args.scale_process_in_flight.is_empty() {
                vec![1, in_flight]
            } else {
                args.scale_process_in_flight.clone()
            },
            pgbench_clients: in_flight.min(defaults.db_pool_size as usize).max(1),
            null_worker_prefetch: 256,
            read_window: (2 * in_flight).max(2),
            skip_reads: args.skip_reads,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// What every section shares: names, URLs, the worker binary.
pub struct Bench {
    pub params: Params,
    pub amqp_url: String,
    /// The PostgreSQL server (its database name is replaced).
    server_url: String,
    /// Names every database and the topology prefix.
    pub id: String,
    /// Databases created and not yet dropped (dropped at the end, whatever happens).
    databases: std::sync::Mutex<Vec<String>>,
    pub topology: Topology,
    pub worker_bin: PathBuf,
    /// Worker logs and generated pgbench scripts.
    pub work_dir: PathBuf,
    /// Sequence for distinct customer codes across runs.
    next_run: std::sync::atomic::AtomicU32,
}

impl Bench {
    /// A fresh code prefix per run, so that every PUT of the bench creates a new customer.
    pub fn run_tag(&self) -> String {
        let n = self
            .next_run
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("B{n:02}")
    }

    /// A new database `bench_<id>_<label>`, created and migrated by the worker's own
    /// start-up code, with the demo data loaded. Returns its URL.
    pub async fn fresh_database(&self, label: &str) -> Result<String> {
        let url = with_database(&self.server_url, &format!("bench_{}_{label}", self.id))?;
        if let Ok(mut list) = self.databases.lock() {
            list.push(url.clone());
        }
        let pool = crate::database::prepare(&url, 2, 10_000).await?;
        let loaded = load_demo_data(&pool).await;
        pool.close().await;
        loaded?;
        Ok(url)
    }

    /// Drop a database made by [`Bench::fresh_database`].
    pub async fn drop_database(&self, url: &str) -> Result<()> {
        drop_database(url).await?;
        if let Ok(mut list) = self.databases.lock() {
            list.retain(|u| u != url);
        }
        Ok(())
    }

    pub fn worker_options(&self, database_url: &str, in_flight: usize) -> WorkerOptions {
        WorkerOptions {
            bin: self.worker_bin.clone(),
            amqp_url: self.amqp_url.clone(),
            database_url: database_url.to_string(),
            topology_prefix: self.topology.prefix().to_string(),
            entity: ENTITY.to_string(),
            in_flight,
            prefetch: self
                .params
                .prefetch
                .max(in_flight.min(u16::MAX as usize) as u16),
            db_pool_size: self.params.db_pool_size,
            log_dir: self.work_dir.clone(),
        }
    }
}

/// Run the bench: print the table, write the JSON, clean up. Returns the report.
pub async fn run(args: BenchArgs) -> Result<Report> {
    run_until(args, CancellationToken::new()).await
}

/// [`run`], stopped early when `interrupt` is cancelled (SIGINT or SIGTERM): the run in
/// progress is dropped (its worker processes and pgbench are killed) and the bench's
/// databases and queues are removed all the same.
pub async fn run_until(args: BenchArgs, interrupt: CancellationToken) -> Result<Report> {
    let params = Params::from_args(&args);
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let worker_bin = match &args.worker_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?,
    };
    let work_dir = std::env::temp_dir().join(format!("webhook-bench-{id}"));
    std::fs::create_dir_all(&work_dir)?;
    let bench = Bench {
        server_url: {
            with_database(&args.database_url, "postgres")?;
            args.database_url.clone()
        },
        id: id.clone(),
        databases: Default::default(),
        amqp_url: args.amqp_url.clone(),
        topology: Topology::new(
            format!("bench{id}."),
            QueueKind::from_str(&params.queue_type).unwrap_or_default(),
            crate::config::Settings::default().delivery_limit,
        ),
        worker_bin,
        work_dir,
        params,
        next_run: Default::default(),
    };
    eprintln!(
        "bench: databases bench_{id}_*, topology prefix {}, worker {}, logs in {}",
        bench.topology.prefix(),
        bench.worker_bin.display(),
        bench.work_dir.display()
    );
    let started = chrono::Utc::now();
    let outcome = tokio::select! {
        outcome = sections(&bench) => outcome,
        () = interrupt.cancelled() => Err(BenchError::Failed(
            "interrupted: the run was stopped, nothing is reported".into(),
        )),
    };
    let cleaned = cleanup(&bench).await;
    let mut report = outcome?;
    cleaned?;
    report.started_at = started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    report.finish();
    println!("{}", report.table());
    let path = args.json.clone().unwrap_or_else(|| {
        let stamp = started.format("%Y%m%dT%H%M%SZ");
        let quick = if bench.params.quick { "-quick" } else { "" };
        PathBuf::from(format!("bench/results/bench-{stamp}{quick}.json"))
    });
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| BenchError::Failed(format!("serialising the report: {e}")))?;
    std::fs::write(&path, json + "\n")?;
    println!("written to {}", path.display());
    // Worker logs are only worth keeping when something failed.
    let _ = std::fs::remove_dir_all(&bench.work_dir);
    Ok(report)
}

/// Every section, in order, into one report. Each throughput comparison starts from a
/// database of its own, freshly migrated with the demo data: the cost of an upsert grows
/// with the table and its ~40 indexes, so runs on one growing table are not comparable.
async fn sections(bench: &Bench) -> Result<Report> {
    let p = &bench.params;
    let mut report = Report::new(p.clone());
    step("preparing the bench database");
    let put_db = bench.fresh_database("put").await?;
    declare(bench).await?;

    // 1. PUT throughput, published first, then the worker started.
    step(&format!(
        "PUT: publishing {} requests, then starting the worker",
        p.n
    ));
    let client = LoadClient::connect(bench, ENTITY, p.n).await?;
    let tag = bench.run_tag();
    client
        .publish(|i| load::put_body(&tag, i), Mode::Preload)
        .await?;
    // 1a. The database's ceiling right before the backlog, and again right after it (1b):
    // the machine's speed moves by 20% within minutes, so the ceiling is the mean of two
    // runs that bracket the worker's, as the GET's broker ceiling is.
    let before = db_ceiling_run(bench, &mut report, None, "right before the backlog").await?;
    report.db_ceiling_runs_per_s.push(before);
    // Each of the three runs starts from a CHECKPOINT and pays for its own writes back.
    checkpoint(&put_db, "the backlog run").await;
    let spawned = Instant::now();
    let meter = cpu::Meter::start();
    let worker = WorkerProcess::spawn(&bench.worker_options(&put_db, p.in_flight)).await?;
    let burst = client.finish(stall_limit(), Some(&worker)).await;
    let (burst_stats, worker) = settle(burst, worker).await?;
    report.cpu.push(meter.stop("PUT backlog", p.n).await);
    report.put_per_s = burst_stats.reply_rate();
    report.put_worker_start_ms = burst_stats
        .first_reply_after(spawned)
        .map(|d| d.as_secs_f64() * 1e3);
    report.rows.push(Row::throughput(
        "PUT, published first, worker started after",
        &burst_stats,
    ));
    eprintln!("  {:.0} PUT/s", report.put_per_s);

    // 1b. The database's ceiling right after the backlog (the worker idle), its script
    // holding one of the worker's own PUT outcomes.
    let outcome = settle(put_outcome(&put_db).await, worker).await;
    let (outcome, worker) = outcome?;
    let after = db_ceiling_run(
        bench,
        &mut report,
        Some(&outcome),
        "right after the backlog",
    )
    .await;
    let (after, worker) = settle(after, worker).await?;
    report.db_ceiling_runs_per_s.push(after);

    // 2. The worker running, the publisher pacing the load at the measured rate.
    let max_rate = report.put_per_s.max(1.0);
    step(&format!("PUT: {} requests paced at {max_rate:.0}/s", p.n));
    let (paced, worker) =
        paced_puts(bench, &mut report, worker, p.n, max_rate, "PUT paced").await?;
    report.put_paced_per_s = paced.reply_rate_from_first_send();
    report.put_paced_offered_per_s = max_rate;
    report
        .rows
        .push(Row::paced("PUT, worker running, paced", &paced, max_rate));

    // 3. Latency at 50% of the maximum, right after the two runs at 100%.
    let half = max_rate / 2.0;
    step(&format!(
        "PUT latency after the bulk runs: {} requests paced at {half:.0}/s",
        p.latency_requests
    ));
    let (latency, worker) = paced_puts(
        bench,
        &mut report,
        worker,
        p.latency_requests,
        half,
        "PUT latency run",
    )
    .await?;
    let row = Row::paced(
        "PUT latency at 50% load, right after the bulk runs",
        &latency,
        half,
    );
    report.put_after_bulk_p50_ms = row.p50_ms;
    report.put_after_bulk_p99_ms = row.p99_ms;
    report.put_after_bulk_p999_ms = row.p999_ms;
    report.rows.push(row);

    // 4. Peak RSS of the worker over the PUT runs.
    report.peak_rss_mb = worker.peak_rss_mb().unwrap_or(f64::NAN);
    worker.stop().await?;
    // Dropped before the steady-state run: autovacuum of its 2 x N fresh rows (and their
    // ~40 indexes) would otherwise run during it, on the same 2 cores.
    bench.drop_database(&put_db).await?;

    // 3b. The same load in a steady state: a fresh database and worker, after a
    // CHECKPOINT, so that the 2 x N PUTs above leave no checkpoint or vacuum debt behind
    // (on this machine they keep PostgreSQL checkpointing back to back). The headline
    // latency; the one above stays in the report as "after bulk".
    step(&format!(
        "PUT latency, steady state: {} requests paced at {half:.0}/s on a fresh database",
        p.latency_requests
    ));
    let steady_db = bench.fresh_database("latency").await?;
    checkpoint(&steady_db, "the steady-state run").await;
    let steady_worker =
        WorkerProcess::spawn(&bench.worker_options(&steady_db, p.in_flight)).await?;
    // A warm-up before measuring, as in any benchmark: the new worker's first requests
    // also meet PostgreSQL's first use of each statement and foreign key on each
    // connection. Reported as its own row, not in the percentiles.
    // At least 100, at most the run's own size (`clamp` would panic below 100 requests).
    let warm_up_n = ((half * WARM_UP_SECS) as usize)
        .max(100)
        .min(p.latency_requests);
    let (warm, steady_worker) = paced_puts(
        bench,
        &mut report,
        steady_worker,
        warm_up_n,
        half,
        "PUT warm-up, fresh worker",
    )
    .await?;
    report.rows.push(Row::paced(
        "PUT warm-up of the fresh worker (not in the percentiles)",
        &warm,
        half,
    ));
    let (steady, steady_worker) = paced_puts(
        bench,
        &mut report,
        steady_worker,
        p.latency_requests,
        half,
        "PUT latency, steady state",
    )
    .await?;
    steady_worker.stop().await?;
    bench.drop_database(&steady_db).await?;
    let row = Row::paced(
        "PUT latency at 50% load, steady state (fresh database)",
        &steady,
        half,
    );
    report.put_p50_ms = row.p50_ms;
    report.put_p99_ms = row.p99_ms;
    report.put_p999_ms = row.p999_ms;
    report.latency_offered_per_s = half;
    report.latency_achieved_per_s = steady.reply_rate_from_first_send();
    report.rows.push(row);

    // 5. The ceilings, each pgbench run on a fresh database like the worker's first run.
    let registry = Registry::standard();
    ceilings_section(bench, &mut report, &registry, &outcome).await?;

    // 6. Scale, each point on a fresh database.
    for &in_flight in &p.scale_in_flight {
        step(&format!(
            "scale: {} PUTs, in-flight {in_flight}, 1 process",
            p.scale_puts
        ));
        let meter = cpu::Meter::start();
        let stats = scale_point(bench, in_flight.max(1), 1).await?;
        report.cpu.push(
            meter
                .stop(&format!("scale in-flight {in_flight}"), p.scale_puts)
                .await,
        );
        report.scale_in_flight.push(report::ScalePoint {
            in_flight,
            processes: 1,
            per_s: stats.reply_rate(),
        });
        report.rows.push(Row::throughput(
            &format!("PUT scale: in-flight {in_flight}, 1 process"),
            &stats,
        ));
    }
    for &in_flight in &p.scale_process_in_flight {
        for &processes in &p.scale_processes {
            step(&format!(
                "scale: {} PUTs, in-flight {in_flight}, {processes} process(es)",
                p.scale_puts
            ));
            let meter = cpu::Meter::start();
            let stats = scale_point(bench, in_flight.max(1), processes.max(1)).await?;
            report.cpu.push(
                meter
                    .stop(
                        &format!("scale {processes} process(es), in-flight {in_flight}"),
                        p.scale_puts,
                    )
                    .await,
            );
            report.scale_processes.push(report::ScalePoint {
                in_flight,
                processes,
                per_s: stats.reply_rate(),
            });
            report.rows.push(Row::throughput(
                &format!("PUT scale: in-flight {in_flight}, {processes} process(es)"),
                &stats,
            ));
        }
    }

    // 7. GET and LIST.
    if !p.skip_reads {
        reads(bench, &mut report, &registry).await?;
    }
    Ok(report)
}

/// The database's ceilings (pgbench, each on a fresh database like the worker's run) and
/// the broker's (null worker, published first and closed loop).
async fn ceilings_section(
    bench: &Bench,
    report: &mut Report,
    registry: &Registry,
    outcome: &str,
) -> Result<()> {
    let p = &bench.params;
    step(&format!(
        "database ceiling: pgbench, {} clients, {} s, every statement of the worker's PUT",
        p.pgbench_clients, p.pgbench_secs
    ));
    let scripts = ceilings::PgbenchScripts::write(&bench.work_dir, registry, outcome)?;
    let url = bench.fresh_database("pgfull").await?;
    let tps = metered_pgbench(
        bench,
        report,
        &url,
        &scripts.put_full,
        "pgbench PUT, every statement",
    )
    .await;
    bench.drop_database(&url).await?;
    report.db_full_sql_per_s = tps?;
    step(&format!(
        "the engine in process, no broker: {} PUTs, {} at once",
        p.scale_puts, p.in_flight
    ));
    let url = bench.fresh_database("engine").await?;
    let run = ceilings::engine_loop(
        &url,
        p.scale_puts,
        p.in_flight * 10,
        p.in_flight,
        &bench.run_tag(),
        "engine in process, no broker (bench = engine)",
    )
    .await;
    bench.drop_database(&url).await?;
    let (rate, cpu) = run?;
    report.engine_put_per_s = rate;
    report.cpu.push(cpu);
    step(&format!(
        "broker ceiling: null worker, {} requests published first, prefetch {}",
        p.n, p.null_worker_prefetch
    ));
    let meter = cpu::Meter::start();
    let null = ceilings::null_worker(bench, p.n, Mode::Preload).await?;
    report
        .cpu
        .push(meter.stop("null worker backlog", p.n).await);
    report.broker_ceiling_per_s = null.reply_rate();
    report.rows.push(Row::throughput(
        "null worker, published first (broker ceiling)",
        &null,
    ));
    step(&format!(
        "broker ceiling, closed loop: null worker, {} requests, {} outstanding",
        p.n, p.read_window
    ));
    let meter = cpu::Meter::start();
    let null = ceilings::null_worker(bench, p.n, Mode::Closed(p.read_window)).await?;
    report
        .cpu
        .push(meter.stop("null worker closed loop", p.n).await);
    report.broker_closed_loop_per_s = null.reply_rate_from_first_send();
    report.rows.push(Row::paced(
        &format!(
            "null worker, closed loop {} (GET's broker ceiling)",
            p.read_window
        ),
        &null,
        f64::NAN,
    ));
    Ok(())
}

/// GET extended by code and LIST with `contains` + `nameAsc`, on each table size.
async fn reads(bench: &Bench, report: &mut Report, registry: &Registry) -> Result<()> {
    let p = &bench.params;
    step("reads: preparing the GET / LIST database");
    let url = bench.fresh_database("reads").await?;
    let pool = crate::database::prepare(&url, 4, 0).await?;
    let worker = WorkerProcess::spawn(&bench.worker_options(&url, p.in_flight)).await?;
    let result = reads_with(bench, report, registry, &pool, &url, &worker).await;
    worker.stop().await?;
    pool.close().await;
    bench.drop_database(&url).await?;
    result
}

async fn reads_with(
    bench: &Bench,
    report: &mut Report,
    registry: &Registry,
    pool: &PgPool,
    url: &str,
    worker: &WorkerProcess,
) -> Result<()> {
    let p = &bench.params;
    let mut loaded = 0u64;
    for &rows in &p.tables {
        step(&format!("reads: loading the customer table to {rows} rows"));
        let took = Instant::now();
        data::load_customers(pool, loaded, rows).await?;
        loaded = loaded.max(rows);
        eprintln!("  loaded in {:.1} s", took.elapsed().as_secs_f64());
        // The load's WAL keeps PostgreSQL checkpointing while it runs; without this its
        // last checkpoint is written back during the reads (bursts in LIST's p99).
        checkpoint(url, "the reads").await;
        let kinds = [
            (
                "GET extended by code",
                p.get_requests,
                load::ReadKind::GetByCode,
            ),
            (
                "LIST name contains (selective) + nameAsc",
                p.list_requests,
                load::ReadKind::ListSelective,
            ),
            (
                "LIST name contains (2% of rows) + nameAsc",
                p.list_broad_requests,
                load::ReadKind::ListBroad,
            ),
        ];
        for (label, n, kind) in kinds {
            let bracketed = matches!(kind, load::ReadKind::GetByCode);
            let before = match bracketed {
                true => Some(null_closed_loop(bench, report, n, "before").await?),
                false => None,
            };
            step(&format!("reads: {label}, {rows} rows, {n} requests"));
            let body = move |_: &str, i: usize| load::read_body(kind, rows, i);
            let meter = cpu::Meter::start();
            let max = run_live(bench, worker, n, Mode::Closed(p.read_window), body).await?;
            report.cpu.push(
                meter
                    .stop(&format!("{}, {rows} rows", kind.name()), n)
                    .await,
            );
            let broker_closed_loop_per_s = match before {
                Some(before) => {
                    let after = null_closed_loop(bench, report, n, "after").await?;
                    Some((before + after) / 2.0)
                }
                None => None,
            };
            let rate = max.reply_rate_from_first_send().max(1.0);
            let paced = run_live(bench, worker, n, Mode::Paced(rate / 2.0), body).await?;
            let l = paced.latencies_ms();
            let point = report::ReadPoint {
                kind: kind.name().to_string(),
                table_rows: rows,
                per_s: rate,
                p50_ms: report::percentile(&l, 50.0),
                p99_ms: report::percentile(&l, 99.0),
                p999_ms: report::percentile(&l, 99.9),
                broker_closed_loop_per_s,
            };
            report.rows.push(Row::read(label, &point, &max));
            report.reads.push(point);
        }
        let plan = data::explain_list(pool, registry, rows).await?;
        report.list_plans.push(report::Plan {
            table_rows: rows,
            plan,
        });
    }
    step(&format!(
        "database ceiling of GET: pgbench, {} clients, {} s",
        p.pgbench_clients, p.pgbench_secs
    ));
    let script = ceilings::write_get_script(&bench.work_dir, registry, loaded)?;
    report.get_db_ceiling_per_s = ceilings::pgbench(bench, url, &script).await?;
    Ok(())
}

/// The null worker's closed loop of `n` requests, `when` the GET run beside it: its
/// rate from the first send.
async fn null_closed_loop(bench: &Bench, report: &mut Report, n: usize, when: &str) -> Result<f64> {
    let window = bench.params.read_window;
    step(&format!(
        "broker ceiling {when} the GET run: null worker, {n} requests, {window} outstanding"
    ));
    let null = ceilings::null_worker(bench, n, Mode::Closed(window)).await?;
    report.rows.push(Row::paced(
        &format!("null worker, closed loop {window}, {when} the GET run"),
        &null,
        f64::NAN,
    ));
    Ok(null.reply_rate_from_first_send())
}

/// N requests to a running worker (GET/LIST/PUT), with a fresh client and code tag.
async fn run_live(
    bench: &Bench,
    worker: &WorkerProcess,
    n: usize,
    mode: Mode,
    body: impl Fn(&str, usize) -> Vec<u8>,
) -> Result<RunStats> {
    let client = LoadClient::connect(bench, ENTITY, n).await?;
    let tag = bench.run_tag();
    client.publish(|i| body(&tag, i), mode).await?;
    client.finish(stall_limit(), Some(worker)).await
}

/// `n` PUTs paced at `rate` against a running worker, its CPU recorded as `cpu_label`.
async fn paced_puts(
    bench: &Bench,
    report: &mut Report,
    worker: WorkerProcess,
    n: usize,
    rate: f64,
    cpu_label: &str,
) -> Result<(RunStats, WorkerProcess)> {
    let meter = cpu::Meter::start();
    let stats = run_live(bench, &worker, n, Mode::Paced(rate), load::put_body).await;
    let (stats, worker) = settle(stats, worker).await?;
    report.cpu.push(meter.stop(cpu_label, n).await);
    write_trace(cpu_label, &stats);
    Ok((stats, worker))
}

/// Length of the paced warm-up before the steady-state latency run.
const WARM_UP_SECS: f64 = 3.0;

/// With `BENCH_TRACE_DIR` set, each paced run's per-request latencies go to
/// `<dir>/<label>.csv` (docs/performance.md: reading a tail).
fn write_trace(label: &str, stats: &RunStats) {
    let Some(dir) = std::env::var_os("BENCH_TRACE_DIR") else {
        return;
    };
    let name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let path = std::path::Path::new(&dir).join(format!("{name}.csv"));
    let written =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, stats.trace_csv()));
    match written {
        Ok(()) => eprintln!("  trace written to {}", path.display()),
        Err(e) => eprintln!("  cannot write the trace {}: {e}", path.display()),
    }
}

/// One scale point: publish first, then start `processes` workers at once.
async fn scale_point(bench: &Bench, in_flight: usize, processes: usize) -> Result<RunStats> {
    let n = bench.params.scale_puts;
    let client = LoadClient::connect(bench, ENTITY, n).await?;
    let tag = bench.run_tag();
    client
        .publish(|i| load::put_body(&tag, i), Mode::Preload)
        .await?;
    let url = bench
        .fresh_database(&format!("scale{in_flight}x{processes}"))
        .await?;
    let options = bench.worker_options(&url, in_flight);
    // All processes start at once, so that none has the backlog to itself for long.
    let mut workers = Vec::new();
    let mut started = Ok(());
    for _ in 0..processes {
        match WorkerProcess::start(&options) {
            Ok(w) => workers.push(w),
            Err(e) => {
                started = Err(e);
                break;
            }
        }
    }
    for w in &workers {
        if started.is_ok() {
            started = w.wait_ready().await;
        }
    }
    let result = match started {
        Ok(()) => client.finish(stall_limit(), workers.first()).await,
        Err(e) => Err(e),
    };
    for w in workers {
        w.stop().await?;
    }
    bench.drop_database(&url).await?;
    result
}

/// One pgbench run of the worker's PUT writes on a fresh database: the database's ceiling.
/// The script holds `outcome` as the inbox record, or, before the worker has written one,
/// the record of a PUT the engine applies here in-process on that database (the bench's
/// own engine: the same bytes unless `--worker-bin` is another build). `when` tells the
/// run apart in the log and the CPU table.
async fn db_ceiling_run(
    bench: &Bench,
    report: &mut Report,
    outcome: Option<&str>,
    when: &str,
) -> Result<f64> {
    let p = &bench.params;
    step(&format!(
        "database ceiling: pgbench, {} clients, {} s, the worker's PUT writes ({when})",
        p.pgbench_clients, p.pgbench_secs
    ));
    let run = report.db_ceiling_runs_per_s.len();
    let url = bench.fresh_database(&format!("pg{run}")).await?;
    let measured = async {
        let outcome = match outcome {
            Some(outcome) => outcome.to_string(),
            None => ceilings::engine_outcome(&url).await?,
        };
        let dir = bench.work_dir.join(format!("pg{run}"));
        std::fs::create_dir_all(&dir)?;
        let scripts = ceilings::PgbenchScripts::write(&dir, &Registry::standard(), &outcome)?;
        checkpoint(&url, "the pgbench run").await;
        let label = format!("pgbench PUT writes ({when})");
        metered_pgbench(bench, report, &url, &scripts.put, &label).await
    }
    .await;
    bench.drop_database(&url).await?;
    let tps = measured?;
    eprintln!("  {tps:.0} tx/s");
    Ok(tps)
}

/// A pgbench run of `script` on `url`, its processor time per transaction recorded in
/// the report's CPU table as `label`.
async fn metered_pgbench(
    bench: &Bench,
    report: &mut Report,
    url: &str,
    script: &ceilings::Script,
    label: &str,
) -> Result<f64> {
    let meter = cpu::Meter::start();
    let tps = ceilings::pgbench(bench, url, script).await;
    let txs = (*tps.as_ref().unwrap_or(&0.0) * bench.params.pgbench_secs as f64) as usize;
    report.cpu.push(meter.stop(label, txs).await);
    tps
}

/// A PUT outcome the worker stored in `url`'s inbox, to model pgbench's script on.
async fn put_outcome(url: &str) -> Result<String> {
    let pool = crate::database::prepare(url, 1, 10_000).await?;
    let outcome = ceilings::sample_outcome(&pool).await;
    pool.close().await;
    outcome
}

/// Write back every dirty buffer now (superuser only; otherwise the run starts without it):
/// a CHECKPOINT before a measured run, so that what came before leaves no writes behind
/// for the run to share the disk and processors with (`run` names it in the log).
async fn checkpoint(url: &str, run: &str) {
    if let Ok(pool) = sqlx::PgPool::connect(url).await {
        if let Err(e) = sqlx::query("CHECKPOINT").execute(&pool).await {
            eprintln!("  CHECKPOINT failed ({e}): {run} starts without it");
        }
        pool.close().await;
    }
}

/// On a failed step, stop the worker before returning the error.
async fn settle<T>(result: Result<T>, worker: WorkerProcess) -> Result<(T, WorkerProcess)> {
    match result {
        Ok(v) => Ok((v, worker)),
        Err(e) => {
            eprintln!("  worker log: {}", worker.log_path().display());
            let _ = worker.stop().await;
            Err(e)
        }
    }
}

/// A run fails when no reply arrives for this long.
fn stall_limit() -> Duration {
    Duration::from_secs(60)
}

/// A step of the run, with the UTC time it starts at: what lines it up with the servers'
/// logs (a checkpoint, a flush of RabbitMQ's log) when a run's figures need explaining.
fn step(what: &str) {
    let now = chrono::Utc::now().format("%H:%M:%S");
    eprintln!("bench: {now} {what}");
}

/// Declare the bench topology (the worker's queue arguments), so that requests published
/// before the worker starts have a queue to wait in.
async fn declare(bench: &Bench) -> Result<()> {
    let connection = crate::transport::connection::connect(&bench.amqp_url).await?;
    let channel = connection.create_channel().await?;
    bench
        .topology
        .declare(&channel, &[ENTITY, NULL_ENTITY])
        .await?;
    let _ = connection.close(200, "declared".into()).await;
    Ok(())
}

/// Delete the bench queues and exchanges, drop the bench databases. Only names carrying
/// the bench's id are touched.
async fn cleanup(bench: &Bench) -> Result<()> {
    step("cleaning up");
    let mut failures = Vec::new();
    match crate::transport::connection::connect(&bench.amqp_url).await {
        Ok(connection) => {
            match connection.create_channel().await {
                Ok(channel) => {
                    if let Err(e) = bench
                        .topology
                        .delete(&channel, &[ENTITY, NULL_ENTITY])
                        .await
                    {
                        failures.push(format!("deleting the bench topology: {e}"));
                    }
                }
                Err(e) => failures.push(format!("deleting the bench topology: {e}")),
            }
            let _ = connection.close(200, "cleaned up".into()).await;
        }
        Err(e) => failures.push(format!("deleting the bench topology: {e}")),
    }
    let left: Vec<String> = bench
        .databases
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    for url in left {
        if let Err(e) = bench.drop_database(&url).await {
            failures.push(format!("dropping {}: {e}", database_name(&url)));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(BenchError::Failed(failures.join("; ")))
    }
}

async fn drop_database(url: &str) -> Result<()> {
    let options = PgConnectOptions::from_str(url)?;
    let name = options.get_database().unwrap_or_default().to_string();
    if !name.starts_with("bench_") {
        return Err(BenchError::Failed(format!(
            "refusing to drop {name:?}: not a bench database"
        )));
    }
    let mut admin = options.database("postgres").connect().await?;
    let sql = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        crate::engine::sql::ident(&name)
    );
    sqlx::query(&sql).execute(&mut admin).await?;
    let _ = admin.close().await;
    Ok(())
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> Result<String> {
    // Validate first: a URL sqlx cannot read would only fail later, less clearly.
    PgConnectOptions::from_str(url)?;
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    Ok(match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    })
}

fn database_name(url: &str) -> String {
    PgConnectOptions::from_str(url)
        .ok()
        .and_then(|o| o.get_database().map(str::to_string))
        .unwrap_or_default()
}

/// The demo reference rows, so that seed 004's PUT applies as written.
async fn load_demo_data(pool: &PgPool) -> Result<()> {
    let data: serde_json::Value = serde_json::from_str(DEMO_DATA)
        .map_err(|e| BenchError::Failed(format!("demo data: {e}")))?;
    let summary = crate::import::import(pool, &Registry::standard(), &data)
        .await
        .map_err(|e| BenchError::Failed(format!("demo data: {e}")))?;
    if !summary.failed.is_empty() {
        return Err(BenchError::Failed(format!(
            "demo data failed to load: {:?}",
            summary.failed
        )));
    }
    Ok(())
}

const DEMO_DATA: &str = include_str!("../../deploy/demo-data.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/webhook", "bench_x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/bench_x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "bench_x").unwrap(),
            "postgres://u:p@h/bench_x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "bench_x").unwrap(),
            "postgres://h:5432/bench_x"
        );
    }

    #[test]
    fn quick_defaults_are_small() {
        let p = Params::from_args(&BenchArgs {
            quick: true,
            ..BenchArgs::default()
        });
        assert!(p.n <= 2_000 && p.tables == vec![10_000, 100_000] && p.pgbench_secs == 5);
        let full = Params::from_args(&BenchArgs::default());
        assert_eq!(full.n, 100_000);
        assert_eq!(full.tables, vec![10_000, 1_000_000]);
    }
}
