//! The session value model: JSON plus the Python types Flask's tagged serializer preserves.
//!
//! A Flask session is a `dict` whose values may be any JSON value or one of the Python types
//! that `flask.json.tag.TaggedJSONSerializer` round-trips: `tuple`, `bytes`, `Markup`, `UUID`
//! and `datetime`. [`Value`] models exactly that set, so decoding a Flask cookie and encoding
//! it again gives the identical payload.

use std::fmt;

use indexmap::IndexMap;

pub use crate::typed::{from_value, to_value, ValueError};

/// A session dictionary: string keys to values, in insertion order.
///
/// The cookie codec sorts keys by code point when it writes them (as Flask does); insertion
/// order is kept for formats that preserve it, such as Flask-Session's msgpack records.
pub type Map = IndexMap<String, Value>;

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
    /// A `datetime.datetime` with whole seconds (Flask tag `" d"`).
    DateTime(DateTime),
}

impl Value {
    /// The Python type name of this value, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
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
            Value::Bytes(b) => !b.is_empty(),
        }
    }

    /// How deeply containers nest inside this value (a scalar is 0).
    pub fn depth(&self) -> usize {
        match self {
            Value::List(v) | Value::Tuple(v) => 1 + v.iter().map(Value::depth).max().unwrap_or(0),
            Value::Dict(m) => 1 + m.values().map(Value::depth).max().unwrap_or(0),
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

/// A point in time with whole-second precision and the UTC offset it was written with.
///
/// Flask writes datetimes as RFC 822 GMT dates (`Tue, 02 Jan 2024 01:04:05 GMT`), dropping
/// sub-seconds; a date read back keeps the offset it carried.
///
/// ```
/// use flacon::value::DateTime;
/// let d = DateTime::from_unix(1700000000);
/// assert_eq!(d.to_http_date(), "Tue, 14 Nov 2023 22:13:20 GMT");
/// assert_eq!(DateTime::parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT"), Some(d));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// Seconds since the Unix epoch (UTC).
    pub unix_seconds: i64,
    /// The UTC offset, in seconds, the value was expressed in.
    pub offset_seconds: i32,
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl DateTime {
    /// A UTC datetime at `unix_seconds`.
    pub fn from_unix(unix_seconds: i64) -> Self {
        DateTime {
            unix_seconds,
            offset_seconds: 0,
        }
    }

    /// The `Wdy, DD Mon YYYY HH:MM:SS GMT` form Flask and Werkzeug write (always UTC).
    pub fn to_http_date(&self) -> String {
        let mut out = String::with_capacity(29);
        self.push_http_date(&mut out);
        out
    }

    /// Appends the `Wdy, DD Mon YYYY HH:MM:SS GMT` form to `out` (no formatting machinery:
    /// it runs for every permanent session's `Expires`).
    pub fn push_http_date(&self, out: &mut String) {
        let days = self.unix_seconds.div_euclid(86_400);
        let secs = self.unix_seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let weekday = WEEKDAYS
            .get(days.rem_euclid(7) as usize)
            .copied()
            .unwrap_or("Thu");
        let month_name = MONTHS.get((month - 1) as usize).copied().unwrap_or("Jan");
        let digits = |out: &mut String, n: i64, width: u32| {
            for place in (0..width).rev() {
                let digit = (n / 10_i64.pow(place)).rem_euclid(10) as u8;
                out.push(char::from(b'0' + digit));
            }
        };
        out.push_str(weekday);
        out.push_str(", ");
        digits(out, day, 2);
        out.push(' ');
        out.push_str(month_name);
        out.push(' ');
        if (0..10_000).contains(&year) {
            digits(out, year, 4);
        } else {
            out.push_str(&year.to_string());
        }
        out.push(' ');
        digits(out, secs / 3600, 2);
        out.push(':');
        digits(out, secs % 3600 / 60, 2);
        out.push(':');
        digits(out, secs % 60, 2);
        out.push_str(" GMT");
    }

    /// Parses an RFC 822 / RFC 2822 date as `werkzeug.http.parse_date` does for the forms
    /// Flask writes: optional weekday, `DD Mon YYYY HH:MM[:SS]`, and a zone of `GMT`, `UTC`,
    /// `Z`, or `+HHMM`/`-HHMM` (a missing zone means UTC). Returns `None` when unparseable,
    /// which is what Flask yields for a bad `" d"` tag.
    pub fn parse_http_date(text: &str) -> Option<DateTime> {
        let text = text.trim();
        let text = match text.split_once(',') {
            Some((_weekday, rest)) => rest,
            None => text,
        };
        let mut parts = text.split_whitespace();
        let day: i64 = parts.next()?.parse().ok()?;
        let month_text = parts.next()?.get(..3)?;
        let month = MONTHS
            .iter()
            .position(|m| m.eq_ignore_ascii_case(month_text))? as i64
            + 1;
        let mut year: i64 = parts.next()?.parse().ok()?;
        // Python's email.utils reads any year below 100 as two-digit: 69-99 are 19xx and
        // 0-68 are 20xx. So Flask cannot round-trip datetimes before year 100 either.
        if year < 100 {
            year += if year > 68 { 1900 } else { 2000 };
        }
        let mut clock = parts.next()?.split(':');
        let hour: i64 = clock.next()?.parse().ok()?;
        let minute: i64 = clock.next()?.parse().ok()?;
        let second: i64 = clock.next().map_or(Some(0), |s| s.parse().ok())?;
        if clock.next().is_some()
            || !(1..=31).contains(&day)
            || !(0..=23).contains(&hour)
            || !(0..=59).contains(&minute)
            || !(0..=60).contains(&second)
            || !(1..=9999).contains(&year)
        {
            return None;
        }
        let offset_seconds = match parts.next() {
            None => 0,
            Some(zone) => parse_zone(zone)?,
        };
        if parts.next().is_some() {
            return None;
        }
        let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
        Some(DateTime {
            unix_seconds: local - i64::from(offset_seconds),
            offset_seconds,
        })
    }
}

fn parse_zone(zone: &str) -> Option<i32> {
    match zone.to_ascii_uppercase().as_str() {
        "GMT" | "UT" | "UTC" | "Z" => Some(0),
        "EDT" => Some(-4 * 3600),
        "EST" | "CDT" => Some(-5 * 3600),
        "CST" | "MDT" => Some(-6 * 3600),
        "MST" | "PDT" => Some(-7 * 3600),
        "PST" => Some(-8 * 3600),
        _ => {
            let (sign, digits) = match zone.as_bytes().first()? {
                b'+' => (1, zone.get(1..)?),
                b'-' => (-1, zone.get(1..)?),
                _ => return None,
            };
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let hours: i32 = digits.get(..2)?.parse().ok()?;
            let minutes: i32 = digits.get(2..)?.parse().ok()?;
            Some(sign * (hours * 3600 + minutes * 60))
        }
    }
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since 1970-01-01.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_round_trip_across_eras() {
        for secs in [0_i64, 951_782_400, 1_700_000_000, 4_102_444_800, -86_400] {
            let d = DateTime::from_unix(secs);
            assert_eq!(DateTime::parse_http_date(&d.to_http_date()), Some(d));
        }
        assert_eq!(
            DateTime::from_unix(0).to_http_date(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn offsets_are_kept_and_garbage_is_none() {
        let d = DateTime::parse_http_date("Tue, 02 Jan 2024 03:04:05 +0200").unwrap();
        assert_eq!(d.offset_seconds, 7200);
        assert_eq!(d.to_http_date(), "Tue, 02 Jan 2024 01:04:05 GMT");
        assert_eq!(DateTime::parse_http_date("garbage"), None);
        let two_digit = |text| DateTime::parse_http_date(text).unwrap().to_http_date();
        assert_eq!(
            two_digit("16 Aug 0071 20:35:07 GMT"),
            "Mon, 16 Aug 1971 20:35:07 GMT"
        );
        assert_eq!(
            two_digit("16 Aug 0068 20:35:07 GMT"),
            "Thu, 16 Aug 2068 20:35:07 GMT"
        );
        assert_eq!(DateTime::parse_http_date("02 Foo 2024 03:04:05 GMT"), None);
    }

    #[test]
    fn big_ints_must_be_canonical_and_large() {
        assert!(BigInt::parse("-9223372036854775809").is_some());
        assert!(BigInt::parse("9223372036854775807").is_none());
        assert!(BigInt::parse("0123456789012345678901").is_none());
        assert!(BigInt::parse("1e30").is_none());
    }
}
