//! The binary: parse the command line, set up logs, run one subcommand. The only home of
//! `anyhow` and of exit codes.

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use webhook_worker::call::{CallOptions, Client};
use webhook_worker::cli::{CallArgs, Cli, Command, DlqArgs, DlqCommand, ImportArgs};
use webhook_worker::config::Settings;
use webhook_worker::entities::Registry;
use webhook_worker::startup::Worker;
use webhook_worker::transport::topology::{QueueKind, Topology, PARTITION_HEADER};
use webhook_worker::{database, import, telemetry};

/// mimalloc rather than glibc's allocator: malloc and free were ~30% of the worker's
/// instructions per PUT (callgrind, issue 8; see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `println!` for the subcommands' output: when stdout is closed early (`call ... | head`)
/// the command ends quietly instead of panicking on the broken pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        match writeln!(std::io::stdout(), $($arg)*) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            written => written?,
        }
    }};
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(settings) => run(settings).await,
        Command::Call(args) => call(args).await,
        Command::Import(args) => import_file(args).await,
        Command::Dlq(args) => dlq(args).await,
        Command::Bench(args) => {
            // Ctrl-C or SIGTERM stops the bench, which still removes its databases and
            // queues.
            let interrupt = CancellationToken::new();
            tokio::spawn(signal_shutdown(interrupt.clone()));
            Ok(webhook_worker::bench::run_until(args, interrupt)
                .await
                .map(drop)?)
        }
        Command::Schema => {
            let document = webhook_worker::schema::asyncapi(&Registry::standard());
            out!("{}", document.trim_end_matches('\n'));
            Ok(())
        }
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    telemetry::init_subscriber(settings.log_json, "info,sqlx=warn,lapin=warn");
    tracing::info!(?settings, "starting");
    let worker = Worker::build(settings)
        .await
        .context("worker start-up failed")?;
    tracing::info!(addr = %worker.metrics_addr(), "serving /metrics, /healthz, /readyz");
    let shutdown = CancellationToken::new();
    tokio::spawn(signal_shutdown(shutdown.clone()));
    worker.run_until_stopped(shutdown).await;
    Ok(())
}

/// SIGTERM or SIGINT cancels the worker (SPEC section 6, graceful shutdown).
async fn signal_shutdown(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    // Still honour Ctrl-C.
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutdown requested");
    shutdown.cancel();
}

async fn call(args: CallArgs) -> anyhow::Result<()> {
    telemetry::init_subscriber(false, "warn");
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))?
    };
    let mut body: Json = serde_json::from_str(&text).context("the request file is not JSON")?;
    if let (Some(verb), Some(map)) = (&args.verb, body.as_object_mut()) {
        map.insert("verb".into(), Json::String(verb.clone()));
    }
    let topology = Topology::new(
        args.connections.topology_prefix.clone(),
        QueueKind::Quorum,
        0,
    );
    let client = Client::connect(&args.connections.amqp_url, topology)
        .await
        .context("connecting to RabbitMQ")?;
    // Partitioned mode hashes this header (docs/operating.md); harmless otherwise.
    let code = Registry::standard().get(&args.entity).and_then(|def| {
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        webhook_worker::request::peek(&bytes, usize::MAX, def.block, def.code).1
    });
    let headers = code
        .map(|c| {
            (
                PARTITION_HEADER.to_string(),
                lapin::types::AMQPValue::LongString(c.into()),
            )
        })
        .into_iter()
        .collect();
    let options = CallOptions {
        headers,
        message_id: args.message_id.clone(),
        webhook_version: args
            .webhook_version
            .as_deref()
            .map(|v| lapin::types::AMQPValue::LongString(v.into())),
        ..CallOptions::default()
    };
    let reply = client
        .call(
            &args.entity,
            &body,
            &options,
            Duration::from_secs(args.wait),
        )
        .await
        .context("calling the worker (is `webhook-worker run` running?)")?;
    out!("{}", serde_json::to_string_pretty(&reply.body)?);
    client.close().await;
    if reply.headers.get("status").map(String::as_str) == Some("error") {
        std::process::exit(2);
    }
    Ok(())
}

async fn import_file(args: ImportArgs) -> anyhow::Result<()> {
    telemetry::init_subscriber(false, "warn");
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let data: Json = serde_json::from_str(&text).context("the import file is not JSON")?;
    let pool = database::prepare(&args.connections.database_url, 4, 10_000).await?;
    let summary = import::import(&pool, &Registry::standard(), &data).await?;
    out!(
        "created {}, updated {}, failed {}",
        summary.created,
        summary.updated,
        summary.failed.len()
    );
    for failure in &summary.failed {
        eprintln!("{failure}");
    }
    if !summary.failed.is_empty() {
        anyhow::bail!("{} row(s) failed to import", summary.failed.len());
    }
    Ok(())
}

async fn dlq(args: DlqArgs) -> anyhow::Result<()> {
    use webhook_worker::dlq::{DeadLetterQueue, ReplayFilter};
    telemetry::init_subscriber(false, "warn");
    let connections = &args.connections;
    let topology = Topology::new(connections.topology_prefix.clone(), QueueKind::Quorum, 0);
    let connection = webhook_worker::transport::connection::connect(&connections.amqp_url)
        .await
        .context("connecting to RabbitMQ")?;
    match args.command {
        DlqCommand::List {
            entity,
            limit,
            json,
        } => {
            let letters = DeadLetterQueue::new(&connection, topology, &entity)
                .list(limit)
                .await?;
            for letter in &letters {
                if json {
                    out!("{}", serde_json::to_string(letter)?);
                } else {
                    out!("{letter}");
                }
            }
        }
        DlqCommand::Show { entity, message_id } => {
            let dlq = DeadLetterQueue::new(&connection, topology, &entity);
            let Some(letter) = dlq.show(&message_id).await? else {
                anyhow::bail!("no dead letter with message_id {message_id:?} in {entity}'s DLQ");
            };
            out!("properties:");
            for (k, v) in &letter.properties {
                out!("  {k}: {v}");
            }
            out!("headers:");
            for (k, v) in &letter.headers {
                out!("  {k}: {v}");
            }
            out!("body:\n{}", letter.body);
        }
        DlqCommand::Replay {
            entity,
            error_code,
            message_id,
            limit,
            dry_run,
        } => {
            let filter = ReplayFilter {
                error_code,
                message_id,
                limit,
                dry_run,
            };
            let publisher =
                webhook_worker::transport::publisher::Publisher::open(&connection).await?;
            let dlq = DeadLetterQueue::new(&connection, topology, &entity);
            let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let summary = dlq
                .replay(&filter, &publisher, |seen, total| {
                    // Progress on long runs: a line that rewrites itself, or every 1000.
                    if interactive && (seen % 50 == 0 || seen == total) {
                        eprint!("\r{seen}/{total} looked at");
                    } else if !interactive && seen % 1000 == 0 {
                        eprintln!("{seen}/{total} looked at");
                    }
                })
                .await?;
            if interactive {
                eprintln!();
            }
            let verb = if dry_run { "would replay" } else { "replayed" };
            out!(
                "{verb} {}, skipped {}, left {}",
                summary.replayed,
                summary.skipped,
                summary.left
            );
        }
        DlqCommand::Purge { entity, yes } => {
            if !yes {
                anyhow::bail!("purge deletes every dead letter of {entity}: add --yes to confirm");
            }
            let n = DeadLetterQueue::new(&connection, topology, &entity)
                .purge()
                .await?;
            out!("purged {n} dead letter(s)");
        }
    }
    // Best effort: the broker drops the connection's resources either way.
    let _ = connection.close(200, "bye".into()).await;
    Ok(())
}
