//! The bench's report: the JSON document (its keys are the issue's), the printed table,
//! the targets, and percentiles over a sorted sample.

use serde::Serialize;

use super::load::RunStats;
use super::Params;

/// The `p`-th percentile (0..=100) of a sorted sample, nearest-rank; NaN when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // The small epsilon keeps 99.9% of 1000 at rank 999 despite binary rounding.
    let rank = ((p / 100.0) * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One scale measurement.
#[derive(Debug, Clone, Serialize)]
pub struct ScalePoint {
    pub in_flight: usize,
    pub processes: usize,
    pub per_s: f64,
}

/// One GET or LIST measurement on one table size.
#[derive(Debug, Clone, Serialize)]
pub struct ReadPoint {
    pub kind: String,
    pub table_rows: u64,
    /// Closed loop, `params.read_window` outstanding.
    pub per_s: f64,
    /// Paced at half of `per_s`.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// GET only: the null worker's closed loop, same window, run right before and right
    /// after this point's closed loop (the mean of the two), so that the ratio compares
    /// rates measured in the same minute of a machine whose speed drifts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_closed_loop_per_s: Option<f64>,
}

/// EXPLAIN ANALYZE output of the LIST queries on one table size.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub table_rows: u64,
    pub plan: Vec<String>,
}

/// A target of issue 8, judged only in a full run.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub target: String,
    pub value: f64,
    /// None: not judged (quick run, or the run lacks the measurement's conditions).
    pub met: Option<bool>,
}

/// A line of the printed table.
#[derive(Debug, Clone)]
pub struct Row {
    pub label: String,
    pub requests: usize,
    pub per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub note: String,
}

impl Row {
    /// A backlog run: requests per second from the first reply to the last.
    pub fn throughput(label: &str, stats: &RunStats) -> Row {
        Row {
            label: label.to_string(),
            requests: stats.requests(),
            per_s: stats.reply_rate(),
            p50_ms: f64::NAN,
            p99_ms: f64::NAN,
            p999_ms: f64::NAN,
            note: format!(
                "{:.1} s first to last reply",
                stats.requests() as f64 / stats.reply_rate().max(1e-9)
            ),
        }
    }

    /// A paced run: achieved rate and publish-to-reply latency.
    pub fn paced(label: &str, stats: &RunStats, offered: f64) -> Row {
        let l = stats.latencies_ms();
        Row {
            label: label.to_string(),
            requests: stats.requests(),
            per_s: stats.reply_rate_from_first_send(),
            p50_ms: percentile(&l, 50.0),
            p99_ms: percentile(&l, 99.0),
            p999_ms: percentile(&l, 99.9),
            note: if offered.is_finite() {
                format!("offered {offered:.0}/s")
            } else {
                "closed loop".to_string()
            },
        }
    }

    /// A read point: closed-loop rate, latencies at half of it.
    pub fn read(label: &str, point: &ReadPoint, max: &RunStats) -> Row {
        Row {
            label: format!("{label}, {} rows", point.table_rows),
            requests: max.requests(),
            per_s: point.per_s,
            p50_ms: point.p50_ms,
            p99_ms: point.p99_ms,
            p999_ms: point.p999_ms,
            note: format!("latency at {:.0}/s", point.per_s / 2.0),
        }
    }
}

/// The JSON report. Keys named by issue 8: put_per_s, db_ceiling_per_s,
/// broker_ceiling_per_s, put_ratio, put_p50_ms, put_p99_ms, put_p999_ms, get_per_s,
/// list_contains_p99_ms (with list_table_rows), peak_rss_mb, params.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub started_at: String,
    pub quick: bool,
    pub params: Params,
    /// Backlog of N PUTs, worker started after: first to last reply.
    pub put_per_s: f64,
    /// From the worker's spawn to its first reply.
    pub put_worker_start_ms: Option<f64>,
    /// Worker running, publisher pacing at `put_paced_offered_per_s`.
    pub put_paced_per_s: f64,
    pub put_paced_offered_per_s: f64,
    /// pgbench, the worker's PUT writes (inbox claim, customer upsert, customeruser
    /// upserts, inbox outcome) in one transaction, at the worker's DB concurrency: the
    /// mean of `db_ceiling_runs_per_s`.
    pub db_ceiling_per_s: f64,
    /// Each pgbench run of the PUT writes: right before the worker's backlog run, then
    /// right after it (the machine's speed moves within minutes).
    pub db_ceiling_runs_per_s: Vec<f64>,
    /// pgbench, every statement of the worker's PUT (the writes plus its lookups, hook
    /// and read-back): what the worker's SQL alone allows.
    pub db_full_sql_per_s: f64,
    /// The worker's engine in the bench's own process, no broker: the bench's PUTs decoded
    /// and applied by `engine::apply` at the worker's concurrency, on a fresh database.
    /// Between `db_full_sql_per_s` (the SQL alone) and `put_per_s` (the whole worker), it
    /// tells the engine's cost from the transport's.
    pub engine_put_per_s: f64,
    /// Null worker: consume, publish the reply with confirm, ack.
    pub broker_ceiling_per_s: f64,
    /// The same in closed loop with `params.read_window` outstanding, the publisher
    /// running (the GET / LIST runs' comparator).
    pub broker_closed_loop_per_s: f64,
    pub lower_ceiling_per_s: f64,
    /// put_per_s / lower_ceiling_per_s.
    pub put_ratio: f64,
    pub put_ratio_db: f64,
    pub put_ratio_broker: f64,
    /// Latency at 50% of put_per_s in a steady state: a fresh database and worker.
    pub put_p50_ms: f64,
    pub put_p99_ms: f64,
    pub put_p999_ms: f64,
    pub latency_offered_per_s: f64,
    pub latency_achieved_per_s: f64,
    /// The same load right after the two 100%-load runs, on their database and worker
    /// (the database still writing back their checkpoints and vacuuming their rows).
    pub put_after_bulk_p50_ms: f64,
    pub put_after_bulk_p99_ms: f64,
    pub put_after_bulk_p999_ms: f64,
    /// GET extended by code on the largest table.
    pub get_per_s: f64,
    pub get_p99_ms: f64,
    pub get_table_rows: u64,
    /// pgbench, the worker's GET statement.
    pub get_db_ceiling_per_s: f64,
    /// The null worker's closed loop around the GET run of `get_table_rows`
    /// ([`ReadPoint::broker_closed_loop_per_s`]).
    pub get_broker_closed_loop_per_s: f64,
    /// get_per_s / min(get_db_ceiling_per_s, get_broker_closed_loop_per_s).
    pub get_ratio: f64,
    /// LIST name contains (a word in one row) + nameAsc, on the largest table.
    pub list_contains_per_s: f64,
    pub list_contains_p50_ms: f64,
    pub list_contains_p99_ms: f64,
    pub list_table_rows: u64,
    /// The same with a word found in 2% of the rows.
    pub list_contains_broad_per_s: f64,
    pub list_contains_broad_p99_ms: f64,
    pub reads: Vec<ReadPoint>,
    pub scale_in_flight: Vec<ScalePoint>,
    pub scale_processes: Vec<ScalePoint>,
    /// VmHWM of the worker process over the three PUT runs.
    pub peak_rss_mb: f64,
    pub targets: Vec<Target>,
    pub list_plans: Vec<Plan>,
    /// Processor time per request of each party, per run.
    pub cpu: Vec<super::cpu::CpuUse>,
    #[serde(skip)]
    pub rows: Vec<Row>,
}

impl Report {
    pub fn new(params: Params) -> Report {
        Report {
            started_at: String::new(),
            quick: params.quick,
            params,
            put_per_s: f64::NAN,
            put_worker_start_ms: None,
            put_paced_per_s: f64::NAN,
            put_paced_offered_per_s: f64::NAN,
            db_ceiling_per_s: f64::NAN,
            db_ceiling_runs_per_s: Vec::new(),
            db_full_sql_per_s: f64::NAN,
            engine_put_per_s: f64::NAN,
            broker_ceiling_per_s: f64::NAN,
            broker_closed_loop_per_s: f64::NAN,
            lower_ceiling_per_s: f64::NAN,
            put_ratio: f64::NAN,
            put_ratio_db: f64::NAN,
            put_ratio_broker: f64::NAN,
            put_p50_ms: f64::NAN,
            put_p99_ms: f64::NAN,
            put_p999_ms: f64::NAN,
            latency_offered_per_s: f64::NAN,
            latency_achieved_per_s: f64::NAN,
            put_after_bulk_p50_ms: f64::NAN,
            put_after_bulk_p99_ms: f64::NAN,
            put_after_bulk_p999_ms: f64::NAN,
            get_per_s: f64::NAN,
            get_p99_ms: f64::NAN,
            get_table_rows: 0,
            get_db_ceiling_per_s: f64::NAN,
            get_broker_closed_loop_per_s: f64::NAN,
            get_ratio: f64::NAN,
            list_contains_per_s: f64::NAN,
            list_contains_p50_ms: f64::NAN,
            list_contains_p99_ms: f64::NAN,
            list_table_rows: 0,
            list_contains_broad_per_s: f64::NAN,
            list_contains_broad_p99_ms: f64::NAN,
            reads: Vec::new(),
            scale_in_flight: Vec::new(),
            scale_processes: Vec::new(),
            peak_rss_mb: f64::NAN,
            targets: Vec::new(),
            list_plans: Vec::new(),
            cpu: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Derived figures (ceilings, ratios, read summaries) and the targets.
    pub fn finish(&mut self) {
        if !self.db_ceiling_runs_per_s.is_empty() {
            let runs = &self.db_ceiling_runs_per_s;
            self.db_ceiling_per_s = runs.iter().sum::<f64>() / runs.len() as f64;
        }
        self.lower_ceiling_per_s = self.db_ceiling_per_s.min(self.broker_ceiling_per_s);
        self.put_ratio = self.put_per_s / self.lower_ceiling_per_s;
        self.put_ratio_db = self.put_per_s / self.db_ceiling_per_s;
        self.put_ratio_broker = self.put_per_s / self.broker_ceiling_per_s;
        let largest = self.reads.iter().map(|r| r.table_rows).max().unwrap_or(0);
        let at = |kind: &str| {
            self.reads
                .iter()
                .find(|r| r.kind == kind && r.table_rows == largest)
                .cloned()
        };
        if let Some(get) = at("get_extended_by_code") {
            self.get_per_s = get.per_s;
            self.get_p99_ms = get.p99_ms;
            self.get_table_rows = largest;
            self.get_broker_closed_loop_per_s = get
                .broker_closed_loop_per_s
                .unwrap_or(self.broker_closed_loop_per_s);
            self.get_ratio = get.per_s
                / self
                    .get_db_ceiling_per_s
                    .min(self.get_broker_closed_loop_per_s);
        }
        if let Some(list) = at("list_contains_selective") {
            self.list_contains_per_s = list.per_s;
            self.list_contains_p50_ms = list.p50_ms;
            self.list_contains_p99_ms = list.p99_ms;
            self.list_table_rows = largest;
        }
        if let Some(list) = at("list_contains_broad") {
            self.list_contains_broad_per_s = list.per_s;
            self.list_contains_broad_p99_ms = list.p99_ms;
        }
        self.targets = self.judge();
    }

    fn judge(&self) -> Vec<Target> {
        let judged = !self.quick;
        let mut targets = Vec::new();
        let mut add = |name: &str, target: &str, value: f64, met: bool, valid: bool| {
            targets.push(Target {
                name: name.to_string(),
                target: target.to_string(),
                value,
                met: (judged && valid && value.is_finite()).then_some(met),
            });
        };
        add(
            "put_ratio",
            ">= 0.60 of the lower ceiling",
            self.put_ratio,
            self.put_ratio >= 0.6,
            true,
        );
        add(
            "put_p99_ms",
            "<= 20 ms at 50% load (steady)",
            self.put_p99_ms,
            self.put_p99_ms <= 20.0,
            true,
        );
        add(
            "get_ratio",
            ">= 0.60 of the lower ceiling",
            self.get_ratio,
            self.get_ratio >= 0.6,
            true,
        );
        add(
            "list_contains_p99_ms",
            "<= 50 ms on 1M rows",
            self.list_contains_p99_ms,
            self.list_contains_p99_ms <= 50.0,
            self.list_table_rows >= 1_000_000,
        );
        let grows = |points: &[ScalePoint]| {
            let first = points.first().map_or(f64::NAN, |p| p.per_s);
            let second = points.get(1).map_or(f64::NAN, |p| p.per_s);
            (second / first, second > first)
        };
        let (ratio, met) = grows(&self.scale_in_flight);
        add(
            "in_flight_growth",
            "throughput grows with in-flight (2nd step / 1st)",
            ratio,
            met,
            self.scale_in_flight.len() >= 2,
        );
        // Judged where the database is not the bottleneck: the series of the lowest
        // in-flight limit (1 by default: each process waits on its one request).
        let lowest = self.scale_processes.iter().map(|p| p.in_flight).min();
        let series: Vec<ScalePoint> = self
            .scale_processes
            .iter()
            .filter(|p| Some(p.in_flight) == lowest)
            .cloned()
            .collect();
        let (ratio, met) = grows(&series);
        add(
            "process_growth",
            "throughput grows with a second process (2 / 1, lowest in-flight)",
            ratio,
            met,
            series.len() >= 2,
        );
        add(
            "peak_rss_mb",
            "<= 100 MB",
            self.peak_rss_mb,
            self.peak_rss_mb <= 100.0,
            true,
        );
        targets
    }

    /// The printed table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let p = &self.params;
        out.push_str(&format!(
            "\nwebhook-worker bench ({}), {} CPUs, N={}, in-flight {}, prefetch {}, pool {}, {} queue\n\n",
            if self.quick { "quick" } else { "full" },
            p.cpus,
            p.n,
            p.in_flight,
            p.prefetch,
            p.db_pool_size,
            p.queue_type
        ));
        out.push_str(&format!(
            "| {:<58} | {:>8} | {:>8} | {:>7} | {:>7} | {:>7} | {}\n",
            "run", "requests", "req/s", "p50 ms", "p99 ms", "p99.9", "note"
        ));
        out.push_str(&format!(
            "|{}|{}|{}|{}|{}|{}|---\n",
            "-".repeat(60),
            "-".repeat(10),
            "-".repeat(10),
            "-".repeat(9),
            "-".repeat(9),
            "-".repeat(9)
        ));
        for r in &self.rows {
            out.push_str(&format!(
                "| {:<58} | {:>8} | {:>8.0} | {:>7} | {:>7} | {:>7} | {}\n",
                r.label,
                r.requests,
                r.per_s,
                ms(r.p50_ms),
                ms(r.p99_ms),
                ms(r.p999_ms),
                r.note
            ));
        }
        out.push_str(&format!(
            "\nceilings: database {:.0} tx/s (pgbench, {} clients, the worker's PUT writes; \
             the mean of {}); \
             database with every statement of the worker's PUT {:.0} tx/s; the engine in \
             process, no broker, {:.0} PUT/s; broker {:.0} req/s (null worker, published \
             first), {:.0} req/s (closed loop)\n",
            self.db_ceiling_per_s,
            p.pgbench_clients,
            self.db_ceiling_runs_per_s
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(" and "),
            self.db_full_sql_per_s,
            self.engine_put_per_s,
            self.broker_ceiling_per_s,
            self.broker_closed_loop_per_s
        ));
        out.push_str(&format!(
            "PUT {:.0}/s = {:.2} of the lower ceiling ({:.2} of the database's, {:.2} of the broker's); \
             GET {:.0}/s = {:.2} of min(GET database ceiling {:.0}, broker's closed loop around it {:.0}); \
             peak RSS {:.1} MB\n",
            self.put_per_s,
            self.put_ratio,
            self.put_ratio_db,
            self.put_ratio_broker,
            self.get_per_s,
            self.get_ratio,
            self.get_db_ceiling_per_s,
            self.get_broker_closed_loop_per_s,
            self.peak_rss_mb
        ));
        out.push_str(&format!(
            "\n| {:<44} | {:>9} | {:>9} | {:>9} | {:>9} | {:>6} | {:>6} | {:>7}\n",
            "CPU µs per request",
            "worker",
            "postgres",
            "rabbitmq",
            "bench",
            "busy%",
            "steal%",
            "others%"
        ));
        for c in &self.cpu {
            out.push_str(&format!(
                "| {:<44} | {:>9.0} | {:>9.0} | {:>9.0} | {:>9.0} | {:>6.0} | {:>6.0} | {:>7.0}\n",
                c.run,
                c.worker_us_per_req,
                c.postgres_us_per_req,
                c.broker_us_per_req,
                c.bench_us_per_req,
                c.machine_busy_pct,
                c.steal_pct,
                c.others_pct
            ));
        }
        out.push_str("\ntargets:\n");
        for t in &self.targets {
            let verdict = match t.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "not judged",
            };
            out.push_str(&format!(
                "  {:<22} {:>9.2}  {:<48} {verdict}\n",
                t.name, t.value, t.target
            ));
        }
        out
    }
}

fn ms(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "-".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 500.0);
        assert_eq!(percentile(&v, 99.0), 990.0);
        assert_eq!(percentile(&v, 99.9), 999.0);
        assert_eq!(percentile(&v, 100.0), 1000.0);
        assert_eq!(percentile(&[7.0], 99.9), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn the_database_ceiling_is_the_mean_of_its_runs() {
        let params = super::super::Params::from_args(&super::super::BenchArgs::default());
        let mut report = Report::new(params);
        report.put_per_s = 900.0;
        report.db_ceiling_runs_per_s = vec![1_400.0, 1_600.0];
        report.broker_ceiling_per_s = 4_000.0;
        report.finish();
        assert_eq!(report.db_ceiling_per_s, 1_500.0);
        assert_eq!(report.lower_ceiling_per_s, 1_500.0);
        assert_eq!(report.put_ratio, 0.6);
        let met = report.targets.iter().find(|t| t.name == "put_ratio");
        assert_eq!(met.and_then(|t| t.met), Some(true));
        assert!(report.table().contains("the mean of 1400 and 1600"));
    }
}
