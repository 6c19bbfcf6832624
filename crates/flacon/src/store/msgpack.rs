//! MessagePack as Flask-Session 0.8 writes it (`msgspec.msgpack.Encoder`): maps in insertion
//! order, the smallest integer encodings, floats always float64, bytes as `bin`, tuples as
//! arrays, UUIDs as their 36-character text, and aware datetimes as the timestamp extension
//! (type -1).

use crate::value::hyphenated_uuid;
use crate::value::{DateTime, Map, Value};

/// Why a record could not be read as MessagePack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum MsgpackError {
    /// The bytes end in the middle of a value.
    #[error("truncated MessagePack")]
    Truncated,
    /// A type byte flacon does not read (or an unknown extension).
    #[error("unsupported MessagePack type 0x{0:02x}")]
    Unsupported(u8),
    /// A map key that is not a string, or a string that is not UTF-8.
    #[error("invalid string or map key")]
    BadString,
    /// Bytes after the value: msgspec refuses these, and so does flacon.
    #[error("trailing bytes after the value")]
    Trailing,
    /// Containers nest deeper than the limit.
    #[error("MessagePack nests too deeply")]
    TooDeep,
}

/// Encodes the dict `map` as msgspec does. Integers beyond 64 bits and `Markup` (which
/// msgspec cannot encode) are written as strings.
pub(crate) fn encode_map(map: &Map) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    write_map(&mut out, map);
    out
}

fn write_map(out: &mut Vec<u8>, map: &Map) {
    write_len(out, map.len(), Some((0x80, 15)), [0, 0xde, 0xdf]);
    for (k, v) in map {
        write_str(out, k);
        write(out, v);
    }
}

fn write_len(out: &mut Vec<u8>, len: usize, fix: Option<(u8, usize)>, codes: [u8; 3]) {
    match fix {
        Some((base, max)) if len <= max => out.push(base | len as u8),
        _ if len <= 0xff && codes[0] != 0 => {
            out.push(codes[0]);
            out.push(len as u8);
        }
        _ if len <= 0xffff => {
            out.push(codes[1]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(codes[2]);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    write_len(out, s.len(), Some((0xa0, 31)), [0xd9, 0xda, 0xdb]);
    out.extend_from_slice(s.as_bytes());
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        let u = i as u64;
        if u <= 0x7f {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if i >= -32 {
        out.push(i as u8);
    } else if i >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, i as u8]);
    } else if i >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

fn write(out: &mut Vec<u8>, value: &Value) {
    match value {
        // msgspec cannot write a lone surrogate either (UTF-8 has none): U+FFFD in its place.
        Value::Surrogates(units) => write_str(out, &String::from_utf16_lossy(units)),
        Value::Null => out.push(0xc0),
        Value::Bool(false) => out.push(0xc2),
        Value::Bool(true) => out.push(0xc3),
        Value::Int(i) => write_int(out, *i),
        Value::BigInt(b) => match b.as_str().parse::<u64>() {
            Ok(u) => {
                out.push(0xcf);
                out.extend_from_slice(&u.to_be_bytes());
            }
            Err(_) => write_str(out, b.as_str()),
        },
        Value::Float(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Str(s) | Value::Markup(s) => write_str(out, s),
        Value::List(items) | Value::Tuple(items) => {
            write_len(out, items.len(), Some((0x90, 15)), [0, 0xdc, 0xdd]);
            for item in items {
                write(out, item);
            }
        }
        Value::Pairs(pairs) => {
            write_len(out, pairs.len(), Some((0x80, 15)), [0, 0xde, 0xdf]);
            for (key, value) in pairs {
                write(out, key);
                write(out, value);
            }
        }
        Value::Dict(map) => write_map(out, map),
        Value::Bytes(bytes) => {
            write_len(out, bytes.len(), None, [0xc4, 0xc5, 0xc6]);
            out.extend_from_slice(bytes);
        }
        Value::Uuid(bytes) => write_str(out, &hyphenated_uuid(bytes)),
        // The smallest of the extension's three forms, as msgspec picks it: 32 bits for
        // whole seconds below 2^32, 64 bits (30 of nanoseconds, 34 of seconds) below 2^34,
        // else 96.
        Value::DateTime(d) => {
            match (u32::try_from(d.unix_seconds), u64::try_from(d.unix_seconds)) {
                (Ok(secs), _) if d.nanos == 0 => {
                    out.extend_from_slice(&[0xd6, 0xff]);
                    out.extend_from_slice(&secs.to_be_bytes());
                }
                (_, Ok(secs)) if secs >> 34 == 0 => {
                    out.extend_from_slice(&[0xd7, 0xff]);
                    out.extend_from_slice(&((u64::from(d.nanos) << 34) | secs).to_be_bytes());
                }
                _ => {
                    out.extend_from_slice(&[0xc7, 12, 0xff]);
                    out.extend_from_slice(&d.nanos.to_be_bytes());
                    out.extend_from_slice(&d.unix_seconds.to_be_bytes());
                }
            }
        }
    }
}

/// Decodes one value that must span all of `bytes`.
pub(crate) fn decode(bytes: &[u8], max_depth: usize) -> Result<Value, MsgpackError> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        max_depth,
    };
    let value = reader.value(0)?;
    if reader.pos != bytes.len() {
        return Err(MsgpackError::Trailing);
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MsgpackError> {
        let end = self.pos.checked_add(n).ok_or(MsgpackError::Truncated)?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(MsgpackError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn uint(&mut self, n: usize) -> Result<u64, MsgpackError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn len(&mut self, n: usize) -> Result<usize, MsgpackError> {
        usize::try_from(self.uint(n)?).map_err(|_| MsgpackError::Truncated)
    }

    fn string(&mut self, len: usize) -> Result<String, MsgpackError> {
        let raw = self.take(len)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| MsgpackError::BadString)
    }

    fn items(&mut self, len: usize, depth: usize) -> Result<Value, MsgpackError> {
        // Each item takes at least one byte: a bogus length cannot make us allocate much.
        let mut items =
            Vec::with_capacity(len.min(self.bytes.len() - self.pos.min(self.bytes.len())));
        for _ in 0..len {
            items.push(self.value(depth)?);
        }
        Ok(Value::List(items))
    }

    /// A map: a `Dict` when every key is a string, else its pairs in order (`{1: "gold"}`).
    fn map(&mut self, len: usize, depth: usize) -> Result<Value, MsgpackError> {
        let mut map = Map::default();
        for index in 0..len {
            let key = self.value(depth)?;
            let value = self.value(depth)?;
            match key {
                Value::Str(key) => {
                    map.insert(key, value);
                }
                key => return self.pairs(map, (key, value), len - index - 1, depth),
            }
        }
        Ok(Value::Dict(map))
    }

    /// The rest of a map met a key that is not a string: `read` pairs so far, `first` the
    /// pair that was not, `left` pairs still to read. A later equal key replaces an earlier
    /// one, as Python's dict does.
    fn pairs(
        &mut self,
        read: Map,
        first: (Value, Value),
        left: usize,
        depth: usize,
    ) -> Result<Value, MsgpackError> {
        let mut pairs: Vec<(Value, Value)> =
            read.into_iter().map(|(k, v)| (Value::Str(k), v)).collect();
        pairs.push(first);
        for _ in 0..left {
            let key = self.value(depth)?;
            let value = self.value(depth)?;
            match pairs.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => pairs.push((key, value)),
            }
        }
        Ok(Value::Pairs(pairs))
    }

    fn value(&mut self, depth: usize) -> Result<Value, MsgpackError> {
        if depth > self.max_depth {
            return Err(MsgpackError::TooDeep);
        }
        let tag = *self.take(1)?.first().ok_or(MsgpackError::Truncated)?;
        let deeper = depth + 1;
        Ok(match tag {
            0x00..=0x7f => Value::Int(i64::from(tag)),
            0x80..=0x8f => return self.map(usize::from(tag & 0x0f), deeper),
            0x90..=0x9f => return self.items(usize::from(tag & 0x0f), deeper),
            0xa0..=0xbf => Value::Str(self.string(usize::from(tag & 0x1f))?),
            0xc0 => Value::Null,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let len = self.len(1 << (tag - 0xc4))?;
                Value::Bytes(self.take(len)?.to_vec())
            }
            0xca => Value::Float(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => Value::Float(f64::from_bits(self.uint(8)?)),
            0xcc..=0xce => Value::Int(self.uint(1 << (tag - 0xcc))? as i64),
            0xcf => {
                let u = self.uint(8)?;
                i64::try_from(u).map_or_else(
                    |_| {
                        crate::value::BigInt::parse(&u.to_string())
                            .map_or(Value::Null, Value::BigInt)
                    },
                    Value::Int,
                )
            }
            0xd0 => Value::Int(i64::from(self.uint(1)? as u8 as i8)),
            0xd1 => Value::Int(i64::from(self.uint(2)? as u16 as i16)),
            0xd2 => Value::Int(i64::from(self.uint(4)? as u32 as i32)),
            0xd3 => Value::Int(self.uint(8)? as i64),
            0xd6 => self.timestamp(4)?,
            0xd7 => self.timestamp(8)?,
            0xc7 => {
                let len = self.len(1)?;
                if len != 12 {
                    return Err(MsgpackError::Unsupported(tag));
                }
                self.timestamp(12)?
            }
            0xd9..=0xdb => {
                let len = self.len(1 << (tag - 0xd9))?;
                Value::Str(self.string(len)?)
            }
            0xdc | 0xdd => {
                let len = self.len(2 << (tag - 0xdc))?;
                return self.items(len, deeper);
            }
            0xde | 0xdf => {
                let len = self.len(2 << (tag - 0xde))?;
                return self.map(len, deeper);
            }
            0xe0..=0xff => Value::Int(i64::from(tag as i8)),
            other => return Err(MsgpackError::Unsupported(other)),
        })
    }

    /// The timestamp extension (type -1) in its 32-, 64- or 96-bit form.
    fn timestamp(&mut self, size: usize) -> Result<Value, MsgpackError> {
        let ext_type = self.uint(1)? as u8 as i8;
        if ext_type != -1 {
            return Err(MsgpackError::Unsupported(0xd6));
        }
        let (seconds, nanos) = match size {
            4 => (i64::from(self.uint(4)? as u32), 0),
            8 => {
                let packed = self.uint(8)?;
                ((packed & 0x3_ffff_ffff) as i64, (packed >> 34) as u32)
            }
            _ => {
                let nanos = self.uint(4)? as u32;
                (self.uint(8)? as i64, nanos)
            }
        };
        if nanos >= 1_000_000_000 {
            return Err(MsgpackError::Unsupported(0xd7));
        }
        Ok(Value::DateTime(DateTime::from_unix_nanos(seconds, nanos)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, value);
        out
    }

    #[test]
    fn integers_use_the_smallest_form() {
        let cases: [(i64, &[u8]); 8] = [
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0xcc, 0x80]),
            (-1, &[0xff]),
            (-33, &[0xd0, 0xdf]),
            (70000, &[0xce, 0x00, 0x01, 0x11, 0x70]),
            (-129, &[0xd1, 0xff, 0x7f]),
            (i64::MIN, &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for (i, want) in cases {
            assert_eq!(encode(&Value::Int(i)), want, "{i}");
            assert_eq!(decode(want, 4), Ok(Value::Int(i)));
        }
    }

    #[test]
    fn garbage_and_pickles_are_errors() {
        // A pickle starts with 0x80, an empty map to MessagePack, then trailing bytes.
        assert_eq!(decode(b"\x80\x04\x95", 4), Err(MsgpackError::Trailing));
        assert_eq!(decode(&[0x92, 0x01], 4), Err(MsgpackError::Truncated));
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff], 4),
            Err(MsgpackError::Truncated)
        );
        assert_eq!(decode(&[0x91; 10], 4), Err(MsgpackError::TooDeep));
    }
}
