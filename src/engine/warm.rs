//! Warming a new database connection before it serves requests (issue 8).
//!
//! A new PostgreSQL backend reads the catalog of every table, index and constraint a
//! statement names the first time it meets them, and a statement is parsed and planned the
//! first time a connection runs it. Seed 004's Customer PUT took ~22 ms on the first request
//! of a connection instead of ~6 ms (docs/performance.md): a worker that just started (or
//! reconnected) answered its first second of requests up to 220 ms late. The pool runs
//! [`warm_up`] on every new connection before handing it out: the GET statement of each
//! served entity (its table, child tables and the tables its labels come from) and the
//! idempotency record's check and INSERT, in a transaction that is rolled back. Nothing is
//! written.

use sqlx::{Connection, PgConnection};

use super::error::EngineError;
use super::known::Known;
use super::{get, idempotency, Outcome};
use crate::entities::Registry;
use crate::request::{Request, ResultType, Settings, Verb};

/// A code no request can carry (codes are trimmed and non-empty).
const NO_CODE: &str = "";

/// Run on `conn` the statements that serve `entities` most often, with values that match
/// no row. A fault is a fault of the connection: the pool drops it and opens another.
pub async fn warm_up(
    conn: &mut PgConnection,
    registry: &Registry,
    entities: &[&str],
) -> Result<(), EngineError> {
    let request = Request {
        verb: Verb::Get,
        code: Some(NO_CODE.to_string()),
        result_type: ResultType::Extended,
        settings: Settings::default(),
        filters: Vec::new(),
        order_by: None,
        limit: 1,
        offset: 0,
        body: Default::default(),
        webhook_version: 2,
    };
    let outcome = Outcome::Delete {
        code: NO_CODE.to_string(),
        deleted: Default::default(),
    };
    for def in entities.iter().filter_map(|name| registry.get(name)) {
        match get::get(conn, registry, &Known::disabled(), def, &request, NO_CODE).await {
            Ok(_) | Err(EngineError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let mut tx = conn.begin().await?;
        idempotency::check(&mut tx, NO_CODE, def.name).await?;
        idempotency::record(&mut tx, NO_CODE, def.name, &outcome, false).await?;
        tx.rollback().await?;
    }
    Ok(())
}
