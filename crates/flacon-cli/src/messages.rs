//! The demo's flash-message routes: `POST /flash` (form fields `message` and `category`)
//! flashes a message and redirects to `GET /messages`, which shows the flashed messages
//! with their categories (`?only=CATEGORY` keeps one) and takes them out of the session, as
//! a Flask view with `flash` and `get_flashed_messages` does. The same routes run on the
//! reference Flask app, and a message flashed on one shows on the other.

use std::sync::Arc;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use flacon::Session;
use minijinja::Environment;
use serde::Deserialize;

/// The page, the same text as `tests/python/article_app.py`'s.
pub(crate) const MESSAGES_TEMPLATE: &str = "<!doctype html>\n<title>Messages</title>\n\
{% for category, message in get_flashed_messages(with_categories=true, category_filter=[only] if only else []) %}\n\
<p class=\"{{ category }}\">{{ message }}</p>\n\
{% else %}\n<p>No messages.</p>\n{% endfor %}\n\
<form method=post action=/flash>\n<input name=message required>\n\
<select name=category><option>message</option><option>error</option></select>\n\
<button type=submit>Flash</button>\n</form>\n";

#[derive(Debug, Deserialize)]
struct FlashForm {
    message: String,
    #[serde(default = "default_category")]
    category: String,
}

/// Flask's default category.
fn default_category() -> String {
    "message".to_owned()
}

#[derive(Debug, Deserialize)]
struct Only {
    only: Option<String>,
}

pub(crate) fn routes() -> Result<Router, minijinja::Error> {
    let mut env = Environment::new();
    flacon::http::template::escape_like_jinja(&mut env);
    env.add_template("messages.html", MESSAGES_TEMPLATE)?;
    let env = Arc::new(env);
    Ok(Router::new().route("/flash", post(flash)).route(
        "/messages",
        get(move |session: Session, only: Query<Only>| messages(session, env.clone(), only.0)),
    ))
}

async fn flash(session: Session, form: Form<FlashForm>) -> Response {
    session.flash(&form.0.category, form.0.message);
    crate::demo::redirect("/messages")
}

async fn messages(session: Session, env: Arc<Environment<'static>>, only: Only) -> Response {
    let rendered = env.get_template("messages.html").and_then(|t| {
        t.render(minijinja::context! {
            get_flashed_messages => session.flashed_messages_function(),
            only => only.only,
        })
    });
    match rendered {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "messages template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
    }
}
