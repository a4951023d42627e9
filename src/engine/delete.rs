//! DELETE (SPEC 8.1): the row goes with the rows that belong to it (foreign keys marked
//! `cascade`); a row still referenced by another business record is a CONFLICT. Counts of
//! removed rows are keyed by the view's block names (SPEC 11.13).

use serde_json::{Map, Value as Json};
use sqlx::{PgConnection, Row};

use super::definition::{EntityDef, Field, OnDelete, Reference};
use super::error::{EngineError, FieldError};
use super::get::{push_scope, Access};
use super::sql::{column, ident};
use crate::entities::Registry;

/// Every (entity, field) of the registry whose foreign key points at `def`'s table, once per
/// (table, column): views (prospect, prospectuser) share their tables with others.
fn referencing<'r>(registry: &'r Registry, def: &EntityDef) -> Vec<(&'r EntityDef, &'r Field)> {
    let mut seen = std::collections::HashSet::new();
    registry
        .iter()
        .flat_map(|e| e.fields.iter().map(move |f| (e, f)))
        .filter(|(_, f)| match f.reference {
            Some(Reference::Entity(target)) => {
                registry.get(target).map(|t| t.table) == Some(def.table)
            }
            _ => false,
        })
        .filter(|(e, f)| seen.insert((e.table, f.column)))
        .collect()
}

pub async fn delete(
    conn: &mut PgConnection,
    registry: &Registry,
    def: &EntityDef,
    code: &str,
) -> Result<Map<String, Json>, EngineError> {
    let mut qb = sqlx::QueryBuilder::new("SELECT 1 FROM ");
    qb.push(ident(def.table))
        .push(" t WHERE ")
        .push(column("t", def.code_field()))
        .push(" = ");
    qb.push_bind(code.to_string());
    push_scope(&mut qb, def, Access::Write);
    qb.push(" FOR UPDATE");
    if qb.build().fetch_optional(&mut *conn).await?.is_none() {
        return Err(EngineError::NotFound(format!(
            "{} {code:?} does not exist",
            def.name
        )));
    }
    let refs = referencing(registry, def);
    let mut conflicts = Vec::new();
    for (entity, field) in refs
        .iter()
        .filter(|(_, f)| f.on_delete == OnDelete::Restrict)
    {
        // A row that references itself (a customer paying for itself) is not "another" record.
        let mut sql = format!(
            "SELECT count(*) FROM {} t WHERE {} = $1",
            ident(entity.table),
            column("t", field)
        );
        if entity.table == def.table {
            sql.push_str(&format!(" AND {} <> $1", column("t", entity.code_field())));
        }
        let count: i64 = sqlx::query(&sql)
            .bind(code)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        if count > 0 {
            // A reference from the entity's own table is named in this webhook's words
            // (a prospect paid for by another: prospect.prospect_ID_paying).
            let (name, json) = match def
                .fields
                .iter()
                .find(|f| entity.table == def.table && f.column == field.column)
            {
                Some(own) => (def.name, own.json),
                None => (entity.name, field.json),
            };
            let mut e = FieldError::new(
                name,
                json,
                Json::String(code.to_string()),
                format!("{count} {name} row(s) still reference it"),
            );
            e.references = Some(format!("{}.{}", entity.table, field.column));
            conflicts.push(e);
        }
    }
    if !conflicts.is_empty() {
        return Err(EngineError::Conflict {
            message: format!("{} {code:?} is still referenced", def.name),
            details: conflicts,
        });
    }
    let mut deleted = Map::new();
    deleted.insert(def.block.to_string(), Json::from(0));
    for child in &def.children {
        deleted.insert(child.block.to_string(), Json::from(0));
    }
    for (entity, field) in refs
        .iter()
        .filter(|(_, f)| f.on_delete == OnDelete::Cascade)
    {
        let sql = format!(
            "DELETE FROM {} t WHERE {} = $1",
            ident(entity.table),
            column("t", field)
        );
        let n = sqlx::query(&sql)
            .bind(code)
            .execute(&mut *conn)
            .await
            .map_err(conflict_backstop)?
            .rows_affected();
        let key = def
            .children
            .iter()
            .find(|c| registry.get(c.entity).map(|d| d.table) == Some(entity.table))
            .map(|c| c.block)
            .unwrap_or(entity.name);
        if n > 0 || deleted.contains_key(key) {
            let before = deleted.get(key).and_then(Json::as_u64).unwrap_or(0);
            deleted.insert(key.to_string(), Json::from(before + n));
        }
    }
    let sql = format!(
        "DELETE FROM {} t WHERE {} = $1",
        ident(def.table),
        column("t", def.code_field())
    );
    let n = sqlx::query(&sql)
        .bind(code)
        .execute(&mut *conn)
        .await
        .map_err(conflict_backstop)?
        .rows_affected();
    deleted.insert(def.block.to_string(), Json::from(n));
    Ok(deleted)
}

/// A foreign key violation on delete (a reference the definitions do not know of) is a
/// CONFLICT, not a fault.
fn conflict_backstop(e: sqlx::Error) -> EngineError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_foreign_key_violation() {
            return EngineError::Conflict {
                message: db.message().to_string(),
                details: Vec::new(),
            };
        }
    }
    EngineError::Database(e)
}
