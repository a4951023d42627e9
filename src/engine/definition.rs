//! Entity definitions: plain data that describes one webhook entity (its table, fields,
//! blocks, filters, sort orders, related blocks and rule hooks). The generic engine turns a
//! request plus a definition into SQL; nothing here runs a query.
//!
//! Table and column names used in SQL come only from the `&'static str`s of these
//! definitions, never from a request (STYLE section 4).

use std::sync::OnceLock;

use foldhash::{HashMap, HashMapExt};

use super::hooks::Hook;

/// The type of a stored field, as the seeds' PUT comments give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `Varchar(n)`: a string of at most `n` characters.
    Varchar(u32),
    /// `Text(65535)`.
    Text,
    /// `Int`: a 32-bit integer.
    Int,
    /// `Double`: a float, rendered in its shortest form.
    Double,
    /// `Bool`: `"0"`/`"1"` on the wire, `boolean` in PostgreSQL.
    Bool,
    /// `Date`: `YYYY-MM-DD`.
    Date,
    /// `DateTime`: `YYYY-MM-DD HH:MM:SS`, stored as `timestamp` (as sent, no zone).
    DateTime,
}

impl Type {
    /// The PostgreSQL column type, for docs and schema checks.
    pub fn sql_type(self) -> &'static str {
        match self {
            Type::Varchar(_) => "varchar",
            Type::Text => "text",
            Type::Int => "integer",
            Type::Double => "double precision",
            Type::Bool => "boolean",
            Type::Date => "date",
            Type::DateTime => "timestamp",
        }
    }
}

/// What a foreign key field points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// The code of another entity (by entity name, resolved through the registry).
    Entity(&'static str),
    /// A `sw_data_generictype` row of this datatype. Stored as the full `codegenerictype`,
    /// rendered as its `originalCode` (SPEC section 3), completed on input by looking up
    /// the datatype's `originalCode` (SPEC 11.7).
    GenericType(&'static str),
}

/// What happens to a referencing row when the referenced row is deleted (SPEC 8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// The referencing row is another business record: the delete is a CONFLICT.
    Restrict,
    /// The referencing row belongs to the referenced one and goes with it.
    Cascade,
}

/// A value a field takes when a row is created without it (SPEC 8, 11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateDefault {
    /// A wire value, parsed like an input value (`"CUSTOMER_TYPE-CTC"`, `"0"`).
    Value(&'static str),
    /// The current date and time.
    Now,
    /// Today's date at midnight.
    Today,
    /// The generictype of this datatype whose `tag` is this (SPEC 8.4: the
    /// OPPORTUNITY_STATUS tagged ACTIVE), looked up when the row is written.
    GenericTypeTag {
        datatype: &'static str,
        tag: &'static str,
    },
}

/// One field of a block.
#[derive(Debug, Clone)]
pub struct Field {
    /// JSON name in replies (the seed's spelling); matched case-insensitively on input.
    pub json: &'static str,
    /// Column in the entity's table.
    pub column: &'static str,
    pub ty: Type,
    pub reference: Option<Reference>,
    pub on_delete: OnDelete,
    pub default: Option<CreateDefault>,
    /// Other names accepted on input for this field (SPEC 11.3, 11.15).
    pub aliases: Vec<&'static str>,
}

impl Field {
    pub fn new(json: &'static str, ty: Type) -> Field {
        Field {
            json,
            column: json,
            ty,
            reference: None,
            on_delete: OnDelete::Restrict,
            default: None,
            aliases: Vec::new(),
        }
    }
    /// A `Varchar(n)` field whose column has the JSON name.
    pub fn varchar(json: &'static str, n: u32) -> Field {
        Field::new(json, Type::Varchar(n))
    }
    /// A foreign key (`Varchar(255)`) to the code of `entity`.
    pub fn fk(json: &'static str, entity: &'static str) -> Field {
        Field::new(json, Type::Varchar(255)).references(entity)
    }
    /// A foreign key to a `sw_data_generictype` row of `datatype`.
    pub fn generictype(json: &'static str, datatype: &'static str) -> Field {
        let mut f = Field::new(json, Type::Varchar(255));
        f.reference = Some(Reference::GenericType(datatype));
        f
    }
    pub fn column(mut self, column: &'static str) -> Field {
        self.column = column;
        self
    }
    pub fn references(mut self, entity: &'static str) -> Field {
        self.reference = Some(Reference::Entity(entity));
        self
    }
    pub fn cascade(mut self) -> Field {
        self.on_delete = OnDelete::Cascade;
        self
    }
    pub fn default(mut self, default: CreateDefault) -> Field {
        self.default = Some(default);
        self
    }
    pub fn alias(mut self, alias: &'static str) -> Field {
        self.aliases.push(alias);
        self
    }
    /// Does an input key name this field? (SPEC 11.2: case-insensitive, aliases too.)
    pub fn is_named(&self, key: &str) -> bool {
        self.json.eq_ignore_ascii_case(key)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(key))
    }
}

/// How a LIST filter compares (SPEC section 2, "Filter semantics").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Equal,
    Contains,
    StartsWith,
    EndsWith,
    GreaterOrEqual,
    /// `"v1|v2"`, inclusive.
    Between,
    /// `column IS NULL OR column > value`.
    NotClosedBefore,
    /// Rows linked to the value through a link table: `EXISTS (SELECT 1 FROM table x WHERE
    /// x.link = t.<code> AND x.column = value)` (002's `codeEquipment`). The filter's field
    /// is the entity's code field.
    LinkedThrough {
        table: &'static str,
        link: &'static str,
        column: &'static str,
    },
}

/// A LIST filter: the request's name, the field (JSON name) it applies to, the comparison.
#[derive(Debug, Clone)]
pub struct Filter {
    pub name: &'static str,
    pub field: &'static str,
    pub op: Op,
}

impl Filter {
    pub fn new(name: &'static str, field: &'static str, op: Op) -> Filter {
        Filter { name, field, op }
    }
}

/// A LIST `orderBy` value.
#[derive(Debug, Clone)]
pub struct Sort {
    pub name: &'static str,
    pub field: &'static str,
    pub descending: bool,
}

impl Sort {
    pub fn asc(name: &'static str, field: &'static str) -> Sort {
        Sort {
            name,
            field,
            descending: false,
        }
    }
    pub fn desc(name: &'static str, field: &'static str) -> Sort {
        Sort {
            name,
            field,
            descending: true,
        }
    }
}

/// A related block of extendedRelated: the row that `field` references, rendered as its own
/// entity's GET extended under `key` (SPEC 11.5).
#[derive(Debug, Clone)]
pub struct Related {
    pub key: &'static str,
    pub field: &'static str,
}

impl Related {
    pub fn new(key: &'static str, field: &'static str) -> Related {
        Related { key, field }
    }
}

/// A child block upserted with the parent (customeruser, contractbilling, ...), by its own
/// code; `parent_field` defaults to the parent's code when omitted (SPEC section 8).
#[derive(Debug, Clone)]
pub struct Child {
    /// The block's key in the request and in DELETE's counts.
    pub block: &'static str,
    /// The child's entity (resolved through the registry).
    pub entity: &'static str,
    /// The child's field (JSON name) that holds the parent's code.
    pub parent_field: &'static str,
    /// A row without a code gets `<parent code>-<n>` (SPEC 8.4: steps and address links).
    pub generate_code: bool,
}

impl Child {
    pub fn new(block: &'static str, entity: &'static str, parent_field: &'static str) -> Child {
        Child {
            block,
            entity,
            parent_field,
            generate_code: false,
        }
    }
    pub fn generated_codes(mut self) -> Child {
        self.generate_code = true;
        self
    }
}

/// A block written with the entity, before it, by its own entity's definition, whose
/// presence depends on the request's webhookVersion (SPEC 8.3: contract's `contracttype`,
/// `customer` and `site` are mandatory in version 1 and forbidden in version 2).
#[derive(Debug, Clone)]
pub struct Companion {
    /// The block's key in the request.
    pub block: &'static str,
    /// The entity that writes it (resolved through the registry).
    pub entity: &'static str,
    /// Versions in which the block must be present; in every other version it must be absent.
    pub required_in: Vec<u8>,
    /// Field values the block always takes, whatever it sends (SPEC 8.3: the site is a
    /// customer address with `site = 1`).
    pub fixed: Vec<(&'static str, &'static str)>,
}

/// `getPartners = 1` (SPEC 11.10): rows of `entity` whose `link` field holds this row's code,
/// listed under `partners` as `{code, customer field, name of that customer, role}`.
#[derive(Debug, Clone)]
pub struct Partners {
    pub entity: &'static str,
    pub link: &'static str,
    /// The partner's field (JSON name) holding the customer's code.
    pub customer: &'static str,
    /// The partner's field (JSON name) holding the role.
    pub role: &'static str,
}

/// Rows that a webhook reads and writes, by a generictype field's value (SPEC 8.1, 11.6).
#[derive(Debug, Clone)]
pub struct Scope {
    /// JSON name of the scoping field (e.g. `generictype_ID_customerType`).
    pub field: &'static str,
    /// Full codes this webhook may write (create, update, delete).
    pub write: Vec<&'static str>,
    /// Full codes this webhook's GET and LIST return.
    pub read: Vec<&'static str>,
}

/// A figure of the `indicators` block counted live from another entity (SPEC 8.1).
#[derive(Debug, Clone)]
pub struct LiveCount {
    /// JSON key in the indicators block (`openedContract`).
    pub json: &'static str,
    /// The counted entity; a count of an entity this build does not define is `"0"`.
    pub entity: &'static str,
    /// The counted entity's field (JSON name) that holds this entity's code.
    pub field: &'static str,
    /// Extra SQL condition on the counted table `t` (a constant from this definition).
    pub condition: &'static str,
    /// The indicators key after which this count is placed (the seed's order).
    pub after: &'static str,
}

/// `settings.getIndicators = 1` (SPEC 8.1, 11.12).
#[derive(Debug, Clone)]
pub struct Indicators {
    /// The extension entity whose row (by `field` = this code) gives the static figures.
    pub entity: &'static str,
    pub field: &'static str,
    /// Renames of the extension's JSON names in this view (prospect: codeprospectextension).
    pub renames: Vec<(&'static str, &'static str)>,
    pub live: Vec<LiveCount>,
}

/// One webhook entity.
#[derive(Debug, Clone)]
pub struct EntityDef {
    /// Entity name: queue `webhook.<name>`, `entity` in replies, key in DELETE counts.
    pub name: &'static str,
    /// Key of the entity block in requests and replies (usually `name`).
    pub block: &'static str,
    pub table: &'static str,
    /// JSON name of the code field (first of `fields`).
    pub code: &'static str,
    /// Every field, in the seed's GET extended order (SPEC section 10).
    pub fields: Vec<Field>,
    /// JSON names of the simple result, in order; empty = every field.
    pub simple: Vec<&'static str>,
    pub filters: Vec<Filter>,
    pub sorts: Vec<Sort>,
    pub related: Vec<Related>,
    pub children: Vec<Child>,
    pub scope: Option<Scope>,
    pub indicators: Option<Indicators>,
    /// Entity name of the dynamic-field catalog key (`v_<name>` fields); None: no dynamic fields.
    pub dynamic_fields: Option<&'static str>,
    /// Rules that data cannot express, run after the blocks are written.
    pub hooks: Vec<Hook>,
    /// Blocks written first, by their own entity, per webhookVersion (SPEC 8.3).
    pub companions: Vec<Companion>,
    /// Blocks a PUT may not carry, with the rule's wording: FORBIDDEN_OPERATION (SPEC 8.4).
    pub forbidden_blocks: Vec<(&'static str, &'static str)>,
    /// Keys of the entity block that are accepted and ignored (SPEC 11.4: `internalcustomer_ID`
    /// and `internalCodeCustomer` name a code before a recoding that the foreign keys follow
    /// by themselves).
    pub ignored_keys: Vec<&'static str>,
    /// `getPartners` (SPEC 11.10).
    pub partners: Option<Partners>,
    /// Field index by lower-case JSON name and alias, built on first use.
    names: NameIndex,
}

/// Position of each field by lower-case name (JSON name and aliases; the first field
/// wins), and the number of fields it was built for: `field_named` looked every key of a
/// request up by scanning ~90 fields case-insensitively (issue 8 profile).
#[derive(Debug, Clone, Default)]
struct NameIndex(OnceLock<(usize, ByName)>);

/// Lower-case name (as bytes) to field position.
type ByName = HashMap<Box<[u8]>, usize>;

impl EntityDef {
    /// A definition with only a table and fields; the first field is the code.
    pub fn new(name: &'static str, table: &'static str, fields: Vec<Field>) -> EntityDef {
        let code = fields.first().map(|f| f.json).unwrap_or("code");
        EntityDef {
            name,
            block: name,
            table,
            code,
            fields,
            simple: Vec::new(),
            filters: Vec::new(),
            sorts: Vec::new(),
            related: Vec::new(),
            children: Vec::new(),
            scope: None,
            indicators: None,
            dynamic_fields: None,
            hooks: Vec::new(),
            companions: Vec::new(),
            forbidden_blocks: Vec::new(),
            ignored_keys: Vec::new(),
            partners: None,
            names: NameIndex::default(),
        }
    }

    /// A reference entity (SPEC section 9): LIST filters `code` (equal) and, when it has a
    /// label, `label` (contains).
    pub fn reference(name: &'static str, table: &'static str, fields: Vec<Field>) -> EntityDef {
        let mut def = EntityDef::new(name, table, fields);
        def.filters.push(Filter::new("code", def.code, Op::Equal));
        if def.field("label").is_some() {
            def.filters
                .push(Filter::new("label", "label", Op::Contains));
        }
        def
    }

    /// The same table seen through other names (SPEC 8.1: the prospect is the customer
    /// renamed). Each `(from, to)` renames a field's JSON name, a related block's key or a
    /// child block; the old field names stay accepted on input (SPEC 11.3). Filters, sorts
    /// and children follow the renamed fields; the caller sets what differs beyond names.
    pub fn view(&self, name: &'static str, renames: &[(&'static str, &'static str)]) -> EntityDef {
        let rename = |s: &'static str| {
            renames
                .iter()
                .find(|(from, _)| *from == s)
                .map(|(_, to)| *to)
                .unwrap_or(s)
        };
        let mut def = self.clone();
        def.names = NameIndex::default();
        def.name = name;
        def.block = name;
        def.code = rename(self.code);
        for field in &mut def.fields {
            let to = rename(field.json);
            if to != field.json {
                field.aliases.push(field.json);
                field.json = to;
            }
        }
        def.simple = self.simple.iter().map(|s| rename(s)).collect();
        for f in &mut def.filters {
            f.field = rename(f.field);
        }
        for s in &mut def.sorts {
            s.field = rename(s.field);
        }
        for r in &mut def.related {
            r.key = rename(r.key);
            r.field = rename(r.field);
        }
        for c in &mut def.children {
            c.block = rename(c.block);
            c.entity = rename(c.entity);
            c.parent_field = rename(c.parent_field);
        }
        if let Some(scope) = &mut def.scope {
            scope.field = rename(scope.field);
        }
        def
    }

    /// The field with this JSON name (exact spelling).
    pub fn field(&self, json: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.json == json)
    }

    /// Where `field` is in `fields`, when it is one of them: found by its address, so in
    /// constant time (a PUT asks it for each of its ~90 values, issue 8).
    pub fn position(&self, field: &Field) -> Option<usize> {
        let size = std::mem::size_of::<Field>().max(1);
        let offset = (field as *const Field as usize).checked_sub(self.fields.as_ptr() as usize)?;
        let i = offset / size;
        (offset % size == 0 && i < self.fields.len()).then_some(i)
    }

    /// The field an input key names (SPEC 11.2).
    pub fn field_named(&self, key: &str) -> Option<&Field> {
        let (built_for, index) = self.names.0.get_or_init(|| {
            let mut index = HashMap::new();
            for (i, f) in self.fields.iter().enumerate() {
                for name in std::iter::once(&f.json).chain(&f.aliases) {
                    let lower = name.to_ascii_lowercase().into_bytes().into_boxed_slice();
                    index.entry(lower).or_insert(i);
                }
            }
            (self.fields.len(), index)
        });
        if *built_for != self.fields.len() {
            // Fields were added after the first lookup (never in the registry): scan.
            return self.fields.iter().find(|f| f.is_named(key));
        }
        // Lower-cased on the stack, looked up as bytes: this runs for every key of every
        // request.
        let mut buf = [0u8; 64];
        let found = match buf.get_mut(..key.len()) {
            Some(lower) => {
                lower.copy_from_slice(key.as_bytes());
                lower.make_ascii_lowercase();
                index.get(&*lower)
            }
            None => index.get(key.to_ascii_lowercase().as_bytes()),
        };
        found.and_then(|&i| self.fields.get(i))
    }

    pub fn code_field(&self) -> &Field {
        // Invariant checked by entities::tests: `code` names one of `fields`.
        self.field(self.code)
            .expect("entity definition names its code field")
    }

    /// The recoding key: `internalcode<block>` (SPEC 11.4).
    pub fn recode_key(&self) -> String {
        format!("internalcode{}", self.block)
    }

    /// The fields of a result type, in reply order.
    pub fn simple_fields(&self) -> Vec<&Field> {
        if self.simple.is_empty() {
            return self.fields.iter().collect();
        }
        self.simple
            .iter()
            .filter_map(|json| self.field(json))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> EntityDef {
        EntityDef::new(
            "deal",
            "sw_data_deal",
            vec![
                Field::varchar("codedeal", 10),
                Field::varchar("label", 10).alias("title"),
                Field::varchar("Title", 10),
            ],
        )
    }

    #[test]
    fn keys_name_fields_whatever_their_case_and_by_alias_first_field_first() {
        let def = def();
        assert_eq!(
            def.field_named("CODEDEAL").map(|f| f.json),
            Some("codedeal")
        );
        assert_eq!(def.field_named("Label").map(|f| f.json), Some("label"));
        // "title" is the alias of the earlier field: it wins, as the scan did.
        assert_eq!(def.field_named("TITLE").map(|f| f.json), Some("label"));
        assert!(def.field_named("nothing").is_none());
    }

    #[test]
    fn long_and_non_ascii_keys_are_looked_up_too() {
        let long = format!("x{}", "a".repeat(80));
        let mut def = def();
        def.fields
            .push(Field::varchar(Box::leak(long.clone().into_boxed_str()), 10));
        def.fields.push(Field::varchar("société", 10));
        assert_eq!(
            def.field_named(&long.to_uppercase()).map(|f| f.json),
            Some(long.as_str())
        );
        assert_eq!(def.field_named("SOCIéTé").map(|f| f.json), Some("société"));
        assert!(def.field_named(&"é".repeat(40)).is_none());
    }

    #[test]
    fn a_field_is_placed_by_its_address_and_a_copy_is_not() {
        let def = def();
        for (i, field) in def.fields.iter().enumerate() {
            assert_eq!(def.position(field), Some(i));
        }
        let other = super::tests::def();
        assert_eq!(def.position(&other.fields[1]), None);
        let copy = def.fields[1].clone();
        assert_eq!(def.position(&copy), None);
    }

    #[test]
    fn a_view_and_a_later_field_are_found_too() {
        let mut def = def();
        assert!(def.field_named("extra").is_none());
        def.fields.push(Field::varchar("extra", 10));
        assert_eq!(def.field_named("EXTRA").map(|f| f.json), Some("extra"));
        let view = def.view("opportunity", &[("codedeal", "codeopportunity")]);
        assert_eq!(
            view.field_named("codeOpportunity").map(|f| f.json),
            Some("codeopportunity")
        );
        assert_eq!(
            view.field_named("codedeal").map(|f| f.json),
            Some("codeopportunity")
        );
    }
}
