//! Flask's message flashing: [`Session::flash`] and [`Session::flashed_messages`], stored
//! exactly as Flask stores them (`_flashes`, a list of `(category, message)` tuples), so a
//! message flashed by a Flask app shows on a flacon page and back.

use super::Session;
use crate::value::Value;

/// The key Flask keeps flashed messages under.
pub const FLASHES_KEY: &str = "_flashes";

/// One flashed message and its category (`"message"` unless one was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// The category (`"message"`, `"error"`, ... as the app chose).
    pub category: String,
    /// The message text.
    pub message: String,
}

/// A `(category, message)` entry as Flask wrote it: a tuple in a cookie, a list in a
/// Flask-Session msgpack record (msgspec reads tuples back as lists).
fn flash_of(entry: &Value) -> Option<(String, String)> {
    let (Value::Tuple(parts) | Value::List(parts)) = entry else {
        return None;
    };
    let text = |v: &Value| match v {
        Value::Str(s) | Value::Markup(s) => Some(s.clone()),
        _ => None,
    };
    match parts.as_slice() {
        [category, message] => Some((text(category)?, text(message)?)),
        _ => None,
    }
}

impl Session {
    /// Flashes `message` under `category` for the next request that shows messages, as
    /// Flask's `flash(message, category)` does (Flask's default category is `"message"`).
    ///
    /// ```
    /// let session = flacon::Session::detached();
    /// session.flash("error", "Wrong password");
    /// let shown = session.flashed_messages(&[]);
    /// assert_eq!(shown[0].message, "Wrong password");
    /// assert!(session.flashed_messages(&["error"]).len() == 1, "same answer all request");
    /// ```
    pub fn flash(&self, category: &str, message: impl Into<String>) {
        let entry = Value::Tuple(vec![Value::from(category), Value::Str(message.into())]);
        self.update(|data| match data.get_mut(FLASHES_KEY) {
            Some(Value::List(list)) => list.push(entry),
            _ => {
                data.insert(FLASHES_KEY.to_owned(), Value::List(vec![entry]));
            }
        });
    }

    /// The flashed messages, as Flask's `get_flashed_messages(with_categories=True,
    /// category_filter=categories)`: the first call of a request takes every message out of
    /// the session (so they show once), every call of the request sees the same ones, and a
    /// non-empty `categories` keeps only those (the others are gone all the same, as in
    /// Flask). Entries that are not `(category, message)` pairs of strings are skipped.
    pub fn flashed_messages(&self, categories: &[&str]) -> Vec<Flash> {
        let cached = self.lock().flashes.clone();
        let flashes = match cached {
            Some(flashes) => flashes,
            None => {
                let taken = match self.remove(FLASHES_KEY) {
                    Some(Value::List(entries)) => entries.iter().filter_map(flash_of).collect(),
                    _ => Vec::new(),
                };
                self.lock().flashes = Some(taken.clone());
                taken
            }
        };
        flashes
            .into_iter()
            .filter(|(category, _)| {
                categories.is_empty() || categories.contains(&category.as_str())
            })
            .map(|(category, message)| Flash { category, message })
            .collect()
    }
}
