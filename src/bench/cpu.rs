//! Where the CPU goes during a run: processor time of the worker processes, PostgreSQL,
//! RabbitMQ and the bench itself, read from `/proc/<pid>/stat` before and after, and the
//! machine's busy and steal shares from `/proc/stat`. Linux only; elsewhere the figures
//! are NaN. On a 2-core machine shared by all of them, this is what tells which one binds.

use std::collections::HashMap;

use serde::Serialize;

/// Processor seconds per process, and the machine's counters, at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    by_pid: HashMap<u32, (&'static str, f64)>,
    /// `/proc/stat` "cpu" line: (busy, steal, total) in ticks.
    machine: (f64, f64, f64),
}

/// CPU use of one run, per request.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    pub run: String,
    pub requests: usize,
    pub worker_us_per_req: f64,
    pub postgres_us_per_req: f64,
    pub broker_us_per_req: f64,
    /// The bench process and pgbench (the load generators).
    pub bench_us_per_req: f64,
    /// Share of all cores busy (steal excluded), in percent.
    pub machine_busy_pct: f64,
    /// Share of all cores stolen by the hypervisor, in percent.
    pub steal_pct: f64,
    /// Share of all cores busy with processes outside the groups above (another job on
    /// the machine: the figures of such a run are suspect), in percent.
    pub others_pct: f64,
}

fn ticks_per_second() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The group a process counts in: the load generators, a worker, PostgreSQL, RabbitMQ.
/// A worker is a `webhook-worker` process, or any other child of the bench than pgbench:
/// `--worker-bin` may name a binary by another name (an A/B copy), whose CPU would
/// otherwise land in no group.
fn group(pid: u32, ppid: u32, comm: &str) -> Option<&'static str> {
    let bench = std::process::id();
    if pid == bench {
        return Some("bench");
    }
    match comm {
        "webhook-worker" => Some("worker"),
        "pgbench" => Some("bench"),
        "postgres" => Some("postgres"),
        "beam.smp" | "erl_child_setup" | "epmd" => Some("broker"),
        _ if ppid == bench => Some("worker"),
        _ => None,
    }
}

impl Snapshot {
    pub fn take() -> Snapshot {
        let mut snapshot = Snapshot::default();
        let hz = ticks_per_second();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u32>().ok())
                else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    continue;
                };
                // "pid (comm) state ppid ... utime stime": comm may hold spaces.
                let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                    continue;
                };
                let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
                // After ")": state is field 0, ppid field 1, utime field 11, stime field 12.
                let ppid = fields.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
                let Some(g) = group(pid, ppid, &stat[open + 1..close]) else {
                    continue;
                };
                let ticks: f64 = [11, 12]
                    .iter()
                    .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
                    .sum();
                snapshot.by_pid.insert(pid, (g, ticks / hz));
            }
        }
        if let Ok(stat) = std::fs::read_to_string("/proc/stat") {
            if let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) {
                let v: Vec<f64> = line
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|x| x.parse().ok())
                    .collect();
                // user nice system idle iowait irq softirq steal guest guest_nice
                let get = |i: usize| v.get(i).copied().unwrap_or(0.0);
                let idle = get(3) + get(4);
                let steal = get(7);
                let total: f64 = v.iter().take(8).sum();
                snapshot.machine = (total - idle - steal, steal, total);
            }
        }
        snapshot
    }
}

/// Samples the processes every 200 ms during a run, so that processes which exit before
/// its end (pgbench's backends, stopped workers) still count up to their last sample.
pub struct Meter {
    first: Snapshot,
    stop: tokio_util::sync::CancellationToken,
    sampler: tokio::task::JoinHandle<HashMap<u32, (&'static str, f64)>>,
}

impl Meter {
    pub fn start() -> Meter {
        let first = Snapshot::take();
        let stop = tokio_util::sync::CancellationToken::new();
        let cancel = stop.clone();
        let sampler = tokio::spawn(async move {
            let mut last: HashMap<u32, (&'static str, f64)> = HashMap::new();
            loop {
                for (pid, v) in Snapshot::take().by_pid {
                    last.insert(pid, v);
                }
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
                }
            }
            last
        });
        Meter {
            first,
            stop,
            sampler,
        }
    }

    /// CPU use since `start`, for `requests` requests.
    pub async fn stop(self, run: &str, requests: usize) -> CpuUse {
        self.stop.cancel();
        let end = Snapshot::take();
        let mut last = self.sampler.await.unwrap_or_default();
        for (pid, v) in &end.by_pid {
            last.insert(*pid, *v);
        }
        let mut used: HashMap<&str, f64> = HashMap::new();
        for (pid, (g, seconds)) in &last {
            let before = self.first.by_pid.get(pid).map_or(0.0, |(_, s)| *s);
            *used.entry(g).or_default() += (seconds - before).max(0.0);
        }
        let per = |g: &str| used.get(g).copied().unwrap_or(0.0) * 1e6 / requests.max(1) as f64;
        let total = end.machine.2 - self.first.machine.2;
        let share = |a: f64, b: f64| {
            if total > 0.0 {
                100.0 * (a - b) / total
            } else {
                f64::NAN
            }
        };
        CpuUse {
            run: run.to_string(),
            requests,
            worker_us_per_req: per("worker"),
            postgres_us_per_req: per("postgres"),
            broker_us_per_req: per("broker"),
            bench_us_per_req: per("bench"),
            machine_busy_pct: share(end.machine.0, self.first.machine.0),
            steal_pct: share(end.machine.1, self.first.machine.1),
            others_pct: if total > 0.0 {
                let grouped: f64 = used.values().sum::<f64>() * ticks_per_second();
                (share(end.machine.0, self.first.machine.0) - 100.0 * grouped / total).max(0.0)
            } else {
                f64::NAN
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_told_apart_by_name_and_pid() {
        let me = std::process::id();
        assert_eq!(group(me, 1, "webhook-worker"), Some("bench"));
        assert_eq!(group(u32::MAX, 1, "webhook-worker"), Some("worker"));
        assert_eq!(group(u32::MAX, 1, "beam.smp"), Some("broker"));
        assert_eq!(group(u32::MAX, 1, "bash"), None);
        // A worker binary of another name, started by the bench; pgbench stays the bench's.
        assert_eq!(group(u32::MAX, me, "ww-candidate"), Some("worker"));
        assert_eq!(group(u32::MAX, me, "pgbench"), Some("bench"));
    }

    #[tokio::test]
    async fn a_meter_reads_this_process() {
        let meter = Meter::start();
        let x: u64 = (0..2_000_000u64).map(|i| i ^ (i >> 3)).sum();
        assert!(x > 0);
        let used = meter.stop("test", 1).await;
        assert!(used.bench_us_per_req >= 0.0);
        assert_eq!(used.requests, 1);
    }
}
