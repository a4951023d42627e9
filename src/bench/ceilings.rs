//! The two ceilings the worker is compared with, measured in the same run:
//!
//! - the database's: `pgbench` running the worker's PUT SQL as a custom script, prepared,
//!   at the worker's database concurrency. Two scripts: `put.pgbench`, the writes of one PUT
//!   (customer upsert, one multi-row upsert of the customeruser lines, inbox record) in one
//!   transaction, the ceiling of issue 8 and shared/LIMITS.md; and `put_full.pgbench`,
//!   every statement the engine runs for that PUT in a steady stream (the upsert returning
//!   the reply's columns; the main-contact hook when the seed is an individual; no lookup
//!   statement: the reference cache, engine/known.rs, knows every answer after the first
//!   PUT of each `REFERENCE_CACHE_MS`), to tell the cost of the worker's SQL from the rest.
//!   Keep it in step with `engine::put`, `engine::known` and the customer's hook.
//!   Both are generated from seed 004's PUT and the customer definition, so that they
//!   follow the schema.
//! - the broker's: a "null worker" that consumes the same requests from a queue declared
//!   like the worker's, publishes a reply with confirm to `reply_to` and acks, with 256
//!   deliveries unacknowledged (as shared/LIMITS.md measured it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use serde_json::{Map, Value as Json};
use sqlx::{PgPool, QueryBuilder, Row};
use tokio_util::sync::CancellationToken;

use super::load::{self, LoadClient, Mode, RunStats};
use super::{Bench, BenchError, Result, ENTITY, NULL_ENTITY};
use crate::database::Db;
use crate::engine::definition::{CreateDefault, EntityDef, Field, Type};
use crate::engine::render::Projection;
use crate::engine::sql::{column, ident};
use crate::engine::{self, known::Known};
use crate::entities::Registry;
use crate::request::{self, Envelope, ResultType};
use crate::transport::publisher::Publisher;
use crate::transport::settle::Settler;

const SEED_PUT: &str = include_str!("../../tests/fixtures/customer_put.json");
const SEED_CODE: &str = "C0000001";
/// The pgbench variable holding the customer code's number (`'P' || :c`).
const CODE_SQL: &str = "('P' || :c::text)";

/// The outcome the worker stored for one of the bench's PUTs (the inbox record's body), so
/// that pgbench writes the same bytes.
pub async fn sample_outcome(pool: &PgPool) -> Result<String> {
    let row = sqlx::query(
        "SELECT outcome_text FROM webhook_inbox WHERE entity = $1 AND outcome_text <> 'null' LIMIT 1",
    )
    .bind(ENTITY)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => Ok(row.try_get(0)?),
        None => Err(BenchError::Failed(
            "no PUT outcome in the inbox to model pgbench on".into(),
        )),
    }
}

/// The outcome the engine records for one of the bench's PUTs, applied here in-process on
/// `url`'s database (code `S00000000`, not one of the runs'), with a message id: for a
/// pgbench run before the worker has written one.
pub async fn engine_outcome(url: &str) -> Result<String> {
    let pool = crate::database::prepare(url, 2, 10_000).await?;
    let outcome = async {
        let registry = Registry::standard();
        let db = Db::new(pool.clone());
        apply_put(&db, &registry, &Known::disabled(), "S", 0, "bench-sample").await?;
        sample_outcome(&pool).await
    }
    .await;
    pool.close().await;
    outcome
}

/// The bench's PUT number `i` of `tag` (`load::put_body`), decoded from its bytes as the
/// worker decodes a delivery and applied by the engine with `message_id`.
async fn apply_put(
    db: &Db,
    registry: &Registry,
    known: &Known,
    tag: &str,
    i: usize,
    message_id: &str,
) -> Result<()> {
    let failed = |e: &dyn std::fmt::Display| {
        BenchError::Failed(format!("the bench's PUT {}: {e}", load::put_code(tag, i)))
    };
    let envelope = Envelope {
        body: load::put_body(tag, i),
        content_type: Some("application/json".into()),
        webhook_version: None,
    };
    let request = request::decode(&envelope, usize::MAX).map_err(|e| failed(&e))?;
    let def = entity(registry, ENTITY)?;
    engine::apply(db, registry, known, def, &request, Some(message_id))
        .await
        .map_err(|e| failed(&e))?;
    Ok(())
}

/// The worker's engine without the broker: `n` of the bench's PUTs (codes from `tag`),
/// each decoded from its bytes and applied by `engine::apply` with a message id, by
/// `concurrency` spawned tasks on a pool of that size, with the worker's reference cache.
/// `warm_up` PUTs of another tag (`W` before `tag`: no code of it starts with `tag`) go
/// first, unmeasured, then a CHECKPOINT, as before the worker's runs. Returns the rate in
/// PUTs per second and the CPU of the measured part, labelled `label` (this process's CPU
/// is the engine's: the `bench` column).
pub async fn engine_loop(
    url: &str,
    n: usize,
    warm_up: usize,
    concurrency: usize,
    tag: &str,
    label: &str,
) -> Result<(f64, super::cpu::CpuUse)> {
    let settings = crate::config::Settings::default();
    let concurrency = concurrency.max(1);
    let size = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let pool = crate::database::prepare(url, size, settings.lock_timeout_ms).await?;
    let shared = Arc::new((
        Db::new(pool.clone()),
        Known::new(settings.reference_cache()),
        Registry::standard(),
    ));
    let measured = async {
        apply_all(&shared, &format!("W{tag}"), warm_up, concurrency).await?;
        super::checkpoint(url, label).await;
        let meter = super::cpu::Meter::start();
        let started = std::time::Instant::now();
        apply_all(&shared, tag, n, concurrency).await?;
        let rate = n as f64 / started.elapsed().as_secs_f64().max(f64::EPSILON);
        Ok((rate, meter.stop(label, n).await))
    }
    .await;
    // `Db` keeps released connections for the next request, out of the pool's reach: it
    // goes first, or the check below would wait for a connection and the close forever.
    drop(shared);
    let checked = match measured {
        Ok(measured) => check_applied(&pool, tag, n).await.map(|()| measured),
        Err(e) => Err(e),
    };
    pool.close().await;
    checked
}

/// Every one of the `n` PUTs of `tag` left its customer and its inbox record: a loop that
/// measured something else (no row written) fails the bench.
async fn check_applied(pool: &PgPool, tag: &str, n: usize) -> Result<()> {
    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM sw_data_customer WHERE codecustomer LIKE $1 || '%'), \
                (SELECT count(*) FROM webhook_inbox WHERE message_id LIKE 'engine-' || $1 || '%')",
    )
    .bind(tag)
    .fetch_one(pool)
    .await?;
    let (customers, records): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    if customers != n as i64 || records != n as i64 {
        return Err(BenchError::Failed(format!(
            "the engine loop applied {n} PUTs but left {customers} customers and {records} \
             inbox records"
        )));
    }
    Ok(())
}

/// `n` PUTs of `tag` through the engine, `concurrency` tasks taking the next index each.
async fn apply_all(
    shared: &Arc<(Db, Known, Registry)>,
    tag: &str,
    n: usize,
    concurrency: usize,
) -> Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (shared, next, tag) = (shared.clone(), next.clone(), tag.to_string());
            tokio::spawn(async move {
                let (db, known, registry) = &*shared;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return Ok::<(), BenchError>(());
                    }
                    let id = format!("engine-{}", load::put_code(&tag, i));
                    apply_put(db, registry, known, &tag, i, &id).await?;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| BenchError::Failed(format!("the engine loop panicked: {e}")))??;
    }
    Ok(())
}

/// A generated pgbench script and the values it binds (`-D name=value`).
pub struct Script {
    pub path: PathBuf,
    pub defines: Vec<(String, String)>,
}

impl Script {
    fn write(path: PathBuf, (text, binds): (String, Binds)) -> Result<Script> {
        std::fs::write(&path, text)?;
        Ok(Script {
            path,
            defines: binds.0,
        })
    }
}

/// The generated pgbench scripts.
pub struct PgbenchScripts {
    pub put: Script,
    pub put_full: Script,
}

impl PgbenchScripts {
    pub fn write(dir: &Path, registry: &Registry, outcome: &str) -> Result<PgbenchScripts> {
        Ok(PgbenchScripts {
            put: Script::write(
                dir.join("put.pgbench"),
                put_script(registry, outcome, false)?,
            )?,
            put_full: Script::write(
                dir.join("put_full.pgbench"),
                put_script(registry, outcome, true)?,
            )?,
        })
    }
}

/// The values a script binds, as the engine binds them: each a parameter `:vN` of the
/// prepared statement, passed to pgbench with `-D vN=value`. Written as literals, they were
/// folded into the plan once (a `'{..}'::jsonb` outcome is parsed at planning, never again),
/// while the worker's server parses and converts every PUT's values: the ceiling was ~9%
/// higher than the same SQL with the worker's parameters (issue 8, session 6).
#[derive(Debug, Default)]
struct Binds(Vec<(String, String)>);

impl Binds {
    /// A text parameter for `value`; the seed's code in it becomes the script's random code.
    /// pgbench refuses an empty value: `''` is written as a literal.
    fn text(&mut self, value: &str) -> String {
        if !value.contains(SEED_CODE) {
            return self.plain(value);
        }
        let parts: Vec<String> = value
            .split(SEED_CODE)
            .map(|p| match p.is_empty() {
                true => String::new(),
                false => format!(" || {}", self.plain(p)),
            })
            .collect();
        let mut out = String::from("(''");
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(&format!(" || {CODE_SQL}"));
            }
            out.push_str(part);
        }
        out.push(')');
        out
    }

    fn plain(&mut self, value: &str) -> String {
        if value.is_empty() {
            return "''".into();
        }
        let name = format!("v{}", self.0.len() + 1);
        self.0.push((name.clone(), value.to_string()));
        format!(":{name}")
    }

    /// A `text[]` parameter, as the engine binds a scope's codes.
    fn array(&mut self, values: &[&str]) -> String {
        let items: Vec<String> = values
            .iter()
            .map(|v| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        format!(
            "{}::text[]",
            self.plain(&format!("{{{}}}", items.join(",")))
        )
    }
}

/// The PUT script and its values. `full`: every statement of the engine's PUT, in its order.
fn put_script(registry: &Registry, outcome: &str, full: bool) -> Result<(String, Binds)> {
    let seed: Map<String, Json> =
        serde_json::from_str(SEED_PUT).map_err(|e| BenchError::Failed(format!("seed PUT: {e}")))?;
    let def = entity(registry, ENTITY)?;
    let block = seed
        .get(def.block)
        .and_then(Json::as_object)
        .ok_or_else(|| BenchError::Failed("seed PUT without its customer block".into()))?;
    let mut rows: Vec<(&EntityDef, &Map<String, Json>, bool)> = vec![(def, block, true)];
    for child in &def.children {
        let child_def = entity(registry, child.entity)?;
        if let Some(items) = seed.get(child.block).and_then(Json::as_array) {
            rows.extend(
                items
                    .iter()
                    .filter_map(Json::as_object)
                    .map(|o| (child_def, o, false)),
            );
        }
    }
    let message_id = "('pgbench-' || :m::text)";
    let mut binds = Binds::default();
    let mut s = String::new();
    s.push_str("-- Generated by `webhook-worker bench` from seed 004's PUT (tests/fixtures/customer_put.json).\n");
    s.push_str("\\set c random(1, 2000000000)\n\\set m random(1, 2000000000)\n");
    s.push_str("BEGIN;\n");
    let (main_def, main_block, _) = rows[0];
    let returning = full.then(|| {
        let mut qb = QueryBuilder::new("");
        Projection::new(def, ResultType::Extended).push_columns(&mut qb);
        let flags: Vec<String> = def
            .hooks
            .iter()
            .filter_map(|h| h.only_if.and_then(|f| def.field(f)))
            .map(|f| format!(", COALESCE({}, FALSE)", column("t", f)))
            .collect();
        format!("{}, (t.xmax = 0){}", colon_free(qb.sql()), flags.concat())
    });
    s.push_str(&upsert(
        &mut binds,
        main_def,
        &[main_block],
        true,
        returning,
    ));
    // Child rows of one shape share one statement, as the engine writes them.
    let mut groups: Vec<ChildGroup> = Vec::new();
    for (child_def, obj, _) in rows.iter().skip(1) {
        let shape: Vec<&str> = sent_fields(child_def, obj)
            .iter()
            .map(|(f, _)| f.json)
            .collect();
        match groups
            .iter_mut()
            .find(|(d, k, _)| d.name == child_def.name && *k == shape)
        {
            Some((_, _, objs)) => objs.push(obj),
            None => groups.push((child_def, shape, vec![obj])),
        }
    }
    for (child_def, _, objs) in &groups {
        s.push_str(&upsert(&mut binds, child_def, objs, false, None));
    }
    if full && hook_applies(block) {
        s.push_str(&hook_statements());
    }
    s.push_str(&format!(
        "INSERT INTO webhook_inbox (message_id, entity, outcome_text) VALUES ({message_id}, {}, {}) ON CONFLICT (entity, message_id) DO NOTHING;\n",
        binds.plain(ENTITY),
        binds.plain(outcome)
    ));
    s.push_str("COMMIT;\n");
    Ok((s, binds))
}

/// Child rows of one entity and one set of sent fields: (entity, fields, rows).
type ChildGroup<'a> = (&'a EntityDef, Vec<&'a str>, Vec<&'a Map<String, Json>>);

/// Whether the seed's customer is an individual: the engine runs the main-contact hook
/// only then.
fn hook_applies(block: &Map<String, Json>) -> bool {
    block
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("isIndividual"))
        .is_some_and(|(_, v)| matches!(v.as_str(), Some("1" | "true")))
}

/// The GET script: the worker's GET extended statement for a random loaded code, alone
/// (the engine runs reads without BEGIN/COMMIT).
pub fn write_get_script(dir: &Path, registry: &Registry, rows: u64) -> Result<Script> {
    let def = entity(registry, ENTITY)?;
    let mut qb = QueryBuilder::new("");
    Projection::new(def, ResultType::Extended).push_select_from(&mut qb);
    let mut binds = Binds::default();
    let scope = def
        .scope
        .as_ref()
        .map(|s| format!(" AND t.{} = ANY({})", ident(s.field), binds.array(&s.read)))
        .unwrap_or_default();
    let script = format!(
        "\\set i random(1, {rows})\n{} WHERE {} = ('L' || lpad(:i::text, 8, '0')){scope};\n",
        colon_free(qb.sql()),
        column("t", def.code_field())
    );
    Script::write(dir.join("get.pgbench"), (script, binds))
}

fn entity<'r>(registry: &'r Registry, name: &str) -> Result<&'r EntityDef> {
    registry
        .get(name)
        .ok_or_else(|| BenchError::Failed(format!("no entity {name:?} in the registry")))
}

/// `sql` with every `:` inside a string literal spelt `' || chr(58) || '` (folded to a
/// constant at planning): pgbench reads `:name` anywhere as a variable, even in a literal
/// such as to_char's `'HH24:MI:SS'`.
fn colon_free(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_literal = false;
    let mut opened_at = 0;
    for c in sql.chars() {
        match c {
            '\'' => {
                if !in_literal {
                    opened_at = out.len();
                }
                in_literal = !in_literal;
                out.push(c);
                if !in_literal && out[opened_at..].contains("chr(58)") {
                    out.insert(opened_at, '(');
                    out.push(')');
                }
            }
            ':' if in_literal => out.push_str("' || chr(58) || '"),
            _ => out.push(c),
        }
    }
    out
}

/// What the engine stores for a field as sent, as a parameter: "" is NULL but in a plain
/// text column.
fn value_sql(binds: &mut Binds, field: &Field, value: &Json) -> String {
    let text = match value {
        Json::Null => return "NULL".into(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let textual = matches!(field.ty, Type::Varchar(_) | Type::Text) && field.reference.is_none();
    if text.is_empty() && !textual {
        return "NULL".into();
    }
    match field.ty {
        Type::Bool => match text.as_str() {
            "1" | "true" => format!("{}::boolean", binds.plain("true")),
            _ => format!("{}::boolean", binds.plain("false")),
        },
        Type::Varchar(_) | Type::Text => binds.text(&text),
        ty => format!("{}::{}", binds.text(&text), ty.sql_type()),
    }
}

/// The fields a block sends, as (field, value), in the block's order.
fn sent_fields<'d>(def: &'d EntityDef, obj: &Map<String, Json>) -> Vec<(&'d Field, Json)> {
    obj.iter()
        .filter_map(|(k, v)| def.field_named(k).map(|f| (f, v.clone())))
        .filter(|(f, _)| f.json != def.code)
        .collect()
}

/// The block's dynamic fields as the engine stores them (`{"CLI40": "7"}`).
fn dynamic_json(def: &EntityDef, obj: &Map<String, Json>) -> Option<String> {
    def.dynamic_fields?;
    let mut map = BTreeMap::new();
    for (k, v) in obj {
        if let Some(name) = k.strip_prefix("v_") {
            let text = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            map.insert(name.to_string(), Json::String(text));
        }
    }
    (!map.is_empty()).then(|| Json::Object(map.into_iter().collect()).to_string())
}

/// The engine's upsert of rows of one shape: insert (with create defaults), on conflict
/// update of the fields sent; for the entity row, within the webhook's write scope, and
/// `returning` the reply's columns.
fn upsert(
    binds: &mut Binds,
    def: &EntityDef,
    objs: &[&Map<String, Json>],
    main: bool,
    returning: Option<String>,
) -> String {
    let Some(first) = objs.first() else {
        return String::new();
    };
    let sent = sent_fields(def, first);
    let mut columns = vec![ident(def.code_field().column)];
    let mut sets = Vec::new();
    for field in def.fields.iter().filter(|f| f.json != def.code) {
        let given = sent.iter().any(|(f, _)| f.json == field.json);
        if given || field.default.is_some() {
            columns.push(ident(field.column));
        }
        if given {
            let col = ident(field.column);
            sets.push(format!("{col} = EXCLUDED.{col}"));
        }
    }
    let dynamic_col = ident(crate::engine::sql::DYNAMIC_COLUMN);
    let dynamic = main.then(|| dynamic_json(def, first)).flatten().is_some();
    if dynamic {
        columns.push(dynamic_col.clone());
        sets.push(format!(
            "{dynamic_col} = t.{dynamic_col} || EXCLUDED.{dynamic_col}"
        ));
    }
    let tuples: Vec<String> = objs
        .iter()
        .map(|obj| {
            let code = obj
                .iter()
                .find(|(k, _)| def.field_named(k).is_some_and(|f| f.json == def.code))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or(SEED_CODE);
            let sent = sent_fields(def, obj);
            let mut values = vec![binds.text(code)];
            for field in def.fields.iter().filter(|f| f.json != def.code) {
                let value = match sent.iter().find(|(f, _)| f.json == field.json) {
                    Some((f, v)) if !v.is_null() => value_sql(binds, f, v),
                    given => match field.default {
                        Some(CreateDefault::Value(text)) => {
                            value_sql(binds, field, &Json::String(text.into()))
                        }
                        Some(CreateDefault::Now) | Some(CreateDefault::Today) => "now()".into(),
                        Some(CreateDefault::GenericTypeTag { datatype, tag }) => format!(
                            "(SELECT g.codegenerictype FROM sw_data_generictype g WHERE g.\"dataType\" = {} AND g.tag = {} ORDER BY g.codegenerictype LIMIT 1)",
                            binds.text(datatype),
                            binds.text(tag)
                        ),
                        None if given.is_some() => "NULL".into(),
                        None => continue,
                    },
                };
                values.push(value);
            }
            if let Some(d) = dynamic.then(|| dynamic_json(def, obj)).flatten() {
                values.push(format!("{}::jsonb", binds.text(&d)));
            }
            format!("({})", values.join(", "))
        })
        .collect();
    let scope = match (&def.scope, main) {
        (Some(scope), true) => def
            .field(scope.field)
            .map(|f| {
                format!(
                    " WHERE TRUE AND {} = ANY({})",
                    column("t", f),
                    binds.array(&scope.write)
                )
            })
            .unwrap_or_default(),
        _ => String::new(),
    };
    format!(
        "INSERT INTO {} AS t ({}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {}{scope} RETURNING {};\n",
        ident(def.table),
        columns.join(", "),
        tuples.join(", "),
        ident(def.code_field().column),
        sets.join(", "),
        returning.unwrap_or_else(|| "(t.xmax = 0)".into())
    )
}

/// The customer's hook (SPEC 8.1, main contact) as the engine runs it: one statement that
/// updates the main contact of an individual or inserts it; for a company it writes nothing.
fn hook_statements() -> String {
    format!(
        "WITH c AS (SELECT * FROM sw_data_customer WHERE codecustomer = {CODE_SQL} AND \"isIndividual\"), \
         updated AS (UPDATE sw_data_customercontact AS k SET \"lastName\" = c.name, \"firstName\" = c.\"contactFirstName\", city = c.city, email = c.email FROM c WHERE k.\"customer_ID\" = c.codecustomer AND k.\"mainContact\" RETURNING 1) \
         INSERT INTO sw_data_customercontact (codecustomercontact, \"customer_ID\", \"mainContact\", \"lastName\", \"firstName\", city, email) \
         SELECT c.codecustomer || '-MAIN', c.codecustomer, TRUE, c.name, c.\"contactFirstName\", c.city, c.email FROM c WHERE NOT EXISTS (SELECT 1 FROM updated);\n"
    )
}

/// Run pgbench (prepared statements, `pgbench_clients` clients) for `pgbench_secs`; tps.
pub async fn pgbench(bench: &Bench, database_url: &str, script: &Script) -> Result<f64> {
    let p = &bench.params;
    let clients = p.pgbench_clients;
    let threads = clients.min(p.cpus).max(1);
    let output = tokio::process::Command::new("pgbench")
        // The worker's connections are plain TCP (sqlx is built without TLS); libpq's
        // default `prefer` would encrypt pgbench's and charge the ceiling for it.
        .env("PGSSLMODE", "disable")
        // An interrupted bench drops this run: pgbench goes with it.
        .kill_on_drop(true)
        .args(["-n", "-M", "prepared"])
        .args(["-c", &clients.to_string(), "-j", &threads.to_string()])
        .args(["-T", &p.pgbench_secs.to_string()])
        .args(
            script
                .defines
                .iter()
                .flat_map(|(name, value)| ["-D".to_string(), format!("{name}={value}")]),
        )
        .arg("-f")
        .arg(&script.path)
        .arg(database_url)
        .output()
        .await
        .map_err(|e| BenchError::Failed(format!("cannot run pgbench (is it installed?): {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let tps = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok());
    match tps {
        Some(tps) if output.status.success() => Ok(tps),
        _ => Err(BenchError::Failed(format!(
            "pgbench failed ({}): {}{}",
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

/// The broker's ceiling: `n` PUT requests to the null worker. `Mode::Preload`: all
/// published first, then the null worker started (compare with the PUT backlog run); a
/// closed loop: the null worker running (compare with the GET / LIST runs).
pub async fn null_worker(bench: &Bench, n: usize, mode: Mode) -> Result<RunStats> {
    let exchange = bench.topology.request_exchange();
    let client = LoadClient::connect_to(&bench.amqp_url, &exchange, NULL_ENTITY, n).await?;
    let tag = bench.run_tag();
    if matches!(mode, Mode::Preload) {
        client
            .publish(|i| load::put_body(&tag, i), Mode::Preload)
            .await?;
    }
    let cancel = CancellationToken::new();
    let queue = bench.topology.request_queue(NULL_ENTITY);
    let server = tokio::spawn(serve_null(
        bench.amqp_url.clone(),
        queue,
        bench.params.null_worker_prefetch,
        cancel.clone(),
    ));
    let published = match mode {
        Mode::Preload => Ok(()),
        mode => client.publish(|i| load::put_body(&tag, i), mode).await,
    };
    let stats = match published {
        Ok(()) => client.finish(Duration::from_secs(60), None).await,
        Err(e) => Err(e),
    };
    cancel.cancel();
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(BenchError::Failed(format!("the null worker panicked: {e}"))),
    }
    stats
}

/// Consume `queue`; for each delivery publish its body back to `reply_to` with the
/// worker's reply properties, await the confirm, ack. Until `cancel`.
async fn serve_null(
    amqp_url: String,
    queue: String,
    prefetch: u16,
    cancel: CancellationToken,
) -> Result<()> {
    let connection =
        crate::transport::connection::connect_named(&amqp_url, "webhook-bench null worker").await?;
    let publisher = Publisher::open(&connection).await?;
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "webhook-bench-null".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let tasks = tokio_util::task::TaskTracker::new();
    // Settled as the worker settles its deliveries (transport/settle.rs).
    let settler = Settler::spawn(channel.clone(), prefetch, &tasks);
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => break,
            next = consumer.next() => next,
        };
        let Some(Ok(delivery)) = next else { break };
        let publisher = publisher.clone();
        let settler = settler.clone();
        tasks.spawn(async move {
            let reply_to = delivery
                .properties
                .reply_to()
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_default();
            let mut headers = FieldTable::default();
            for (k, v) in [("status", "ok"), ("entity", ENTITY), ("verb", "PUT")] {
                headers.insert(k.into(), AMQPValue::LongString(v.into()));
            }
            let mut properties = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_delivery_mode(2)
                .with_headers(headers);
            if let Some(c) = delivery.properties.correlation_id().clone() {
                properties = properties.with_correlation_id(c);
            }
            let published = publisher
                .publish_confirmed("", &reply_to, &delivery.data, properties, false)
                .await;
            settler.settle(delivery.delivery_tag, published.is_ok());
        });
    }
    drop(settler);
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(10), tasks.wait()).await;
    let _ = connection.close(200, "null worker done".into()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTCOME: &str = r#"{"verb":"PUT","code":"C0000001","result":{"t":"12:30:00"}}"#;

    #[test]
    fn the_put_script_writes_the_seed_with_a_random_code() {
        let (s, binds) = put_script(&Registry::standard(), OUTCOME, false).unwrap();
        assert!(s.starts_with("-- Generated"));
        assert!(s.contains("INSERT INTO \"sw_data_customer\" AS t"));
        // The two customeruser lines in one statement, as the engine writes them.
        assert_eq!(s.matches("INSERT INTO \"sw_data_customeruser\"").count(), 1);
        assert!(s.contains("INSERT INTO webhook_inbox (message_id, entity, outcome_text) VALUES"));
        assert_eq!(s.matches(";\n").count(), 5, "BEGIN, 3 writes, COMMIT:\n{s}");
        assert!(s.contains("\"dynamicfields\" = t.\"dynamicfields\" ||"));
        assert!(!s.contains(SEED_CODE), "every seed code is replaced");
        assert!(
            binds
                .0
                .iter()
                .all(|(_, v)| v == OUTCOME || !v.contains(SEED_CODE)),
            "the seed's code is the script's random code, not a bound value (but in the \
             recorded outcome, bound as the worker recorded it)"
        );
        // The values are parameters, as the engine binds them: the outcome too.
        assert!(binds.0.iter().any(|(_, v)| v == OUTCOME));
        assert!(binds
            .0
            .iter()
            .any(|(_, v)| v == "ENTREPRISE DIJON GUICHARD"));
        assert!(!s.contains("'ENTREPRISE DIJON GUICHARD'"));
        assert_variables_are_defined(&s, &binds);
    }

    /// Every `:name` of the script is one of its own variables (`c`, `m`) or a define, and
    /// every define is used (pgbench would fail, or substitute a stray `:x`).
    fn assert_variables_are_defined(s: &str, binds: &Binds) {
        let mut used = std::collections::BTreeSet::new();
        for (i, _) in s.match_indices(':') {
            let next = s[i + 1..].chars().next().unwrap_or(' ');
            let prev = s[..i].chars().last().unwrap_or(' ');
            if next == ':' || prev == ':' || !next.is_alphanumeric() {
                continue;
            }
            let name: String = s[i + 1..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                name == "c" || name == "m" || binds.0.iter().any(|(n, _)| *n == name),
                "stray variable at {}",
                &s[i.saturating_sub(20)..(i + 20).min(s.len())]
            );
            used.insert(name);
        }
        for (name, value) in &binds.0 {
            assert!(used.contains(name), "{name} is defined, not used");
            assert!(!value.is_empty(), "pgbench refuses an empty -D value");
        }
    }

    #[test]
    fn the_full_script_adds_the_reply_to_the_writes() {
        let (s, binds) = put_script(&Registry::standard(), OUTCOME, true).unwrap();
        assert_variables_are_defined(&s, &binds);
        // The upsert returns the reply's row whole (engine/record.rs); the worker shows
        // the generictype codes' labels from its cache.
        assert!(s.contains(" RETURNING t, (t.xmax = 0)"), "{s}");
        assert!(!s.contains("FROM sw_data_generictype g"));
        // No lookup: a steady stream of seed PUTs finds every answer in the cache.
        assert!(!s.contains(" UNION ALL "), "{s}");
        assert!(!s.contains("FROM webhook_inbox WHERE"));
        assert_eq!(s.matches(";\n").count(), 5, "BEGIN, 3 writes, COMMIT");
        // The seed's customer is a company: the main-contact hook does not apply.
        assert!(!s.contains("sw_data_customercontact"));
        assert!(
            s.len()
                > put_script(&Registry::standard(), OUTCOME, false)
                    .unwrap()
                    .0
                    .len()
        );
    }

    #[test]
    fn colons_in_literals_are_spelt_out() {
        assert_eq!(
            colon_free("to_char(x, 'HH24:MI') || ':c'"),
            "to_char(x, ('HH24' || chr(58) || 'MI')) || ('' || chr(58) || 'c')"
        );
        assert_eq!(colon_free("a::text = 'b'"), "a::text = 'b'");
    }

    #[test]
    fn empty_strings_are_null_except_in_plain_text() {
        let text = Field::varchar("comment", 10);
        let int = Field::new("workforce", Type::Int);
        let fk = Field::fk("baseuser_ID", "baseuser");
        let mut binds = Binds::default();
        let empty = Json::String(String::new());
        assert_eq!(value_sql(&mut binds, &text, &empty), "''");
        assert_eq!(value_sql(&mut binds, &int, &empty), "NULL");
        assert_eq!(value_sql(&mut binds, &fk, &empty), "NULL");
        assert!(binds.0.is_empty());
        let workforce = value_sql(&mut binds, &int, &Json::String("23".into()));
        assert_eq!(workforce, ":v1::integer");
        assert_eq!(binds.0, vec![("v1".to_string(), "23".to_string())]);
    }

    #[test]
    fn the_seed_code_becomes_the_random_code_around_bound_parts() {
        let mut binds = Binds::default();
        assert_eq!(binds.text(SEED_CODE), format!("('' || {CODE_SQL})"));
        assert_eq!(
            binds.text(&format!("{SEED_CODE}-95")),
            format!("('' || {CODE_SQL} || :v1)")
        );
        assert_eq!(binds.0, vec![("v1".to_string(), "-95".to_string())]);
        assert_eq!(binds.array(&["A", "B\"C"]), ":v2::text[]");
        assert_eq!(binds.0[1].1, r#"{"A","B\"C"}"#);
    }
}
