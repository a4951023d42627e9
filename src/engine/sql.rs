//! SQL helpers. Identifiers come only from the `&'static str`s of definitions (STYLE
//! section 4); every value goes through `push_bind`.

use std::hash::Hash;
use std::sync::{Arc, Mutex};

use foldhash::{HashMap, HashMapExt};

use super::definition::{EntityDef, Field, Reference};
use crate::entities::Registry;

/// A bounded map shared by every request: past `capacity` keys, new entries are not
/// kept (a key already kept is still replaced). A poisoned lock is used as it is: each
/// operation is a single get or insert, so a panic elsewhere cannot leave it half-written.
pub struct Cache<K, V> {
    entries: Mutex<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> Cache<K, V> {
    pub fn new(capacity: usize) -> Cache<K, V> {
        Cache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.lock().get(key).cloned()
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.lock();
        if entries.len() < self.capacity || entries.contains_key(&key) {
            entries.insert(key, value);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// SQL texts by shape, each built once: building the text of a seed-shaped PUT (~85
/// columns, its reply's projection) took more of the worker's CPU than the rest of the
/// request (issue 8, callgrind). The values are bound apart, in the order the text numbers
/// them. Bounded: past `capacity` shapes (requests giving ever other sets of fields), texts
/// are built per request again rather than kept.
pub type TextCache<K> = Cache<K, Arc<str>>;

impl<K: Hash + Eq> Cache<K, Arc<str>> {
    pub fn get_or_build(&self, key: K, build: impl FnOnce() -> String) -> Arc<str> {
        if let Some(text) = self.get(&key) {
            return text;
        }
        let text: Arc<str> = build().into();
        self.insert(key, text.clone());
        text
    }
}

/// Name of the generictype entity: its foreign keys render as `originalCode` (SPEC 3).
pub const GENERICTYPE: &str = "generictype";
/// Table of the dynamic-field catalog (SPEC 8.4).
pub const CATALOG_TABLE: &str = "sw_data_dynamicfield";
/// Column holding the dynamic fields of an entity that has them (migration convention).
pub const DYNAMIC_COLUMN: &str = "dynamicfields";

/// A quoted identifier. Names come from definitions, never from a request.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `alias."column"`.
pub fn column(alias: &str, field: &Field) -> String {
    format!("{alias}.{}", ident(field.column))
}

/// The entity a foreign key points at, through the registry.
pub fn target(registry: &Registry, reference: Reference) -> Option<&EntityDef> {
    match reference {
        Reference::Entity(name) => registry.get(name),
        Reference::GenericType(_) => registry.get(GENERICTYPE),
    }
}

/// Does this field point at a generictype row (rendered as its `originalCode`)?
pub fn is_generictype(field: &Field) -> bool {
    matches!(
        field.reference,
        Some(Reference::GenericType(_)) | Some(Reference::Entity(GENERICTYPE))
    )
}

/// Escape `%`, `_` and `\` for a LIKE pattern built around a bound value.
pub fn like_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("postalCode"), "\"postalCode\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn a_text_is_built_once_per_key_and_the_cache_is_bounded() {
        let cache = TextCache::new(1);
        let mut builds = 0;
        let mut build = |text: &str| {
            builds += 1;
            text.to_string()
        };
        assert_eq!(&*cache.get_or_build("a", || build("A")), "A");
        assert_eq!(&*cache.get_or_build("a", || build("other")), "A");
        assert_eq!(&*cache.get_or_build("b", || build("B")), "B");
        assert_eq!(&*cache.get_or_build("b", || build("B")), "B");
        assert_eq!(builds, 3, "b is past the capacity: built each time");
    }

    #[test]
    fn a_kept_key_is_replaced_even_when_the_cache_is_full() {
        let cache = Cache::new(1);
        cache.insert("a", 1);
        cache.insert("b", 2);
        cache.insert("a", 3);
        assert_eq!(cache.get(&"a"), Some(3));
        assert_eq!(cache.get(&"b"), None, "past the capacity");
    }

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(like_escape("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
