//! Typed access through serde: Rust types to and from session [`Value`]s.
//!
//! Mapping: integers, floats, strings, booleans, `Option`, sequences and maps go to the
//! matching JSON-like values. Reading back, Flask's extra types are offered in their most
//! useful plain form: a tuple as a sequence, bytes as a sequence of integers, `Markup` as its
//! text, a UUID as its hyphenated text, and a datetime as RFC 3339 text
//! (`2024-01-02T01:04:05Z`), which `chrono` and `time` parse. For the Flask types
//! themselves, use [`Session::get_value`](crate::Session::get_value) and
//! [`Session::insert_value`](crate::Session::insert_value).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value as Json;

use crate::value::{hyphenated_uuid, BigInt, DateTime, Map, Value};

/// A Rust value could not be converted to or from a session value.
#[derive(Debug, thiserror::Error)]
#[error("session value conversion failed: {0}")]
pub struct ValueError(#[source] serde_json::Error);

/// Converts any `Serialize` type into a session value.
///
/// ```
/// use flacon::value::{to_value, Value};
/// assert_eq!(to_value(&vec!["bike"]).unwrap(), Value::List(vec![Value::from("bike")]));
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    serde_json::to_value(value)
        .map(from_json)
        .map_err(ValueError)
}

/// Converts a session value into any `Deserialize` type.
///
/// ```
/// use flacon::value::{from_value, Value};
/// let cart: Vec<String> = from_value(&Value::Tuple(vec![Value::from("bike")])).unwrap();
/// assert_eq!(cart, ["bike"]);
/// ```
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, ValueError> {
    serde_json::from_value(to_json(value)).map_err(ValueError)
}

fn from_json(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => BigInt::parse(&u.to_string()).map_or(Value::Null, Value::BigInt),
            (None, None) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Str(s),
        Json::Array(items) => Value::List(items.into_iter().map(from_json).collect()),
        Json::Object(map) => Value::Dict(
            map.into_iter()
                .map(|(k, v)| (k, from_json(v)))
                .collect::<Map>(),
        ),
    }
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::BigInt(b) => b
            .as_str()
            .parse::<u64>()
            .map(Json::from)
            .unwrap_or_else(|_| Json::String(b.to_string())),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str(s) | Value::Markup(s) => Json::String(s.clone()),
        Value::Surrogates(units) => Json::String(String::from_utf16_lossy(units)),
        Value::List(items) | Value::Tuple(items) => {
            Json::Array(items.iter().map(to_json).collect())
        }
        Value::Dict(map) => {
            Json::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        Value::Pairs(pairs) => to_json(&Value::Dict(Value::keys_as_text(pairs))),
        Value::Bytes(bytes) => Json::Array(bytes.iter().map(|b| Json::from(*b)).collect()),
        Value::Uuid(bytes) => Json::String(hyphenated_uuid(bytes)),
        Value::DateTime(d) => Json::String(
            DateTime {
                offset_seconds: 0,
                ..*d
            }
            .to_rfc3339(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::DateTime;

    #[test]
    fn structs_round_trip() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct User {
            id: u64,
            name: String,
            tags: Vec<String>,
            score: Option<f64>,
        }
        let user = User {
            id: u64::MAX,
            name: "ada".into(),
            tags: vec!["x".into()],
            score: Some(1.5),
        };
        let value = to_value(&user).unwrap();
        assert!(matches!(
            value.as_dict().unwrap().get("id"),
            Some(Value::BigInt(_))
        ));
        assert_eq!(from_value::<User>(&value).unwrap(), user);
    }

    #[test]
    fn flask_types_read_as_plain_forms() {
        assert_eq!(
            from_value::<String>(&Value::DateTime(DateTime::from_unix(1_700_000_000))).unwrap(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            from_value::<String>(&Value::Uuid([0x12; 16])).unwrap(),
            "12121212-1212-1212-1212-121212121212"
        );
        assert_eq!(
            from_value::<Vec<u8>>(&Value::Bytes(vec![1, 2])).unwrap(),
            [1, 2]
        );
        assert!(from_value::<u32>(&Value::from("nope")).is_err());
    }
}
