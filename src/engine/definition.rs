//! Entity definitions: plain data that describes one webhook entity (its table, fields,
//! blocks, filters, sort orders, related blocks and rule hooks). The generic engine turns a
//! request plus a definition into SQL; nothing here runs a query.
//!
//! Table and column names used in SQL come only from the `&'static str`s of these
//! definitions, never from a request (STYLE section 4).

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
}

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
        }
    }

    /// The field with this JSON name (exact spelling).
    pub fn field(&self, json: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.json == json)
    }

    /// The field an input key names (SPEC 11.2).
    pub fn field_named(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.is_named(key))
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
