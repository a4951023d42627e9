//! The entity registry: every webhook entity's definition, in one place (`all()`).
//! Data only; the engine resolves entity names (foreign keys, children) through `Registry`.

mod contract;
mod customer;
mod event;
mod opportunity;
mod prospect;
mod reference;

use std::sync::Arc;

use foldhash::HashMap;

use crate::engine::definition::EntityDef;

/// Every entity this build serves, business entities first, then reference entities.
pub fn all() -> Vec<EntityDef> {
    let mut all = vec![
        customer::customer(),
        customer::customeruser(),
        prospect::prospect(),
        prospect::prospectuser(),
    ];
    all.extend(opportunity::all());
    all.extend(contract::all());
    all.extend(event::all());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::definition::{Reference, Type};

    /// Every name a definition uses resolves: the registry test of STYLE section 4.
    #[test]
    fn every_definition_refers_to_things_that_exist() {
        let registry = Registry::standard();
        let mut names = std::collections::HashSet::new();
        for def in registry.iter() {
            assert!(names.insert(def.name), "entity {} defined twice", def.name);
            assert!(
                def.field(def.code).is_some(),
                "{}: code field {} is not a field",
                def.name,
                def.code
            );
            let mut jsons = std::collections::HashSet::new();
            for f in &def.fields {
                assert!(
                    jsons.insert(f.json.to_ascii_lowercase()),
                    "{}: field {} twice",
                    def.name,
                    f.json
                );
                if let Some(Reference::Entity(target)) = f.reference {
                    assert!(
                        registry.get(target).is_some(),
                        "{}.{} references unknown {target}",
                        def.name,
                        f.json
                    );
                }
            }
            for s in &def.simple {
                assert!(
                    def.field(s).is_some(),
                    "{}: simple key {s} is not a field",
                    def.name
                );
            }
            for filter in &def.filters {
                assert!(
                    def.field(filter.field).is_some(),
                    "{}: filter {} on unknown field",
                    def.name,
                    filter.name
                );
            }
            for sort in &def.sorts {
                assert!(
                    def.field(sort.field).is_some(),
                    "{}: sort {} on unknown field",
                    def.name,
                    sort.name
                );
            }
            for related in &def.related {
                let field = def.field(related.field);
                assert!(
                    field.and_then(|f| f.reference).is_some(),
                    "{}: related {} needs a foreign key",
                    def.name,
                    related.key
                );
            }
            for child in &def.children {
                let child_def = registry
                    .get(child.entity)
                    .unwrap_or_else(|| panic!("{}: unknown child {}", def.name, child.entity));
                assert!(
                    child_def.field(child.parent_field).is_some(),
                    "{}: child {} has no {}",
                    def.name,
                    child.block,
                    child.parent_field
                );
            }
            if let Some(scope) = &def.scope {
                assert!(
                    def.field(scope.field).is_some(),
                    "{}: scope field",
                    def.name
                );
            }
            for hook in &def.hooks {
                if let Some(name) = hook.only_if {
                    assert!(
                        def.field(name).is_some_and(|f| f.ty == Type::Bool),
                        "{}: hook {:?} applies only if {name}, which is not a Bool field",
                        def.name,
                        hook.name
                    );
                }
            }
            if let Some(ind) = &def.indicators {
                let ext = registry
                    .get(ind.entity)
                    .unwrap_or_else(|| panic!("{}: unknown indicators entity", def.name));
                assert!(
                    ext.field(ind.field).is_some(),
                    "{}: indicators link field",
                    def.name
                );
            }
        }
        assert!(
            registry.get("generictype").is_some(),
            "generictype foreign keys need the generictype entity"
        );
    }

    #[test]
    fn customer_is_registered_with_its_child_block() {
        let registry = Registry::standard();
        let customer = registry.get("customer").expect("customer");
        assert_eq!(customer.children[0].block, "customeruser");
        assert_eq!(customer.recode_key(), "internalcodecustomer");
    }
}
