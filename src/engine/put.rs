//! PUT = upsert (SPEC section 8): validate (validate.rs), then recode, upsert the rows in
//! write order (companions, the entity row, its child rows) with defaults on create only,
//! run the entities' hooks, and read the stored record back, all in the caller's
//! transaction.

use serde_json::{Map, Value as Json};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use super::definition::{CreateDefault, EntityDef, Field, Type};
use super::error::EngineError;
use super::get::{push_scope, Access};
use super::hooks::Written;
use super::render::Projection;
use super::sql::{ident, DYNAMIC_COLUMN};
use super::validate::{self, RowPlan};
use super::value::{self, Value};
use crate::entities::Registry;
use crate::request::{Request, ResultType};

/// What a PUT did.
#[derive(Debug, Clone, PartialEq)]
pub struct PutOutcome {
    pub code: String,
    pub created: bool,
    /// The stored record shaped as GET extended (`{"customer": {...}}`).
    pub result: Map<String, Json>,
}

pub async fn put(
    conn: &mut PgConnection,
    registry: &Registry,
    def: &EntityDef,
    request: &Request,
) -> Result<PutOutcome, EngineError> {
    let mut plan = validate::plan(conn, registry, def, request).await?;
    let mut created = Vec::with_capacity(plan.rows.len());
    for i in 0..plan.rows.len() {
        let is_head = plan.heads().contains(&i);
        let recoded = is_head && recode(conn, &plan.rows[i]).await?;
        if recoded {
            take_scope_default(&mut plan.rows[i]);
        }
        let row = &plan.rows[i];
        created.push(
            upsert(conn, row, is_head && !recoded)
                .await
                .map_err(|e| backstop(e, row))?,
        );
    }
    // Hooks run once every block is written: a rule may read the child rows of the same
    // request (SPEC 8.4: the current step's type gives the opportunity its status).
    for i in plan.heads() {
        let row = &plan.rows[i];
        let written = Written {
            table: row.def.table,
            code: &row.code,
            created: created[i],
        };
        for hook in &row.def.hooks {
            (hook.run)(conn, &written).await?;
        }
    }
    let created = created[plan.main];
    let main = &plan.rows[plan.main];
    let projection = Projection::new(def, ResultType::Extended);
    let block = projection
        .fetch_one(conn, &main.code)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("{} {:?} vanished", def.name, main.code)))?;
    let mut result = Map::new();
    result.insert(def.block.to_string(), Json::Object(block));
    Ok(PutOutcome {
        code: main.code.clone(),
        created,
        result,
    })
}

/// SPEC 8.1 recoding: the origin (of any type, 11.6) takes the new code, and every reference
/// follows through the foreign keys' ON UPDATE CASCADE. Returns whether a row was recoded.
async fn recode(conn: &mut PgConnection, row: &RowPlan<'_>) -> Result<bool, EngineError> {
    let def = row.def;
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

/// `INSERT .. ON CONFLICT (code) DO UPDATE` of the fields present (defaults only on
/// create). With `check_scope`, an existing row outside the webhook's write scope is not
/// touched and the PUT is a CONFLICT (SPEC 11.17). Returns whether the row was created.
async fn upsert(
    conn: &mut PgConnection,
    row: &RowPlan<'_>,
    check_scope: bool,
) -> Result<bool, EngineError> {
    let def = row.def;
    let code_field = def.code_field();
    let scope_field = def.scope.as_ref().map(|s| s.field);
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new("INSERT INTO ");
    qb.push(ident(def.table))
        .push(" AS t (")
        .push(ident(code_field.column));
    let mut inserted: Vec<(&Field, Insert)> = Vec::new();
    for field in def.fields.iter().filter(|f| f.json != def.code) {
        let sent = row
            .values
            .iter()
            .find(|(f, _, _)| f.json == field.json)
            .map(|(_, v, _)| v);
        if let Some(v) = create_value(field, sent) {
            inserted.push((field, v));
        }
    }
    for (field, _) in &inserted {
        qb.push(", ").push(ident(field.column));
    }
    let dynamic: Option<String> = (!row.dynamic.is_empty()).then(|| {
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
    });
    if dynamic.is_some() {
        qb.push(", ").push(ident(DYNAMIC_COLUMN));
    }
    qb.push(") VALUES (").push_bind(row.code.clone());
    for (field, v) in &inserted {
        qb.push(", ");
        match v {
            Insert::Bind(v) => value::push_bind(&mut qb, field.ty, v),
            Insert::Tag(datatype, tag) => {
                qb.push(
                    "(SELECT g.codegenerictype FROM sw_data_generictype g WHERE g.\"dataType\" = ",
                );
                qb.push_bind(*datatype)
                    .push(" AND g.tag = ")
                    .push_bind(*tag);
                qb.push(" ORDER BY g.codegenerictype LIMIT 1)");
            }
        }
    }
    if let Some(d) = &dynamic {
        qb.push(", ").push_bind(d.clone()).push("::jsonb");
    }
    qb.push(") ON CONFLICT (")
        .push(ident(code_field.column))
        .push(") DO UPDATE SET ");
    let mut sets = 0;
    for (field, v, _) in &row.values {
        if Some(field.json) == scope_field && v.is_null() {
            continue; // the type is never cleared
        }
        if sets > 0 {
            qb.push(", ");
        }
        qb.push(ident(field.column)).push(" = ");
        value::push_bind(&mut qb, field.ty, v);
        sets += 1;
    }
    if let Some(d) = &dynamic {
        if sets > 0 {
            qb.push(", ");
        }
        let col = ident(DYNAMIC_COLUMN);
        qb.push(format!("{col} = t.{col} || "))
            .push_bind(d.clone())
            .push("::jsonb");
        sets += 1;
    }
    if sets == 0 {
        let col = ident(code_field.column);
        qb.push(format!("{col} = EXCLUDED.{col}"));
    }
    if check_scope && def.scope.is_some() {
        qb.push(" WHERE TRUE");
        push_scope(&mut qb, def, Access::Write);
    }
    qb.push(" RETURNING (xmax = 0)");
    match qb.build().fetch_optional(&mut *conn).await? {
        Some(r) => Ok(r.try_get::<bool, _>(0)?),
        None => Err(EngineError::Conflict {
            message: format!(
                "{} {:?} exists with a type that the {} webhook does not manage",
                def.name, row.code, def.name
            ),
            details: vec![row.error(
                def.code,
                Json::String(row.code.clone()),
                "belongs to another webhook",
            )],
        }),
    }
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
