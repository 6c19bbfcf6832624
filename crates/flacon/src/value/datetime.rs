//! [`DateTime`]: Flask's tagged datetimes, and the calendar arithmetic they need (also used
//! by the serde bridge and by the `Set-Cookie` dates).

/// A point in time to the nanosecond, with the UTC offset it was written with.
///
/// Flask writes datetimes into cookies as RFC 822 GMT dates (`Tue, 02 Jan 2024 01:04:05
/// GMT`), dropping sub-seconds, and so does flacon; Flask-Session's msgpack records keep them
/// (msgspec's timestamp extension), and so does flacon. A date read back keeps the offset it
/// carried.
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
    /// Nanoseconds past `unix_seconds` (below 10⁹).
    pub nanos: u32,
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
            nanos: 0,
        }
    }

    /// A UTC datetime at `unix_seconds` and `nanos` nanoseconds (kept below 10⁹).
    ///
    /// ```
    /// let d = flacon::value::DateTime::from_unix_nanos(1_714_979_289, 123_456_000);
    /// assert_eq!(d.nanos, 123_456_000);
    /// ```
    pub fn from_unix_nanos(unix_seconds: i64, nanos: u32) -> Self {
        DateTime {
            unix_seconds,
            offset_seconds: 0,
            nanos: nanos.min(999_999_999),
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

    /// RFC 3339 in the offset the value carries, with microseconds when it has any, as
    /// msgspec and `datetime.isoformat` write it: `2024-05-06T07:08:09.123456+02:00`, `Z`
    /// for UTC.
    ///
    /// ```
    /// use flacon::value::DateTime;
    /// let d = DateTime::from_unix_nanos(1_714_979_289, 123_456_000);
    /// assert_eq!(d.to_rfc3339(), "2024-05-06T07:08:09.123456Z");
    /// ```
    pub fn to_rfc3339(&self) -> String {
        let local = self.unix_seconds + i64::from(self.offset_seconds);
        let (year, month, day) = civil_from_days(local.div_euclid(86_400));
        let secs = local.rem_euclid(86_400);
        let mut out = format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        );
        match self.nanos {
            0 => {}
            n if n % 1000 == 0 => out.push_str(&format!(".{:06}", n / 1000)),
            n => out.push_str(&format!(".{n:09}")),
        }
        match self.offset_seconds {
            0 => out.push('Z'),
            offset => {
                let sign = if offset < 0 { '-' } else { '+' };
                let minutes = offset.unsigned_abs() / 60;
                out.push_str(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60));
            }
        }
        out
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
            nanos: 0,
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
}
