//! LIST: filters, sort order and paging from the definition (SPEC section 2). Filter and
//! sort names are looked up in the definition; values are always bound.

use serde_json::{Map, Value as Json};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use super::definition::{EntityDef, Field, Filter, Op, Reference, Type};
use super::error::EngineError;
use super::get::{push_scope, Access};
use super::known::Known;
use super::render::{result_of_block, Projection};
use super::sql::{column, ident, like_escape};
use super::value::{self, Value};
use crate::entities::Registry;
use crate::request::Request;

/// One page of a LIST.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Page {
    pub items: Vec<Json>,
    pub total: i64,
}

pub async fn list(
    conn: &mut PgConnection,
    registry: &Registry,
    known: &Known,
    def: &EntityDef,
    request: &Request,
) -> Result<Page, EngineError> {
    let conditions = plan_filters(def, &request.filters)?;
    let order = plan_order(def, request.order_by.as_deref())?;

    let mut count = QueryBuilder::new("SELECT count(*) FROM ");
    count.push(ident(def.table)).push(" t WHERE TRUE");
    push_conditions(&mut count, def, &conditions);
    let total: i64 = count.build().fetch_one(&mut *conn).await?.try_get(0)?;

    let projection = Projection::new(def, request.result_type);
    let mut qb = QueryBuilder::new("");
    projection.push_select_from(&mut qb);
    qb.push(" WHERE TRUE");
    push_conditions(&mut qb, def, &conditions);
    qb.push(" ORDER BY ").push(order);
    qb.push(" LIMIT ").push_bind(request.limit as i64);
    qb.push(" OFFSET ")
        .push_bind(request.offset.min(i64::MAX as u64) as i64);
    let rows = qb.build().fetch_all(&mut *conn).await?;

    let mut items = Vec::with_capacity(rows.len());
    for block in projection.blocks(conn, known, &rows).await? {
        let (_, result) =
            result_of_block(conn, registry, known, &projection, block, request.settings).await?;
        items.push(Json::Object(item_of_result(def, result)));
    }
    Ok(Page { items, total })
}

/// A LIST item: the entity block's fields, then `related` / `indicators` when asked.
fn item_of_result(def: &EntityDef, mut result: Map<String, Json>) -> Map<String, Json> {
    let mut item = match result.remove(def.block) {
        Some(Json::Object(block)) => block,
        _ => Map::new(),
    };
    item.extend(result);
    item
}

/// A filter ready to push: its field, comparison and typed values.
struct Condition<'a> {
    field: &'a Field,
    op: Op,
    values: Vec<Value>,
    text: String,
}

fn invalid(filter: &str, message: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidRequest(format!("filter {filter:?}: {message}"))
}

fn plan_filters<'a>(
    def: &'a EntityDef,
    filters: &[(String, String)],
) -> Result<Vec<Condition<'a>>, EngineError> {
    filters
        .iter()
        .map(|(name, text)| {
            let filter: &Filter = def
                .filters
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    let known: Vec<_> = def.filters.iter().map(|f| f.name).collect();
                    invalid(
                        name,
                        format_args!("unknown filter (known: {})", known.join(", ")),
                    )
                })?;
            let field = def
                .field(filter.field)
                .ok_or_else(|| invalid(name, "filter names no field"))?;
            let parts: Vec<&str> = match filter.op {
                Op::Between => {
                    let parts: Vec<&str> = text.split('|').collect();
                    if parts.len() != 2 {
                        return Err(invalid(
                            name,
                            "a between value is \"v1|v2\" with exactly one |",
                        ));
                    }
                    parts
                }
                _ => vec![text.as_str()],
            };
            let values = match filter.op {
                Op::Contains | Op::StartsWith | Op::EndsWith | Op::LinkedThrough { .. } => {
                    Vec::new()
                }
                _ if is_textual(field) => {
                    parts.iter().map(|p| Value::Text(p.to_string())).collect()
                }
                _ => parts
                    .iter()
                    .map(|p| value::parse_text(filter_type(field), p).map_err(|e| invalid(name, e)))
                    .collect::<Result<_, _>>()?,
            };
            Ok(Condition {
                field,
                op: filter.op,
                values,
                text: text.clone(),
            })
        })
        .collect()
}

fn is_textual(field: &Field) -> bool {
    matches!(field.ty, Type::Varchar(_) | Type::Text)
}

/// Dates compare as date-times, so that `eventDate >= "2021-06-04"` works on a DateTime.
fn filter_type(field: &Field) -> Type {
    match field.ty {
        Type::Date => Type::DateTime,
        ty => ty,
    }
}

fn push_conditions(
    qb: &mut QueryBuilder<'_, Postgres>,
    def: &EntityDef,
    conditions: &[Condition<'_>],
) {
    push_scope(qb, def, Access::Read);
    for c in conditions {
        let col = column("t", c.field);
        qb.push(" AND ");
        match c.op {
            Op::Equal => match (c.field.reference, c.values.first()) {
                // A generictype value may be the full code or the originalCode (SPEC 3).
                (Some(Reference::GenericType(datatype)), Some(v)) => {
                    qb.push("(").push(&col).push(" = ");
                    value::push_bind(qb, c.field.ty, v);
                    qb.push(" OR ").push(&col).push(" IN (SELECT codegenerictype FROM sw_data_generictype WHERE \"dataType\" = ");
                    qb.push_bind(datatype.to_string())
                        .push(" AND \"originalCode\" = ");
                    value::push_bind(qb, c.field.ty, v);
                    qb.push("))");
                }
                (_, Some(v)) => {
                    qb.push(&col).push(" = ");
                    value::push_bind(qb, filter_type(c.field), v);
                }
                (_, None) => {
                    qb.push("FALSE");
                }
            },
            Op::Contains | Op::StartsWith | Op::EndsWith => {
                let escaped = like_escape(&c.text);
                let pattern = match c.op {
                    Op::Contains => format!("%{escaped}%"),
                    Op::StartsWith => format!("{escaped}%"),
                    _ => format!("%{escaped}"),
                };
                qb.push(&col).push(" ILIKE ").push_bind(pattern);
            }
            Op::GreaterOrEqual => {
                qb.push(&col).push(" >= ");
                push_first(qb, c);
            }
            Op::Between => {
                qb.push(&col).push(" BETWEEN ");
                push_first(qb, c);
                qb.push(" AND ");
                if let Some(v) = c.values.get(1) {
                    value::push_bind(qb, filter_type(c.field), v);
                }
            }
            Op::LinkedThrough {
                table,
                link,
                column,
            } => {
                let code = column_of_code(def);
                qb.push(format!(
                    "EXISTS (SELECT 1 FROM {} x WHERE x.{} = {code} AND x.{} = ",
                    ident(table),
                    ident(link),
                    ident(column)
                ));
                qb.push_bind(c.text.clone()).push(")");
            }
            Op::NotClosedBefore => {
                qb.push("(")
                    .push(&col)
                    .push(" IS NULL OR ")
                    .push(&col)
                    .push(" > ");
                push_first(qb, c);
                qb.push(")");
            }
        }
    }
}

fn column_of_code(def: &EntityDef) -> String {
    column("t", def.code_field())
}

fn push_first(qb: &mut QueryBuilder<'_, Postgres>, c: &Condition<'_>) {
    match c.values.first() {
        Some(v) => value::push_bind(qb, filter_type(c.field), v),
        None => {
            qb.push("NULL");
        }
    }
}

/// `ORDER BY` from the definition's sort (ties broken by code, so pages are stable); by code
/// when no orderBy is given (SPEC section 2).
fn plan_order(def: &EntityDef, order_by: Option<&str>) -> Result<String, EngineError> {
    let code = column("t", def.code_field());
    let Some(name) = order_by else {
        return Ok(format!("{code} ASC"));
    };
    let sort = def
        .sorts
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let known: Vec<_> = def.sorts.iter().map(|s| s.name).collect();
            EngineError::InvalidRequest(format!(
                "unknown orderBy {name:?} (known: {})",
                known.join(", ")
            ))
        })?;
    let field = def
        .field(sort.field)
        .ok_or_else(|| EngineError::InvalidRequest(format!("orderBy {name:?} names no field")))?;
    let dir = if sort.descending { "DESC" } else { "ASC" };
    Ok(format!(
        "{} {dir} NULLS LAST, {code} ASC",
        column("t", field)
    ))
}
