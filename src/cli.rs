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
