//! Rule hooks: the few rules that a definition cannot express as data (isIndividual's main
//! contact, ...). A hook is a named function in its entity's file, run by the engine after
//! the request's blocks are written, inside the request's transaction.

use futures_util::future::BoxFuture;
use sqlx::PgConnection;

use super::error::EngineError;

/// What a hook is told about the row the request wrote.
#[derive(Debug)]
pub struct Written<'a> {
    /// The entity's table (from the definition).
    pub table: &'static str,
    /// The code of the row, after any recoding.
    pub code: &'a str,
    /// True when this request created the row.
    pub created: bool,
}

pub type HookFn =
    for<'a> fn(&'a mut PgConnection, &'a Written<'a>) -> BoxFuture<'a, Result<(), EngineError>>;

/// A named rule, run after the blocks are written (SPEC 8.1 "at the end of the create/update").
#[derive(Clone)]
pub struct Hook {
    pub name: &'static str,
    pub run: HookFn,
    /// JSON name of a Bool field: the rule applies only to rows that store it true (the
    /// engine reads it back from the upsert, so the rule costs nothing elsewhere).
    pub only_if: Option<&'static str>,
    /// The rule never changes its entity's own row: the reply can be rendered from the
    /// upsert's RETURNING, without reading the row back after the hooks.
    pub keeps_row: bool,
}

impl Hook {
    /// A rule that may change any row, its entity's own included, and runs for every row.
    pub fn new(name: &'static str, run: HookFn) -> Hook {
        Hook {
            name,
            run,
            only_if: None,
            keeps_row: false,
        }
    }

    pub fn only_if(mut self, bool_field: &'static str) -> Hook {
        self.only_if = Some(bool_field);
        self
    }

    pub fn keeps_row(mut self) -> Hook {
        self.keeps_row = true;
        self
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook").field("name", &self.name).finish()
    }
}
