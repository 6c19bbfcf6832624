//! The session value model: JSON plus the Python types Flask's tagged serializer preserves.
//!
//! A Flask session is a `dict` whose values may be any JSON value or one of the Python types
//! that `flask.json.tag.TaggedJSONSerializer` round-trips: `tuple`, `bytes`, `Markup`, `UUID`
//! and `datetime`. [`Value`] models exactly that set, so decoding a Flask cookie and encoding
//! it again gives the identical payload.

use std::fmt;

use indexmap::IndexMap;

mod datetime;
mod uuid;

pub use crate::typed::{from_value, to_value, ValueError};
pub use datetime::DateTime;
pub(crate) use uuid::{hex_of, hyphenated_uuid, parse_uuid, push_hex};

/// A session dictionary: string keys to values, in insertion order.
///
/// The cookie codec sorts keys by code point when it writes them (as Flask does); insertion
/// order is kept for formats that preserve it, such as Flask-Session's msgpack records.
/// Keys are hashed with [`MapHasher`], so a map is made with `Map::default()` (or
/// `collect()`), not `Map::default()`:
///
/// ```
/// use flacon::{Map, Value};
/// let mut cart = Map::default();
/// cart.insert("item".to_owned(), Value::from("bike"));
/// let same: Map = [("item".to_owned(), Value::from("bike"))].into_iter().collect();
/// assert_eq!(cart, same);
/// ```
pub type Map = IndexMap<String, Value, MapHasher>;

/// The hasher of [`Map`]: foldhash, seeded per process. A session's keys are short and a
/// large session has hundreds of them, where SipHash's cost showed in every decode; the
/// keys come from a payload whose signature was checked first, so the flooding SipHash
/// guards against needs the secret key.
pub type MapHasher = foldhash::fast::RandomState;

/// One value in a session.
///
/// ```
/// use flacon::Value;
/// let v = Value::from("someone@example.com");
/// assert_eq!(v.as_str(), Some("someone@example.com"));
/// assert_eq!(Value::Tuple(vec![Value::Int(1)]).type_name(), "tuple");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Python `None`, JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// An integer beyond 64 bits (Python ints are unbounded).
    BigInt(BigInt),
    /// A float; `NaN` and the infinities are allowed, as in Python.
    Float(f64),
    /// A text string.
    Str(String),
    /// A Python `list`.
    List(Vec<Value>),
    /// A Python `tuple` (Flask tag `" t"`).
    Tuple(Vec<Value>),
    /// A Python `dict`.
    Dict(Map),
    /// Python `bytes` (Flask tag `" b"`).
    Bytes(Vec<u8>),
    /// `markupsafe.Markup`: HTML that is already safe (Flask tag `" m"`).
    Markup(String),
    /// A `uuid.UUID` (Flask tag `" u"`).
    Uuid([u8; 16]),
    /// A `datetime.datetime` (Flask tag `" d"`, whole seconds in cookies; to the nanosecond
    /// in Flask-Session's msgpack records).
    DateTime(DateTime),
    /// A Python `str` holding a lone surrogate (`'x\udcff'`, which Flask's JSON reads and a
    /// Rust `String` cannot hold), as its UTF-16 code units: written back exactly; read as
    /// text, each lone surrogate is U+FFFD.
    Surrogates(Vec<u16>),
    /// A Python `dict` whose keys are not all strings (`{1: "gold"}`), as Flask-Session's
    /// msgpack records can hold: its pairs in order, written back as a msgpack map. In a
    /// cookie (JSON) its keys become strings, as Python's `json` makes them.
    Pairs(Vec<(Value, Value)>),
}

impl Value {
    /// The Python type name of this value, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) | Value::Surrogates(_) => "str",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) | Value::Pairs(_) => "dict",
            Value::Bytes(_) => "bytes",
            Value::Markup(_) => "Markup",
            Value::Uuid(_) => "UUID",
            Value::DateTime(_) => "datetime",
        }
    }

    /// The text of a `Str` or `Markup` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Markup(s) => Some(s),
            _ => None,
        }
    }

    /// The map of a `Dict` value.
    pub fn as_dict(&self) -> Option<&Map> {
        match self {
            Value::Dict(m) => Some(m),
            _ => None,
        }
    }

    /// A [`Pairs`](Value::Pairs) dict with its keys as Python's `json` writes them (`1` →
    /// `"1"`, `True` → `"true"`, `None` → `"null"`); a later key equal as text wins.
    pub(crate) fn keys_as_text(pairs: &[(Value, Value)]) -> Map {
        pairs
            .iter()
            .map(|(key, value)| {
                let text = match key {
                    Value::Str(s) => s.clone(),
                    Value::Null => "null".to_owned(),
                    Value::Bool(b) => b.to_string(),
                    other => crate::codec::to_tagged_json(other),
                };
                (text, value.clone())
            })
            .collect()
    }

    /// Python truthiness: `None`, `False`, zero, and empty containers are false.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::BigInt(_) | Value::Uuid(_) | Value::DateTime(_) => true,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) | Value::Markup(s) => !s.is_empty(),
            Value::List(v) | Value::Tuple(v) => !v.is_empty(),
            Value::Dict(m) => !m.is_empty(),
            Value::Pairs(p) => !p.is_empty(),
            Value::Surrogates(u) => !u.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
        }
    }

    /// How deeply containers nest inside this value (a scalar is 0).
    pub fn depth(&self) -> usize {
        match self {
            Value::List(v) | Value::Tuple(v) => 1 + v.iter().map(Value::depth).max().unwrap_or(0),
            Value::Dict(m) => 1 + m.values().map(Value::depth).max().unwrap_or(0),
            Value::Pairs(p) => {
                1 + p
                    .iter()
                    .map(|(k, v)| k.depth().max(v.depth()))
                    .max()
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Dict(m)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(v)
    }
}

/// An integer outside the 64-bit range, kept as its canonical decimal text.
///
/// ```
/// use flacon::value::BigInt;
/// let big = BigInt::parse("18446744073709551617").unwrap();
/// assert_eq!(big.as_str(), "18446744073709551617");
/// assert!(BigInt::parse("12").is_none(), "fits in i64: use Value::Int");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BigInt(Box<str>);

impl BigInt {
    /// Parses canonical decimal text (optional `-`, no leading zeros) of an integer that does
    /// not fit in an `i64`. Returns `None` for anything else.
    pub fn parse(text: &str) -> Option<BigInt> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !(digits.len() > 1 && digits.starts_with('0'));
        (canonical && text.parse::<i64>().is_err()).then(|| BigInt(text.into()))
    }

    /// The decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_ints_must_be_canonical_and_large() {
        assert!(BigInt::parse("-9223372036854775809").is_some());
        assert!(BigInt::parse("9223372036854775807").is_none());
        assert!(BigInt::parse("0123456789012345678901").is_none());
        assert!(BigInt::parse("1e30").is_none());
    }
}
