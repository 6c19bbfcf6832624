//! The article's app ("Sessions in Flask", testdriven.io) on flacon: the same routes, the
//! same bodies, the same cookies as the Flask original, plus its "additional notes" routes.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use flacon::codec::to_tagged_json;
use flacon::{Map, Session, Value};
use minijinja::Environment;
use serde::Deserialize;

/// The article's form, as its `set_email` view returns it.
pub(crate) const SET_EMAIL_FORM: &str = "\n <form method=\"post\">\n <label for=\"email\">Enter your email address:</label>\n <input type=\"email\" id=\"email\" name=\"email_address\" required />\n <button type=\"submit\">Submit</button>\n </form>\n ";

/// The article's `get_email` template, rendered by minijinja as Jinja renders it in Flask.
pub(crate) const GET_EMAIL_TEMPLATE: &str = "\n {% if session['email'] %}\n <h1>Welcome {{ session['email'] }}!</h1>\n {% else %}\n <h1>Welcome! Please enter your email <a href=\"{{ url_for('set_email') }}\">here.</a></h1>\n {% endif %}\n ";

/// The routes `url_for` knows.
const ROUTES: &[(&str, &str)] = &[("get_email", "/get_email"), ("set_email", "/set_email")];

/// The demo router; the caller adds the session layer.
pub(crate) fn router() -> Result<Router, minijinja::Error> {
    let mut env = Environment::new();
    flacon::http::template::escape_like_jinja(&mut env);
    env.add_function(
        "url_for",
        |endpoint: &str| -> Result<String, minijinja::Error> {
            ROUTES
                .iter()
                .find(|(name, _)| *name == endpoint)
                .map(|(_, path)| (*path).to_owned())
                .ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("no route named {endpoint}"),
                    )
                })
        },
    );
    env.add_template("get_email.html", GET_EMAIL_TEMPLATE)?;
    let env = std::sync::Arc::new(env);
    Ok(Router::new()
        .route("/set_email", get(set_email_form).post(set_email))
        .route(
            "/get_email",
            get(move |session: Session| get_email(session, env.clone())),
        )
        .route("/delete_email", get(delete_email))
        .route("/cart/add/{item}", get(cart_add))
        .route("/cart", get(cart))
        .route("/permanent", get(permanent))
        .route("/clear", get(clear))
        .route(
            "/count",
            get(count).layer(flacon::http::SessionModeLayer::exclusive()),
        ))
}

/// A counter: it writes a value computed from the one it read, which merging overlapping
/// requests cannot get right, so the route is exclusive (requests of one server-side session
/// run it one at a time; signed-cookie sessions cannot be locked).
async fn count(session: Session) -> Response {
    let count = match session.get_value("count") {
        Some(Value::Int(count)) => count.saturating_add(1),
        _ => 1,
    };
    session.insert_value("count", Value::Int(count));
    format!("{count}\n").into_response()
}

async fn set_email_form() -> Html<&'static str> {
    Html(SET_EMAIL_FORM)
}

#[derive(Debug, Deserialize)]
struct EmailForm {
    email_address: String,
}

async fn set_email(session: Session, form: Form<EmailForm>) -> Response {
    session.insert_value("email", Value::Str(form.0.email_address));
    redirect("/get_email")
}

async fn get_email(session: Session, env: std::sync::Arc<Environment<'static>>) -> Response {
    let context = minijinja::context! { session => session.template_value() };
    render(&env, "get_email.html", context)
}

/// The template `name` rendered with `context`, or a logged 500.
pub(crate) fn render(env: &Environment<'_>, name: &str, context: minijinja::Value) -> Response {
    match env.get_template(name).and_then(|t| t.render(context)) {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, template = name, "template failed");
            internal_error()
        }
    }
}

/// Flask's plain 500 page text.
pub(crate) fn internal_error() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
}

async fn delete_email(session: Session) -> Html<&'static str> {
    session.remove("email");
    Html("<h1>Session deleted!</h1>")
}

async fn cart_add(session: Session, Path(item): Path<String>) -> Response {
    // An in-place append: flacon notices the change, no `session.modified = True` needed.
    let cart = session.update(|data| {
        match data
            .entry("cart".to_owned())
            .or_insert_with(|| Value::List(Vec::new()))
        {
            Value::List(items) => {
                items.push(Value::Str(item));
                Some(items.clone())
            }
            _ => None,
        }
    });
    match cart {
        Some(items) => cart_json(items),
        None => not_a_list(),
    }
}

/// A `cart` that is not a list (a Flask app behind the same domain may put anything there).
fn not_a_list() -> Response {
    (StatusCode::CONFLICT, "the session's cart is not a list\n").into_response()
}

async fn cart(session: Session) -> Response {
    match session.get_value("cart") {
        Some(Value::List(items)) => cart_json(items),
        Some(_) => not_a_list(),
        None => cart_json(Vec::new()),
    }
}

async fn permanent(session: Session) -> Html<&'static str> {
    session.set_permanent(true);
    Html("permanent")
}

async fn clear(session: Session) -> Html<&'static str> {
    session.clear();
    Html("cleared")
}

/// `{"cart":[...]}` exactly as Flask's `jsonify` writes it: compact, sorted, ASCII, newline.
fn cart_json(items: Vec<Value>) -> Response {
    let mut body = Map::default();
    body.insert("cart".to_owned(), Value::List(items));
    let mut text = to_tagged_json(&Value::Dict(body));
    text.push('\n');
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

/// Werkzeug's `redirect()`: 302, `Location`, and its small HTML body.
pub(crate) fn redirect(location: &'static str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: <a href=\"{location}\">{location}</a>. If not, click the link.\n"
    );
    (
        StatusCode::FOUND,
        [(header::LOCATION, HeaderValue::from_static(location))],
        Html(body),
    )
        .into_response()
}

/// Unix seconds now.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
