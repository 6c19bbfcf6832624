//! The JSON Flask-Session writes with `SESSION_SERIALIZATION_FORMAT = "json"`
//! (`msgspec.json.Encoder`): compact, UTF-8 left unescaped, bytes as base64, datetimes as
//! RFC 3339, tuples and sets as arrays, number keys as strings, non-finite floats as `null`.
//!
//! msgspec reads such a record back with plain JSON types (a datetime comes back a string),
//! and so does flacon.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::fmt::Write as _;

use crate::codec::python_json::{short_escape, write_int};
use crate::value::{hyphenated_uuid, Map, Value};

/// The bytes `msgspec.json.encode` writes for the dict `map`.
pub(crate) fn encode_map(map: &Map) -> Vec<u8> {
    let mut out = String::with_capacity(64);
    write_map(&mut out, map);
    out.into_bytes()
}

fn write_map(out: &mut String, map: &Map) {
    out.push('{');
    for (n, (key, item)) in map.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        write_str(out, key);
        out.push(':');
        write(out, item);
    }
    out.push('}');
}

fn write(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => write_int(out, *i),
        Value::BigInt(b) => out.push_str(b.as_str()),
        Value::Float(f) => write_float(out, *f),
        Value::Str(s) | Value::Markup(s) => write_str(out, s),
        // msgspec cannot write a lone surrogate: U+FFFD in its place.
        Value::Surrogates(units) => write_str(out, &String::from_utf16_lossy(units)),
        Value::List(items) | Value::Tuple(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Dict(map) => write_map(out, map),
        Value::Pairs(pairs) => {
            out.push('{');
            for (n, (key, item)) in pairs.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                let mut text = String::new();
                write(&mut text, key);
                // msgspec writes number keys as their JSON text, quoted.
                if text.starts_with('"') {
                    out.push_str(&text);
                } else {
                    write_str(out, &text);
                }
                out.push(':');
                write(out, item);
            }
            out.push('}');
        }
        Value::Bytes(bytes) => {
            out.push('"');
            out.push_str(&STANDARD.encode(bytes));
            out.push('"');
        }
        Value::Uuid(bytes) => write_str(out, &hyphenated_uuid(bytes)),
        Value::DateTime(d) => write_str(out, &d.to_rfc3339()),
    }
}

/// The shortest text that reads back as `f`, in msgspec's spelling: Python's `repr` with
/// the exponent's `+` and leading zeros dropped (`1e16`, `1e-7`), which is Rust's `Debug`.
fn write_float(out: &mut String, f: f64) {
    if f.is_finite() {
        out.push_str(&format!("{f:?}"));
    } else {
        out.push_str("null");
    }
}

/// A JSON string as msgspec writes it: only `"`, `\` and control characters escaped, the
/// C0 ones other than the five with short forms as `\u00XX`.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match short_escape(c) {
            Some(escaped) => out.push_str(escaped),
            None if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            None => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{DateTime, Map};

    #[test]
    fn writes_what_msgspec_writes() {
        let mut map = Map::default();
        map.insert("é".into(), Value::from("€\u{0}\u{1f}\"\\/<"));
        map.insert("f".into(), Value::Float(1e16));
        map.insert("n".into(), Value::Float(f64::INFINITY));
        map.insert("b".into(), Value::Bytes(vec![0, 255]));
        map.insert(
            "d".into(),
            Value::DateTime(DateTime::from_unix_nanos(1_714_979_289, 123_456_000)),
        );
        map.insert(
            "k".into(),
            Value::Pairs(vec![(Value::Int(1), Value::from("a"))]),
        );
        assert_eq!(
            String::from_utf8(encode_map(&map)).unwrap_or_default(),
            r#"{"é":"€\u0000\u001f\"\\/<","f":1e16,"n":null,"b":"AP8=","d":"2024-05-06T07:08:09.123456Z","k":{"1":"a"}}"#
        );
    }
}
