//! Deduplication by message_id (SPEC section 6), per entity, inside the request's transaction:
//! `claim` records the id (or finds the outcome saved by an earlier delivery), `save`
//! stores the outcome before the commit. A request that fails leaves no record.

use sqlx::{PgConnection, PgPool, Row};

use super::error::EngineError;
use super::Outcome;

pub enum NextAction {
    /// First time this message_id is seen: process it.
    Process,
    /// Already applied: here is what it did.
    Saved(Outcome),
}

pub async fn claim(
    conn: &mut PgConnection,
    message_id: &str,
    entity: &str,
) -> Result<NextAction, EngineError> {
    let inserted = sqlx::query(
        "INSERT INTO webhook_inbox (message_id, entity, outcome) VALUES ($1, $2, 'null') ON CONFLICT DO NOTHING",
    )
    .bind(message_id)
    .bind(entity)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(NextAction::Process);
    }
    let row = sqlx::query(
        "SELECT outcome::text FROM webhook_inbox WHERE entity = $2 AND message_id = $1",
    )
    .bind(message_id)
    .bind(entity)
    .fetch_one(&mut *conn)
    .await?;
    let text: String = row.try_get(0)?;
    match serde_json::from_str::<Outcome>(&text) {
        Ok(outcome) => Ok(NextAction::Saved(outcome)),
        // Unreadable record (written by another version): process afresh, overwrite it.
        Err(_) => Ok(NextAction::Process),
    }
}

pub async fn save(
    conn: &mut PgConnection,
    message_id: &str,
    entity: &str,
    outcome: &Outcome,
) -> Result<(), EngineError> {
    let json = serde_json::to_string(outcome).unwrap_or_else(|_| "null".to_string());
    sqlx::query(
        "UPDATE webhook_inbox SET outcome = $3::jsonb WHERE entity = $2 AND message_id = $1",
    )
    .bind(message_id)
    .bind(entity)
    .bind(json)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Remove records older than the retention (SPEC section 6, default 7 days).
pub async fn prune(pool: &PgPool, retention: std::time::Duration) -> Result<u64, EngineError> {
    let seconds = retention.as_secs_f64();
    let n = sqlx::query(
        "DELETE FROM webhook_inbox WHERE created_at < now() - make_interval(secs => $1)",
    )
    .bind(seconds)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n)
}
