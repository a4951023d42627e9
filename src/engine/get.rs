//! GET: one row by code, within the webhook's read scope, rendered for its result type.

use std::sync::LazyLock;

use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::definition::{EntityDef, Scope};
use super::error::EngineError;
use super::known::Known;
use super::render::{result_text, JsonText, Projection};
use super::sql::{column, TextCache};
use crate::entities::Registry;
use crate::request::{Request, ResultType};

/// The GET statement of each (entity, result type).
static STATEMENTS: LazyLock<TextCache<(&'static str, ResultType)>> =
    LazyLock::new(|| TextCache::new(256));

/// Which scope list applies.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    Read,
    Write,
}

/// Push ` AND t.<scope field> = ANY($n)` when the entity has a scope (SPEC 8.1, 11.6);
/// `$n` is bound to `scope_codes`.
pub fn push_scope(qb: &mut QueryBuilder<'_, Postgres>, def: &EntityDef, access: Access) {
    let (Some(scope), Some(codes)) = (&def.scope, scope_codes(def, access)) else {
        return;
    };
    let Some(field) = def.field(scope.field) else {
        return;
    };
    qb.push(" AND ").push(column("t", field)).push(" = ANY(");
    qb.push_bind(codes);
    qb.push(")");
}

/// The types a webhook may read or write, when it has a scope (and a scope field).
pub fn scope_codes(def: &EntityDef, access: Access) -> Option<Vec<String>> {
    let Scope { field, write, read } = def.scope.as_ref()?;
    def.field(field)?;
    let codes = match access {
        Access::Read => read,
        Access::Write => write,
    };
    Some(codes.iter().map(|c| c.to_string()).collect())
}

pub async fn get(
    conn: &mut PgConnection,
    registry: &Registry,
    known: &Known,
    def: &EntityDef,
    request: &Request,
    code: &str,
) -> Result<JsonText, EngineError> {
    let projection = Projection::new(def, request.result_type);
    // The text once per entity and result type (sql::TextCache); the values bound.
    let text = STATEMENTS.get_or_build((def.name, request.result_type), || {
        let mut qb = QueryBuilder::<Postgres>::new("");
        projection.push_select_by_code(&mut qb, "");
        push_scope(&mut qb, def, Access::Read);
        qb.into_sql()
    });
    let mut query = sqlx::query(&text).bind(code);
    if let Some(codes) = scope_codes(def, Access::Read) {
        query = query.bind(codes);
    }
    let row = query
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("{} {code:?} does not exist", def.name)))?;
    result_text(
        conn,
        registry,
        known,
        &projection,
        &row,
        code,
        request.settings,
    )
    .await
}
