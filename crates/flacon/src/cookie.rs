//! The `Cookie` request header and `Set-Cookie` rendering in Werkzeug's format
//! (`werkzeug/http.py dump_cookie` and `parse_cookie`).

use std::fmt::Write as _;

use http::header::{HeaderMap, COOKIE};

use crate::config::SessionConfig;
use crate::value::DateTime;

/// The value of the first cookie called `name` across all `Cookie` headers, as Werkzeug
/// picks it (the first one wins even when a later one is valid). Surrounding double quotes
/// are removed.
pub fn find_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key.trim() == name).then(|| {
                let value = value.trim();
                value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value)
            })
        })
}

/// When a session cookie expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// A browser-session cookie: no `Expires`, no `Max-Age`.
    BrowserSession,
    /// `Expires` at this Unix time.
    At(i64),
}

impl Expiry {
    /// Flask's `get_expiration_time`: a permanent session expires at `expires_at` (Unix
    /// seconds), any other when the browser closes.
    pub fn of_session(permanent: bool, expires_at: u64) -> Self {
        if permanent {
            Expiry::At(i64::try_from(expires_at).unwrap_or(i64::MAX))
        } else {
            Expiry::BrowserSession
        }
    }
}

/// `name=value; Domain; Expires; Secure; HttpOnly; Path; SameSite; Partitioned`, in
/// Werkzeug's attribute order.
pub fn set_cookie(config: &SessionConfig, value: &str, expiry: Expiry) -> String {
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
pub fn deletion_cookie(config: &SessionConfig) -> String {
    let mut out = String::with_capacity(config.cookie_name.len() + 120);
    out.push_str(&config.cookie_name);
    out.push('=');
    push_domain(&mut out, config);
    out.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0");
    push_flags(&mut out, config);
    out
}

/// Flask-Session's deletion cookie: only name, domain and path are passed to
/// `delete_cookie`, so `HttpOnly`, `Secure` and `SameSite` are absent.
pub fn bare_deletion_cookie(config: &SessionConfig) -> String {
    let mut out = String::with_capacity(config.cookie_name.len() + 80);
    out.push_str(&config.cookie_name);
    out.push('=');
    push_domain(&mut out, config);
    out.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=");
    push_quoted_path(&mut out, &config.cookie_path);
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
        assert_eq!(find_cookie(&headers, "session"), Some("bad"));
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
