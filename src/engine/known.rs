//! What a PUT's lookups found, kept for a short while (`REFERENCE_CACHE_MS`), so that a
//! steady stream of PUTs naming the same reference rows skips its lookup statement (issue
//! 8: the lookup cost PostgreSQL about as much CPU as the upsert's writes), and the labels
//! of generictype codes, so that a reply's ~15 of them are not ~15 sub-selects of every
//! GET, LIST and PUT (render.rs).
//!
//! Only what was *found* is kept: a generictype value's full code, a referenced code that
//! exists, an entity's declared dynamic fields, a generictype code's `originalCode`. What
//! was not found is always asked again, so a row created a moment ago is never refused
//! from here. A kept answer can only be stale for as long as its generation lives:
//! - a referenced row deleted (or recoded) since: the write then fails on its foreign key,
//!   and the engine runs the request again without the cache (engine::apply), which
//!   answers with the precise INVALID_FOREIGN_KEY;
//! - a generictype's `originalCode` or `dataType` edited, or a dynamic field undeclared, by
//!   another worker process: seen here at the latest `ttl` later (in validation and in the
//!   labels of replies). This process's own writes to reference entities clear the cache
//!   at once ([`Known::clear`]).
//!
//! Generations rather than entries expire: every `ttl` the whole cache starts empty, and
//! it never holds more than [`Known::CAPACITY`] answers.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use foldhash::{HashMap, HashSet};

/// The cache shared by the requests of one worker (one database).
pub struct Known {
    ttl: Duration,
    generation: Mutex<Generation>,
}

#[derive(Default)]
struct Generation {
    started: Option<Instant>,
    /// datatype → value as sent → full code.
    generictypes: HashMap<String, HashMap<String, String>>,
    /// table → codes of rows found.
    existing: HashMap<String, HashSet<String>>,
    /// Catalog entity → every declared dynamic field name.
    catalogs: HashMap<String, HashSet<String>>,
    /// generictype code → its `originalCode` (`""` when it has none), as replies show it.
    labels: HashMap<String, String>,
    answers: usize,
}

impl Known {
    /// Past this many answers a generation starts over (a bound on memory: ~100 bytes each).
    pub const CAPACITY: usize = 100_000;

    /// A cache whose answers live `ttl`; `Duration::ZERO` keeps nothing.
    pub fn new(ttl: Duration) -> Known {
        Known {
            ttl,
            generation: Mutex::new(Generation::default()),
        }
    }

    /// A cache that keeps nothing: every PUT runs its lookups.
    pub fn disabled() -> Known {
        Known::new(Duration::ZERO)
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Forget everything (a reference row was written or deleted by this process).
    pub fn clear(&self) {
        *self.lock() = Generation::default();
    }

    /// The full code of a generictype value found earlier.
    pub fn generictype(&self, datatype: &str, value: &str) -> Option<String> {
        let g = self.current()?;
        g.generictypes.get(datatype)?.get(value).cloned()
    }

    /// Whether `code` was found in `table` earlier.
    pub fn exists(&self, table: &str, code: &str) -> bool {
        self.current().is_some_and(|g| {
            g.existing
                .get(table)
                .is_some_and(|codes| codes.contains(code))
        })
    }

    /// Every declared dynamic field of `catalog`, as found earlier.
    pub fn catalog(&self, catalog: &str) -> Option<Vec<String>> {
        let g = self.current()?;
        g.catalogs
            .get(catalog)
            .map(|names| names.iter().cloned().collect())
    }

    /// The `originalCode` of a generictype code found earlier.
    pub fn label(&self, code: &str) -> Option<String> {
        self.current()?.labels.get(code).cloned()
    }

    /// Keep what a lookup found.
    pub fn remember(&self, found: Found<'_>) {
        if !self.enabled() || found.is_empty() {
            return;
        }
        let mut g = self.lock();
        let now = Instant::now();
        if g.started.is_none_or(|s| now.duration_since(s) >= self.ttl)
            || g.answers >= Known::CAPACITY
        {
            *g = Generation {
                started: Some(now),
                ..Generation::default()
            };
        }
        // Answers added (a replaced one counts again: the bound is only reached sooner).
        let added = found.generictypes.len()
            + found.existing.len()
            + found.labels.len()
            + found
                .catalogs
                .iter()
                .map(|(_, names)| names.len())
                .sum::<usize>();
        for (datatype, value, full) in found.generictypes {
            g.generictypes
                .entry(datatype.to_string())
                .or_default()
                .insert(value.to_string(), full.to_string());
        }
        for (table, code) in found.existing {
            g.existing
                .entry(table.to_string())
                .or_default()
                .insert(code.to_string());
        }
        for (code, label) in found.labels {
            g.labels.insert(code.to_string(), label.to_string());
        }
        for (catalog, names) in found.catalogs {
            g.catalogs.insert(
                catalog.to_string(),
                names.into_iter().map(str::to_string).collect(),
            );
        }
        g.answers += added;
    }

    /// The live generation, or `None` when it has expired (or nothing is kept).
    fn current(&self) -> Option<std::sync::MutexGuard<'_, Generation>> {
        if !self.enabled() {
            return None;
        }
        let g = self.lock();
        let live = g.started.is_some_and(|s| s.elapsed() < self.ttl);
        live.then_some(g)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generation> {
        // A panic while holding the lock leaves at worst a partial generation: use it.
        self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What one lookup found, for [`Known::remember`].
#[derive(Debug, Default)]
pub struct Found<'a> {
    /// (datatype, value as sent, full code).
    pub generictypes: Vec<(&'a str, &'a str, &'a str)>,
    /// (table, code).
    pub existing: Vec<(&'a str, &'a str)>,
    /// (catalog entity, every declared name).
    pub catalogs: Vec<(&'a str, Vec<&'a str>)>,
    /// (generictype code, its `originalCode`).
    pub labels: Vec<(&'a str, &'a str)>,
}

impl Found<'_> {
    /// Nothing to keep (a catalog found without any name still counts: it is an answer).
    fn is_empty(&self) -> bool {
        self.generictypes.is_empty()
            && self.existing.is_empty()
            && self.catalogs.is_empty()
            && self.labels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found<'a>() -> Found<'a> {
        Found {
            generictypes: vec![("COUNTRY", "FR", "COUNTRY-FR")],
            existing: vec![("sw_data_baseuser", "U1")],
            catalogs: vec![("customer", vec!["CLI40", "CLI50"])],
            labels: vec![("COUNTRY-FR", "FR")],
        }
    }

    #[test]
    fn it_answers_what_was_found_and_nothing_else() {
        let known = Known::new(Duration::from_secs(60));
        known.remember(found());
        assert_eq!(
            known.generictype("COUNTRY", "FR").as_deref(),
            Some("COUNTRY-FR")
        );
        assert_eq!(known.generictype("COUNTRY", "DE"), None);
        assert_eq!(known.generictype("CIVILITY", "FR"), None, "by datatype");
        assert!(known.exists("sw_data_baseuser", "U1"));
        assert!(!known.exists("sw_data_baseuser", "U2"));
        assert!(!known.exists("sw_data_currency", "U1"), "by table");
        let mut declared = known.catalog("customer").unwrap_or_default();
        declared.sort();
        assert_eq!(declared, ["CLI40", "CLI50"]);
        assert_eq!(known.catalog("prospect"), None);
        assert_eq!(known.label("COUNTRY-FR").as_deref(), Some("FR"));
        assert_eq!(known.label("COUNTRY-DE"), None);
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        let known = Known::disabled();
        known.remember(found());
        assert!(!known.enabled());
        assert_eq!(known.generictype("COUNTRY", "FR"), None);
        assert!(!known.exists("sw_data_baseuser", "U1"));
    }

    #[test]
    fn answers_expire_with_their_generation_and_clear_forgets_them() {
        let known = Known::new(Duration::from_millis(30));
        known.remember(found());
        assert!(known.exists("sw_data_baseuser", "U1"));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!known.exists("sw_data_baseuser", "U1"), "expired");
        known.remember(found());
        assert!(known.exists("sw_data_baseuser", "U1"), "a new generation");
        known.clear();
        assert!(!known.exists("sw_data_baseuser", "U1"));
    }

    #[test]
    fn a_full_generation_starts_over() {
        let known = Known::new(Duration::from_secs(60));
        let codes: Vec<String> = (0..Known::CAPACITY).map(|i| format!("U{i}")).collect();
        known.remember(Found {
            existing: codes.iter().map(|c| ("t", c.as_str())).collect(),
            ..Found::default()
        });
        assert!(known.exists("t", "U0"));
        known.remember(found());
        assert!(!known.exists("t", "U0"), "started over");
        assert!(known.exists("sw_data_baseuser", "U1"));
    }
}
