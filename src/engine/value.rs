//! Values on the wire and in PostgreSQL (SPEC section 3, "Values on the way in"): one
//! function parses a JSON value into a typed `Value` for a field's type, one binds a `Value`
//! to a query. The way out is record.rs: a row read whole, each value written as text.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::Value as Json;
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, Postgres, QueryBuilder};

use super::definition::Type;

/// A typed field value, ready to bind.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i32),
    Double(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// Parse a request value for a field of type `ty`. `null` and `""` are `Value::Null`
/// (SPEC 3: they clear a nullable field; 11.8: on create they mean "not given").
/// `Err` carries a message for the reply's details.
pub fn parse(ty: Type, json: &Json) -> Result<Value, String> {
    let number;
    let text = match json {
        Json::Null => return Ok(Value::Null),
        Json::String(s) if s.is_empty() => return Ok(Value::Null),
        Json::String(s) => s.as_str(),
        Json::Number(n) => {
            number = n.to_string();
            number.as_str()
        }
        Json::Bool(b) => {
            return match ty {
                Type::Bool => Ok(Value::Bool(*b)),
                _ => Err(format!("expected {}, got a boolean", type_name(ty))),
            }
        }
        Json::Array(_) | Json::Object(_) => {
            return Err(format!(
                "expected {}, got a JSON {}",
                type_name(ty),
                kind(json)
            ))
        }
    };
    parse_text(ty, text)
}

/// Parse the text form of a value (also used for LIST filter values).
pub fn parse_text(ty: Type, text: &str) -> Result<Value, String> {
    match ty {
        Type::Varchar(n) => {
            let len = text.chars().count();
            if len > n as usize {
                Err(format!("longer than {n} characters ({len})"))
            } else {
                Ok(Value::Text(text.to_string()))
            }
        }
        Type::Text => {
            if text.chars().count() > 65_535 {
                Err("longer than 65535 characters".to_string())
            } else {
                Ok(Value::Text(text.to_string()))
            }
        }
        Type::Int => text
            .trim()
            .parse::<i32>()
            .map(Value::Int)
            .map_err(|_| format!("not an integer: {text:?}")),
        Type::Double => match text.trim().parse::<f64>() {
            Ok(d) if d.is_finite() => Ok(Value::Double(d)),
            _ => Err(format!("not a number: {text:?}")),
        },
        Type::Bool => match text.trim() {
            "0" | "false" => Ok(Value::Bool(false)),
            "1" | "true" => Ok(Value::Bool(true)),
            _ => Err(format!("not a bool (0, 1, true, false): {text:?}")),
        },
        Type::Date => parse_datetime(text)
            .map(|d| Value::Date(d.date()))
            .ok_or_else(|| format!("not a date (YYYY-MM-DD): {text:?}")),
        Type::DateTime => parse_datetime(text)
            .map(Value::DateTime)
            .ok_or_else(|| format!("not a date (YYYY-MM-DD[ HH:MM[:SS]]): {text:?}")),
    }
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM` or `YYYY-MM-DD HH:MM:SS` (SPEC section 3).
pub fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Some(d.and_time(NaiveTime::MIN));
    }
    NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .ok()
}

fn type_name(ty: Type) -> &'static str {
    match ty {
        Type::Varchar(_) | Type::Text => "a string",
        Type::Int => "an integer",
        Type::Double => "a number",
        Type::Bool => "a bool",
        Type::Date => "a date",
        Type::DateTime => "a date and time",
    }
}

fn kind(json: &Json) -> &'static str {
    match json {
        Json::Array(_) => "array",
        Json::Object(_) => "object",
        _ => "scalar",
    }
}

/// Where a bound value goes: a statement being built, or the arguments of a statement
/// whose text is already built (its placeholders numbered as `push_bind` numbers them).
pub trait Binds<'q> {
    fn bind<T>(&mut self, value: T) -> Result<(), sqlx::Error>
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>;
}

impl<'q> Binds<'q> for QueryBuilder<'q, Postgres> {
    fn bind<T>(&mut self, value: T) -> Result<(), sqlx::Error>
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>,
    {
        self.push_bind(value);
        Ok(())
    }
}

impl<'q> Binds<'q> for PgArguments {
    fn bind<T>(&mut self, value: T) -> Result<(), sqlx::Error>
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>,
    {
        self.add(value).map_err(sqlx::Error::Encode)
    }
}

/// Bind `value` for a column of type `ty`. A null is bound with the column's type, so
/// PostgreSQL never has to guess it. A text is bound by reference (the arguments of a
/// PUT copy ~60 of them: a `String` each was ~2% of its instructions, issue 8).
pub fn bind<'q>(to: &mut impl Binds<'q>, ty: Type, value: &'q Value) -> Result<(), sqlx::Error> {
    match value {
        Value::Text(s) => to.bind(s.as_str()),
        other => bind_owned(to, ty, other),
    }
}

/// `bind` onto a statement being built (which cannot fail).
pub fn push_bind(qb: &mut QueryBuilder<'_, Postgres>, ty: Type, value: &Value) {
    let _built = bind_owned(qb, ty, value);
}

/// `bind` of a copy of `value`, for a binder that outlives it.
fn bind_owned<'q>(to: &mut impl Binds<'q>, ty: Type, value: &Value) -> Result<(), sqlx::Error> {
    match (value, ty) {
        (Value::Text(s), _) => to.bind(s.clone()),
        (Value::Int(i), _) => to.bind(*i),
        (Value::Double(d), _) => to.bind(*d),
        (Value::Bool(b), _) => to.bind(*b),
        (Value::Date(d), _) => to.bind(*d),
        (Value::DateTime(d), _) => to.bind(*d),
        (Value::Null, Type::Varchar(_) | Type::Text) => to.bind(None::<String>),
        (Value::Null, Type::Int) => to.bind(None::<i32>),
        (Value::Null, Type::Double) => to.bind(None::<f64>),
        (Value::Null, Type::Bool) => to.bind(None::<bool>),
        (Value::Null, Type::Date) => to.bind(None::<NaiveDate>),
        (Value::Null, Type::DateTime) => to.bind(None::<NaiveDateTime>),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_string_and_null_are_null() {
        assert_eq!(parse(Type::Int, &json!("")), Ok(Value::Null));
        assert_eq!(parse(Type::Varchar(3), &json!(null)), Ok(Value::Null));
    }

    #[test]
    fn bool_accepts_the_six_spellings_only() {
        for (v, b) in [
            (json!(0), false),
            (json!("1"), true),
            (json!(true), true),
            (json!("false"), false),
        ] {
            assert_eq!(parse(Type::Bool, &v), Ok(Value::Bool(b)));
        }
        assert!(parse(Type::Bool, &json!("2")).is_err());
        assert!(parse(Type::Bool, &json!("yes")).is_err());
    }

    #[test]
    fn varchar_longer_than_its_length_is_rejected() {
        assert!(parse(Type::Varchar(3), &json!("abcd")).is_err());
        assert_eq!(
            parse(Type::Varchar(4), &json!("éèàç")),
            Ok(Value::Text("éèàç".into()))
        );
    }

    #[test]
    fn numbers_accept_strings_and_json_numbers() {
        assert_eq!(parse(Type::Double, &json!("0.00")), Ok(Value::Double(0.0)));
        assert_eq!(parse(Type::Double, &json!(2.5)), Ok(Value::Double(2.5)));
        assert_eq!(parse(Type::Int, &json!(23)), Ok(Value::Int(23)));
        assert!(parse(Type::Int, &json!("2.5")).is_err());
        assert!(parse(Type::Double, &json!("abc")).is_err());
        assert!(parse(Type::Double, &json!("NaN")).is_err());
    }

    #[test]
    fn dates_accept_three_forms() {
        let d = NaiveDate::from_ymd_opt(2020, 6, 1).unwrap();
        assert_eq!(parse(Type::Date, &json!("2020-06-01")), Ok(Value::Date(d)));
        assert_eq!(
            parse(Type::DateTime, &json!("2020-06-01 10:30")),
            Ok(Value::DateTime(d.and_hms_opt(10, 30, 0).unwrap()))
        );
        assert_eq!(
            parse(Type::DateTime, &json!("2020-06-01 10:30:15")),
            Ok(Value::DateTime(d.and_hms_opt(10, 30, 15).unwrap()))
        );
        assert!(parse(Type::Date, &json!("01/06/2020")).is_err());
        assert!(parse(Type::DateTime, &json!("2020-13-01")).is_err());
    }

    #[test]
    fn objects_and_arrays_are_rejected() {
        assert!(parse(Type::Text, &json!({"a": 1})).is_err());
        assert!(parse(Type::Varchar(9), &json!([1])).is_err());
    }
}
