//! The engine: a decoded request plus an entity definition becomes SQL, run in one
//! PostgreSQL transaction (SPEC section 6: one request, one transaction). No AMQP, no
//! metrics and no reply envelope here: the pipeline owns those.

pub mod definition;
pub mod delete;
pub mod error;
pub mod get;
pub mod hooks;
pub mod idempotency;
pub mod known;
pub mod list;
pub mod lookup;
pub mod put;
pub mod record;
pub mod render;
pub mod sql;
pub mod validate;
pub mod value;
pub mod warm;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use sqlx::Connection;

use crate::database::Db;
use crate::entities::Registry;
use crate::request::{Request, Verb};
use definition::EntityDef;
use error::EngineError;
use idempotency::Previous;
use known::Known;
use put::Guess;

/// What a request did, as the reply will say it (SPEC section 3). Saved with the
/// message_id of a PUT or DELETE, so a redelivery gets the same reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "UPPERCASE")]
pub enum Outcome {
    Get {
        code: String,
        /// Written straight from the row (render.rs, issue 8).
        result: render::JsonText,
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
        /// Written straight from the row (render.rs, issue 8).
        result: render::JsonText,
    },
    Delete {
        code: String,
        deleted: Map<String, Json>,
    },
}

impl Outcome {
    /// The outcome as its idempotency record holds it: what serde writes, with a PUT's
    /// result text put in as it is (serde would check it again: ~4% of a PUT's
    /// instructions, issue 8).
    pub fn to_record(&self) -> String {
        /// A PUT's outcome without its result, as serde writes `Outcome::Put`.
        #[derive(Serialize)]
        #[serde(tag = "verb", rename = "PUT")]
        struct PutHead<'a> {
            code: &'a str,
            created: bool,
        }
        if let Outcome::Put {
            code,
            created,
            result,
        } = self
        {
            let head = PutHead {
                code,
                created: *created,
            };
            if let Ok(mut out) = serde_json::to_vec(&head) {
                if result.append_as_result(&mut out) {
                    if let Ok(text) = String::from_utf8(out) {
                        return text;
                    }
                }
            }
        }
        serde_json::to_string(self).unwrap_or_else(|_| "null".to_string())
    }
}

/// An applied request: its outcome, and whether it was a redelivery answered from the
/// idempotency record.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub outcome: Outcome,
    pub deduplicated: bool,
}

/// Apply one request. A write (PUT, DELETE) runs in one transaction; `message_id` makes it
/// deduplicated: a redelivery gets the saved outcome. A read (GET, LIST) runs without
/// BEGIN/COMMIT: under READ COMMITTED each statement sees its own snapshot either way, and
/// the two round trips are a third of a GET's cost. Every `Err` leaves the database as it
/// was.
///
/// A PUT first leans on `known` (known.rs): when the cache knows every reference, it runs
/// no lookup statement. An attempt whose answer may come from the cache and that does not
/// succeed (an error, or an idempotency record it did not check and cannot read) is rolled
/// back and run again without the cache, so that every error reply, and every answer from
/// a record, is the one the database gives now.
pub async fn apply(
    db: &Db,
    registry: &Registry,
    known: &Known,
    def: &EntityDef,
    request: &Request,
    message_id: Option<&str>,
) -> Result<Applied, EngineError> {
    if !request.verb.writes() {
        let mut conn = db.acquire().await?;
        let mut reads = Guess::new(known);
        let (Step::Done(outcome, _) | Step::Saved(outcome)) =
            run_verb(&mut conn, registry, def, request, None, &mut reads).await?;
        conn.release();
        return Ok(Applied::new(outcome));
    }
    let dedup_id = message_id.filter(|id| !id.is_empty());
    let applied = write_leaning_on(db, registry, known, def, request, dedup_id).await?;
    if forgets(def, request) {
        known.clear();
    }
    Ok(applied)
}

/// A write: a PUT first with the cache's answers, then without them when that attempt
/// did not succeed for a reason the cache may be part of (see [`apply`]).
async fn write_leaning_on(
    db: &Db,
    registry: &Registry,
    known: &Known,
    def: &EntityDef,
    request: &Request,
    dedup_id: Option<&str>,
) -> Result<Applied, EngineError> {
    if request.verb == Verb::Put && known.enabled() {
        let mut guess = Guess::new(known);
        match write(db, registry, def, request, dedup_id, &mut guess).await {
            Ok(Some(applied)) => return Ok(applied),
            Err(e) if e.is_transient() || !guess.guessed() => return Err(e),
            Err(EngineError::InvalidForeignKey(_)) => known.clear(),
            Err(_) | Ok(None) => {}
        }
    }
    let without = Known::disabled();
    let applied = write(
        db,
        registry,
        def,
        request,
        dedup_id,
        &mut Guess::new(&without),
    )
    .await?;
    applied.ok_or_else(|| {
        EngineError::Database(sqlx::Error::Protocol(
            "a write without the cache asked to run again".into(),
        ))
    })
}

/// Whether a committed write may change what the cache knows: a DELETE, or a PUT of a
/// generictype or of the dynamic-field catalog (known.rs). Other rows are only created or
/// updated, which leaves every kept answer true, or their foreign keys tell (a recoding).
fn forgets(def: &EntityDef, request: &Request) -> bool {
    request.verb == Verb::Delete || def.name == sql::GENERICTYPE || def.table == sql::CATALOG_TABLE
}

/// A write in one transaction. `Ok(None)`: the attempt leaned on the cache and must run
/// again without it (its idempotency record was taken and is unreadable here).
///
/// The connection is released for the next request only after a COMMIT or ROLLBACK that
/// completed; on any other way out it goes back through sqlx's pool, which sends the
/// ROLLBACK queued by the dropped transaction at once (database.rs).
async fn write(
    db: &Db,
    registry: &Registry,
    def: &EntityDef,
    request: &Request,
    dedup_id: Option<&str>,
    guess: &mut Guess<'_>,
) -> Result<Option<Applied>, EngineError> {
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin().await?;
    let step = match run_verb(&mut tx, registry, def, request, dedup_id, guess).await {
        Ok(step) => step,
        Err(e) => {
            drop(tx); // rolled back
            drop(conn); // before `saved` takes a connection of its own
            return Err(match (dedup_id, e.is_transient()) {
                (Some(id), false) => match saved(db, id, def.name).await {
                    // A delivery of the same message that ran at the same time applied it
                    // (this one then failed, e.g. its recoding origin was gone): its outcome.
                    Some(outcome) => return Ok(Some(Applied::deduplicated(outcome))),
                    None => e,
                },
                _ => e,
            });
        }
    };
    let (outcome, previous) = match step {
        Step::Done(outcome, previous) => (outcome, previous),
        Step::Saved(outcome) => {
            tx.rollback().await?;
            conn.release();
            return Ok(Some(Applied::deduplicated(outcome)));
        }
    };
    if let Some(id) = dedup_id {
        let overwrite = matches!(previous, Previous::Unreadable);
        if !idempotency::record(&mut tx, id, def.name, &outcome, overwrite).await? {
            tx.rollback().await?;
            conn.release();
            return match saved(db, id, def.name).await {
                Some(outcome) => Ok(Some(Applied::deduplicated(outcome))),
                None if guess.unchecked => Ok(None),
                None => Err(EngineError::Database(sqlx::Error::Protocol(format!(
                    "the idempotency record of message_id {id:?} was taken, then not found"
                )))),
            };
        }
    }
    tx.commit().await?;
    conn.release();
    Ok(Some(Applied::new(outcome)))
}

impl Applied {
    fn new(outcome: Outcome) -> Applied {
        Applied {
            outcome,
            deduplicated: false,
        }
    }
    fn deduplicated(outcome: Outcome) -> Applied {
        Applied {
            outcome,
            deduplicated: true,
        }
    }
}

/// The outcome saved for a message by another delivery, read outside the failed
/// transaction. A fault reading it is no answer: the caller reports its own error.
async fn saved(db: &Db, message_id: &str, entity: &str) -> Option<Outcome> {
    let mut conn = db.acquire().await.ok()?;
    let previous = idempotency::check(&mut conn, message_id, entity)
        .await
        .ok()?;
    conn.release();
    match previous {
        Previous::Saved(outcome) => Some(outcome),
        _ => None,
    }
}

/// What running a verb came to.
enum Step {
    /// Applied (not yet recorded nor committed), and what an earlier delivery left.
    Done(Outcome, Previous),
    /// An earlier delivery applied it: its outcome; nothing was written.
    Saved(Outcome),
}

async fn run_verb(
    conn: &mut sqlx::PgConnection,
    registry: &Registry,
    def: &EntityDef,
    request: &Request,
    dedup_id: Option<&str>,
    guess: &mut Guess<'_>,
) -> Result<Step, EngineError> {
    let code = || {
        request
            .code
            .clone()
            .ok_or_else(|| EngineError::InvalidRequest("missing code".into()))
    };
    let done = |outcome| Ok(Step::Done(outcome, Previous::None));
    let known = guess.known;
    match request.verb {
        Verb::Get => {
            let code = code()?;
            let result = get::get(conn, registry, known, def, request, &code).await?;
            done(Outcome::Get { code, result })
        }
        Verb::List => {
            let page = list::list(conn, registry, known, def, request).await?;
            let count = page.items.len();
            let mut result = Map::new();
            result.insert(def.block.to_string(), Json::Array(page.items));
            done(Outcome::List {
                result,
                count,
                total: page.total,
                limit: request.limit,
                offset: request.offset,
                has_more: (request.offset as i64).saturating_add(count as i64) < page.total,
            })
        }
        Verb::Put => match put::put(conn, registry, def, request, dedup_id, guess).await? {
            put::Put::Saved(outcome) => Ok(Step::Saved(outcome)),
            put::Put::Done(put, previous) => Ok(Step::Done(
                Outcome::Put {
                    code: put.code,
                    created: put.created,
                    result: put.result,
                },
                previous,
            )),
        },
        Verb::Delete => {
            let code = code()?;
            let previous = match dedup_id {
                Some(id) => idempotency::check(conn, id, def.name).await?,
                None => Previous::None,
            };
            if let Previous::Saved(outcome) = previous {
                return Ok(Step::Saved(outcome));
            }
            let deleted = delete::delete(conn, registry, def, &code).await?;
            Ok(Step::Done(Outcome::Delete { code, deleted }, previous))
        }
    }
}
