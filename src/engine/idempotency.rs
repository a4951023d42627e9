//! Deduplication by message_id (SPEC section 6), per entity, inside the request's transaction:
//! the record is checked with the request's other lookups (`push_check`), and the outcome
//! recorded just before the commit (`record`). A request that fails leaves no record. Two
//! deliveries of one message that run at once both pass the check; the second one's
//! `record` then waits on the first one's key and finds it: it rolls back and answers with
//! the first one's outcome.

use sqlx::PgConnection;

use super::error::EngineError;
use super::lookup::{Found, Lookup, Tag};
use super::Outcome;

/// What an earlier delivery of the same message left.
#[derive(Debug)]
pub enum Previous {
    /// Nothing: first delivery (or the earlier ones failed).
    None,
    /// Applied: here is what it did.
    Saved(Outcome),
    /// A record that this version cannot read (written by another): process afresh and
    /// overwrite it.
    Unreadable,
}

/// Add the check of `message_id` to a batch of lookups (one round trip with the others).
pub fn push_check(lookup: &mut Lookup<'_>, message_id: &str, entity: &str) {
    lookup.branch(Tag::Inbox, |qb| {
        // `outcome` (jsonb) holds the records written before migration 0007.
        qb.push(
            "0::int4, coalesce(outcome_text, outcome::text) FROM webhook_inbox WHERE entity = ",
        )
        .push_bind(entity.to_string())
        .push(" AND message_id = ")
        .push_bind(message_id.to_string());
    });
}

/// The record found by `push_check`'s branch.
pub fn previous(found: &Found) -> Previous {
    match found.of(Tag::Inbox).next() {
        None => Previous::None,
        Some((_, text)) => match serde_json::from_str::<Outcome>(text.unwrap_or("null")) {
            Ok(outcome) => Previous::Saved(outcome),
            Err(_) => Previous::Unreadable,
        },
    }
}

/// The record of `message_id`, on its own.
pub async fn check(
    conn: &mut PgConnection,
    message_id: &str,
    entity: &str,
) -> Result<Previous, EngineError> {
    let mut lookup = Lookup::default();
    push_check(&mut lookup, message_id, entity);
    Ok(previous(&lookup.run(conn).await?))
}

/// Record what the request did, before the commit. `false` when another delivery of the
/// same message recorded it first (it ran concurrently and committed): the caller rolls
/// back and answers with that record. `overwrite` replaces an unreadable record.
pub async fn record(
    conn: &mut PgConnection,
    message_id: &str,
    entity: &str,
    outcome: &Outcome,
    overwrite: bool,
) -> Result<bool, EngineError> {
    const INSERT: &str = "INSERT INTO webhook_inbox (message_id, entity, outcome_text) \
                          VALUES ($1, $2, $3) ON CONFLICT (entity, message_id) DO NOTHING";
    const OVERWRITE: &str = "INSERT INTO webhook_inbox (message_id, entity, outcome_text) \
                             VALUES ($1, $2, $3) ON CONFLICT (entity, message_id) \
                             DO UPDATE SET outcome_text = EXCLUDED.outcome_text, outcome = NULL";
    let json = outcome.to_record();
    let inserted = sqlx::query(if overwrite { OVERWRITE } else { INSERT })
        .bind(message_id)
        .bind(entity)
        .bind(json)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(inserted == 1)
}

/// Remove records older than the retention (SPEC section 6, default 7 days).
pub async fn prune(
    conn: &mut PgConnection,
    retention: std::time::Duration,
) -> Result<u64, EngineError> {
    let seconds = retention.as_secs_f64();
    let n = sqlx::query(
        "DELETE FROM webhook_inbox WHERE created_at < now() - make_interval(secs => $1)",
    )
    .bind(seconds)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n)
}
