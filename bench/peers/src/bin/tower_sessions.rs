//! axum + tower-sessions, with its memory store or its Redis store (`memory` | `redis`).
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use flacon_bench_peers::{addr, redis_url, welcome, EmailForm};
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};
use tower_sessions_redis_store::{fred::prelude::*, RedisStore};

async fn get_email(session: Session) -> Html<String> {
    let email: Option<String> = session.get("email").await.unwrap_or(None);
    Html(welcome(email.as_deref()))
}

async fn set_email(session: Session, Form(form): Form<EmailForm>) -> impl IntoResponse {
    session.insert("email", form.email_address).await.unwrap();
    Redirect::to("/get_email")
}

fn main() {
    flacon_bench_peers::runtime().block_on(serve());
}

async fn serve() {
    let routes = Router::new().route("/get_email", get(get_email)).route("/set_email", axum::routing::post(set_email));
    let mode = std::env::args().nth(3).unwrap_or_else(|| "memory".to_owned());
    let app = if mode == "redis" {
        let pool = Pool::new(Config::from_url(&redis_url()).unwrap(), None, None, None, 6).unwrap();
        pool.init().await.unwrap();
        routes.layer(SessionManagerLayer::new(RedisStore::new(pool)).with_secure(false))
    } else {
        routes.layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false))
    };
    let listener = tokio::net::TcpListener::bind(addr()).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
