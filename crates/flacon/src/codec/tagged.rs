//! Flask's tagged JSON (`flask/json/tag.py TaggedJSONSerializer`): how Python types that
//! JSON lacks travel inside the cookie as one-key objects whose key starts with a space.
//!
//! | tag    | type                  | wire form                                     |
//! |--------|-----------------------|-----------------------------------------------|
//! | `" di"`| dict whose only key is a tag | `{" di": {"<key>__": value}}`          |
//! | `" t"` | tuple                 | `{" t": [..]}`                                |
//! | `" b"` | bytes                 | `{" b": "<standard base64, padded>"}`         |
//! | `" m"` | Markup                | `{" m": "<html>"}`                            |
//! | `" u"` | UUID                  | `{" u": "<32 lowercase hex>"}`                |
//! | `" d"` | datetime              | `{" d": "Tue, 02 Jan 2024 01:04:05 GMT"}`     |

use base64::Engine as _;

use super::python_json::{write_float, write_int, write_str};
use crate::value::{parse_uuid, push_hex, DateTime, Map, Value};

/// The tag keys Flask registers, in the order its serializer tries them.
pub(crate) const TAG_KEYS: [&str; 6] = [" di", " t", " b", " m", " u", " d"];

/// Why a tagged value could not be turned back into its Python type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagError {
    /// The tag's content has the wrong JSON type.
    #[error("tag {tag:?} cannot hold a {found}")]
    WrongType {
        /// The tag key.
        tag: &'static str,
        /// The Python type found.
        found: &'static str,
    },
    /// A `" b"` value that is not valid base64.
    #[error("tag \" b\" holds invalid base64")]
    BadBase64,
    /// A `" u"` value that is not a UUID.
    #[error("tag \" u\" holds an invalid UUID")]
    BadUuid,
}

/// Writes `value` as Flask's tagged JSON with sorted keys, compact separators and ASCII
/// escapes: exactly the text `session_json_serializer.dumps` produces inside a request.
pub(crate) fn write(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => write_int(out, *i),
        Value::BigInt(b) => out.push_str(b.as_str()),
        Value::Float(f) => write_float(out, *f),
        Value::Str(s) => write_str(out, s),
        Value::Surrogates(units) => super::python_json::write_units(out, units),
        Value::List(items) => write_list(out, items),
        Value::Dict(map) => match single_tag_key(map) {
            Some((key, inner)) => {
                out.push_str("{\" di\":{");
                let mut escaped = String::with_capacity(key.len() + 2);
                escaped.push_str(key);
                escaped.push_str("__");
                write_str(out, &escaped);
                out.push(':');
                write(out, inner);
                out.push_str("}}");
            }
            None => write_dict(out, map),
        },
        // Python's json writes such keys as strings (and a Flask cookie is JSON).
        Value::Pairs(pairs) => write(out, &Value::Dict(Value::keys_as_text(pairs))),
        Value::Tuple(items) => {
            out.push_str("{\" t\":");
            write_list(out, items);
            out.push('}');
        }
        Value::Bytes(bytes) => {
            out.push_str("{\" b\":\"");
            base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
            out.push_str("\"}");
        }
        Value::Markup(html) => {
            out.push_str("{\" m\":");
            write_str(out, html);
            out.push('}');
        }
        Value::Uuid(bytes) => {
            out.push_str("{\" u\":\"");
            for b in bytes {
                push_hex(out, *b);
            }
            out.push_str("\"}");
        }
        Value::DateTime(d) => {
            out.push_str("{\" d\":\"");
            d.push_http_date(out);
            out.push_str("\"}");
        }
    }
}

fn single_tag_key(map: &Map) -> Option<(&str, &Value)> {
    if map.len() != 1 {
        return None;
    }
    map.iter()
        .next()
        .filter(|(k, _)| TAG_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v))
}

fn write_list(out: &mut String, items: &[Value]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(']');
}

fn write_dict(out: &mut String, map: &Map) {
    out.push('{');
    let sorted = map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b);
    let mut first = true;
    let mut entry = |out: &mut String, key: &str, value: &Value| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        write_str(out, key);
        out.push(':');
        write(out, value);
    };
    // `str` ordering is byte order of UTF-8, which is code point order: Python's sort_keys.
    if sorted {
        for (key, value) in map {
            entry(out, key, value);
        }
    } else {
        let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, value) in pairs {
            entry(out, key, value);
        }
    }
    out.push('}');
}

/// Turns parsed JSON back into Python types, bottom-up like `TaggedJSONSerializer._untag_scan`:
/// a dict's values are untagged first, then a one-key dict whose key is a tag is replaced.
pub(crate) fn untag(mut value: Value) -> Result<Value, TagError> {
    untag_in_place(&mut value)?;
    Ok(value)
}

/// Untags without rebuilding containers: only a tagged dict is replaced.
fn untag_in_place(value: &mut Value) -> Result<(), TagError> {
    match value {
        Value::List(items) => items.iter_mut().try_for_each(untag_in_place),
        Value::Dict(map) => {
            map.values_mut().try_for_each(untag_in_place)?;
            if single_tag_key(map).is_some() {
                let map = std::mem::take(map);
                *value = untag_dict(map)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn untag_dict(mut map: Map) -> Result<Value, TagError> {
    let tag = match single_tag_key(&map) {
        Some((key, _)) => TAG_KEYS
            .iter()
            .find(|t| **t == key)
            .copied()
            .unwrap_or(" di"),
        None => return Ok(Value::Dict(map)),
    };
    let inner = map.swap_remove(tag).unwrap_or(Value::Null);
    let wrong_type = |found: &Value| TagError::WrongType {
        tag,
        found: found.type_name(),
    };
    match (tag, inner) {
        (" di", Value::Dict(inner)) => {
            let Some((key, value)) = inner.into_iter().next() else {
                return Err(TagError::WrongType {
                    tag,
                    found: "empty dict",
                });
            };
            // Flask strips the last two characters without checking they are "__".
            let mut chars = key.chars();
            chars.next_back();
            chars.next_back();
            let mut out = Map::default();
            out.insert(chars.as_str().to_owned(), value);
            Ok(Value::Dict(out))
        }
        (" t", Value::List(items) | Value::Tuple(items)) => Ok(Value::Tuple(items)),
        (" t", Value::Str(s)) => Ok(Value::Tuple(
            s.chars().map(|c| Value::Str(c.to_string())).collect(),
        )),
        (" t", Value::Dict(m)) => Ok(Value::Tuple(m.into_keys().map(Value::Str).collect())),
        (" b", Value::Str(s)) => decode_standard_base64(&s).map(Value::Bytes),
        (" m", Value::Str(s)) => Ok(Value::Markup(s)),
        // Flask's `TagMarkup` calls `Markup(value)`, which is `str(value)` for any scalar.
        (
            " m",
            scalar @ (Value::Int(_)
            | Value::BigInt(_)
            | Value::Float(_)
            | Value::Bool(_)
            | Value::Null),
        ) => Ok(Value::Markup(python_str(&scalar))),
        (" u", Value::Str(s)) => parse_uuid(&s).map(Value::Uuid).ok_or(TagError::BadUuid),
        (" d", Value::Str(s)) => {
            Ok(DateTime::parse_http_date(&s).map_or(Value::Null, Value::DateTime))
        }
        (_, other) => Err(wrong_type(&other)),
    }
}

/// Python's `str()` of a JSON scalar: `5`, `1e+16`, `inf`, `True`, `None`.
fn python_str(scalar: &Value) -> String {
    match scalar {
        Value::Int(i) => i.to_string(),
        Value::BigInt(b) => b.as_str().to_owned(),
        Value::Float(f) if f.is_nan() => "nan".to_owned(),
        Value::Float(f) if f.is_infinite() => if *f > 0.0 { "inf" } else { "-inf" }.to_owned(),
        Value::Float(f) => {
            let mut out = String::new();
            crate::codec::python_json::write_float(&mut out, *f);
            out
        }
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        _ => "None".to_owned(),
    }
}

/// `base64.b64decode(s)` with Python's default leniency: characters outside the alphabet
/// are dropped before decoding; bad padding is an error.
fn decode_standard_base64(s: &str) -> Result<Vec<u8>, TagError> {
    let cleaned: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|_| TagError::BadBase64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::python_json::parse;

    fn tagged(v: &Value) -> String {
        let mut s = String::new();
        write(&mut s, v);
        s
    }

    fn from_json(text: &str) -> Result<Value, TagError> {
        untag(parse(text, 32).unwrap())
    }

    #[test]
    fn one_key_dicts_that_look_like_tags_are_escaped_and_restored() {
        let mut inner = Map::default();
        inner.insert(
            " t".to_owned(),
            Value::List(vec![Value::Int(1), Value::Int(2)]),
        );
        let v = Value::Dict(inner);
        assert_eq!(tagged(&v), r#"{" di":{" t__":[1,2]}}"#);
        assert_eq!(from_json(&tagged(&v)).unwrap(), v);
    }

    #[test]
    fn tags_nest_and_decode_bottom_up() {
        let v = Value::Tuple(vec![Value::Bytes(vec![1]), Value::Markup("<b>".into())]);
        let text = tagged(&v);
        assert_eq!(text, r#"{" t":[{" b":"AQ=="},{" m":"<b>"}]}"#);
        assert_eq!(from_json(&text).unwrap(), v);
    }

    #[test]
    fn bad_tag_contents_are_typed_errors() {
        assert_eq!(from_json(r#"{" b":"A"}"#), Err(TagError::BadBase64));
        assert_eq!(from_json(r#"{" u":"nope"}"#), Err(TagError::BadUuid));
        assert!(matches!(
            from_json(r#"{" m":[1]}"#),
            Err(TagError::WrongType { .. })
        ));
        assert_eq!(from_json(r#"{" d":"garbage"}"#), Ok(Value::Null));
        assert_eq!(from_json(r#"{" x":1}"#).unwrap().type_name(), "dict");
    }

    #[test]
    fn uuid_forms() {
        let want = parse_uuid("12345678123456781234567812345678").unwrap();
        for form in [
            "12345678-1234-5678-1234-567812345678",
            "{12345678-1234-5678-1234-567812345678}",
            "urn:uuid:12345678-1234-5678-1234-567812345678",
        ] {
            assert_eq!(parse_uuid(form), Some(want));
        }
    }
}
