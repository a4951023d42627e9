//! PUT = upsert (SPEC section 8): validate (validate.rs), then recode, upsert the rows in
//! write order (companions, the entity row, its child rows) with defaults on create only,
//! run the entities' hooks, and render the stored record, all in the caller's transaction.

use std::sync::LazyLock;

use serde_json::{Map, Value as Json};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use super::definition::{CreateDefault, EntityDef, Field, Type};
use super::error::EngineError;
use super::get::{push_scope, scope_codes, Access};
use super::hooks::Written;
use super::idempotency::{self, Previous};
use super::known::Known;
use super::lookup::Lookup;
use super::render::{JsonText, Projection};
use super::sql::{column, ident, TextCache, DYNAMIC_COLUMN};
use super::validate::{self, RowPlan};
use super::value::{self, Binds, Value};
use super::Outcome;
use crate::entities::Registry;
use crate::request::{Request, ResultType};

/// What a PUT did.
#[derive(Debug, Clone, PartialEq)]
pub struct PutOutcome {
    pub code: String,
    pub created: bool,
    /// The stored record shaped as GET extended (`{"customer": {...}}`), as JSON text.
    pub result: JsonText,
}

/// A PUT's end: applied (not yet committed), or answered by an earlier delivery.
pub enum Put {
    Done(PutOutcome, Previous),
    Saved(Outcome),
}

/// How a PUT may lean on what earlier lookups found (known.rs), and how it did.
pub struct Guess<'k> {
    /// The cache to read and fill; a disabled one: every check runs in this transaction.
    pub known: &'k Known,
    /// An answer came from the cache.
    pub cached: bool,
    /// The idempotency record was not checked up front: with nothing else to look up, the
    /// record's INSERT before the commit (idempotency::record) finds an earlier one instead.
    pub unchecked: bool,
}

impl<'k> Guess<'k> {
    pub fn new(known: &'k Known) -> Guess<'k> {
        Guess {
            known,
            cached: false,
            unchecked: false,
        }
    }

    /// Whether the attempt's answer may differ from one without the cache.
    pub fn guessed(&self) -> bool {
        self.cached || self.unchecked
    }
}

/// Apply a PUT in the caller's transaction. Its statements: one batch of lookups (the
/// idempotency record of `dedup_id`, dynamic field catalogs, generictypes, foreign keys;
/// none when `guess`'s cache knew every answer),
/// one upsert per head row (companions, the entity row; the entity row's upsert returns
/// the reply's columns), one multi-row upsert per child block, and the hooks that apply.
pub async fn put(
    conn: &mut PgConnection,
    registry: &Registry,
    def: &EntityDef,
    request: &Request,
    dedup_id: Option<&str>,
    guess: &mut Guess<'_>,
) -> Result<Put, EngineError> {
    let known = guess.known;
    let mut lookup = Lookup::default();
    let draft = validate::draft(registry, def, request, &mut lookup, known)?;
    guess.cached = draft.cached();
    if let Some(id) = dedup_id {
        if known.enabled() && lookup.is_empty() {
            guess.unchecked = true;
        } else {
            idempotency::push_check(&mut lookup, id, def.name);
        }
    }
    let found = lookup.run(conn).await?;
    draft.remember(&found, known);
    let previous = idempotency::previous(&found);
    if let Previous::Saved(outcome) = previous {
        return Ok(Put::Saved(outcome));
    }
    let mut plan = draft.finish(found)?;
    let projection = Projection::new(def, ResultType::Extended);
    // The reply comes with the upsert unless a hook may change the row afterwards.
    let reply_from_upsert = def.hooks.iter().all(|h| h.keeps_row);
    let mut heads = Vec::with_capacity(plan.main + 1);
    for i in plan.heads() {
        let recoded = recode(conn, &plan.rows[i]).await?;
        if recoded {
            take_scope_default(&mut plan.rows[i]);
        }
        let row = &plan.rows[i];
        let returning = (i == plan.main && reply_from_upsert).then_some(&projection);
        let written = upsert(conn, &[row], !recoded, returning)
            .await
            .map_err(|e| backstop(e, row))?;
        heads.extend(written);
    }
    for group in child_groups(&plan.rows[plan.main + 1..]) {
        upsert(conn, &group, false, None)
            .await
            .map_err(|e| backstop(e, group[0]))?;
    }
    // Hooks run once every block is written: a rule may read the child rows of the same
    // request (SPEC 8.4: the current step's type gives the opportunity its status).
    for (row, head) in plan.rows.iter().zip(&heads) {
        let written = Written {
            table: row.def.table,
            code: &row.code,
            created: head.created,
        };
        for (hook, applies) in row.def.hooks.iter().zip(&head.hook_applies) {
            if *applies {
                (hook.run)(conn, &written).await?;
            }
        }
    }
    let main = &plan.rows[plan.main];
    let Upserted { created, row, .. } = heads.swap_remove(plan.main);
    let row = match row {
        Some(row) => row,
        None => projection
            .fetch_row(conn, &main.code)
            .await?
            .ok_or_else(|| {
                EngineError::NotFound(format!("{} {:?} vanished", def.name, main.code))
            })?,
    };
    let result = projection.block_result(conn, known, &row).await?;
    Ok(Put::Done(
        PutOutcome {
            code: main.code.clone(),
            created,
            result,
        },
        previous,
    ))
}

/// SPEC 8.1 recoding: the origin (of any type, 11.6) takes the new code, and every reference
/// follows through the foreign keys' ON UPDATE CASCADE. Returns whether a row was recoded.
async fn recode(conn: &mut PgConnection, row: &RowPlan<'_>) -> Result<bool, EngineError> {
    let def = row.def;
    if row.recode_from.is_none() {
        return Ok(false);
    }
    let Some(origin) = row.recode_from.as_deref().filter(|o| *o != row.code) else {
        return Ok(false);
    };
    let code_col = ident(def.code_field().column);
    let table = ident(def.table);
    let origin_row = sqlx::query(&format!(
        "SELECT 1 FROM {table} WHERE {code_col} = $1 FOR UPDATE"
    ))
    .bind(origin)
    .fetch_optional(&mut *conn)
    .await?;
    if origin_row.is_none() {
        return Err(EngineError::NotFound(format!(
            "recode origin {} {origin:?} does not exist",
            def.name
        )));
    }
    let conflict = sqlx::query(&format!("SELECT 1 FROM {table} WHERE {code_col} = $1"))
        .bind(&row.code)
        .fetch_optional(&mut *conn)
        .await?;
    if conflict.is_some() {
        let mut detail = row.error(
            def.code,
            Json::String(row.code.clone()),
            "the destination code already exists",
        );
        detail.references = Some(format!("{}.{}", def.table, def.code_field().column));
        return Err(EngineError::Conflict {
            message: format!(
                "cannot recode {origin:?} onto existing {} {:?}",
                def.name, row.code
            ),
            details: vec![detail],
        });
    }
    sqlx::query(&format!(
        "UPDATE {table} SET {code_col} = $1 WHERE {code_col} = $2"
    ))
    .bind(&row.code)
    .bind(origin)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// A recoded row that does not send its type takes the webhook's default type: the origin
/// may be of any type (SPEC 11.6), and the recoded row must belong to this webhook.
fn take_scope_default(row: &mut RowPlan<'_>) {
    let def = row.def;
    let Some(scope) = &def.scope else { return };
    let sent = row
        .values
        .iter()
        .any(|(f, v, _)| f.json == scope.field && !v.is_null());
    let Some(field) = def.field(scope.field) else {
        return;
    };
    if let (false, Some(Insert::Bind(default))) = (sent, create_value(field, None)) {
        row.values.retain(|(f, _, _)| f.json != scope.field);
        row.values.push((field, default, Json::Null));
    }
}

/// What an INSERT writes in a column.
enum Insert {
    Bind(Value),
    /// The code of the generictype of this datatype with this tag, looked up by the INSERT.
    Tag(&'static str, &'static str),
}

/// The value a field takes on create: as sent, or its default when not given (11.8).
fn create_value(field: &Field, sent: Option<&Value>) -> Option<Insert> {
    let now = || chrono::Local::now().naive_local().with_nanosecond_zero();
    Some(Insert::Bind(match (sent, field.default) {
        (Some(v), _) if !v.is_null() => v.clone(),
        (_, Some(CreateDefault::Value(text))) => {
            value::parse_text(field.ty, text).unwrap_or(Value::Null)
        }
        (_, Some(CreateDefault::Now)) => match field.ty {
            Type::Date => Value::Date(now().date()),
            _ => Value::DateTime(now()),
        },
        (_, Some(CreateDefault::Today)) => match field.ty {
            Type::Date => Value::Date(now().date()),
            _ => Value::DateTime(now().date().and_time(chrono::NaiveTime::MIN)),
        },
        (_, Some(CreateDefault::GenericTypeTag { datatype, tag })) => {
            return Some(Insert::Tag(datatype, tag))
        }
        (sent, None) => sent?.clone(),
    }))
}

trait NoNanos {
    fn with_nanosecond_zero(self) -> Self;
}
impl NoNanos for chrono::NaiveDateTime {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).unwrap_or(self)
    }
}

/// How a row gives a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Given {
    No,
    Value,
    Null,
}

/// The values a row gives, in its definition's field order (one pass, not one search per
/// field).
fn given_values<'r>(row: &'r RowPlan<'_>) -> Vec<Option<&'r Value>> {
    let fields = &row.def.fields;
    let mut given = vec![None; fields.len()];
    for (field, value, _) in &row.values {
        let position = row
            .def
            .position(field)
            .or_else(|| fields.iter().position(|f| f.json == field.json));
        if let Some(i) = position {
            given[i] = Some(value);
        }
    }
    given
}

/// The shape of a row's upsert: which fields it gives, and whether it has dynamic fields.
/// Rows of one shape (and distinct codes) share one multi-row statement.
fn shape(row: &RowPlan<'_>) -> (&'static str, Vec<Given>, bool) {
    let given = given_values(row)
        .into_iter()
        .map(|v| match v {
            None => Given::No,
            Some(v) if v.is_null() => Given::Null,
            Some(_) => Given::Value,
        })
        .collect();
    (row.def.table, given, !row.dynamic.is_empty())
}

/// Child rows in groups of one shape with distinct codes, in request order of each group's
/// first row. A code given twice goes to a later group: written twice, in order.
fn child_groups<'r, 'a>(rows: &'r [RowPlan<'a>]) -> Vec<Vec<&'r RowPlan<'a>>> {
    let mut groups: Vec<(_, Vec<&RowPlan<'a>>)> = Vec::new();
    for row in rows {
        let key = shape(row);
        let fits = groups.iter().rposition(|(k, _)| *k == key);
        match fits {
            Some(i) if !groups[i].1.iter().any(|r| r.code == row.code) => groups[i].1.push(row),
            _ => groups.push((key, vec![row])),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// What an upsert tells about a row.
struct Upserted {
    created: bool,
    /// For each of the entity's hooks: whether it applies to the stored row.
    hook_applies: Vec<bool>,
    /// The stored row as the projection reads it (the reply's block), when asked for.
    row: Option<PgRow>,
}

/// What makes the text of an upsert: nothing but the rows' shape and the options.
#[derive(Debug, PartialEq, Eq, Hash)]
struct UpsertKey {
    entity: &'static str,
    given: Vec<Given>,
    dynamic: bool,
    rows: usize,
    check_scope: bool,
    returning: bool,
}

/// Upsert texts by shape (sql::TextCache): seed-shaped PUTs all share one.
static UPSERTS: LazyLock<TextCache<UpsertKey>> = LazyLock::new(|| TextCache::new(1024));

/// `INSERT .. VALUES (..), (..) ON CONFLICT (code) DO UPDATE` of rows of one shape: the
/// fields given (defaults only on create). With `check_scope`, an existing row outside the
/// webhook's write scope is not touched and the PUT is a CONFLICT (SPEC 11.17). `RETURNING`
/// tells whether each row was created, which hooks apply, and with `projection` the reply.
async fn upsert(
    conn: &mut PgConnection,
    rows: &[&RowPlan<'_>],
    check_scope: bool,
    projection: Option<&Projection<'_>>,
) -> Result<Vec<Upserted>, EngineError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let def = first.def;
    let (_, given, dynamic) = shape(first);
    let check_scope = check_scope && def.scope.is_some();
    let key = UpsertKey {
        entity: def.name,
        given,
        dynamic,
        rows: rows.len(),
        check_scope,
        returning: projection.is_some(),
    };
    let sql = UPSERTS.get_or_build(key, || upsert_text(rows, check_scope, projection));
    // The values, in the order upsert_text numbers them: the code, each inserted column
    // (insert_columns), the dynamic fields; then the scope.
    let mut args = PgArguments::default();
    for row in rows {
        args.bind(row.code.as_str())?;
        for (field, sent) in def.fields.iter().zip(given_values(row)) {
            if field.json == def.code || !inserts(field, sent) {
                continue;
            }
            match sent {
                Some(v) if !v.is_null() => value::bind(&mut args, field.ty, v)?,
                _ => match create_value(field, sent) {
                    Some(Insert::Bind(v)) => value::bind(&mut args, field.ty, &v)?,
                    Some(Insert::Tag(datatype, tag)) => {
                        args.bind(datatype)?;
                        args.bind(tag)?;
                    }
                    None => value::bind(&mut args, field.ty, &Value::Null)?,
                },
            }
        }
        if dynamic {
            args.bind(dynamic_json(row))?;
        }
    }
    if check_scope {
        if let Some(codes) = scope_codes(def, Access::Write) {
            args.bind(codes)?;
        }
    }
    let returned = sqlx::query_with(&sql, args).fetch_all(&mut *conn).await?;
    if returned.len() < rows.len() {
        return Err(EngineError::Conflict {
            message: format!(
                "{} {:?} exists with a type that the {} webhook does not manage",
                def.name, first.code, def.name
            ),
            details: vec![first.error(
                def.code,
                Json::String(first.code.clone()),
                "belongs to another webhook",
            )],
        });
    }
    let offset = projection.map_or(0, Projection::width);
    returned
        .into_iter()
        .map(|r| {
            let mut flag = offset + 1;
            let mut hook_applies = Vec::with_capacity(def.hooks.len());
            for hook in &def.hooks {
                hook_applies.push(match hook.only_if.and_then(|f| def.field(f)) {
                    Some(_) => {
                        flag += 1;
                        r.try_get::<bool, _>(flag - 1)?
                    }
                    None => true,
                });
            }
            Ok(Upserted {
                created: r.try_get::<bool, _>(offset)?,
                hook_applies,
                row: projection.is_some().then_some(r),
            })
        })
        .collect()
}

/// Whether an upsert inserts this field: given, or with a create default.
fn inserts(field: &Field, sent: Option<&Value>) -> bool {
    sent.is_some() || field.default.is_some()
}

/// The columns an upsert inserts besides the code: the same for every row of one shape.
fn insert_columns<'d>(row: &RowPlan<'d>) -> Vec<&'d Field> {
    let def = row.def;
    def.fields
        .iter()
        .zip(given_values(row))
        .filter(|(f, sent)| f.json != def.code && inserts(f, *sent))
        .map(|(f, _)| f)
        .collect()
}

/// The text of an upsert of `rows` (built with their values bound, which only numbers the
/// placeholders: `upsert` binds the values of each execution).
fn upsert_text(
    rows: &[&RowPlan<'_>],
    check_scope: bool,
    projection: Option<&Projection<'_>>,
) -> String {
    let Some(first) = rows.first() else {
        return String::new();
    };
    let def = first.def;
    let code_field = def.code_field();
    let scope_field = def.scope.as_ref().map(|s| s.field);
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new("INSERT INTO ");
    qb.push(ident(def.table))
        .push(" AS t (")
        .push(ident(code_field.column));
    let columns = insert_columns(first);
    for field in &columns {
        qb.push(", ").push(ident(field.column));
    }
    let has_dynamic = !first.dynamic.is_empty();
    if has_dynamic {
        qb.push(", ").push(ident(DYNAMIC_COLUMN));
    }
    qb.push(") VALUES ");
    for (n, row) in rows.iter().enumerate() {
        if n > 0 {
            qb.push(", ");
        }
        qb.push("(").push_bind(row.code.clone());
        for field in &columns {
            qb.push(", ");
            match create_value(field, sent(row, field)) {
                Some(Insert::Bind(v)) => value::push_bind(&mut qb, field.ty, &v),
                Some(Insert::Tag(datatype, tag)) => {
                    qb.push(
                        "(SELECT g.codegenerictype FROM sw_data_generictype g WHERE g.\"dataType\" = ",
                    );
                    qb.push_bind(datatype).push(" AND g.tag = ").push_bind(tag);
                    qb.push(" ORDER BY g.codegenerictype LIMIT 1)");
                }
                None => value::push_bind(&mut qb, field.ty, &Value::Null),
            }
        }
        if has_dynamic {
            qb.push(", ").push_bind(dynamic_json(row)).push("::jsonb");
        }
        qb.push(")");
    }
    qb.push(" ON CONFLICT (")
        .push(ident(code_field.column))
        .push(") DO UPDATE SET ");
    let mut sets = Vec::new();
    for field in def.fields.iter().filter(|f| f.json != def.code) {
        let col = ident(field.column);
        match sent(first, field) {
            None => {}
            // The type is never cleared.
            Some(v) if v.is_null() && Some(field.json) == scope_field => {}
            // A field given empty is cleared, also when it has a create default.
            Some(v) if v.is_null() => sets.push(format!("{col} = NULL")),
            Some(_) => sets.push(format!("{col} = EXCLUDED.{col}")),
        }
    }
    if has_dynamic {
        let col = ident(DYNAMIC_COLUMN);
        sets.push(format!("{col} = t.{col} || EXCLUDED.{col}"));
    }
    if sets.is_empty() {
        let col = ident(code_field.column);
        sets.push(format!("{col} = EXCLUDED.{col}"));
    }
    qb.push(sets.join(", "));
    if check_scope {
        qb.push(" WHERE TRUE");
        push_scope(&mut qb, def, Access::Write);
    }
    qb.push(" RETURNING ");
    if let Some(projection) = projection {
        projection.push_columns(&mut qb);
        qb.push(", ");
    }
    qb.push("(t.xmax = 0)");
    for hook in &def.hooks {
        if let Some(field) = hook.only_if.and_then(|f| def.field(f)) {
            qb.push(format!(", COALESCE({}, FALSE)", column("t", field)));
        }
    }
    qb.into_sql()
}

/// The value a row gives for a field, if it gives one.
fn sent<'r>(row: &'r RowPlan<'_>, field: &Field) -> Option<&'r Value> {
    row.values
        .iter()
        .find(|(f, _, _)| f.json == field.json)
        .map(|(_, v, _)| v)
}

/// A row's dynamic fields as the JSON object stored (values as text).
fn dynamic_json(row: &RowPlan<'_>) -> String {
    let map: Map<String, Json> = row
        .dynamic
        .iter()
        .map(|(name, v, _)| {
            let text = match v {
                Json::String(s) => s.clone(),
                Json::Null => String::new(),
                other => other.to_string(),
            };
            (name.clone(), Json::String(text))
        })
        .collect();
    Json::Object(map).to_string()
}

/// A foreign key violation at write time (a referenced row deleted since the check) is
/// reported as INVALID_FOREIGN_KEY, not as a database fault (STYLE section 3: a backstop).
fn backstop(e: EngineError, row: &RowPlan<'_>) -> EngineError {
    if let EngineError::Database(sqlx::Error::Database(db)) = &e {
        if db.is_foreign_key_violation() {
            let constraint = db.constraint().unwrap_or("foreign key").to_string();
            return EngineError::InvalidForeignKey(vec![row.error(
                &constraint,
                Json::Null,
                db.message().to_string(),
            )]);
        }
    }
    e
}
