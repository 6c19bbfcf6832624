//! A shopping cart in a Flask-compatible signed cookie.
//!
//! ```text
//! FLACON_SECRET_KEY=$(cargo run -q -p flacon-cli -- key generate) cargo run -p flacon --example cart
//! curl -c jar -b jar http://127.0.0.1:3000/add/bike
//! curl -c jar -b jar http://127.0.0.1:3000/add/helmet
//! ```
//! The `session` cookie in `jar` decodes with Flask (or `flacon cookie decode`).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use flacon::{KeyRing, SecretKey, Session, SessionLayer};

async fn add(session: Session, Path(item): Path<String>) -> Json<Vec<String>> {
    // The append is detected: no `session.modified = True`.
    let cart = session
        .modify("cart", |cart: &mut Vec<String>| {
            cart.push(item);
            cart.clone()
        })
        .unwrap_or_default();
    Json(cart)
}

/// The checked form: a cart stored in another shape (an older deploy's) is an answer of
/// its own, not a silently empty cart.
async fn show(session: Session) -> Result<Json<Vec<String>>, (StatusCode, String)> {
    match session.try_get::<Vec<String>>("cart") {
        Ok(cart) => Ok(Json(cart.unwrap_or_default())),
        Err(error) => Err((StatusCode::CONFLICT, format!("unreadable cart: {error}\n"))),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let key = match std::env::var("FLACON_SECRET_KEY") {
        Ok(text) => SecretKey::from_text(&text),
        Err(_) => SecretKey::generate().map_err(std::io::Error::other)?,
    };
    if let Err(weak) = key.check_strength() {
        return Err(std::io::Error::other(format!(
            "refusing a weak key: {weak}"
        )));
    }
    let app = Router::new()
        .route("/add/{item}", get(add))
        .route("/", get(show))
        .layer(SessionLayer::new(KeyRing::new(key)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await
}
