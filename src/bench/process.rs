//! Worker processes: the built binary itself (`<bin> run`), configured through the same
//! environment variables as in production, its logs in the bench's work directory. Its
//! peak resident memory is read from `/proc/<pid>/status` (VmHWM).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::{BenchError, Result};

/// How to start one worker process.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub bin: PathBuf,
    pub amqp_url: String,
    pub database_url: String,
    pub topology_prefix: String,
    pub entity: String,
    pub in_flight: usize,
    pub prefetch: u16,
    pub db_pool_size: u32,
    pub log_dir: PathBuf,
}

/// A running `webhook-worker run`. Killed if dropped without [`WorkerProcess::stop`].
pub struct WorkerProcess {
    child: Mutex<Child>,
    pid: u32,
    port: u16,
    log: PathBuf,
}

/// How long a worker gets to become ready, and to stop on SIGTERM.
const READY_WAIT: Duration = Duration::from_secs(30);
const STOP_WAIT: Duration = Duration::from_secs(40);

impl WorkerProcess {
    /// Start a worker serving `options.entity` and wait until its /readyz says ready
    /// (connected, topology declared, consuming).
    pub async fn spawn(options: &WorkerOptions) -> Result<WorkerProcess> {
        let worker = Self::start(options)?;
        worker.wait_ready().await?;
        Ok(worker)
    }

    /// Start a worker without waiting for it ([`WorkerProcess::wait_ready`]).
    pub fn start(options: &WorkerOptions) -> Result<WorkerProcess> {
        let port = free_port()?;
        let log = options.log_dir.join(format!("worker-{port}.log"));
        let stderr = std::fs::File::create(&log)?;
        let child = Command::new(&options.bin)
            .arg("run")
            .env("AMQP_URL", &options.amqp_url)
            .env("DATABASE_URL", &options.database_url)
            .env("TOPOLOGY_PREFIX", &options.topology_prefix)
            .env("METRICS_ADDR", format!("127.0.0.1:{port}"))
            .env("ENTITIES", &options.entity)
            .env("MAX_IN_FLIGHT", options.in_flight.to_string())
            .env("PREFETCH", options.prefetch.to_string())
            .env("DB_POOL_SIZE", options.db_pool_size.to_string())
            // The bench declared the queues with the worker's defaults: keep them.
            .env_remove("QUEUE_TYPE")
            .env_remove("DELIVERY_LIMIT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                BenchError::Failed(format!("cannot start {}: {e}", options.bin.display()))
            })?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::Failed("the worker exited at once".into()))?;
        Ok(WorkerProcess {
            child: Mutex::new(child),
            pid,
            port,
            log,
        })
    }

    pub fn log_path(&self) -> &std::path::Path {
        &self.log
    }

    /// False once the process has exited.
    pub fn is_alive(&self) -> bool {
        match self.child.lock() {
            Ok(mut child) => matches!(child.try_wait(), Ok(None)),
            Err(_) => false,
        }
    }

    /// Peak resident set size so far (VmHWM), in MiB.
    pub fn peak_rss_mb(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }

    /// Wait until /readyz answers 200 (bounded).
    pub async fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + READY_WAIT;
        loop {
            if readyz(self.port).await {
                return Ok(());
            }
            if !self.is_alive() {
                return Err(BenchError::Failed(format!(
                    "the worker exited during start-up; see {}",
                    self.log.display()
                )));
            }
            if Instant::now() > deadline {
                return Err(BenchError::Failed(format!(
                    "the worker was not ready within {READY_WAIT:?}; see {}",
                    self.log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM (graceful shutdown), then SIGKILL if it has not exited in time.
    pub async fn stop(self) -> Result<()> {
        // `kill` of procps: no libc binding needed for one signal.
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_WAIT;
        while self.is_alive() {
            if Instant::now() > deadline {
                if let Ok(mut child) = self.child.lock() {
                    let _ = child.start_kill();
                }
                return Err(BenchError::Failed(format!(
                    "the worker did not stop within {STOP_WAIT:?} of SIGTERM; killed"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

/// A port free now (the worker binds it a moment later).
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// `GET /readyz` answered 200.
async fn readyz(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        Ok::<bool, std::io::Error>(head.starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Ok(true))
    )
}
