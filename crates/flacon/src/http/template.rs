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

use minijinja::value::{Enumerator, Object, Value as Jinja};

use crate::session::Session;
use crate::typed::hyphenated_uuid;
use crate::value::Value;

#[derive(Debug)]
struct SessionObject(Session);

impl Object for SessionObject {
    fn get_value(self: &Arc<Self>, key: &Jinja) -> Option<Jinja> {
        let key = key.as_str()?;
        match self.0.get_value(key) {
            Some(value) => Some(to_jinja(&value)),
            // Jinja's `session.permanent` reaches Flask's attribute when no such key exists.
            None if key == "permanent" => Some(Jinja::from(self.0.permanent())),
            None => None,
        }
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
        Value::List(items) | Value::Tuple(items) => {
            Jinja::from(items.iter().map(to_jinja).collect::<Vec<_>>())
        }
        Value::Dict(map) => Jinja::from_iter(map.iter().map(|(k, v)| (k.clone(), to_jinja(v)))),
        Value::Bytes(bytes) => Jinja::from_bytes(bytes.clone()),
        Value::Uuid(bytes) => Jinja::from(hyphenated_uuid(bytes)),
        Value::DateTime(d) => Jinja::from(d.to_http_date()),
    }
}
