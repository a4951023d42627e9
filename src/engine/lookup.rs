//! One round trip for every read a write needs before it writes: the idempotency record,
//! the dynamic-field catalog, generictype completion and the foreign keys are branches of
//! one `UNION ALL`, each yielding `(tag, n, text)`. A PUT thus pays one statement for all
//! its checks, whatever the number of blocks and references (issue 8: statements, not
//! rows, are what a PUT costs on a busy database).

use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use super::error::EngineError;

/// What a branch looks up; the first column of its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Tag {
    /// The outcome saved for this message_id (idempotency.rs).
    Inbox = 0,
    /// A declared dynamic field name (validate.rs).
    Catalog = 1,
    /// The full code of the n-th generictype value, or NULL (validate.rs).
    GenericType = 2,
    /// An existing code of the n-th referenced table (validate.rs).
    Existing = 3,
}

/// A batch of lookups under construction.
pub struct Lookup<'q> {
    qb: QueryBuilder<'q, Postgres>,
    branches: usize,
}

impl Default for Lookup<'_> {
    fn default() -> Self {
        Lookup {
            qb: QueryBuilder::new(""),
            branches: 0,
        }
    }
}

impl<'q> Lookup<'q> {
    /// Start a branch: `(SELECT <tag>::int4, ` is pushed; the caller pushes
    /// `<n>::int4, <text>::text FROM ...` and nothing else (the parenthesis is closed here).
    pub fn branch(&mut self, tag: Tag, body: impl FnOnce(&mut QueryBuilder<'q, Postgres>)) {
        if self.branches > 0 {
            self.qb.push(" UNION ALL ");
        }
        self.qb.push(format!("(SELECT {}::int4, ", tag as i32));
        body(&mut self.qb);
        self.qb.push(")");
        self.branches += 1;
    }

    /// Whether no branch was pushed (`run` then runs no statement).
    pub fn is_empty(&self) -> bool {
        self.branches == 0
    }

    /// Run every branch in one statement (none when there is no branch).
    pub async fn run(mut self, conn: &mut PgConnection) -> Result<Found, EngineError> {
        if self.branches == 0 {
            return Ok(Found::default());
        }
        let mut rows = Vec::new();
        for row in self.qb.build().fetch_all(&mut *conn).await? {
            rows.push((
                row.try_get::<i32, _>(0)?,
                row.try_get::<i32, _>(1)?,
                row.try_get::<Option<String>, _>(2)?,
            ));
        }
        Ok(Found { rows })
    }
}

/// The rows of a run lookup.
#[derive(Debug, Default)]
pub struct Found {
    rows: Vec<(i32, i32, Option<String>)>,
}

impl Found {
    /// A row answered without its branch (the cache, known.rs), read as the branch's own.
    pub fn add(&mut self, tag: Tag, n: i32, text: String) {
        self.rows.push((tag as i32, n, Some(text)));
    }

    /// `(n, text)` of every row of the branches of this tag.
    pub fn of(&self, tag: Tag) -> impl Iterator<Item = (i32, Option<&str>)> {
        self.rows
            .iter()
            .filter(move |(t, _, _)| *t == tag as i32)
            .map(|(_, n, text)| (*n, text.as_deref()))
    }
}
