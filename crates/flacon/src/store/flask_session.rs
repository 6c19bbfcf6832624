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
    msgpack::encode(&Value::Dict(data.clone()))
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
