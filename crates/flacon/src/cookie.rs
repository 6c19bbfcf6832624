//! The `Cookie` request header and `Set-Cookie` rendering in Werkzeug's format
//! (`werkzeug/http.py dump_cookie` and `parse_cookie`).

use std::borrow::Cow;
use std::fmt::Write as _;

use http::header::{HeaderMap, COOKIE};

use crate::config::SessionConfig;
use crate::value::DateTime;

/// The value of the first cookie called `name` across all `Cookie` headers, as Werkzeug
/// picks it (`werkzeug.sansio.http.parse_cookie`; the first one wins even when a later one is
/// valid). Quoted values lose their quotes and backslash escapes (`\"`, `\\`, octal `\054`).
///
/// Each header is read as bytes: a browser sends `document.cookie` values as raw UTF-8, and
/// another cookie's non-ASCII byte must not hide the session cookie beside it. Only the
/// value returned is decoded, replacing bytes that are not UTF-8 as Werkzeug does.
pub fn find_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<Cow<'a, str>> {
    find_cookie_in(headers.get_all(COOKIE).iter().map(|v| v.as_bytes()), name)
}

/// [`find_cookie`] over the `Cookie` headers' bytes, whichever `http` crate holds them (actix-web
/// has its own header types).
pub(crate) fn find_cookie_in<'a>(
    mut cookie_headers: impl Iterator<Item = &'a [u8]>,
    name: &str,
) -> Option<Cow<'a, str>> {
    cookie_headers
        .find_map(|header| cookie_pairs(header).find(|(key, _)| *key == name.as_bytes()))
        .map(|(_, value)| decode_cookie_value(value))
}

/// A cookie's name and raw value, as bytes of the header.
type CookiePair<'a> = (&'a [u8], &'a [u8]);

/// `(name, raw value)` pairs of one `Cookie` header in Werkzeug's reading: a pair that does not
/// fit its grammar (a space inside a bare value, an unterminated quote) is skipped up to the
/// next `;`.
fn cookie_pairs(header: &[u8]) -> impl Iterator<Item = CookiePair<'_>> {
    let mut pos = 0;
    std::iter::from_fn(move || loop {
        let rest = header.get(pos..).filter(|rest| !rest.is_empty())?;
        if let Some((pair, used)) = match_pair(rest) {
            pos += used;
            return Some(pair);
        }
        let next = rest.iter().position(|&b| b == b';')?;
        pos += next + 1;
    })
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_blanks(s: &[u8], mut i: usize) -> usize {
    while s.get(i).copied().is_some_and(is_blank) {
        i += 1;
    }
    i
}

/// Werkzeug's `_cookie_re` anchored at the start of `s`: blanks, a key, an optional
/// `= value` (quoted with backslash escapes, or a bare token), blanks, then `;` or the end.
/// Returns the pair and how many bytes it used.
fn match_pair(s: &[u8]) -> Option<(CookiePair<'_>, usize)> {
    let key_start = skip_blanks(s, 0);
    let key_len = s
        .get(key_start..)?
        .iter()
        .take_while(|&&b| !matches!(b, b' ' | b'\t' | b'=' | b'"' | b';'))
        .count();
    if key_len == 0 {
        return None;
    }
    let key_end = key_start + key_len;
    let key = s.get(key_start..key_end)?;
    let pair_end = |i: usize| {
        let i = skip_blanks(s, i);
        match s.get(i) {
            None => Some(i),
            Some(b';') => Some(i + 1),
            Some(_) => None,
        }
    };
    let with_value = || {
        let eq = skip_blanks(s, key_end);
        if s.get(eq) != Some(&b'=') {
            return None;
        }
        let value_start = skip_blanks(s, eq + 1);
        let candidates = [
            quoted_len(s.get(value_start..)?),
            Some(token_len(s.get(value_start..)?)),
        ];
        candidates.into_iter().flatten().find_map(|len| {
            let value = s.get(value_start..value_start + len)?;
            pair_end(value_start + len).map(|end| (value, end))
        })
    };
    match with_value() {
        Some((value, end)) => Some(((key, value), end)),
        None => pair_end(key_end).map(|end| ((key, &b""[..]), end)),
    }
}

/// `"(?:[^\\"]|\\.)*"`: the length of a quoted value starting `s`, closing quote included.
fn quoted_len(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    loop {
        match s.get(i)? {
            b'"' => return Some(i + 1),
            // Python's `.` matches anything but a newline.
            b'\\' if s.get(i + 1).is_some_and(|&b| b != b'\n') => i += 2,
            b'\\' => return None,
            _ => i += 1,
        }
    }
}

/// `[^ \t";]*`: the length of a bare value starting `s`.
fn token_len(s: &[u8]) -> usize {
    s.iter()
        .take_while(|&&b| !matches!(b, b' ' | b'\t' | b'"' | b';'))
        .count()
}

/// A raw value as Werkzeug gives it: quotes removed and `\x` / `\ooo` escapes undone
/// (`_cookie_unslash_re`), bytes that are not UTF-8 replaced.
fn decode_cookie_value(raw: &[u8]) -> Cow<'_, str> {
    let Some(inner) = raw.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\"")) else {
        return String::from_utf8_lossy(raw);
    };
    if !inner.contains(&b'\\') {
        return String::from_utf8_lossy(inner);
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while let Some(&b) = inner.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let octal = inner
            .get(i + 1..i + 4)
            .filter(|d| matches!(d, [b'0'..=b'3', b'0'..=b'7', b'0'..=b'7']));
        match (octal, inner.get(i + 1)) {
            (Some(d), _) => {
                out.push(d.iter().fold(0u8, |n, &d| (n << 3) | (d - b'0')));
                i += 4;
            }
            (None, Some(&escaped)) => {
                out.push(escaped);
                i += 2;
            }
            (None, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// When a session cookie expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// A browser-session cookie: no `Expires`, no `Max-Age`.
    BrowserSession,
    /// `Expires` at this Unix time.
    At(i64),
}

impl Expiry {
    /// Flask's `get_expiration_time`: a permanent session expires at `expires_at` (Unix
    /// seconds), any other when the browser closes.
    pub(crate) fn of_session(permanent: bool, expires_at: u64) -> Self {
        if permanent {
            Expiry::At(i64::try_from(expires_at).unwrap_or(i64::MAX))
        } else {
            Expiry::BrowserSession
        }
    }
}

/// `name=value; Domain; Expires; Secure; HttpOnly; Path; SameSite; Partitioned`, in
/// Werkzeug's attribute order.
pub(crate) fn set_cookie(config: &SessionConfig, value: &str, expiry: Expiry) -> String {
    let mut out = String::with_capacity(config.cookie_name.len() + value.len() + 80);
    out.push_str(&config.cookie_name);
    out.push('=');
    out.push_str(value);
    push_domain(&mut out, config);
    if let Expiry::At(unix) = expiry {
        out.push_str("; Expires=");
        DateTime::from_unix(unix).push_http_date(&mut out);
    }
    push_flags(&mut out, config);
    out
}

/// The cookie that deletes the session: empty value, expired in 1970, `Max-Age=0`, with the
/// same attributes as a normal set (`Response.delete_cookie`).
pub(crate) fn deletion_cookie(config: &SessionConfig) -> String {
    let mut out = String::with_capacity(config.cookie_name.len() + 120);
    out.push_str(&config.cookie_name);
    out.push('=');
    push_domain(&mut out, config);
    out.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0");
    push_flags(&mut out, config);
    out
}

fn push_domain(out: &mut String, config: &SessionConfig) {
    if let Some(domain) = config.cookie_domain.as_deref() {
        let domain = domain.split(':').next().unwrap_or(domain);
        let domain = domain.strip_prefix('.').unwrap_or(domain);
        out.push_str("; Domain=");
        out.push_str(domain);
    }
}

fn push_flags(out: &mut String, config: &SessionConfig) {
    if config.cookie_secure || config.cookie_partitioned {
        out.push_str("; Secure");
    }
    if config.cookie_http_only {
        out.push_str("; HttpOnly");
    }
    out.push_str("; Path=");
    push_quoted_path(out, &config.cookie_path);
    if let Some(same_site) = config.cookie_same_site {
        out.push_str("; SameSite=");
        out.push_str(same_site.as_str());
    }
    if config.cookie_partitioned {
        out.push_str("; Partitioned");
    }
}

/// Percent-quotes a path as `urllib.parse.quote(path, safe="%!$&'()*+,/:=@")`.
fn push_quoted_path(out: &mut String, path: &str) {
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~%!$&'()*+,/:=@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SameSite;
    use http::HeaderValue;

    #[test]
    fn first_cookie_of_a_name_wins_across_headers() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; session=bad"));
        headers.append(COOKIE, HeaderValue::from_static("session=good"));
        assert_eq!(find_cookie(&headers, "session").as_deref(), Some("bad"));
        assert_eq!(find_cookie(&headers, "sess"), None);
    }

    #[test]
    fn attributes_follow_werkzeug_order() {
        let config = SessionConfig {
            cookie_name: "sid".into(),
            cookie_domain: Some(".Example.com:8080".into()),
            cookie_path: "/app x".into(),
            cookie_secure: false,
            cookie_same_site: Some(SameSite::Lax),
            cookie_partitioned: true,
            cookie_http_only: false,
            ..SessionConfig::default()
        };
        assert_eq!(
            set_cookie(&config, "v", Expiry::At(1_702_678_400)),
            "sid=v; Domain=Example.com; Expires=Fri, 15 Dec 2023 22:13:20 GMT; Secure; Path=/app%20x; SameSite=Lax; Partitioned"
        );
        assert_eq!(
            deletion_cookie(&SessionConfig::default()),
            "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/"
        );
    }
}
