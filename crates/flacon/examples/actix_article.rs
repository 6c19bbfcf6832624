//! The article's app ("Sessions in Flask": `/set_email`, `/get_email`, `/delete_email`) on
//! actix-web, with the session in a Flask-compatible signed cookie and in the template: the
//! same pages and the same cookies as the Flask original, so the two can share one domain.
//!
//! ```text
//! FLACON_SECRET_KEY=$(cargo run -q -p flacon-cli -- key generate) \
//!     cargo run -p flacon --features actix,minijinja --example actix_article -- 127.0.0.1:5000
//! ```
//! Then open <http://127.0.0.1:5000/set_email>; the `session` cookie it sets is one Flask
//! reads with the same key (`flacon cookie decode` shows it).

use actix_web::http::header;
use actix_web::{web, App, HttpResponse, HttpServer};
use flacon::http::template::{escape_like_jinja, Templates};
use flacon::{KeyRing, SecretKey, Session, SessionLayer};
use serde::Deserialize;

/// The article's form, as its `set_email` view returns it.
const SET_EMAIL_FORM: &str = "\n <form method=\"post\">\n <label for=\"email\">Enter your email address:</label>\n <input type=\"email\" id=\"email\" name=\"email_address\" required />\n <button type=\"submit\">Submit</button>\n </form>\n ";

/// The article's `get_email` template, which reads the session itself.
const GET_EMAIL_TEMPLATE: &str = "\n {% if session['email'] %}\n <h1>Welcome {{ session['email'] }}!</h1>\n {% else %}\n <h1>Welcome! Please enter your email <a href=\"/set_email\">here.</a></h1>\n {% endif %}\n ";

#[derive(Deserialize)]
struct EmailForm {
    email_address: String,
}

fn html(body: impl Into<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body.into())
}

async fn set_email_form() -> HttpResponse {
    html(SET_EMAIL_FORM)
}

async fn set_email(session: Session, form: web::Form<EmailForm>) -> HttpResponse {
    session.insert_value("email", flacon::Value::Str(form.into_inner().email_address));
    // Flask's `redirect(url_for("get_email"))`, body and all.
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/get_email"))
        .content_type("text/html; charset=utf-8")
        .body(
            "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: <a href=\"/get_email\">/get_email</a>. If not, click the link.\n",
        )
}

async fn get_email(templates: Templates) -> HttpResponse {
    match templates.render("get_email.html", minijinja::context! {}) {
        Ok(page) => html(page),
        Err(error) => {
            tracing::error!(%error, "template failed");
            HttpResponse::InternalServerError().body("Internal Server Error")
        }
    }
}

async fn delete_email(session: Session) -> HttpResponse {
    session.remove("email");
    html("<h1>Session deleted!</h1>")
}

/// The templates, escaped as Jinja escapes them in Flask.
pub(crate) fn templates() -> Result<minijinja::Environment<'static>, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    escape_like_jinja(&mut env);
    env.add_template("get_email.html", GET_EMAIL_TEMPLATE)?;
    Ok(env)
}

/// The article's routes (the app wraps them in its session layer).
pub(crate) fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/set_email", web::get().to(set_email_form))
        .route("/set_email", web::post().to(set_email))
        .route("/get_email", web::get().to(get_email))
        .route("/delete_email", web::get().to(delete_email));
}

/// Signed-cookie sessions with `key`, Flask's defaults; a weak key is refused.
pub(crate) fn sessions(key: SecretKey) -> std::io::Result<SessionLayer> {
    key.check_strength()
        .map_err(|weak| std::io::Error::other(format!("refusing a weak key: {weak}")))?;
    Ok(SessionLayer::new(KeyRing::new(key)))
}

/// Serves the app on `listener` until the server stops.
pub(crate) async fn serve(listener: std::net::TcpListener, key: SecretKey) -> std::io::Result<()> {
    let layer = sessions(key)?;
    let env = web::Data::new(templates().map_err(std::io::Error::other)?);
    HttpServer::new(move || {
        App::new()
            .wrap(layer.clone())
            .app_data(env.clone())
            .configure(routes)
    })
    .workers(1)
    .listen(listener)?
    .run()
    .await
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let key = match std::env::var("FLACON_SECRET_KEY") {
        Ok(text) => SecretKey::from_text(&text),
        Err(_) => SecretKey::generate().map_err(std::io::Error::other)?,
    };
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5000".to_owned());
    let listener = std::net::TcpListener::bind(&addr)?;
    println!("listening on http://{}/get_email", listener.local_addr()?);
    serve(listener, key).await
}
