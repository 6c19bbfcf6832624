//! The flacon library behind the very handlers the peers use (`welcome()` formatted, no
//! template) and with their cookie semantics (a browser-session cookie, set when the
//! session changes, not re-sent on every read as Flask-Session's permanent default does):
//! what sessions cost over raw axum, without `flacon serve`'s Jinja rendering.
//! Modes: `cookie` | `memory` | `sqlite:PATH` | `redis`.
use std::sync::Arc;

use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use flacon::store::redis::RedisStore;
use flacon::store::sqlite::SqliteStore;
use flacon::store::MemoryStore;
use flacon::http::ServerSideConfig;
use flacon::{KeyRing, SecretKey, Session, SessionLayer, StoreLayer, Value};
use flacon_bench_peers::{addr, email_of, redis_url, runtime, welcome, EmailForm};

async fn get_email(session: Session) -> Html<String> {
    let email = email_of(&session);
    Html(welcome(email.as_deref()))
}

async fn set_email(session: Session, Form(form): Form<EmailForm>) -> impl IntoResponse {
    session.insert_value("email", Value::Str(form.email_address));
    Redirect::to("/get_email")
}

fn main() {
    let key = std::env::var("ARTICLE_APP_SECRET_KEY").unwrap_or_else(|_| "flacon-bench-key-0123456789abcdef".to_owned());
    let keys = KeyRing::new(SecretKey::from_text(&key));
    let mode = std::env::args().nth(3).unwrap_or_else(|| "cookie".to_owned());
    runtime().block_on(async move {
        let routes = Router::new().route("/get_email", get(get_email)).route("/set_email", axum::routing::post(set_email));
        let like_peers = ServerSideConfig::builder().permanent_by_default(false).build();
        let app = match mode.as_str() {
            "cookie" => routes.layer(SessionLayer::new(keys)),
            "memory" => routes
                .layer(StoreLayer::new(Arc::new(MemoryStore::default()), keys).with_server_config(like_peers)),
            "redis" => routes
                .layer(StoreLayer::new(RedisStore::open(&redis_url()).unwrap(), keys).with_server_config(like_peers)),
            other => {
                let path = other.strip_prefix("sqlite:").expect("cookie | memory | sqlite:PATH | redis");
                routes.layer(StoreLayer::new(SqliteStore::open(path).await.unwrap(), keys).with_server_config(like_peers))
            }
        };
        let listener = tokio::net::TcpListener::bind(addr()).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}
