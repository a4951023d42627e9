//! GET: one row by code, within the webhook's read scope, rendered for its result type.

use serde_json::{Map, Value as Json};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::definition::{EntityDef, Scope};
use super::error::EngineError;
use super::render::{result_of_row, Projection};
use super::sql::column;
use crate::entities::Registry;
use crate::request::Request;

/// Which scope list applies.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    Read,
    Write,
}

/// Push ` AND t.<scope field> IN (...)` when the entity has a scope (SPEC 8.1, 11.6).
pub fn push_scope(qb: &mut QueryBuilder<'_, Postgres>, def: &EntityDef, access: Access) {
    let Some(Scope { field, write, read }) = &def.scope else {
        return;
    };
    let Some(field) = def.field(field) else {
        return;
    };
    let codes = match access {
        Access::Read => read,
        Access::Write => write,
    };
    qb.push(" AND ").push(column("t", field)).push(" = ANY(");
    qb.push_bind(codes.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    qb.push(")");
}

pub async fn get(
    conn: &mut PgConnection,
    registry: &Registry,
    def: &EntityDef,
    request: &Request,
    code: &str,
) -> Result<Map<String, Json>, EngineError> {
    let projection = Projection::new(def, request.result_type);
    let mut qb = QueryBuilder::new("");
    projection.push_select_from(&mut qb);
    qb.push(" WHERE ")
        .push(column("t", def.code_field()))
        .push(" = ")
        .push_bind(code.to_string());
    push_scope(&mut qb, def, Access::Read);
    let row = qb
        .build()
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("{} {code:?} does not exist", def.name)))?;
    Ok(
        result_of_row(conn, registry, &projection, &row, request.settings)
            .await?
            .1,
    )
}
