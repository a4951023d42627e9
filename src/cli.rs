//! The command line: `run`, `call`, `import` (clap types only; main.rs runs them).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Connections, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "webhook-worker",
    version,
    about = "Applies ERP webhook requests from RabbitMQ to PostgreSQL"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the worker: consume requests, apply them, reply, dead-letter.
    Run(Settings),
    /// Publish one request and print its reply (direct reply-to).
    Call(CallArgs),
    /// Load reference rows from a JSON file through the engine (idempotent).
    Import(ImportArgs),
    /// Dead-letter queues: list, show, replay, purge (SPEC section 5).
    Dlq(DlqArgs),
    /// Print the AsyncAPI document of the message contract.
    Schema,
    /// Measure throughput, latency and memory against the local broker and database.
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub command: DlqCommand,
    #[command(flatten)]
    pub connections: Connections,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// One line per dead letter: message_id, error code, when, message, replay count.
    /// The queue is left exactly as it was.
    List {
        entity: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON object per line, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// One dead letter in full: properties, headers, pretty body.
    Show {
        entity: String,
        #[arg(long)]
        message_id: String,
    },
    /// Republish matching dead letters to their request queue (confirm, then ack).
    Replay {
        entity: String,
        #[arg(long)]
        error_code: Option<String>,
        #[arg(long)]
        message_id: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
        /// Count what would be replayed; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete every dead letter of the entity (refused without --yes).
    Purge {
        entity: String,
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// Entity (queue `webhook.<entity>`).
    pub entity: String,
    /// Verb to set in the body (when the file has none, or to override it).
    #[arg(long)]
    pub verb: Option<String>,
    /// File holding the request body (JSON); `-` reads standard input.
    #[arg(long)]
    pub file: PathBuf,
    /// Seconds to wait for the reply.
    #[arg(long, default_value_t = 30)]
    pub wait: u64,
    /// message_id property (default: a new UUID).
    #[arg(long)]
    pub message_id: Option<String>,
    /// webhookVersion header.
    #[arg(long)]
    pub webhook_version: Option<String>,
    #[command(flatten)]
    pub connections: Connections,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// JSON file: {"<entity>": [ {block}, ... ], ...}, loaded in file order.
    pub file: PathBuf,
    #[command(flatten)]
    pub connections: Connections,
}
