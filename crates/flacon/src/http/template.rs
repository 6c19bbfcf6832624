//! minijinja glue: a template sees the session as Jinja does in Flask
//! (`{% if session.email %}`, `{{ session['email'] }}`), and reading it marks the session
//! accessed.
//!
//! ```
//! use flacon::Session;
//! let session = Session::detached();
//! session.insert("email", "a&b@example.com").unwrap();
//! let mut env = minijinja::Environment::new();
//! env.add_template("t.html", "{% if session.email %}Welcome {{ session['email'] }}!{% endif %}").unwrap();
//! let html = env.get_template("t.html").unwrap()
//!     .render(minijinja::context! { session => session.template_value() }).unwrap();
//! assert_eq!(html, "Welcome a&amp;b@example.com!");
//! ```

use std::sync::Arc;

use minijinja::value::{Enumerator, Kwargs, Object, Value as Jinja};
use minijinja::{AutoEscape, Environment, Output, State};

use crate::session::Session;
use crate::value::hyphenated_uuid;
use crate::value::Value;

#[derive(Debug)]
struct SessionObject(Session);

impl Object for SessionObject {
    fn get_value(self: &Arc<Self>, key: &Jinja) -> Option<Jinja> {
        let key = key.as_str()?;
        // Converted where it lies: a copy of the value first would be made only to be dropped.
        self.0
            .read(|data| data.get(key).map(to_jinja))
            // Jinja's `session.permanent` reaches Flask's attribute when no such key exists.
            .or_else(|| (key == "permanent").then(|| Jinja::from(self.0.permanent())))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.keys().into_iter().map(Jinja::from).collect())
    }
}

impl Session {
    /// The session as a template value; reading it marks the session accessed.
    pub fn template_value(&self) -> Jinja {
        Jinja::from_object(SessionObject(self.clone()))
    }

    /// Flask's `get_flashed_messages(with_categories=False, category_filter=())` as a
    /// template function over this session ([`Session::flashed_messages`]): the messages,
    /// or `(category, message)` pairs with `with_categories=true`.
    ///
    /// ```
    /// let session = flacon::Session::detached();
    /// session.flash("error", "Wrong password");
    /// let mut env = minijinja::Environment::new();
    /// env.add_template("t.html", "{% for c, m in get_flashed_messages(with_categories=true) %}{{ c }}: {{ m }}{% endfor %}").unwrap();
    /// let html = env.get_template("t.html").unwrap()
    ///     .render(minijinja::context! { get_flashed_messages => session.flashed_messages_function() }).unwrap();
    /// assert_eq!(html, "error: Wrong password");
    /// ```
    pub fn flashed_messages_function(&self) -> Jinja {
        let session = self.clone();
        Jinja::from_function(
            move |with_categories: Option<bool>,
                  category_filter: Option<Vec<String>>,
                  kwargs: Kwargs|
                  -> Result<Jinja, minijinja::Error> {
                let with_categories = match kwargs.get::<Option<bool>>("with_categories")? {
                    Some(flag) => flag,
                    None => with_categories.unwrap_or(false),
                };
                let filter = match kwargs.get::<Option<Vec<String>>>("category_filter")? {
                    Some(filter) => filter,
                    None => category_filter.unwrap_or_default(),
                };
                kwargs.assert_all_used()?;
                let filter: Vec<&str> = filter.iter().map(String::as_str).collect();
                let shown = session.flashed_messages(&filter).into_iter();
                Ok(if with_categories {
                    shown
                        .map(|f| Jinja::from(vec![Jinja::from(f.category), Jinja::from(f.message)]))
                        .collect()
                } else {
                    shown.map(|f| Jinja::from(f.message)).collect()
                })
            },
        )
    }
}

/// A session value as minijinja sees it; `Markup` stays safe (not escaped again).
pub fn to_jinja(value: &Value) -> Jinja {
    match value {
        Value::Null => Jinja::from(()),
        Value::Bool(b) => Jinja::from(*b),
        Value::Int(i) => Jinja::from(*i),
        Value::BigInt(b) => Jinja::from(b.to_string()),
        Value::Float(f) => Jinja::from(*f),
        Value::Str(s) => Jinja::from(s.as_str()),
        Value::Markup(s) => Jinja::from_safe_string(s.clone()),
        Value::Surrogates(units) => Jinja::from(String::from_utf16_lossy(units)),
        Value::List(items) | Value::Tuple(items) => {
            Jinja::from(items.iter().map(to_jinja).collect::<Vec<_>>())
        }
        Value::Dict(map) => Jinja::from_iter(map.iter().map(|(k, v)| (k.clone(), to_jinja(v)))),
        Value::Pairs(pairs) => {
            Jinja::from_iter(pairs.iter().map(|(k, v)| (to_jinja(k), to_jinja(v))))
        }
        Value::Bytes(bytes) => Jinja::from_bytes(bytes.clone()),
        Value::Uuid(bytes) => Jinja::from(hyphenated_uuid(bytes)),
        Value::DateTime(d) => Jinja::from(d.to_http_date()),
    }
}

/// Makes `env` escape exactly as Jinja with MarkupSafe does in Flask: `&`, `<`, `>`, `"` and
/// `'` become `&amp;`, `&lt;`, `&gt;`, `&#34;` and `&#39;`, and nothing else is touched
/// (minijinja's own HTML escaping also rewrites `/` and spells quotes differently).
///
/// ```
/// let mut env = minijinja::Environment::new();
/// flacon::http::template::escape_like_jinja(&mut env);
/// env.add_template("t.html", "{{ v }}").unwrap();
/// let out = env.get_template("t.html").unwrap().render(minijinja::context! { v => "<a href='/x'>\"&" }).unwrap();
/// assert_eq!(out, "&lt;a href=&#39;/x&#39;&gt;&#34;&amp;");
/// ```
pub fn escape_like_jinja(env: &mut Environment<'_>) {
    env.set_formatter(markupsafe_formatter);
}

fn markupsafe_formatter(
    out: &mut Output<'_>,
    state: &State<'_, '_>,
    value: &Jinja,
) -> Result<(), minijinja::Error> {
    let escape = !matches!(state.auto_escape(), AutoEscape::None) && !value.is_safe();
    if value.is_none() || value.is_undefined() {
        return if value.is_none() {
            write_str(out, "None")
        } else {
            Ok(())
        };
    }
    // Strings (nearly everything a template prints) are escaped without a copy.
    let owned;
    let text = match value.as_str() {
        Some(text) => text,
        None => {
            owned = value.to_string();
            owned.as_str()
        }
    };
    if !escape {
        return write_str(out, text);
    }
    let mut last = 0;
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&#34;",
            b'\'' => "&#39;",
            _ => continue,
        };
        write_str(out, text.get(last..i).unwrap_or_default())?;
        write_str(out, entity)?;
        last = i + 1;
    }
    write_str(out, text.get(last..).unwrap_or_default())
}

fn write_str(out: &mut Output<'_>, s: &str) -> Result<(), minijinja::Error> {
    out.write_str(s).map_err(|_| {
        minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "template output failed")
    })
}

/// The application's templates with the request's session in every render, as Flask's
/// templates see `session` without the view passing it: an axum extractor that finds the
/// environment in the request's extensions (add it once with `axum::Extension`).
///
/// ```
/// use std::sync::Arc;
/// use axum::{routing::get, Extension, Router};
/// use flacon::http::template::Templates;
/// use flacon::{KeyRing, SecretKey, SessionLayer};
///
/// async fn welcome(templates: Templates) -> axum::response::Html<String> {
///     axum::response::Html(templates.render("welcome.html", minijinja::context! {}).unwrap())
/// }
///
/// let mut env = minijinja::Environment::new();
/// env.add_template("welcome.html", "Welcome {{ session.email or 'stranger' }}!").unwrap();
/// let app: Router = Router::new()
///     .route("/", get(welcome))
///     .layer(Extension(Arc::new(env)))
///     .layer(SessionLayer::new(KeyRing::new(SecretKey::from_text("a long random key, from the environment"))));
/// ```
#[cfg(any(feature = "axum", feature = "actix"))]
#[derive(Debug, Clone)]
pub struct Templates {
    env: Arc<Environment<'static>>,
    session: Session,
}

#[cfg(any(feature = "axum", feature = "actix"))]
impl Templates {
    #[cfg(feature = "actix")]
    pub(crate) fn new(env: Arc<Environment<'static>>, session: Session) -> Self {
        Templates { env, session }
    }

    /// Renders `name` with `context`, the session as `session` and Flask's
    /// `get_flashed_messages`.
    pub fn render(&self, name: &str, context: Jinja) -> Result<String, minijinja::Error> {
        let context = minijinja::context! {
            session => self.session.template_value(),
            get_flashed_messages => self.session.flashed_messages_function(),
            ..context
        };
        self.env.get_template(name)?.render(context)
    }

    /// The session the templates see.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

/// Why [`Templates`] could not be extracted.
#[cfg(feature = "axum")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplatesRejection {
    /// No `Extension(Arc<Environment<'static>>)` on this route: a server bug (500).
    #[error("no Extension(Arc<minijinja::Environment>) is installed on this route")]
    MissingEnvironment,
    /// The session could not be extracted.
    #[error(transparent)]
    Session(#[from] super::SessionRejection),
}

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for TemplatesRejection {
    fn into_response(self) -> axum_core::response::Response {
        match self {
            TemplatesRejection::Session(rejection) => rejection.into_response(),
            TemplatesRejection::MissingEnvironment => {
                tracing::error!("{self}");
                super::SessionRejection::Missing.into_response()
            }
        }
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum_core::extract::FromRequestParts<S> for Templates {
    type Rejection = TemplatesRejection;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let env = parts
            .extensions
            .get::<Arc<Environment<'static>>>()
            .cloned()
            .ok_or(TemplatesRejection::MissingEnvironment)?;
        let session = Session::from_request_parts(parts, state).await?;
        Ok(Templates { env, session })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(session: &Session, source: &str) -> String {
        let mut env = Environment::new();
        env.add_template("t", source).unwrap();
        env.get_template("t")
            .unwrap()
            .render(minijinja::context! { session => session.template_value() })
            .unwrap()
    }

    #[test]
    fn a_template_reads_keys_and_falls_back_to_the_permanent_attribute() {
        let session = Session::detached();
        session.insert("email", "a@example.com").unwrap();
        let source =
            "{{ session['email'] }}|{{ session.permanent }}|{{ session['nope'] is defined }}";
        assert_eq!(render(&session, source), "a@example.com|False|False");
        session.set_permanent(true);
        assert_eq!(render(&session, source), "a@example.com|True|False");
        // A key named `permanent` is the key, not the attribute.
        session.insert("permanent", "the key").unwrap();
        assert_eq!(render(&session, "{{ session.permanent }}"), "the key");
    }
}
