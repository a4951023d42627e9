//! Reading rows back as reply blocks (SPEC sections 3 and 10): which columns a result type
//! selects, in the seed's key order, and the `related` and `indicators` blocks.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use foldhash::{HashMap, HashMapExt};
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use super::definition::{EntityDef, Field, Related};
use super::error::EngineError;
use super::known::{self, Known};
use super::record;
use super::sql::{self, column, ident, Cache, DYNAMIC_COLUMN};
use crate::entities::Registry;
use crate::request::{ResultType, Settings};

/// A row read as a block, with the stored codes of its related blocks.
type BlockAndRelated = (Map<String, Json>, Vec<Option<String>>);

/// A row's values as the wire text, in the projection's order (`Projection::decode`).
type Values<'r> = Vec<Cow<'r, str>>;

/// Where each value of a projection sits in its table's row, by entity and result type
/// (`Projection::layout`).
static LAYOUTS: LazyLock<Cache<LayoutKey, Arc<Layout>>> = LazyLock::new(|| Cache::new(256));

/// An entity's name and a result type.
type LayoutKey = (&'static str, ResultType);

/// A table's columns as the catalog gave them (the type OID of each, in order), and the
/// positions among them of a projection's columns. A record whose fields have other
/// types (a column added or dropped since, by another worker's migration) has the
/// layout read again.
struct Layout {
    oids: Vec<u32>,
    positions: Vec<usize>,
}

impl Layout {
    fn fits(&self, fields: &[record::Field<'_>]) -> bool {
        self.oids.len() == fields.len() && self.oids.iter().zip(fields).all(|(a, (b, _))| a == b)
    }
}

/// The columns one result type reads from an entity's table.
pub struct Projection<'a> {
    pub def: &'a EntityDef,
    result_type: ResultType,
    fields: Vec<&'a Field>,
    /// Related blocks and their foreign-key field, read raw (the stored code).
    related: Vec<(&'a Related, &'a Field)>,
    dynamic: bool,
    /// Positions in `fields` of the generictype foreign keys, read as codes and shown as
    /// their `originalCode` (SPEC 3) through [`Labels`].
    labelled: Vec<usize>,
}

impl<'a> Projection<'a> {
    pub fn new(def: &'a EntityDef, result_type: ResultType) -> Projection<'a> {
        let fields = match result_type {
            ResultType::Simple => def.simple_fields(),
            _ => def.fields.iter().collect(),
        };
        let related = match result_type {
            ResultType::ExtendedRelated => def
                .related
                .iter()
                .filter_map(|r| def.field(r.field).map(|f| (r, f)))
                .collect(),
            _ => Vec::new(),
        };
        let dynamic = def.dynamic_fields.is_some() && result_type != ResultType::Simple;
        let labelled = (0..fields.len())
            .filter(|i| sql::is_generictype(fields[*i]))
            .collect();
        Projection {
            def,
            result_type,
            fields,
            related,
            dynamic,
            labelled,
        }
    }

    /// Push `SELECT <columns> FROM <table> t` onto a query.
    pub fn push_select_from(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        qb.push("SELECT ");
        self.push_columns(qb);
        qb.push(" FROM ").push(ident(self.def.table)).push(" t");
    }

    /// [`push_select_from`](Self::push_select_from) the row whose code is `code` (bound).
    pub fn push_select_by_code(&self, qb: &mut QueryBuilder<'_, Postgres>, code: &str) {
        self.push_select_from(qb);
        qb.push(" WHERE ")
            .push(column("t", self.def.code_field()))
            .push(" = ")
            .push_bind(code.to_string());
    }

    /// Push what a block is read from, over the row alias `t` (a SELECT's or a
    /// RETURNING's): the whole row, one value (record.rs says why), decoded by
    /// [`decode`](Self::decode).
    pub fn push_columns(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        qb.push("t");
    }

    /// How many columns `push_columns` pushes.
    pub fn width(&self) -> usize {
        1
    }

    /// The table columns a block shows, in the order of [`decode`](Self::decode)'s values:
    /// the fields, the related blocks' foreign keys, the dynamic fields.
    fn columns(&self) -> impl Iterator<Item = &'static str> + '_ {
        let fields = self.fields.iter().map(|f| f.column);
        let related = self.related.iter().map(|(_, f)| f.column);
        fields
            .chain(related)
            .chain(self.dynamic.then_some(DYNAMIC_COLUMN))
    }

    /// The values of each row `push_columns` read (its column 0) as the wire text, in
    /// the order of [`columns`](Self::columns); NULL as `""`.
    async fn decode<'r>(
        &self,
        conn: &mut PgConnection,
        rows: &'r [PgRow],
    ) -> Result<Vec<Values<'r>>, EngineError> {
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let bytes = row
                .try_get_raw(0)?
                .as_bytes()
                .map_err(sqlx::Error::Decode)?;
            records.push(record::fields(bytes).map_err(decode_error)?);
        }
        let Some(first) = records.first() else {
            return Ok(Vec::new());
        };
        let layout = self.layout(conn, first).await?;
        records
            .iter()
            .map(|fields| {
                if !layout.fits(fields) {
                    return Err(decode_error(format!(
                        "rows of {} changed shape within one statement",
                        self.def.table
                    )));
                }
                layout
                    .positions
                    .iter()
                    .map(|&i| record::text(fields[i]).map_err(decode_error))
                    .collect()
            })
            .collect()
    }

    /// The [`Layout`] that fits `fields`, a record of this projection's table: the one
    /// kept, or read from the catalog (once per process, and again when the table's
    /// columns change).
    async fn layout(
        &self,
        conn: &mut PgConnection,
        fields: &[record::Field<'_>],
    ) -> Result<Arc<Layout>, EngineError> {
        let key = (self.def.name, self.result_type);
        if let Some(layout) = LAYOUTS.get(&key).filter(|l| l.fits(fields)) {
            return Ok(layout);
        }
        let columns: Vec<(String, i64)> = sqlx::query_as(
            "SELECT attname::text, atttypid::int8 FROM pg_attribute \
             WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        )
        .bind(ident(self.def.table))
        .fetch_all(&mut *conn)
        .await?;
        let positions = self
            .columns()
            .map(|c| {
                columns.iter().position(|(n, _)| n == c).ok_or_else(|| {
                    decode_error(format!("table {} has no column {c:?}", self.def.table))
                })
            })
            .collect::<Result<_, _>>()?;
        let oids = columns.iter().map(|(_, oid)| *oid as u32).collect();
        let layout = Arc::new(Layout { oids, positions });
        if !layout.fits(fields) {
            return Err(decode_error(format!(
                "a row of {} does not have the columns the catalog gives",
                self.def.table
            )));
        }
        LAYOUTS.insert(key, layout.clone());
        Ok(layout)
    }

    /// The entity block of each row, and the stored codes of its related blocks. The
    /// generictype codes of every row are shown as their labels, found together.
    pub async fn blocks(
        &self,
        conn: &mut PgConnection,
        known: &Known,
        rows: &[PgRow],
    ) -> Result<Vec<BlockAndRelated>, EngineError> {
        let rows = self.decode(conn, rows).await?;
        let labels = self.labels(conn, known, &rows).await?;
        let capacity = self.fields.len() + usize::from(self.dynamic) * 8;
        let mut blocks = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut block = Map::with_capacity(capacity);
            let related = self.visit(row, &labels, |key, value| {
                block.insert(key.to_string(), Json::String(value.to_string()));
            });
            blocks.push((block, related));
        }
        Ok(blocks)
    }

    /// The one row's [`blocks`](Self::blocks).
    pub async fn block(
        &self,
        conn: &mut PgConnection,
        known: &Known,
        row: PgRow,
    ) -> Result<BlockAndRelated, EngineError> {
        let mut blocks = self.blocks(conn, known, &[row]).await?;
        Ok(blocks.pop().unwrap_or_default())
    }

    /// The one row's block written onto `out` as a JSON object, the same keys and values
    /// as [`block`](Self::block) gives, without a map between (issue 8: the map of ~90
    /// keys, its hashing and its ~180 strings were a sixth of a GET's instructions).
    /// Returns the stored codes of its related blocks.
    pub async fn write_block(
        &self,
        conn: &mut PgConnection,
        known: &Known,
        row: &PgRow,
        out: &mut Vec<u8>,
    ) -> Result<Vec<Option<String>>, EngineError> {
        let values = self.decode(conn, std::slice::from_ref(row)).await?;
        let labels = self.labels(conn, known, &values).await?;
        let values = values
            .first()
            .ok_or_else(|| decode_error("a row gave no values"))?;
        out.push(b'{');
        let mut first = true;
        let related = self.visit(values, &labels, |key, value| {
            if !first {
                out.push(b',');
            }
            first = false;
            push_json_str(out, key);
            out.push(b':');
            push_json_str(out, value);
        });
        out.push(b'}');
        Ok(related)
    }

    /// The labels of the generictype codes in `rows`: those the cache knows, the others
    /// read in one statement (none when every code is empty).
    async fn labels(
        &self,
        conn: &mut PgConnection,
        known: &Known,
        rows: &[Values<'_>],
    ) -> Result<Labels, EngineError> {
        let mut codes = Vec::new();
        for row in rows {
            for &i in &self.labelled {
                if !row[i].is_empty() {
                    codes.push(row[i].to_string());
                }
            }
        }
        if codes.is_empty() {
            return Ok(Labels::default());
        }
        Labels::of(conn, known, codes).await
    }

    /// Each key and value of a row's block (its [`decode`](Self::decode)d values), in the
    /// seed's order, to `field`: the generictype codes as their labels (`""` when empty or
    /// unknown), then the dynamic fields as `v_<name>` sorted by name. Returns the stored
    /// codes of its related blocks (`None` when empty).
    fn visit(
        &self,
        values: &[Cow<'_, str>],
        labels: &Labels,
        mut field: impl FnMut(&str, &str),
    ) -> Vec<Option<String>> {
        let mut labelled = self.labelled.iter().peekable();
        for (i, f) in self.fields.iter().enumerate() {
            let value = &*values[i];
            if labelled.next_if_eq(&&i).is_some() {
                field(f.json, labels.get(value));
            } else {
                field(f.json, value);
            }
        }
        let n = self.fields.len();
        let related = values[n..n + self.related.len()]
            .iter()
            .map(|code| (!code.is_empty()).then(|| code.to_string()))
            .collect();
        if self.dynamic {
            let raw = &*values[n + self.related.len()];
            let values: Map<String, Json> = serde_json::from_str(raw).unwrap_or_default();
            let mut names: Vec<_> = values.into_iter().collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, value) in names {
                let text = match value {
                    Json::String(s) => s,
                    Json::Null => String::new(),
                    other => other.to_string(),
                };
                field(&format!("v_{name}"), &text);
            }
        }
        related
    }

    /// The `related` object of extendedRelated: each referenced row as its own entity's
    /// GET extended, or every key `""` when the foreign key is empty (SPEC 3, 11.5).
    pub async fn related_blocks(
        &self,
        conn: &mut PgConnection,
        registry: &Registry,
        known: &Known,
        codes: &[Option<String>],
    ) -> Result<Map<String, Json>, EngineError> {
        let mut out = Map::new();
        for ((related, field), code) in self.related.iter().zip(codes) {
            let Some(target) = field.reference.and_then(|r| sql::target(registry, r)) else {
                continue;
            };
            let projection = Projection::new(target, ResultType::Extended);
            let block = match code {
                Some(code) => projection.fetch_one(conn, known, code).await?,
                None => None,
            };
            out.insert(
                related.key.to_string(),
                Json::Object(block.unwrap_or_else(|| projection.empty())),
            );
        }
        Ok(out)
    }

    /// One row by code, as a block (no scope: related rows are shown whatever their type).
    pub async fn fetch_one(
        &self,
        conn: &mut PgConnection,
        known: &Known,
        code: &str,
    ) -> Result<Option<Map<String, Json>>, EngineError> {
        Ok(match self.fetch_row(conn, code).await? {
            Some(row) => Some(self.block(conn, known, row).await?.0),
            None => None,
        })
    }

    /// One row by code, as [`push_columns`](Self::push_columns) reads it (no scope).
    pub async fn fetch_row(
        &self,
        conn: &mut PgConnection,
        code: &str,
    ) -> Result<Option<PgRow>, EngineError> {
        let mut qb = QueryBuilder::new("");
        self.push_select_by_code(&mut qb, code);
        Ok(qb.build().fetch_optional(&mut *conn).await?)
    }

    /// `{"<block>": {...}}` of one row, the block as [`write_block`](Self::write_block)
    /// writes it: a PUT's result (issue 8: the same text path as a GET's).
    pub async fn block_result(
        &self,
        conn: &mut PgConnection,
        known: &Known,
        row: &PgRow,
    ) -> Result<JsonText, EngineError> {
        let (mut out, _) = self.open_result(conn, known, row).await?;
        out.push(b'}');
        Ok(JsonText(out))
    }

    /// A result's text up to its entity block included: `{"<block>":{...}`, still open
    /// for what follows; and the stored codes of the row's related blocks.
    async fn open_result(
        &self,
        conn: &mut PgConnection,
        known: &Known,
        row: &PgRow,
    ) -> Result<(Vec<u8>, Vec<Option<String>>), EngineError> {
        // An extended block is ~4 KB: sized once.
        let mut out = Vec::with_capacity(8 * 1024);
        out.push(b'{');
        push_json_str(&mut out, self.def.block);
        out.push(b':');
        let related_codes = self.write_block(conn, known, row, &mut out).await?;
        Ok((out, related_codes))
    }

    /// The block with every key `""`.
    pub fn empty(&self) -> Map<String, Json> {
        self.fields
            .iter()
            .map(|f| (f.json.to_string(), Json::String(String::new())))
            .collect()
    }
}

/// Render one entity row's block (`Projection::blocks`) as a GET result: the block, then
/// [`extras`]. Returns the row's code with it.
pub async fn result_of_block(
    conn: &mut PgConnection,
    registry: &Registry,
    known: &Known,
    projection: &Projection<'_>,
    (block, related_codes): BlockAndRelated,
    settings: Settings,
) -> Result<(String, Map<String, Json>), EngineError> {
    let def = projection.def;
    let code = block
        .get(def.code)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let extras = extras(
        conn,
        registry,
        known,
        projection,
        &code,
        &related_codes,
        settings,
    )
    .await?;
    let mut result = Map::new();
    result.insert(def.block.to_string(), Json::Object(block));
    for (key, value) in extras {
        result.insert(key.to_string(), value);
    }
    Ok((code, result))
}

/// [`result_of_block`] of one row written as JSON text, the block straight from the row
/// ([`Projection::write_block`]). `code` is the row's code.
pub async fn result_text(
    conn: &mut PgConnection,
    registry: &Registry,
    known: &Known,
    projection: &Projection<'_>,
    row: &PgRow,
    code: &str,
    settings: Settings,
) -> Result<JsonText, EngineError> {
    let (mut out, related_codes) = projection.open_result(conn, known, row).await?;
    for (key, value) in extras(
        conn,
        registry,
        known,
        projection,
        code,
        &related_codes,
        settings,
    )
    .await?
    {
        out.push(b',');
        push_json_str(&mut out, key);
        out.push(b':');
        // A Value (string keys) into a Vec cannot fail to serialize.
        let _ = serde_json::to_writer(&mut out, &value);
    }
    out.push(b'}');
    Ok(JsonText(out))
}

/// What a result shows after the entity block, when asked (SPEC 3): `related`,
/// `partners` and `indicators`, in that order. `code` is the row's code and
/// `related_codes` the stored codes of its related blocks.
async fn extras(
    conn: &mut PgConnection,
    registry: &Registry,
    known: &Known,
    projection: &Projection<'_>,
    code: &str,
    related_codes: &[Option<String>],
    settings: Settings,
) -> Result<Vec<(&'static str, Json)>, EngineError> {
    let def = projection.def;
    let mut extras = Vec::new();
    if !projection.related.is_empty() {
        let related = projection
            .related_blocks(conn, registry, known, related_codes)
            .await?;
        extras.push(("related", Json::Array(vec![Json::Object(related)])));
    }
    if let (true, Some(spec)) = (settings.get_partners, &def.partners) {
        let partners = partners(conn, registry, spec, code).await?;
        extras.push(("partners", Json::Array(partners)));
    }
    if settings.get_indicators && def.indicators.is_some() {
        let indicators = indicators(conn, registry, known, def, code).await?;
        extras.push(("indicators", Json::Array(vec![Json::Object(indicators)])));
    }
    Ok(extras)
}

/// A row the reply cannot be read from: a fault (INTERNAL), not the request's.
fn decode_error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> EngineError {
    EngineError::from(sqlx::Error::Decode(e.into()))
}

/// JSON text written straight from a row: a GET's or a PUT's result (issue 8). It stands
/// for the value it holds: equal when the values are (as serde_json's maps, whatever the
/// order of an object's keys: a PUT's record comes back from `jsonb` in its order),
/// (de)serialized as that value.
#[derive(Debug, Clone)]
pub struct JsonText(Vec<u8>);

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.to_json() == other.to_json()
    }
}

impl JsonText {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Put this text in as the last key, `result`, of the JSON object in `object` (a
    /// reply's body, an outcome's record). `false`, and nothing changed, when `object` does
    /// not end as an object does.
    pub fn append_as_result(&self, object: &mut Vec<u8>) -> bool {
        if object.last() != Some(&b'}') {
            return false;
        }
        object.pop();
        if object.last() != Some(&b'{') {
            object.push(b',');
        }
        object.extend_from_slice(b"\"result\":");
        object.extend_from_slice(&self.0);
        object.push(b'}');
        true
    }

    /// The value (`Null` if the text were not JSON, which the writers here never give).
    pub fn to_json(&self) -> Json {
        serde_json::from_slice(&self.0).unwrap_or(Json::Null)
    }
}

impl serde::Serialize for JsonText {
    /// The text as it is (checked, not parsed into a value): a PUT's idempotency record
    /// holds its result (issue 8).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = std::str::from_utf8(&self.0)
            .ok()
            .and_then(|text| serde_json::from_str::<&RawValue>(text).ok());
        match raw {
            Some(raw) => raw.serialize(serializer),
            None => Json::Null.serialize(serializer),
        }
    }
}

impl<'de> serde::Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Json::deserialize(deserializer)?;
        Ok(JsonText(value.to_string().into_bytes()))
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it (`"`, `\`, control characters;
/// nothing else), so that a block written here is the text serde_json would write.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut rest = s.as_bytes();
    // Runs without an escape are copied whole; the search is a tight loop (most values
    // have no escape at all).
    while let Some(i) = rest
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
    {
        let (run, tail) = rest.split_at(i);
        out.extend_from_slice(run);
        let Some((&b, tail)) = tail.split_first() else {
            break;
        };
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        rest = tail;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// The `originalCode` of generictype codes (SPEC 3: a generictype foreign key is shown as
/// its originalCode; `""` for an empty key or a code without one).
#[derive(Default)]
pub struct Labels(HashMap<String, String>);

impl Labels {
    /// The labels of `codes`: those the cache knows (known.rs), the others read in one
    /// statement and kept.
    pub async fn of(
        conn: &mut PgConnection,
        known: &Known,
        codes: Vec<String>,
    ) -> Result<Labels, EngineError> {
        let mut labels = HashMap::with_capacity(codes.len());
        let mut missing = Vec::new();
        for code in codes.into_iter().filter(|c| !c.is_empty()) {
            if labels.contains_key(&code) || missing.contains(&code) {
                continue;
            }
            match known.label(&code) {
                Some(label) => {
                    labels.insert(code, label);
                }
                None => missing.push(code),
            }
        }
        if !missing.is_empty() {
            let rows = sqlx::query(
                "SELECT codegenerictype::text, coalesce(\"originalCode\", '')::text \
                 FROM sw_data_generictype WHERE codegenerictype = ANY($1)",
            )
            .bind(&missing)
            .fetch_all(&mut *conn)
            .await?;
            let mut found = Vec::with_capacity(rows.len());
            for row in &rows {
                found.push((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
            }
            known.remember(known::Found {
                labels: found
                    .iter()
                    .map(|(c, l)| (c.as_str(), l.as_str()))
                    .collect(),
                ..known::Found::default()
            });
            labels.extend(found);
        }
        Ok(Labels(labels))
    }

    /// The label of `code` (`""` when unknown).
    pub fn get(&self, code: &str) -> &str {
        self.0.get(code).map_or("", String::as_str)
    }
}

/// The `partners` list (SPEC 11.10): `{code, customer, name (the customer's), role}` for each
/// partner row linked to `code`, by partner code.
async fn partners(
    conn: &mut PgConnection,
    registry: &Registry,
    spec: &super::definition::Partners,
    code: &str,
) -> Result<Vec<Json>, EngineError> {
    let (Some(partner), Some(customer)) = (registry.get(spec.entity), registry.get("customer"))
    else {
        return Ok(Vec::new());
    };
    let (Some(link), Some(cust), Some(role)) = (
        partner.field(spec.link),
        partner.field(spec.customer),
        partner.field(spec.role),
    ) else {
        return Ok(Vec::new());
    };
    let name = customer.field("name").map(|f| f.column).unwrap_or("name");
    let sql = format!(
        "SELECT p.{code_col}, p.{cust_col}, c.{name}, p.{role_col} FROM {table} p \
         LEFT JOIN {customers} c ON c.{customer_code} = p.{cust_col} \
         WHERE p.{link_col} = $1 ORDER BY p.{code_col}",
        code_col = ident(partner.code_field().column),
        cust_col = ident(cust.column),
        name = ident(name),
        role_col = ident(role.column),
        table = ident(partner.table),
        customers = ident(customer.table),
        customer_code = ident(customer.code_field().column),
        link_col = ident(link.column),
    );
    let rows = sqlx::query(&sql).bind(code).fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut item = Map::new();
        let keys = [partner.code, cust.json, "name", role.json];
        for (i, key) in keys.iter().enumerate() {
            let v: Option<String> = row.try_get(i)?;
            item.insert(key.to_string(), Json::String(v.unwrap_or_default()));
        }
        out.push(Json::Object(item));
    }
    Ok(out)
}

/// The `indicators` block (SPEC 8.1, 11.12): the extension row's fields (or `""`), the
/// live counts after the key the definition names, `customer_ID` = the code.
async fn indicators(
    conn: &mut PgConnection,
    registry: &Registry,
    known: &Known,
    def: &EntityDef,
    code: &str,
) -> Result<Map<String, Json>, EngineError> {
    let Some(spec) = &def.indicators else {
        return Ok(Map::new());
    };
    let Some(extension) = registry.get(spec.entity) else {
        return Ok(Map::new());
    };
    let projection = Projection::new(extension, ResultType::Extended);
    let mut qb = QueryBuilder::new("");
    projection.push_select_from(&mut qb);
    let link = extension
        .field(spec.field)
        .unwrap_or(extension.code_field());
    qb.push(" WHERE ")
        .push(column("t", link))
        .push(" = ")
        .push_bind(code.to_string());
    qb.push(" ORDER BY ")
        .push(column("t", extension.code_field()))
        .push(" LIMIT 1");
    let row = qb.build().fetch_optional(&mut *conn).await?;
    let mut block = match row {
        Some(row) => projection.block(conn, known, row).await?.0,
        None => projection.empty(),
    };
    block.insert(spec.field.to_string(), Json::String(code.to_string()));
    let mut counts = Vec::new();
    for live in &spec.live {
        counts.push((live, live_count(conn, registry, live, code).await?));
    }
    let mut out = Map::new();
    for (key, value) in block {
        let renamed = spec
            .renames
            .iter()
            .find(|(from, _)| *from == key)
            .map(|(_, to)| *to);
        out.insert(
            renamed.map(String::from).unwrap_or_else(|| key.clone()),
            value,
        );
        for (live, count) in counts.iter().filter(|(l, _)| l.after == key) {
            out.insert(live.json.to_string(), Json::String(count.to_string()));
        }
    }
    let missing: Vec<_> = counts
        .iter()
        .filter(|(l, _)| !out.contains_key(l.json))
        .collect();
    for (live, count) in missing {
        out.insert(live.json.to_string(), Json::String(count.to_string()));
    }
    Ok(out)
}

async fn live_count(
    conn: &mut PgConnection,
    registry: &Registry,
    live: &super::definition::LiveCount,
    code: &str,
) -> Result<i64, EngineError> {
    let Some(counted) = registry.get(live.entity) else {
        return Ok(0);
    };
    let Some(field) = counted.field(live.field) else {
        return Ok(0);
    };
    let mut qb = QueryBuilder::new("SELECT count(*) FROM ");
    qb.push(ident(counted.table))
        .push(" t WHERE ")
        .push(column("t", field))
        .push(" = ");
    qb.push_bind(code.to_string());
    qb.push(" AND (").push(live.condition).push(")");
    Ok(qb
        .build()
        .fetch_one(&mut *conn)
        .await?
        .try_get::<i64, _>(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all_bytes = String::new();
        for c in (0u8..=0x7f).map(char::from) {
            all_bytes.push(c);
        }
        let cases = [
            "",
            "plain",
            "A \"quoted\" \\ name\twith\nlines\r",
            "\u{0}\u{1}\u{8}\u{b}\u{c}\u{1f}\u{7f}",
            "é 😀 </script> \u{2028}",
            all_bytes.as_str(),
        ];
        for s in cases {
            let mut out = Vec::new();
            push_json_str(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn json_text_stands_for_its_value() {
        let value = serde_json::json!({"customer": {"b": "1", "a": ["x"]}});
        let text: JsonText = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(text.to_json(), value);
        assert_eq!(serde_json::to_value(&text).unwrap(), value);
        let keys: Vec<_> = text.to_json()["customer"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["b", "a"], "order kept");
        assert_eq!(
            serde_json::to_string(&text).unwrap(),
            r#"{"customer":{"b":"1","a":["x"]}}"#,
            "written as it is"
        );
        let reordered: JsonText =
            serde_json::from_str(r#"{"customer":{"a":["x"],"b":"1"}}"#).unwrap();
        assert_eq!(text, reordered, "equal as values");
        let other: JsonText = serde_json::from_str(r#"{"customer":{"a":["y"],"b":"1"}}"#).unwrap();
        assert_ne!(text, other);
    }
}
