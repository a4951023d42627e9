//! A table row read whole (`SELECT t` / `RETURNING t`), in PostgreSQL's binary form of a
//! record, and each of its values shown as the wire text of SPEC section 3.
//!
//! Why (issue 8): a reply used to be read as ~90 expressions (`::text` casts, `to_char`,
//! `CASE` for booleans), which PostgreSQL sets up and evaluates at every execution. pgbench
//! of the GET statement, 16 clients, on 100k customers: 54-58 µs of the server's CPU per
//! statement with the expressions, 42-46 with the plain columns, 34-35 with the whole row.
//! The row comes as one value; the worker renders its ~90 fields, which it did anyway.
//!
//! The binary form of a record (`record_send`): the field count (int4), then for each
//! field its type OID (int4), its length (int4, -1 for NULL) and its bytes in the type's
//! own binary form.

use std::borrow::Cow;
use std::fmt::Write;

use chrono::{DateTime, NaiveDate};

/// Type OIDs of the values a reply shows (pg_type.dat).
mod oid {
    pub const BOOL: u32 = 16;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const JSON: u32 = 114;
    pub const FLOAT8: u32 = 701;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const JSONB: u32 = 3802;
}

/// A record or one of its values that this module cannot read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("a record value is cut short at byte {0}")]
    Truncated(usize),
    #[error(
        "a record field of type OID {oid} holds {len} bytes, which is not that type's binary form"
    )]
    BadLength { oid: u32, len: usize },
    #[error("a text value of the record is not UTF-8")]
    NotUtf8,
    #[error("a record field has type OID {0}, which a reply cannot show")]
    Unsupported(u32),
}

/// One field of a record: its type OID and its bytes (`None` for NULL).
pub type Field<'r> = (u32, Option<&'r [u8]>);

/// The fields of a record in its binary form, in the row type's order.
pub fn fields(bytes: &[u8]) -> Result<Vec<Field<'_>>, RecordError> {
    let mut at = 0;
    let count = read_i32(bytes, &mut at)?;
    // Each field takes at least 8 bytes: a count beyond that is cut short below, and
    // must not size the allocation.
    let capacity = usize::try_from(count).unwrap_or(0).min(bytes.len() / 8);
    let mut fields = Vec::with_capacity(capacity);
    for _ in 0..count {
        let oid = read_i32(bytes, &mut at)? as u32;
        let len = read_i32(bytes, &mut at)?;
        let value = match usize::try_from(len) {
            Ok(len) => {
                let value = bytes
                    .get(at..at + len)
                    .ok_or(RecordError::Truncated(bytes.len()))?;
                at += len;
                Some(value)
            }
            Err(_) => None,
        };
        fields.push((oid, value));
    }
    Ok(fields)
}

fn read_i32(bytes: &[u8], at: &mut usize) -> Result<i32, RecordError> {
    let word = bytes
        .get(*at..*at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .ok_or(RecordError::Truncated(*at))?;
    *at += 4;
    Ok(i32::from_be_bytes(word))
}

/// A field as the wire text, as the SQL that read replies gave it before (text as stored,
/// numbers as PostgreSQL writes them, booleans `1`/`0`, dates `YYYY-MM-DD`, date-times
/// `YYYY-MM-DD HH:MM:SS`), `""` for NULL.
pub fn text(field: Field<'_>) -> Result<Cow<'_, str>, RecordError> {
    let (oid, Some(bytes)) = field else {
        return Ok(Cow::Borrowed(""));
    };
    let utf8 = |b| std::str::from_utf8(b).map_err(|_| RecordError::NotUtf8);
    Ok(match oid {
        oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::JSON => {
            Cow::Borrowed(utf8(bytes)?)
        }
        // jsonb_send: a version byte (1), then the text jsonb_out writes.
        oid::JSONB => match bytes.split_first() {
            Some((1, rest)) => Cow::Borrowed(utf8(rest)?),
            _ => return Err(bad(oid, bytes)),
        },
        oid::BOOL => Cow::Borrowed(match bytes {
            [0] => "0",
            [_] => "1",
            _ => return Err(bad(oid, bytes)),
        }),
        oid::INT2 => Cow::Owned(i16::from_be_bytes(array(oid, bytes)?).to_string()),
        oid::INT4 => Cow::Owned(i32::from_be_bytes(array(oid, bytes)?).to_string()),
        oid::INT8 => Cow::Owned(i64::from_be_bytes(array(oid, bytes)?).to_string()),
        oid::FLOAT8 => Cow::Owned(float8(f64::from_be_bytes(array(oid, bytes)?))),
        oid::DATE => Cow::Owned(date(i32::from_be_bytes(array(oid, bytes)?))),
        // timestamptz as UTC, the zone sqlx's connections run in.
        oid::TIMESTAMP | oid::TIMESTAMPTZ => {
            Cow::Owned(timestamp(i64::from_be_bytes(array(oid, bytes)?)))
        }
        _ => return Err(RecordError::Unsupported(oid)),
    })
}

fn array<const N: usize>(oid: u32, bytes: &[u8]) -> Result<[u8; N], RecordError> {
    <[u8; N]>::try_from(bytes).map_err(|_| bad(oid, bytes))
}

fn bad(oid: u32, bytes: &[u8]) -> RecordError {
    RecordError::BadLength {
        oid,
        len: bytes.len(),
    }
}

/// A float8 as PostgreSQL (12+) writes it: the shortest text that reads back exactly,
/// fixed-point when its decimal exponent is within -4..=14, else `d.ddde+XX`.
pub fn float8(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // `{:e}` writes the shortest round-trip digits: "-1.2345e-5", "1e16", "0e0".
    let sci = format!("{v:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    if !(-4..=14).contains(&exponent) {
        let mut out = format!("{sign}{mantissa}e");
        out.push(if exponent < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exponent.unsigned_abs());
        return out;
    }
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::from(sign);
    if exponent < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
        out.push_str(&digits);
    } else {
        let whole = exponent as usize + 1;
        if digits.len() <= whole {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', whole - digits.len()));
        } else {
            out.push_str(&digits[..whole]);
            out.push('.');
            out.push_str(&digits[whole..]);
        }
    }
    out
}

/// Days since 2000-01-01 (PostgreSQL's date epoch) as `YYYY-MM-DD`; `""` for ±infinity
/// (`to_char` gives NULL for them).
fn date(days: i32) -> String {
    const EPOCH_FROM_CE: i32 = 730_120;
    days.checked_add(EPOCH_FROM_CE)
        .filter(|_| days != i32::MIN && days != i32::MAX)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Microseconds since 2000-01-01 00:00:00 as `YYYY-MM-DD HH:MM:SS` (the fraction cut, as
/// `to_char` does); `""` for ±infinity.
fn timestamp(micros: i64) -> String {
    const EPOCH_FROM_UNIX: i64 = 946_684_800_000_000;
    micros
        .checked_add(EPOCH_FROM_UNIX)
        .filter(|_| micros != i64::MIN && micros != i64::MAX)
        .and_then(DateTime::from_timestamp_micros)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[(u32, Option<&[u8]>)]) -> Vec<u8> {
        let mut out = (fields.len() as i32).to_be_bytes().to_vec();
        for (oid, value) in fields {
            out.extend(oid.to_be_bytes());
            match value {
                Some(v) => {
                    out.extend((v.len() as i32).to_be_bytes());
                    out.extend(*v);
                }
                None => out.extend((-1i32).to_be_bytes()),
            }
        }
        out
    }

    fn shown(oid: u32, bytes: &[u8]) -> String {
        text((oid, Some(bytes))).map(|t| t.into_owned()).unwrap()
    }

    #[test]
    fn a_record_is_read_field_by_field() {
        let bytes = record(&[
            (oid::VARCHAR, Some(b"C001")),
            (oid::INT4, None),
            (oid::BOOL, Some(&[1])),
        ]);
        let fields = fields(&bytes).unwrap();
        assert_eq!(fields.len(), 3);
        assert_eq!(text(fields[0]).unwrap(), "C001");
        assert_eq!(text(fields[1]).unwrap(), "", "NULL is shown empty");
        assert_eq!(text(fields[2]).unwrap(), "1");
    }

    #[test]
    fn a_cut_record_is_an_error_not_a_panic() {
        let bytes = record(&[(oid::VARCHAR, Some(b"C001"))]);
        for end in 0..bytes.len() {
            assert!(fields(&bytes[..end]).is_err(), "cut at {end}");
        }
        let mut huge = i32::MAX.to_be_bytes().to_vec();
        huge.extend(&bytes[4..]);
        assert!(fields(&huge).is_err(), "a count past the bytes is an error");
        assert!(text((oid::INT4, Some(&[0, 1]))).is_err());
        assert!(text((oid::BOOL, Some(&[]))).is_err());
        assert!(text((oid::JSONB, Some(b"{}"))).is_err(), "no version byte");
        assert!(text((oid::TEXT, Some(&[0xff]))).is_err());
        assert!(matches!(
            text((1700, Some(&[0; 8]))),
            Err(RecordError::Unsupported(1700))
        ));
    }

    #[test]
    fn values_are_shown_as_the_wire_text() {
        assert_eq!(shown(oid::BOOL, &[0]), "0");
        assert_eq!(shown(oid::INT4, &(-42i32).to_be_bytes()), "-42");
        assert_eq!(
            shown(oid::INT8, &(1i64 << 40).to_be_bytes()),
            "1099511627776"
        );
        assert_eq!(shown(oid::INT2, &7i16.to_be_bytes()), "7");
        assert_eq!(shown(oid::FLOAT8, &0.5f64.to_be_bytes()), "0.5");
        assert_eq!(shown(oid::JSONB, b"\x01{\"a\": 1}"), "{\"a\": 1}");
        assert_eq!(shown(oid::DATE, &0i32.to_be_bytes()), "2000-01-01");
        assert_eq!(shown(oid::DATE, &(-1i32).to_be_bytes()), "1999-12-31");
        assert_eq!(shown(oid::DATE, &i32::MAX.to_be_bytes()), "", "infinity");
        // 2026-12-07 13:45:09.999999: the fraction is cut, not rounded.
        let micros = (9837 * 86_400 + 13 * 3600 + 45 * 60 + 9) * 1_000_000 + 999_999i64;
        assert_eq!(
            shown(oid::TIMESTAMP, &micros.to_be_bytes()),
            "2026-12-07 13:45:09"
        );
        assert_eq!(
            shown(oid::TIMESTAMP, &(-1i64).to_be_bytes()),
            "1999-12-31 23:59:59"
        );
        assert_eq!(shown(oid::TIMESTAMP, &i64::MIN.to_be_bytes()), "");
    }

    #[test]
    fn floats_are_written_as_postgresql_writes_them() {
        // What `SELECT x::float8::text` gives on PostgreSQL 15 (extra_float_digits > 0).
        let cases = [
            (0.0, "0"),
            (-0.0, "-0"),
            (200.0, "200"),
            (0.1, "0.1"),
            (-1.25, "-1.25"),
            (1e14, "100000000000000"),
            (123456789012345.6, "123456789012345.6"),
            (1e15, "1e+15"),
            (1e16, "1e+16"),
            (1.5e100, "1.5e+100"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1.5e-5, "1.5e-05"),
            (5e-324, "5e-324"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, text) in cases {
            assert_eq!(float8(v), text, "{v:e}");
        }
    }
}
