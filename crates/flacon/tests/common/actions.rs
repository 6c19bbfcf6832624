//! Applies the vector files' request `actions` to a session, and maps their Flask config.

use std::time::Duration;

use axum::http::header::COOKIE;
use axum::http::Request;
use flacon::config::{SameSite, SessionConfig, SessionConfigBuilder};
use flacon::{Map, Session, Value};

use super::{dict_of, from_convention};

pub fn config_of(case: &Map) -> SessionConfig {
    config_builder_of(case)
        .build()
        .expect("Flask's config is valid")
}

pub fn config_builder_of(case: &Map) -> SessionConfigBuilder {
    let mut config = SessionConfig::builder();
    for (key, value) in dict_of(case, "config") {
        config = match (key.as_str(), value) {
            ("SESSION_COOKIE_NAME", Value::Str(s)) => config.cookie_name(s.clone()),
            ("SESSION_COOKIE_DOMAIN", Value::Str(s)) => config.cookie_domain(Some(s.clone())),
            ("SESSION_COOKIE_PATH", Value::Str(s)) => config.cookie_path(s.clone()),
            ("SESSION_COOKIE_SECURE", Value::Bool(b)) => config.cookie_secure(*b),
            ("SESSION_COOKIE_HTTPONLY", Value::Bool(b)) => config.cookie_http_only(*b),
            ("SESSION_COOKIE_PARTITIONED", Value::Bool(b)) => config.cookie_partitioned(*b),
            ("SESSION_COOKIE_SAMESITE", Value::Str(s)) => {
                config.cookie_same_site(SameSite::parse(s))
            }
            ("SESSION_REFRESH_EACH_REQUEST", Value::Bool(b)) => config.refresh_each_request(*b),
            ("PERMANENT_SESSION_LIFETIME", Value::Int(secs)) => {
                config.permanent_lifetime(Duration::from_secs(*secs as u64))
            }
            // Flask-Session's own keys are read by the server-side tests.
            ("SESSION_PERMANENT" | "SESSION_KEY_PREFIX", _) => config,
            other => panic!("config not mapped: {other:?}"),
        };
    }
    config
}

pub fn apply(session: &Session, actions: &[Value]) {
    for action in actions {
        let Value::List(parts) = action else {
            panic!("action {action:?}")
        };
        let key = parts
            .get(1)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match parts[0].as_str().unwrap() {
            "get" => drop(session.get_value(&key)),
            "set" => session.insert_value(key, from_convention(&parts[2])),
            "pop" => drop(session.remove(&key)),
            "clear" => session.clear(),
            "permanent" => session.set_permanent(parts[1] == Value::Bool(true)),
            "mutate_nested" => {
                let item = from_convention(&parts[2]);
                session.update(|data| {
                    if let Some(Value::List(list)) = data.get_mut(&key) {
                        list.push(item);
                    }
                });
            }
            "mark_modified" => session.mark_modified(),
            other => panic!("unknown action {other}"),
        }
    }
}

/// `GET /` carrying the case's request cookie, if any, under `cookie_name`.
pub fn case_request(case: &Map, cookie_name: &str) -> Request<String> {
    let mut request = Request::get("/");
    if let Some(Value::Str(cookie)) = case.get("request_cookie") {
        request = request.header(COOKIE, format!("{cookie_name}={cookie}"));
    }
    request.body(String::new()).unwrap()
}
