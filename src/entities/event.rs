//! Event (placeholder: filled by its issue). Data only.

use crate::engine::definition::EntityDef;

/// The event webhook and the entities that come with it.
pub fn all() -> Vec<EntityDef> {
    Vec::new()
}
