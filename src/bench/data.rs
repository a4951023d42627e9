//! The GET / LIST tables: customers generated server-side (`INSERT … SELECT … FROM
//! generate_series`), so that a million rows load in about a minute through the real
//! indexes, and the words the LIST requests search for.
//!
//! Row `i` (1-based) has code `L<i:08>` and name `SOCIETE <word> <token>`: `word` is one of
//! [`WORDS`] (each in 2% of the rows), `token` seven letters computed from `i` by a
//! bijective hash (found in that row only). The same functions compute them on both sides:
//! [`code_of`], [`token_of`] here, the SQL in [`load_customers`].

use sqlx::{Executor, PgPool, QueryBuilder, Row};

use super::Result;
use crate::engine::render::Projection;
use crate::entities::Registry;
use crate::request::ResultType;

/// Fifty words, none containing another, so that `contains <word>` finds 2% of the rows.
pub const WORDS: [&str; 50] = [
    "ABEILLE",
    "BALEINE",
    "CASTOR",
    "DAUPHIN",
    "ECUREUIL",
    "FAUCON",
    "GAZELLE",
    "HERISSON",
    "IBIS",
    "JAGUAR",
    "KOALA",
    "LOUTRE",
    "MARMOTTE",
    "NARVAL",
    "OCELOT",
    "PANTHERE",
    "QUETZAL",
    "RENARD",
    "SANGLIER",
    "TORTUE",
    "URUBU",
    "VAUTOUR",
    "WAPITI",
    "XERUS",
    "YACK",
    "ZEBRE",
    "ALPAGA",
    "BISON",
    "CIGOGNE",
    "DROMADAIRE",
    "ELAN",
    "FURET",
    "GIRAFE",
    "HIBOU",
    "IGUANE",
    "JABIRU",
    "KANGOUROU",
    "LYNX",
    "MANCHOT",
    "NASIQUE",
    "ORQUE",
    "PELICAN",
    "RATON",
    "SURICATE",
    "TAPIR",
    "VIGOGNE",
    "WOMBAT",
    "MOUFLON",
    "BLAIREAU",
    "CHAMOIS",
];

const CITIES: [&str; 10] = [
    "DIJON",
    "STRASBOURG",
    "NANTES",
    "LYON",
    "LILLE",
    "RENNES",
    "BORDEAUX",
    "TOULOUSE",
    "METZ",
    "REIMS",
];

/// Multiplier of the token hash: odd, so `i -> i * K mod 2^32` is a bijection.
const TOKEN_MULTIPLIER: u64 = 2_654_435_761;
const TOKEN_LETTERS: u32 = 7;

/// The code of loaded row `i`.
pub fn code_of(i: u64) -> String {
    format!("L{i:08}")
}

/// The seven-letter token of row `i`: base-26 digits of `i * K mod 2^32`.
pub fn token_of(i: u64) -> String {
    let mut h = i.wrapping_mul(TOKEN_MULTIPLIER) % (1u64 << 32);
    (0..TOKEN_LETTERS)
        .map(|_| {
            let c = char::from(b'A' + (h % 26) as u8);
            h /= 26;
            c
        })
        .collect()
}

/// The word of a broad LIST request.
pub fn broad_word(i: u64) -> &'static str {
    WORDS[(i.wrapping_mul(7919) % WORDS.len() as u64) as usize]
}

/// The SQL expression of [`token_of`] for a bigint `h = i * K mod 2^32`.
fn token_sql() -> String {
    (0..TOKEN_LETTERS)
        .map(|k| format!("chr(65 + ((h / {}) % 26)::int)", 26u64.pow(k)))
        .collect::<Vec<_>>()
        .join(" || ")
}

/// Grow the customer table from `from` to `to` loaded rows (codes `L…`, type CTC, foreign
/// keys to the demo data), by batches of 100,000, then VACUUM ANALYZE it so that the
/// planner and the visibility map are as after a normal life.
pub async fn load_customers(pool: &PgPool, from: u64, to: u64) -> Result<()> {
    let words = WORDS
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(",");
    let cities = CITIES
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        r#"INSERT INTO sw_data_customer
             (codecustomer, name, address1, "postalCode", city, "phoneNumber", email,
              "generictype_ID_customerType", "generictype_ID_country", "baseuser_ID",
              "branchoffice_ID", "generictype_ID_customerFamily", blocked, workforce,
              "discountRate", "accountNumber")
           SELECT 'L' || lpad(s.i::text, 8, '0'),
                  'SOCIETE ' || (ARRAY[{words}])[(1 + s.i % 50)::int] || ' ' || {token},
                  s.i || ' rue des Acacias',
                  lpad((1000 + s.i % 95000)::text, 5, '0'),
                  (ARRAY[{cities}])[(1 + s.i % 10)::int],
                  '03 90 ' || lpad((s.i % 1000000)::text, 6, '0'),
                  'contact' || s.i || '@' || lower((ARRAY[{words}])[(1 + s.i % 50)::int]) || '.fr',
                  'CUSTOMER_TYPE-CTC', 'COUNTRY-FR', 'GRO-OUES', 'SXB',
                  'CUSTOMER_FAMILY-GROSARTG', false, (s.i % 500)::int, 0,
                  'L' || lpad(s.i::text, 8, '0')
           FROM (SELECT i, (i * {TOKEN_MULTIPLIER}) % 4294967296 AS h
                 FROM generate_series($1::bigint, $2::bigint) AS i) AS s"#,
        token = token_sql().replace("h /", "s.h /"),
    );
    let mut conn = pool.acquire().await?;
    // The rows reference demo rows that exist; skipping the per-row foreign key triggers
    // (superuser only) only makes the load faster. Without the right, load with them.
    let fast = conn
        .execute("SET session_replication_role = replica")
        .await
        .is_ok();
    let mut start = from + 1;
    while start <= to {
        let end = (start + 99_999).min(to);
        sqlx::query(&sql)
            .bind(start as i64)
            .bind(end as i64)
            .execute(&mut *conn)
            .await?;
        start = end + 1;
    }
    if fast {
        conn.execute("SET session_replication_role = DEFAULT")
            .await?;
    }
    conn.execute("VACUUM (ANALYZE) sw_data_customer").await?;
    Ok(())
}

/// EXPLAIN ANALYZE of the worker's LIST queries (count and page) for a selective and a
/// broad word, on the current table: the evidence for "LIST latency does not grow with
/// the table".
pub async fn explain_list(pool: &PgPool, registry: &Registry, rows: u64) -> Result<Vec<String>> {
    let Some(def) = registry.get(super::ENTITY) else {
        return Ok(Vec::new());
    };
    let scope = def
        .scope
        .as_ref()
        .map(|s| {
            let codes = s
                .read
                .iter()
                .map(|c| format!("'{c}'"))
                .collect::<Vec<_>>()
                .join(",");
            format!(
                " AND t.{} = ANY(ARRAY[{codes}])",
                crate::engine::sql::ident(s.field)
            )
        })
        .unwrap_or_default();
    let mut plans = Vec::new();
    for word in [token_of(1 + rows / 2), WORDS[7].to_string()] {
        let filter = format!("{scope} AND t.\"name\" ILIKE '%{word}%'");
        let count = format!(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM sw_data_customer t WHERE TRUE{filter}"
        );
        let mut page = QueryBuilder::new("EXPLAIN (ANALYZE, BUFFERS) ");
        Projection::new(def, ResultType::Simple).push_select_from(&mut page);
        page.push(format!(
            " WHERE TRUE{filter} ORDER BY t.\"name\" ASC NULLS LAST, t.\"codecustomer\" ASC LIMIT 100 OFFSET 0"
        ));
        for sql in [count, page.sql().to_string()] {
            let lines: Vec<String> = sqlx::query(&sql)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?;
            plans.push(format!(
                "-- {rows} rows, contains {word:?}\n{}",
                lines.join("\n")
            ));
        }
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_word_contains_another() {
        for a in WORDS {
            for b in WORDS {
                assert!(a == b || !a.contains(b), "{a} contains {b}");
            }
            assert!(!"SOCIETE".contains(a));
        }
    }

    #[test]
    fn tokens_are_seven_letters_and_distinct() {
        let tokens: std::collections::HashSet<String> = (1..20_000).map(token_of).collect();
        assert_eq!(tokens.len(), 19_999);
        assert!(tokens.iter().all(|t| t.len() == 7));
        assert_eq!(code_of(42), "L00000042");
    }

    #[test]
    fn the_sql_token_is_the_rust_token() {
        // chr(65 + ((h / 26^k) % 26)) for k = 0..6, h = i * K mod 2^32, as token_of.
        assert!(token_sql().starts_with("chr(65 + ((h / 1) % 26)::int) || chr(65 + ((h / 26)"));
    }
}
