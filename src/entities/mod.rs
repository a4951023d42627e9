//! The entity registry: every webhook entity's definition, in one place (`all()`).
//! Data only; the engine resolves entity names (foreign keys, children) through `Registry`.

mod customer;
mod reference;

use std::collections::HashMap;
use std::sync::Arc;

use crate::engine::definition::EntityDef;

/// Every entity this build serves, business entities first, then reference entities.
pub fn all() -> Vec<EntityDef> {
    let mut all = vec![customer::customer(), customer::customeruser()];
    all.extend(reference::all());
    all
}

/// Definitions by entity name, shared by every request.
#[derive(Debug, Clone)]
pub struct Registry {
    entities: Arc<Vec<EntityDef>>,
    by_name: Arc<HashMap<&'static str, usize>>,
}

impl Registry {
    pub fn new(entities: Vec<EntityDef>) -> Registry {
        let by_name = entities
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name, i))
            .collect();
        Registry {
            entities: Arc::new(entities),
            by_name: Arc::new(by_name),
        }
    }

    /// The registry of `all()`.
    pub fn standard() -> Registry {
        Registry::new(all())
    }

    pub fn get(&self, name: &str) -> Option<&EntityDef> {
        self.by_name.get(name).map(|&i| &self.entities[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &EntityDef> {
        self.entities.iter()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.entities.iter().map(|e| e.name).collect()
    }
}
