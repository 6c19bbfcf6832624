//! Loads the Flask-produced vectors in `tests/data/flask-vectors.json` and turns their value
//! convention (`{"$tuple": [..]}`, `{"$bytes": ".."}`, ...) into flacon values.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod actions;
pub mod http_client;
pub mod postgres_server;
pub mod python;
pub mod redis_server;
pub mod strategy;

use flacon::value::{DateTime, Map, Value};
use flacon::{KeyRing, SecretKey};

pub const VECTORS: &str = include_str!("../data/flask-vectors.json");

/// Every case of the vector file, parsed with flacon's own Python-JSON reader so that
/// integers beyond 64 bits survive.
pub fn cases() -> Vec<Map> {
    let root = flacon::codec::from_python_json(VECTORS, 256).expect("vector file parses");
    match root.as_dict().and_then(|d| d.get("cases")) {
        Some(Value::List(items)) => items
            .iter()
            .map(|c| c.as_dict().expect("case is an object").clone())
            .collect(),
        _ => panic!("no cases"),
    }
}

pub fn cases_of(kind: &str) -> Vec<Map> {
    cases()
        .into_iter()
        .filter(|c| str_of(c, "kind") == kind)
        .collect()
}

pub fn str_of<'a>(map: &'a Map, key: &str) -> &'a str {
    map.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

pub fn dict_of<'a>(map: &'a Map, key: &str) -> &'a Map {
    map.get(key)
        .and_then(Value::as_dict)
        .unwrap_or_else(|| panic!("{key} is not an object"))
}

pub fn int_of(map: &Map, key: &str) -> Option<u64> {
    match map.get(key) {
        Some(Value::Int(i)) => Some(u64::try_from(*i).expect("non-negative")),
        _ => None,
    }
}

pub fn key_hex(key: &Value) -> String {
    str_of(key.as_dict().expect("key object"), "hex").to_owned()
}

pub fn key_of(key: &Value) -> SecretKey {
    SecretKey::from_hex(&key_hex(key)).expect("hex key")
}

/// The key ring of a case: `secret_key` plus `fallback_keys`.
pub fn ring_of(case: &Map) -> KeyRing {
    let mut ring = KeyRing::new(key_of(case.get("secret_key").expect("secret_key")));
    if let Some(Value::List(fallbacks)) = case.get("fallback_keys") {
        for key in fallbacks {
            ring = ring.with_fallback(key_of(key));
        }
    }
    ring
}

/// Converts the vector file's value convention into a flacon value.
pub fn from_convention(v: &Value) -> Value {
    match v {
        Value::List(items) => Value::List(items.iter().map(from_convention).collect()),
        Value::Dict(map) if map.len() == 1 => {
            let (key, inner) = map.iter().next().unwrap();
            match (key.as_str(), inner) {
                ("$tuple", Value::List(items)) => {
                    Value::Tuple(items.iter().map(from_convention).collect())
                }
                ("$bytes", Value::Str(b64)) => Value::Bytes(std_b64(b64)),
                ("$markup", Value::Str(s)) => Value::Markup(s.clone()),
                ("$uuid", Value::Str(s)) => {
                    flacon::codec::from_tagged_json(&format!("{{\" u\":\"{s}\"}}")).expect("uuid")
                }
                ("$datetime", Value::Str(s)) => Value::DateTime(iso_datetime(s)),
                ("$float", Value::Str(s)) => Value::Float(match s.as_str() {
                    "nan" => f64::NAN,
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    other => panic!("unknown $float {other}"),
                }),
                ("$dict", Value::Dict(inner)) => Value::Dict(
                    inner
                        .iter()
                        .map(|(k, v)| (k.clone(), from_convention(v)))
                        .collect(),
                ),
                _ => Value::Dict(
                    map.iter()
                        .map(|(k, v)| (k.clone(), from_convention(v)))
                        .collect(),
                ),
            }
        }
        Value::Dict(map) => Value::Dict(
            map.iter()
                .map(|(k, v)| (k.clone(), from_convention(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn std_b64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("vector base64")
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM]`; naive means UTC, as Flask assumes.
fn iso_datetime(text: &str) -> DateTime {
    let (date, rest) = text.split_once('T').expect("ISO datetime");
    let (clock, offset) = match rest.find(['+', '-']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "+00:00"),
    };
    let clock = clock.split('.').next().unwrap();
    let n = |s: &str| s.parse::<i64>().unwrap();
    let d: Vec<i64> = date.split('-').map(n).collect();
    let c: Vec<i64> = clock.split(':').map(n).collect();
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let o: Vec<i64> = offset[1..].split(':').map(n).collect();
    let offset_seconds = sign * (o[0] * 3600 + o[1] * 60);
    let rfc = format!(
        "{:02} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}",
        d[2],
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            [(d[1] - 1) as usize],
        d[0],
        c[0],
        c[1],
        c[2],
        if sign < 0 { '-' } else { '+' },
        o[0],
        o[1]
    );
    let parsed = DateTime::parse_http_date(&rfc).expect("datetime");
    assert_eq!(parsed.offset_seconds as i64, offset_seconds);
    parsed
}

/// Two values are the same session when Flask would write the same tagged JSON for them
/// (this treats NaN as equal to NaN and ignores dict order, and nothing else).
pub fn same(a: &Value, b: &Value) -> bool {
    flacon::codec::to_tagged_json(a) == flacon::codec::to_tagged_json(b)
}

/// The value of the `session` cookie a response sets, if it sets one.
pub fn set_session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::SET_COOKIE)?
        .to_str()
        .ok()?
        .strip_prefix("session=")?
        .split(';')
        .next()
        .map(str::to_owned)
}
