//! Flask-Session 0.8's record format: msgpack of the session dict (insertion order); JSON is
//! read too, as Flask-Session does; pickle, which Flask-Session would still unpickle, is
//! never read (it would let anyone who can write to the store run code).

use super::msgpack;
use super::StoreError;
use crate::codec::python_json;
use crate::value::{Map, Value};

/// The deepest nesting accepted in a record.
const MAX_DEPTH: usize = 64;

/// The bytes Flask-Session's default serializer writes for `data`.
pub fn encode(data: &Map) -> Vec<u8> {
    msgpack::encode_map(data)
}

/// Flask-Session's `SESSION_SERIALIZATION_FORMAT`: how records are written. Both are read
/// whichever is set, as Flask-Session reads them.
///
/// ```
/// use flacon::store::flask_session::Serialization;
/// use flacon::{Map, Value};
/// let mut data = Map::default();
/// data.insert("n".into(), Value::Int(1));
/// assert_eq!(Serialization::Json.encode(&data), br#"{"n":1}"#);
/// assert_eq!(Serialization::Msgpack.encode(&data), [0x81, 0xa1, b'n', 1]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Serialization {
    /// msgpack through msgspec, Flask-Session 0.8's default: every value kept exactly.
    #[default]
    Msgpack,
    /// JSON through msgspec: datetimes, bytes, tuples and number keys come back as strings,
    /// strings, lists and string keys, as they do for Flask-Session.
    Json,
}

impl Serialization {
    /// The record bytes for `data`.
    pub fn encode(self, data: &Map) -> Vec<u8> {
        match self {
            Serialization::Msgpack => encode(data),
            Serialization::Json => super::msgspec_json::encode_map(data),
        }
    }
}

impl std::str::FromStr for Serialization {
    type Err = String;

    /// Flask-Session's names: `msgpack`, `json`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "msgpack" => Ok(Serialization::Msgpack),
            "json" => Ok(Serialization::Json),
            other => Err(format!(
                "unknown serialization format {other:?}: Flask-Session knows msgpack and json"
            )),
        }
    }
}

/// Reads a record: msgpack first, then JSON. A pickle or anything else is refused with
/// [`StoreError::Corrupt`], which the layer logs and answers with its store-error response,
/// leaving the record as it is.
pub fn decode(bytes: &[u8]) -> Result<Map, StoreError> {
    if let Ok(Value::Dict(map)) = msgpack::decode(bytes, MAX_DEPTH) {
        return Ok(map);
    }
    if let Some(Value::Dict(map)) = std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| python_json::parse(t, MAX_DEPTH).ok())
    {
        return Ok(map);
    }
    let what = if bytes.first() == Some(&0x80) {
        "a pickle (refused: unpickling runs code)"
    } else {
        "neither msgpack nor JSON"
    };
    Err(StoreError::Corrupt(format!("record is {what}")))
}

/// Flask-Session counts a session holding only `_permanent` as empty; so does flacon, and
/// one holding only its `_flacon_*` bookkeeping besides.
pub fn is_empty(data: &Map) -> bool {
    data.keys()
        .all(|k| k == crate::session::PERMANENT_KEY || crate::session::is_bookkeeping(k))
}
