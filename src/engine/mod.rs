//! The engine: a decoded request plus an entity definition becomes SQL, run in one
//! PostgreSQL transaction (SPEC section 6: one request, one transaction). No AMQP, no
//! metrics and no reply envelope here: the pipeline owns those.

pub mod definition;
pub mod delete;
pub mod error;
pub mod get;
pub mod hooks;
pub mod idempotency;
pub mod list;
pub mod put;
pub mod render;
pub mod sql;
pub mod validate;
pub mod value;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use sqlx::PgPool;

use crate::entities::Registry;
use crate::request::{Request, Verb};
use definition::EntityDef;
use error::EngineError;
use idempotency::NextAction;

/// What a request did, as the reply will say it (SPEC section 3). Saved with the
/// message_id of a PUT or DELETE, so a redelivery gets the same reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "UPPERCASE")]
pub enum Outcome {
    Get {
        code: String,
        result: Map<String, Json>,
    },
    List {
        result: Map<String, Json>,
        count: usize,
        total: i64,
        limit: u32,
        offset: u64,
        has_more: bool,
    },
    Put {
        code: String,
        created: bool,
        result: Map<String, Json>,
    },
    Delete {
        code: String,
        deleted: Map<String, Json>,
    },
}

/// An applied request: its outcome, and whether it was a redelivery answered from the
/// idempotency record.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub outcome: Outcome,
    pub deduplicated: bool,
}

/// Apply one request in one transaction. `message_id` enables deduplication of PUT and
/// DELETE. Every `Err` leaves the database as it was.
pub async fn apply(
    pool: &PgPool,
    registry: &Registry,
    def: &EntityDef,
    request: &Request,
    message_id: Option<&str>,
) -> Result<Applied, EngineError> {
    let mut tx = pool.begin().await?;
    let dedup_id = message_id.filter(|id| request.verb.writes() && !id.is_empty());
    if let Some(id) = dedup_id {
        if let NextAction::Saved(outcome) = idempotency::claim(&mut tx, id, def.name).await? {
            tx.rollback().await?;
            return Ok(Applied {
                outcome,
                deduplicated: true,
            });
        }
    }
    let outcome = run_verb(&mut tx, registry, def, request).await?;
    if let Some(id) = dedup_id {
        idempotency::save(&mut tx, id, def.name, &outcome).await?;
    }
    tx.commit().await?;
    Ok(Applied {
        outcome,
        deduplicated: false,
    })
}

async fn run_verb(
    conn: &mut sqlx::PgConnection,
    registry: &Registry,
    def: &EntityDef,
    request: &Request,
) -> Result<Outcome, EngineError> {
    let code = || {
        request
            .code
            .clone()
            .ok_or_else(|| EngineError::InvalidRequest("missing code".into()))
    };
    Ok(match request.verb {
        Verb::Get => {
            let code = code()?;
            let result = get::get(conn, registry, def, request, &code).await?;
            Outcome::Get { code, result }
        }
        Verb::List => {
            let page = list::list(conn, registry, def, request).await?;
            let count = page.items.len();
            let mut result = Map::new();
            result.insert(def.block.to_string(), Json::Array(page.items));
            Outcome::List {
                result,
                count,
                total: page.total,
                limit: request.limit,
                offset: request.offset,
                has_more: (request.offset as i64).saturating_add(count as i64) < page.total,
            }
        }
        Verb::Put => {
            let put = put::put(conn, registry, def, request).await?;
            Outcome::Put {
                code: put.code,
                created: put.created,
                result: put.result,
            }
        }
        Verb::Delete => {
            let code = code()?;
            let deleted = delete::delete(conn, registry, def, &code).await?;
            Outcome::Delete { code, deleted }
        }
    })
}
