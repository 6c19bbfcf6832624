//! Python's JSON dialect, as `json.dumps(..., separators=(",", ":"), ensure_ascii=True,
//! allow_nan=True)` writes it and `json.loads` reads it.
//!
//! Writing: ASCII only with lowercase `\uXXXX` escapes and surrogate pairs, Python float
//! `repr` (`1.0`, `1e+16`, `1e-05`), bare `NaN` / `Infinity` tokens. Reading: the same plus
//! what `json.loads` tolerates (whitespace, duplicate keys where the last wins, `1E400` as
//! infinity), with a nesting limit because the input comes from attackers.

use std::fmt::Write as _;

use crate::value::{BigInt, Map, Value};

/// Why a JSON text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not JSON; `offset` is the byte where parsing stopped.
    #[error("invalid JSON at byte {offset}: {reason}")]
    Syntax {
        /// Byte offset of the problem.
        offset: usize,
        /// What was expected.
        reason: &'static str,
    },
    /// Containers nest deeper than the limit.
    #[error("JSON nests deeper than {limit} levels")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
    },
}

/// The two-character escape JSON has for `c` (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`), if any.
pub(crate) fn short_escape(c: char) -> Option<&'static str> {
    Some(match c {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        '\u{8}' => "\\b",
        '\u{c}' => "\\f",
        _ => return None,
    })
}

/// Appends `s` as a Python `ensure_ascii` JSON string literal.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut plain_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            continue;
        }
        if b >= 0x80 && !s.is_char_boundary(i) {
            continue;
        }
        out.push_str(s.get(plain_start..i).unwrap_or_default());
        let ch = s
            .get(i..)
            .and_then(|rest| rest.chars().next())
            .unwrap_or('\0');
        plain_start = i + ch.len_utf8();
        match short_escape(ch) {
            Some(escaped) => out.push_str(escaped),
            None => {
                let mut units = [0_u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push_str(s.get(plain_start..).unwrap_or_default());
    out.push('"');
}

/// Appends a Python `str` given as UTF-16 code units (one holding a lone surrogate) as
/// `ensure_ascii` JSON writes it: every unit above ASCII as `\uXXXX`, surrogates included.
pub(crate) fn write_units(out: &mut String, units: &[u16]) {
    out.push('"');
    for &unit in units {
        let ascii = char::from_u32(u32::from(unit)).filter(char::is_ascii);
        match ascii.map(|c| (c, short_escape(c))) {
            Some((_, Some(escaped))) => out.push_str(escaped),
            Some((c, None)) if (' '..'\u{7f}').contains(&c) => out.push(c),
            _ => {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out.push('"');
}

/// Appends an integer.
pub(crate) fn write_int(out: &mut String, i: i64) {
    out.push_str(itoa::Buffer::new().format(i));
}

/// Appends a float as Python's `repr` writes it, with `NaN`, `Infinity`, `-Infinity`.
pub(crate) fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // ryu gives the shortest round-tripping digits; only the layout differs from Python's.
    let mut buf = ryu::Buffer::new();
    let shortest = buf.format_finite(f);
    let (negative, unsigned) = match shortest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, shortest),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // At most 17 significant digits plus ryu's zeros: gather them on the stack.
    let mut digits = [0_u8; 40];
    let mut len = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        if let Some(slot) = digits.get_mut(len) {
            *slot = b;
            len += 1;
        }
    }
    let all = digits.get(..len).unwrap_or_default();
    let leading = all.iter().take_while(|d| **d == b'0').count();
    // `point` is where the decimal point sits within the significant digits.
    let (significant, point) = if leading == all.len() {
        (&b"0"[..], 1)
    } else {
        let rest = all.get(leading..).unwrap_or_default();
        let kept = rest.len() - rest.iter().rev().take_while(|d| **d == b'0').count();
        (
            rest.get(..kept.max(1)).unwrap_or_default(),
            int_part.len() as i32 + exponent - leading as i32,
        )
    };
    let digits = std::str::from_utf8(significant).unwrap_or("0");
    if negative {
        out.push('-');
    }
    // Python's float_repr_style 'short' uses exponent form when point < -3 or point > 16.
    if !(-3..=16).contains(&point) {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let exp = point - 1;
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if point <= 0 {
        out.push_str("0.");
        for _ in 0..-point {
            out.push('0');
        }
        out.push_str(digits);
    } else if point as usize >= digits.len() {
        out.push_str(digits);
        for _ in 0..(point as usize - digits.len()) {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        let (whole, frac) = digits.split_at(point as usize);
        out.push_str(whole);
        out.push('.');
        out.push_str(frac);
    }
}

/// Parses Python-dialect JSON into a [`Value`] made of JSON types only (no tags applied).
pub(crate) fn parse(text: &str, max_depth: usize) -> Result<Value, JsonError> {
    let (pairs, items) = SCRATCH.with(|cell| cell.take());
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
        max_depth,
        pairs,
        items,
    };
    let result = parser.document();
    let (mut pairs, mut items) = (parser.pairs, parser.items);
    // A failed parse leaves entries behind; a huge document's capacity is not kept.
    pairs.clear();
    items.clear();
    if pairs.capacity() <= KEPT_ENTRIES && items.capacity() <= KEPT_ENTRIES {
        SCRATCH.with(|cell| cell.set((pairs, items)));
    }
    result
}

/// The entries of the objects and of the arrays being read.
type EntryStacks = (Vec<(String, Value)>, Vec<Value>);

/// Entries kept between parses in [`SCRATCH`]; more than this is given back.
const KEPT_ENTRIES: usize = 4096;

thread_local! {
    // The parser's entry stacks, kept for this thread's next parse (a 3 KB session grows
    // them through several sizes each time otherwise).
    static SCRATCH: std::cell::Cell<EntryStacks> =
        const { std::cell::Cell::new((Vec::new(), Vec::new())) };
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    max_depth: usize,
    /// Entries of the objects and arrays being read, so that each container is built once
    /// at its exact size instead of growing.
    pairs: Vec<(String, Value)>,
    items: Vec<Value>,
}

impl Parser<'_> {
    fn document(&mut self) -> Result<Value, JsonError> {
        self.skip_ws();
        let value = self.value(0)?;
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return Err(self.error("extra data after the value"));
        }
        Ok(value)
    }

    fn error(&self, reason: &'static str) -> JsonError {
        JsonError::Syntax {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, literal: &str) -> bool {
        let end = self.pos + literal.len();
        if self.bytes.get(self.pos..end) == Some(literal.as_bytes()) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Text::into_value),
            Some(b'n') if self.eat("null") => Ok(Value::Null),
            Some(b't') if self.eat("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Value::Bool(false)),
            Some(b'N') if self.eat("NaN") => Ok(Value::Float(f64::NAN)),
            Some(b'I') if self.eat("Infinity") => Ok(Value::Float(f64::INFINITY)),
            Some(b'-') if self.eat("-Infinity") => Ok(Value::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("expected a value")),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), JsonError> {
        if depth > self.max_depth {
            Err(JsonError::TooDeep {
                limit: self.max_depth,
            })
        } else {
            Ok(())
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.check_depth(depth)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Dict(Map::default()));
        }
        let base = self.pairs.len();
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            // A dict key cannot hold a lone surrogate: it becomes U+FFFD.
            let key = self.string()?.into_string();
            self.skip_ws();
            if !self.eat(":") {
                return Err(self.error("expected ':'"));
            }
            self.skip_ws();
            let value = self.value(depth)?;
            self.pairs.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    let mut map =
                        Map::with_capacity_and_hasher(self.pairs.len() - base, Default::default());
                    // Python's dict keeps the first position of a repeated key and the last
                    // value; IndexMap::insert does the same.
                    for (key, value) in self.pairs.drain(base..) {
                        map.insert(key, value);
                    }
                    return Ok(Value::Dict(map));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.check_depth(depth)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::List(Vec::new()));
        }
        let base = self.items.len();
        loop {
            self.skip_ws();
            let item = self.value(depth)?;
            self.items.push(item);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::List(self.items.drain(base..).collect()));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.error("expected a digit")),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.bytes.get(self.pos + 1), Some(b'0'..=b'9')) {
            is_float = true;
            self.pos += 1;
            self.skip_digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let mark = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if matches!(self.peek(), Some(b'0'..=b'9')) {
                is_float = true;
                self.skip_digits();
            } else {
                // Python's number regex stops before an exponent with no digits.
                self.pos = mark;
            }
        }
        let literal = self.text.get(start..self.pos).unwrap_or_default();
        if is_float {
            return literal
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| self.error("bad number"));
        }
        match literal.parse::<i64>() {
            Ok(i) => Ok(Value::Int(i)),
            Err(_) => BigInt::parse(literal)
                .map(Value::BigInt)
                .ok_or_else(|| self.error("bad integer")),
        }
    }

    fn skip_digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn string(&mut self) -> Result<Text, JsonError> {
        self.pos += 1;
        let mut out = Text::default();
        loop {
            let start = self.pos;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            let plain = self.text.get(start..self.pos).unwrap_or_default();
            if out.is_empty() && self.peek() == Some(b'"') {
                // Most strings hold no escape: one copy, at its exact length.
                self.pos += 1;
                return Ok(Text::from(plain));
            }
            out.push_str(plain);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = self
                        .peek()
                        .ok_or_else(|| self.error("unterminated escape"))?;
                    self.pos += 1;
                    match escaped {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => match self.unicode_escape()? {
                            Ok(c) => out.push(c),
                            Err(lone) => out.push_lone(lone),
                        },
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(_) => return Err(self.error("control character in string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.error("invalid \\u escape"))
    }

    /// A `\uXXXX` escape (the `\u` already read): a character, a surrogate pair's, or a
    /// lone surrogate, which Python accepts (the `Err` side, its code unit).
    fn unicode_escape(&mut self) -> Result<Result<char, u16>, JsonError> {
        let first = self.hex4()?;
        if (0xd800..0xdc00).contains(&first) {
            let mark = self.pos;
            if self.eat("\\u") {
                let second = self.hex4()?;
                if (0xdc00..0xe000).contains(&second) {
                    let code = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
                    return Ok(char::from_u32(code).ok_or(0xfffd));
                }
                // Not a pair: the next escape is read on its own.
                self.pos = mark;
            }
        }
        Ok(char::from_u32(first).ok_or(u16::try_from(first).unwrap_or(0xfffd)))
    }
}

/// A JSON string as read: text, or, once a lone surrogate appears, UTF-16 code units.
#[derive(Default)]
struct Text {
    text: String,
    units: Option<Vec<u16>>,
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text {
            text: text.to_owned(),
            units: None,
        }
    }
}

impl Text {
    fn is_empty(&self) -> bool {
        self.text.is_empty() && self.units.is_none()
    }

    fn push_str(&mut self, s: &str) {
        match &mut self.units {
            Some(units) => units.extend(s.encode_utf16()),
            None => self.text.push_str(s),
        }
    }

    fn push(&mut self, c: char) {
        let mut buf = [0_u8; 4];
        self.push_str(c.encode_utf8(&mut buf));
    }

    fn push_lone(&mut self, unit: u16) {
        let text = std::mem::take(&mut self.text);
        self.units
            .get_or_insert_with(|| text.encode_utf16().collect())
            .push(unit);
    }

    fn into_value(self) -> Value {
        match self.units {
            Some(units) => Value::Surrogates(units),
            None => Value::Str(self.text),
        }
    }

    fn into_string(self) -> String {
        match self.units {
            Some(units) => String::from_utf16_lossy(&units),
            None => self.text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(f: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, f);
        s
    }

    #[test]
    fn floats_follow_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (2.5e-7, "2.5e-07"),
            (123.456, "123.456"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (0.30000000000000004, "0.30000000000000004"),
            (1234567890123456.7, "1234567890123456.8"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (-1.5e100, "-1.5e+100"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (f, want) in cases {
            assert_eq!(float(f), want, "{f:e}");
        }
    }

    #[test]
    fn strings_are_ascii_escaped_like_python() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c/\n\u{7f}é😀\u{1}");
        assert_eq!(s, r#""a\"b\\c/\n\u007f\u00e9\ud83d\ude00\u0001""#);
    }

    #[test]
    fn parser_accepts_python_leniencies() {
        let v = parse(r#" { "a" : 1 , "a" : 2 , "n" : NaN , "e" : 1E400 } "#, 8).unwrap();
        let m = v.as_dict().unwrap();
        assert_eq!(m.get("a"), Some(&Value::Int(2)));
        assert_eq!(m.get("e"), Some(&Value::Float(f64::INFINITY)));
        assert!(matches!(m.get("n"), Some(Value::Float(f)) if f.is_nan()));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "n", "e"]);
    }

    #[test]
    fn parser_rejects_garbage_and_depth_bombs() {
        for bad in ["", "{", "[1,]", "01", "\"\u{1}\"", "1 2", "{'a':1}"] {
            assert!(parse(bad, 8).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(parse(&deep, 64), Err(JsonError::TooDeep { limit: 64 }));
        // Python reads lone surrogates; so does flacon, keeping them.
        assert_eq!(
            parse("\"a\\ud800\"", 8),
            Ok(Value::Surrogates(vec![0x61, 0xd800]))
        );
        assert!(parse(&deep, 100).is_ok());
    }

    #[test]
    fn a_failed_parse_leaves_nothing_for_the_next() {
        // The entry stacks are reused between parses: what a failure left in them must not
        // appear in the next document.
        for broken in [r#"{"a":[1,2,{"b":"x","c":"#, r#"[{"k":1},[2,3"#] {
            assert!(parse(broken, 32).is_err());
            let value = parse(r#"{"z":[{"y":null}],"w":"\u00e9"}"#, 32).unwrap();
            let mut inner = Map::default();
            inner.insert("y".to_owned(), Value::Null);
            let mut expected = Map::default();
            expected.insert("z".to_owned(), Value::List(vec![Value::Dict(inner)]));
            expected.insert("w".to_owned(), Value::from("é"));
            assert_eq!(value, Value::Dict(expected));
        }
    }

    #[test]
    fn big_and_negative_integers() {
        assert_eq!(
            parse("18446744073709551617", 1).unwrap(),
            Value::BigInt(BigInt::parse("18446744073709551617").unwrap())
        );
        assert_eq!(parse("-0", 1).unwrap(), Value::Int(0));
        assert_eq!(parse("-7", 1).unwrap(), Value::Int(-7));
    }
}
