//! Validation of a PUT (SPEC sections 3 and 8): the request's blocks against the entity's
//! definition become typed rows in write order (companions, the entity row, child rows), or
//! every offending field at once: types and lengths, unknown fields and blocks, dynamic
//! fields against the catalog, the webhook's type scope, generictype completion and every
//! foreign key, checked in batched lookups. Nothing is written here.

use foldhash::{HashMap, HashMapExt, HashSet};

use super::definition::{EntityDef, Field, Reference};
use super::error::{EngineError, FieldError};
use super::known::{self, Known};
use super::lookup::{Found, Lookup, Tag};
use super::sql::{column, ident, CATALOG_TABLE};
use super::value::{self, Value};
use crate::entities::Registry;
use crate::request::Request;
use serde_json::{Map, Value as Json};

/// A PUT parsed into rows, whose checks against the database are branches of the caller's
/// batch of lookups (lookup.rs): `draft`, run the batch, then `finish`.
pub(super) struct Draft<'a> {
    plan: Plan<'a>,
    errors: Vec<FieldError>,
    /// Catalog entity of each catalog branch (its `n`).
    catalogs: Vec<&'static str>,
    /// (row, value index, datatype, value) of every generictype value, by `n`.
    generic: Vec<(usize, usize, &'static str, String)>,
    /// Referenced tables, by `n`.
    targets: Vec<Target<'a>>,
    /// The rows that the cache (known.rs) answered instead of a branch, as the branch would
    /// have: `finish` reads them with the lookup's own.
    known_rows: Vec<(Tag, i32, String)>,
}

/// Parse a PUT and push its lookups: dynamic field catalogs, generictype completion and
/// foreign keys. `Err` for a version mismatch, a forbidden block, or a request without its
/// entity block or code.
/// What `known` already knows is not pushed but kept for `finish`.
pub(super) fn draft<'a>(
    registry: &'a Registry,
    def: &'a EntityDef,
    request: &Request,
    lookup: &mut Lookup<'_>,
    known: &Known,
) -> Result<Draft<'a>, EngineError> {
    let (plan, errors) = parse_blocks(registry, def, request)?;
    let mut catalogs: Vec<&'static str> = Vec::new();
    for row in plan.rows.iter().filter(|r| !r.dynamic.is_empty()) {
        if let Some(catalog) = row.def.dynamic_fields.filter(|c| !catalogs.contains(c)) {
            catalogs.push(catalog);
        }
    }
    let mut known_rows = Vec::new();
    for (n, catalog) in catalogs.iter().enumerate() {
        let mut sent = plan
            .rows
            .iter()
            .filter(|r| r.def.dynamic_fields == Some(*catalog))
            .flat_map(|r| r.dynamic.iter().map(|(name, _, _)| name));
        let declared = known.catalog(catalog).filter(|declared| {
            sent.all(|name| declared.iter().any(|d| d.eq_ignore_ascii_case(name)))
        });
        if let Some(declared) = declared {
            known_rows.extend(declared.into_iter().map(|d| (Tag::Catalog, n as i32, d)));
            continue;
        }
        lookup.branch(Tag::Catalog, |qb| {
            qb.push(format!(
                "{n}::int4, fieldname::text FROM {} WHERE entity = ",
                ident(CATALOG_TABLE)
            ))
            .push_bind(*catalog);
        });
    }
    let (generic, targets) = references(registry, &plan.rows);
    let mut asked = Vec::new();
    for (n, (_, _, datatype, value)) in generic.iter().enumerate() {
        match known.generictype(datatype, value) {
            Some(full) => known_rows.push((Tag::GenericType, n as i32, full)),
            None => asked.push(n),
        }
    }
    push_generictypes(lookup, &generic, &asked);
    for (n, (_, target, refs)) in targets.iter().enumerate() {
        let mut asked = Vec::new();
        for (_, _, code) in refs {
            match known.exists(target.table, code) {
                true => known_rows.push((Tag::Existing, n as i32, code.clone())),
                false => asked.push(code.clone()),
            }
        }
        push_existing(lookup, n, target, asked);
    }
    Ok(Draft {
        plan,
        errors,
        catalogs,
        generic,
        targets,
        known_rows,
    })
}

impl<'a> Draft<'a> {
    /// Whether an answer comes from the cache rather than from this transaction.
    pub(super) fn cached(&self) -> bool {
        !self.known_rows.is_empty()
    }

    /// Keep in the cache what this draft's lookup found (known.rs).
    pub(super) fn remember(&self, found: &Found, known: &Known) {
        if !known.enabled() {
            return;
        }
        let mut kept = known::Found::default();
        for (n, code) in found.of(Tag::GenericType) {
            if let (Some((_, _, datatype, value)), Some(code)) =
                (self.generic.get(n as usize), code)
            {
                kept.generictypes.push((datatype, value.as_str(), code));
            }
        }
        for (n, code) in found.of(Tag::Existing) {
            if let (Some((_, target, _)), Some(code)) = (self.targets.get(n as usize), code) {
                kept.existing.push((target.table, code));
            }
        }
        for (n, catalog) in self.catalogs.iter().enumerate() {
            if !self
                .known_rows
                .iter()
                .any(|(t, k, _)| *t == Tag::Catalog && *k == n as i32)
            {
                let declared = found
                    .of(Tag::Catalog)
                    .filter(|(k, _)| *k == n as i32)
                    .filter_map(|(_, name)| name)
                    .collect();
                kept.catalogs.push((catalog, declared));
            }
        }
        known.remember(kept);
    }

    /// The rows to write, or every offending field. VALIDATION_FAILED carries the missing
    /// references too (SPEC section 3: every offending field); INVALID_FOREIGN_KEY is the
    /// answer only when every field is otherwise valid.
    pub(super) fn finish(self, mut found: Found) -> Result<Plan<'a>, EngineError> {
        let Draft {
            mut plan,
            mut errors,
            catalogs,
            generic,
            targets,
            known_rows,
        } = self;
        for (tag, n, text) in known_rows {
            found.add(tag, n, text);
        }
        let found = &found;
        for row in &mut plan.rows {
            let Some(catalog) = row.def.dynamic_fields.filter(|_| !row.dynamic.is_empty()) else {
                continue;
            };
            let n = catalogs.iter().position(|c| *c == catalog).unwrap_or(0) as i32;
            let declared: Vec<&str> = found
                .of(Tag::Catalog)
                .filter(|(k, _)| *k == n)
                .filter_map(|(_, name)| name)
                .collect();
            errors.extend(check_dynamic_fields(row, catalog, &declared));
        }
        let mut fk_errors = complete_generictypes(&mut plan.rows, &generic, found);
        fk_errors.extend(missing_references(&plan.rows, &targets, found));
        fk_errors.sort_by_key(|e| e.index.is_some());
        for i in plan.heads() {
            errors.extend(check_scope(&plan.rows[i]));
        }
        if !errors.is_empty() {
            errors.extend(fk_errors);
            return Err(EngineError::Validation(errors));
        }
        if !fk_errors.is_empty() {
            return Err(EngineError::InvalidForeignKey(fk_errors));
        }
        Ok(plan)
    }
}

/// One row to write: a parsed block (or one element of a child block's array).
#[derive(Debug)]
pub(super) struct RowPlan<'a> {
    pub(super) def: &'a EntityDef,
    pub(super) block: String,
    pub(super) index: Option<usize>,
    pub(super) code: String,
    /// Fields present in the request, with their parsed value and the value as sent.
    pub(super) values: Vec<(&'a Field, Value, Json)>,
    /// Dynamic fields as sent: (name without `v_`, value, key as sent).
    pub(super) dynamic: Vec<(String, Json, String)>,
    /// `internalcode<entity>`: the origin code of a recoding (SPEC 8.1, 11.4).
    pub(super) recode_from: Option<String>,
}

impl RowPlan<'_> {
    pub(super) fn error(&self, field: &str, value: Json, message: impl Into<String>) -> FieldError {
        FieldError::new(&self.block, field, value, message).at(self.index)
    }

    /// The error of the `i`-th value, a reference to a row that does not exist.
    fn missing(&self, i: usize, message: String, references: String) -> FieldError {
        let (field, _, sent) = &self.values[i];
        let mut e = self.error(field.json, sent.clone(), message);
        e.references = Some(references);
        e
    }
}

/// The rows of one PUT, in write order: companion blocks, the entity row, child rows.
pub(super) struct Plan<'a> {
    pub(super) rows: Vec<RowPlan<'a>>,
    /// Index of the entity row in `rows`.
    pub(super) main: usize,
}

impl<'a> Plan<'a> {
    /// Rows written with recoding, scope and hooks: the companions and the entity row.
    pub(super) fn heads(&self) -> std::ops::RangeInclusive<usize> {
        0..=self.main
    }
}

/// The block of `body` named `key` (case-insensitive), unless null.
fn block<'b>(body: &'b Map<String, Json>, key: &str) -> Option<&'b Json> {
    body.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// SPEC 8.3: each companion block is present exactly in the versions that require it.
/// SPEC 8.4: a forbidden block is FORBIDDEN_OPERATION.
fn check_blocks(def: &EntityDef, request: &Request) -> Result<(), EngineError> {
    let version = request.webhook_version;
    let wrong: Vec<String> = def
        .companions
        .iter()
        .filter_map(|c| {
            let required = c.required_in.contains(&version);
            match (required, block(&request.body, c.block).is_some()) {
                (true, false) => Some(format!(
                    "block {:?} is mandatory with webhookVersion {version}",
                    c.block
                )),
                (false, true) => Some(format!(
                    "block {:?} must be absent with webhookVersion {version}",
                    c.block
                )),
                _ => None,
            }
        })
        .collect();
    if !wrong.is_empty() {
        return Err(EngineError::VersionMismatch(wrong.join("; ")));
    }
    if let Some((key, rule)) = def
        .forbidden_blocks
        .iter()
        .find(|(key, _)| block(&request.body, key).is_some())
    {
        return Err(EngineError::Forbidden(format!("block {key:?}: {rule}")));
    }
    Ok(())
}

/// Parse the body's blocks into a plan. `Err` for a version mismatch, a forbidden block, or a
/// request without its entity block or code; field errors are returned for the caller to
/// report with the others.
fn parse_blocks<'a>(
    registry: &'a Registry,
    def: &'a EntityDef,
    request: &Request,
) -> Result<(Plan<'a>, Vec<FieldError>), EngineError> {
    check_blocks(def, request)?;
    let body = &request.body;
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    for companion in &def.companions {
        let (Some(value), Some(companion_def)) =
            (block(body, companion.block), registry.get(companion.entity))
        else {
            continue;
        };
        let Some(obj) = value.as_object() else {
            errors.push(FieldError::new(
                companion.block,
                companion.block,
                value.clone(),
                "expected an object",
            ));
            continue;
        };
        let mut row = parse_row(
            companion_def,
            companion.block,
            None,
            obj,
            None,
            true,
            &mut errors,
        );
        for (json, text) in &companion.fixed {
            if let Some(field) = companion_def.field(json) {
                if let Ok(value) = value::parse_text(field.ty, text) {
                    row.values.retain(|(f, _, _)| f.json != field.json);
                    row.values
                        .push((field, value, Json::String(text.to_string())));
                }
            }
        }
        if row.code.is_empty() {
            errors.push(FieldError::new(
                companion.block,
                companion_def.code,
                Json::Null,
                "missing code",
            ));
        }
        rows.push(row);
    }
    let main_block = block(body, def.block)
        .and_then(Json::as_object)
        .ok_or_else(|| EngineError::InvalidRequest(format!("missing {:?} block", def.block)))?;
    let main = parse_row(def, def.block, None, main_block, None, true, &mut errors);
    if main.code.is_empty() {
        return Err(EngineError::InvalidRequest(format!(
            "missing code {:?} in block {:?}",
            def.code, def.block
        )));
    }
    let main_code = main.code.clone();
    let main_index = rows.len();
    rows.push(main);
    for (key, value) in body {
        // The request's own keys (SPEC section 2), harmless on a PUT, and the companions.
        let known = ["verb", "settings", "resultType", def.block]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
            || def
                .companions
                .iter()
                .any(|c| key.eq_ignore_ascii_case(c.block));
        if known {
            continue;
        }
        if key.eq_ignore_ascii_case("code") {
            if value.as_str() != Some(main_code.as_str()) {
                let message = format!("differs from the {} block's {}", def.block, def.code);
                errors.push(FieldError::new(def.block, key, value.clone(), message));
            }
            continue;
        }
        let Some(child) = def
            .children
            .iter()
            .find(|c| c.block.eq_ignore_ascii_case(key))
        else {
            errors.push(FieldError::new(
                key,
                key,
                Json::Null,
                format!("unknown block for {}", def.name),
            ));
            continue;
        };
        let Some(child_def) = registry.get(child.entity) else {
            continue;
        };
        let items: Vec<&Json> = match value {
            Json::Array(items) => items.iter().collect(),
            Json::Null => Vec::new(),
            other => vec![other],
        };
        for (i, item) in items.into_iter().enumerate() {
            let Some(obj) = item.as_object() else {
                errors.push(
                    FieldError::new(child.block, child.block, item.clone(), "expected an object")
                        .at(Some(i)),
                );
                continue;
            };
            let parent = Some((child.parent_field, main_code.as_str()));
            let mut row = parse_row(
                child_def,
                child.block,
                Some(i),
                obj,
                parent,
                false,
                &mut errors,
            );
            if row.code.is_empty() && child.generate_code {
                // SPEC 8.4, 11.8: a code omitted (or "") is generated, unique across requests.
                let suffix = uuid::Uuid::new_v4().simple().to_string();
                row.code = format!("{main_code}-{}", &suffix[..12]);
            }
            if row.code.is_empty() {
                errors.push(
                    FieldError::new(child.block, child_def.code, Json::Null, "missing code")
                        .at(Some(i)),
                );
                continue;
            }
            rows.push(row);
        }
    }
    Ok((
        Plan {
            rows,
            main: main_index,
        },
        errors,
    ))
}

/// Parse one block against a definition. The row's code is empty when the block has none.
fn parse_row<'a>(
    def: &'a EntityDef,
    block: &str,
    index: Option<usize>,
    obj: &Map<String, Json>,
    parent: Option<(&'static str, &str)>,
    is_main: bool,
    errors: &mut Vec<FieldError>,
) -> RowPlan<'a> {
    let mut row = RowPlan {
        def,
        block: block.to_string(),
        index,
        code: String::new(),
        values: Vec::with_capacity(obj.len()),
        dynamic: Vec::new(),
        recode_from: None,
    };
    let recode_key = def.recode_key();
    // Which fields have a value already, by position: a search of `values` for each key
    // was ~3% of a PUT's instructions (issue 8).
    let mut given = vec![false; def.fields.len()];
    for (key, json) in obj {
        if def.ignored_keys.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        if is_main && key.eq_ignore_ascii_case(&recode_key) {
            row.recode_from = match json {
                Json::String(s) if !s.is_empty() => Some(s.clone()),
                Json::Null | Json::String(_) => None,
                other => {
                    errors.push(row.error(key, other.clone(), "expected a code"));
                    None
                }
            };
            continue;
        }
        if def.dynamic_fields.is_some() {
            if key.eq_ignore_ascii_case("dynamicFields") {
                parse_dynamic_pairs(&mut row, key, json, errors);
                continue;
            }
            if key.len() > 2 && key[..2].eq_ignore_ascii_case("v_") {
                row.dynamic
                    .push((key[2..].to_string(), json.clone(), key.clone()));
                continue;
            }
        }
        let Some(field) = def.field_named(key) else {
            errors.push(row.error(key, json.clone(), format!("{block} has no field {key:?}")));
            continue;
        };
        match value::parse(field.ty, json) {
            Ok(v) => {
                match def.position(field) {
                    Some(i) if !given[i] => given[i] = true,
                    // The field named a second time (an alias, another case): the later
                    // one wins.
                    _ => row.values.retain(|(f, _, _)| f.json != field.json),
                }
                row.values.push((field, v, json.clone()));
            }
            Err(message) => errors.push(row.error(field.json, json.clone(), message)),
        }
    }
    if let Some((parent_field, parent_code)) = parent {
        if let Some(field) = def.field(parent_field) {
            let given = row
                .values
                .iter()
                .any(|(f, v, _)| f.json == parent_field && !v.is_null());
            if !given {
                row.values.retain(|(f, _, _)| f.json != parent_field);
                row.values.push((
                    field,
                    Value::Text(parent_code.to_string()),
                    Json::String(parent_code.to_string()),
                ));
            }
        }
    }
    if let Some(pos) = row.values.iter().position(|(f, _, _)| f.json == def.code) {
        let (_, code, _) = row.values.remove(pos);
        row.code = code.as_text().unwrap_or_default().to_string();
    }
    row
}

/// SPEC 11.9: `"dynamicFields": [{"fieldname": "CLI40", "fieldvalue": "7"}]`.
fn parse_dynamic_pairs(
    row: &mut RowPlan<'_>,
    key: &str,
    json: &Json,
    errors: &mut Vec<FieldError>,
) {
    let Some(items) = json.as_array() else {
        errors.push(row.error(
            key,
            json.clone(),
            "expected an array of {fieldname, fieldvalue}",
        ));
        return;
    };
    for item in items {
        let pair = item.as_object().and_then(|o| {
            let name = o
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("fieldname"))?
                .1
                .as_str()?;
            let value = o
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("fieldvalue"))
                .map(|(_, v)| v.clone());
            Some((name.to_string(), value.unwrap_or(Json::Null)))
        });
        match pair {
            Some((name, value)) => row.dynamic.push((name, value, key.to_string())),
            None => errors.push(row.error(
                key,
                item.clone(),
                "expected {\"fieldname\": ..., \"fieldvalue\": ...}",
            )),
        }
    }
}

/// Dynamic fields must be declared for the entity in the catalog (SPEC 8.4); their names
/// are stored with the catalog's spelling.
fn check_dynamic_fields(
    row: &mut RowPlan<'_>,
    catalog_entity: &str,
    declared: &[&str],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (name, value, key) in &mut row.dynamic {
        match declared.iter().find(|d| d.eq_ignore_ascii_case(name)) {
            Some(canonical) => *name = canonical.to_string(),
            None => errors.push(
                FieldError::new(
                    &row.block,
                    key,
                    value.clone(),
                    format!("no dynamic field {name:?} is declared for {catalog_entity}"),
                )
                .at(row.index),
            ),
        }
        if value.is_array() || value.is_object() {
            errors.push(
                FieldError::new(
                    &row.block,
                    key,
                    value.clone(),
                    "a dynamic field takes a scalar",
                )
                .at(row.index),
            );
        }
    }
    errors
}

/// A written type must be one this webhook may write (SPEC 11.6).
fn check_scope(row: &RowPlan<'_>) -> Vec<FieldError> {
    let def = row.def;
    let Some(scope) = &def.scope else {
        return Vec::new();
    };
    row.values
        .iter()
        .filter(|(f, v, _)| f.json == scope.field && !v.is_null())
        .filter(|(_, v, _)| !scope.write.iter().any(|w| Some(*w) == v.as_text()))
        .map(|(f, _, sent)| {
            row.error(
                f.json,
                sent.clone(),
                format!(
                    "the {} webhook writes only {}",
                    def.name,
                    scope.write.join(", ")
                ),
            )
        })
        .collect()
}

/// A generictype value to complete: (row, value index, datatype, value).
type Generic = (usize, usize, &'static str, String);

/// The references of a PUT to one target entity: (row, value index, code) each.
type Target<'a> = (&'static str, &'a EntityDef, Vec<(usize, usize, String)>);

/// Every generictype value (SPEC 11.7), and every foreign key by target table, except those
/// naming a row this request writes (they count as existing, by table: views share tables).
fn references<'a>(registry: &'a Registry, rows: &[RowPlan<'_>]) -> (Vec<Generic>, Vec<Target<'a>>) {
    let written: HashSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r.def.table, r.code.as_str()))
        .collect();
    let table_of = |entity: &str| registry.get(entity).map(|d| d.table).unwrap_or_default();
    let mut generic = Vec::new();
    let mut by_target: HashMap<&'static str, Vec<(usize, usize, String)>> = HashMap::new();
    for (r, row) in rows.iter().enumerate() {
        for (i, (field, value, _)) in row.values.iter().enumerate() {
            let Some(text) = value.as_text() else {
                continue;
            };
            match field.reference {
                Some(Reference::GenericType(datatype)) => {
                    generic.push((r, i, datatype, text.to_string()))
                }
                Some(Reference::Entity(target)) if !written.contains(&(table_of(target), text)) => {
                    by_target
                        .entry(target)
                        .or_default()
                        .push((r, i, text.to_string()))
                }
                _ => {}
            }
        }
    }
    let mut targets: Vec<_> = by_target
        .into_iter()
        .filter_map(|(target, refs)| registry.get(target).map(|def| (target, def, refs)))
        .collect();
    targets.sort_by_key(|(t, _, _)| *t);
    (generic, targets)
}

/// One branch for every generictype value: the row of the datatype whose code, or else
/// whose originalCode, is the value (SPEC 11.7); `n` is the value's position. Only the
/// values at the positions `asked`.
fn push_generictypes(lookup: &mut Lookup<'_>, generic: &[Generic], asked: &[usize]) {
    if asked.is_empty() {
        return;
    }
    let ordinals: Vec<i32> = asked.iter().map(|&n| n as i32).collect();
    let datatypes: Vec<String> = asked.iter().map(|&n| generic[n].2.to_string()).collect();
    let values: Vec<String> = asked.iter().map(|&n| generic[n].3.clone()).collect();
    lookup.branch(Tag::GenericType, |qb| {
        qb.push(
            r#"r.i, (SELECT g.codegenerictype FROM sw_data_generictype g
                     WHERE g."dataType" = r.d AND (g.codegenerictype = r.v OR g."originalCode" = r.v)
                     ORDER BY (g.codegenerictype = r.v) DESC, g.codegenerictype LIMIT 1)::text
               FROM unnest("#,
        )
        .push_bind(ordinals)
        .push("::int4[], ")
        .push_bind(datatypes)
        .push("::text[], ")
        .push_bind(values)
        .push("::text[]) AS r(i, d, v)");
    });
}

/// The branch of the `n`-th referenced table: which of the `codes` exist.
fn push_existing(lookup: &mut Lookup<'_>, n: usize, def: &EntityDef, codes: Vec<String>) {
    if codes.is_empty() {
        return;
    }
    let code = column("t", def.code_field());
    lookup.branch(Tag::Existing, |qb| {
        qb.push(format!(
            "{n}::int4, {code}::text FROM {} t WHERE {code} = ANY(",
            ident(def.table)
        ))
        .push_bind(codes)
        .push(")");
    });
}

/// Replace each generictype value by its full code; an unknown one is an error.
fn complete_generictypes(
    rows: &mut [RowPlan<'_>],
    generic: &[Generic],
    found: &Found,
) -> Vec<FieldError> {
    let mut full: Vec<Option<&str>> = vec![None; generic.len()];
    for (n, code) in found.of(Tag::GenericType) {
        if let Some(slot) = full.get_mut(n as usize) {
            *slot = code;
        }
    }
    let mut errors = Vec::new();
    for ((r, i, datatype, text), full) in generic.iter().zip(full) {
        let row = &mut rows[*r];
        match full {
            Some(full) => row.values[*i].1 = Value::Text(full.to_string()),
            None => errors.push(row.missing(
                *i,
                format!("no {datatype} generictype {text:?}"),
                format!("sw_data_generictype.codegenerictype (dataType {datatype})"),
            )),
        }
    }
    errors
}

/// Every reference whose code the lookup did not find.
fn missing_references(
    rows: &[RowPlan<'_>],
    targets: &[Target<'_>],
    found: &Found,
) -> Vec<FieldError> {
    let existing: HashSet<(i32, &str)> = found
        .of(Tag::Existing)
        .filter_map(|(n, code)| code.map(|c| (n, c)))
        .collect();
    let mut errors = Vec::new();
    for (n, (target, target_def, refs)) in targets.iter().enumerate() {
        for (r, i, code) in refs
            .iter()
            .filter(|(_, _, c)| !existing.contains(&(n as i32, c.as_str())))
        {
            errors.push(rows[*r].missing(
                *i,
                format!("no {target} {code:?}"),
                format!("{}.{}", target_def.table, target_def.code_field().column),
            ));
        }
    }
    errors
}
