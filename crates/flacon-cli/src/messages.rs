//! The demo's form routes. `POST /flash` (form fields `message` and `category`) flashes a
//! message and redirects to `GET /messages`, which shows the flashed messages with their
//! categories (`?only=CATEGORY` keeps one) and takes them out of the session, as a Flask
//! view with `flash` and `get_flashed_messages` does. `GET /feedback` is a form carrying a
//! Flask-WTF CSRF token; `POST /feedback` checks it (400 with Flask-WTF's message if it is
//! bad), flashes a thank-you and redirects to `/messages`. The same routes run on the
//! reference Flask app, and a message or a form from one is taken by the other.

use std::sync::Arc;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use flacon::csrf::Csrf;
use flacon::Session;
use minijinja::Environment;
use serde::Deserialize;

/// The page, the same text as `tests/python/article_app.py`'s.
pub(crate) const MESSAGES_TEMPLATE: &str = "<!doctype html>\n<title>Messages</title>\n<h1>Messages (flacon)</h1>\n\
{% for category, message in get_flashed_messages(with_categories=true, category_filter=[only] if only else []) %}\n\
<p class=\"{{ category }}\">{{ message }}</p>\n\
{% else %}\n<p>No messages.</p>\n{% endfor %}\n\
<form method=post action=/flash>\n<input name=message required>\n\
<select name=category><option>message</option><option>error</option></select>\n\
<button type=submit>Flash</button>\n</form>\n";

/// The feedback form, the same text as `tests/python/article_app.py`'s.
pub(crate) const FEEDBACK_TEMPLATE: &str = "<!doctype html>\n<title>Feedback</title>\n\
<form method=post action=/feedback>\n\
<input type=hidden name=csrf_token value=\"{{ csrf_token }}\">\n\
<textarea name=text required></textarea>\n<button type=submit>Send</button>\n</form>\n";

#[derive(Debug, Deserialize)]
struct FeedbackForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    text: String,
}

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

pub(crate) fn routes(csrf: Csrf) -> Result<Router, minijinja::Error> {
    let mut env = Environment::new();
    flacon::http::template::escape_like_jinja(&mut env);
    env.add_template("messages.html", MESSAGES_TEMPLATE)?;
    env.add_template("feedback.html", FEEDBACK_TEMPLATE)?;
    let env = Arc::new(env);
    let form_env = env.clone();
    let csrf = Arc::new(csrf);
    let checker = csrf.clone();
    Ok(Router::new()
        .route("/flash", post(flash))
        .route(
            "/messages",
            get(move |session: Session, only: Query<Only>| messages(session, env.clone(), only.0)),
        )
        .route(
            "/feedback",
            get(move |session: Session| feedback_form(session, form_env.clone(), csrf.clone()))
                .post(move |session: Session, form: Form<FeedbackForm>| {
                    feedback(session, checker.clone(), form.0)
                }),
        ))
}

async fn feedback_form(
    session: Session,
    env: Arc<Environment<'static>>,
    csrf: Arc<Csrf>,
) -> Response {
    let token = match csrf.generate(&session, crate::demo::now()) {
        Ok(token) => token,
        Err(error) => {
            tracing::error!(%error, "cannot make a CSRF secret");
            return crate::demo::internal_error();
        }
    };
    crate::demo::render(
        &env,
        "feedback.html",
        minijinja::context! { csrf_token => token },
    )
}

async fn feedback(session: Session, csrf: Arc<Csrf>, form: FeedbackForm) -> Response {
    if let Err(refused) = csrf.validate(&session, &form.csrf_token, crate::demo::now()) {
        tracing::info!(%refused, "feedback form refused");
        return (StatusCode::BAD_REQUEST, refused.to_string()).into_response();
    }
    let words = form.text.split_whitespace().count();
    session.flash(
        "message",
        format!("Thanks for your feedback ({words} words)"),
    );
    crate::demo::redirect("/messages")
}

async fn flash(session: Session, form: Form<FlashForm>) -> Response {
    session.flash(&form.0.category, form.0.message);
    crate::demo::redirect("/messages")
}

async fn messages(session: Session, env: Arc<Environment<'static>>, only: Only) -> Response {
    let context = minijinja::context! {
        get_flashed_messages => session.flashed_messages_function(),
        only => only.only,
    };
    crate::demo::render(&env, "messages.html", context)
}
