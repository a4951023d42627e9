//! `import FILE`: load reference rows through the engine, as PUTs without a message_id, so
//! that loading twice changes nothing (SPEC section 9). The file is
//! `{"<entity>": [ {block}, ... ], ...}`, loaded in file order (dependencies first).

use serde_json::{Map, Value as Json};
use sqlx::PgPool;

use crate::database::Db;
use crate::engine::known::Known;
use crate::engine::{self, Outcome};
use crate::entities::Registry;
use crate::request::{Request, ResultType, Settings, Verb};

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
    /// `entity[index]: error` for each row that failed.
    pub failed: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the import file must be a JSON object of entity names to arrays of blocks")]
    Shape,
    #[error("unknown entity {0:?} in the import file")]
    UnknownEntity(String),
}

/// Apply every row; rows that fail are reported and the others still load.
pub async fn import(
    pool: &PgPool,
    registry: &Registry,
    data: &Json,
) -> Result<ImportSummary, ImportError> {
    let sections = data.as_object().ok_or(ImportError::Shape)?;
    let mut summary = ImportSummary::default();
    let db = Db::new(pool.clone());
    for (entity, rows) in sections {
        let def = registry
            .get(entity)
            .ok_or_else(|| ImportError::UnknownEntity(entity.clone()))?;
        // Import writes rows of any type: suspects and prospects come from import (SPEC
        // 11.6), so the webhook's type scope does not apply; its create defaults still do.
        let mut def = def.clone();
        def.scope = None;
        let def = &def;
        let rows = rows.as_array().ok_or(ImportError::Shape)?;
        for (i, row) in rows.iter().enumerate() {
            let mut body = Map::new();
            body.insert("verb".into(), Json::String("PUT".into()));
            body.insert(def.block.to_string(), row.clone());
            let request = Request {
                verb: Verb::Put,
                code: None,
                result_type: ResultType::Extended,
                settings: Settings::default(),
                filters: Vec::new(),
                order_by: None,
                limit: 0,
                offset: 0,
                body,
                webhook_version: 1,
            };
            match engine::apply(&db, registry, &Known::disabled(), def, &request, None).await {
                Ok(applied) => match applied.outcome {
                    Outcome::Put { created: true, .. } => summary.created += 1,
                    _ => summary.updated += 1,
                },
                Err(e) => summary.failed.push(format!("{entity}[{i}]: {e}")),
            }
        }
    }
    Ok(summary)
}
