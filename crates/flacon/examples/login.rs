//! Server-side sessions with login, id rotation and logout, in memory (swap in
//! `SqliteStore` or `RedisStore` for persistence or many machines).
//!
//! ```text
//! cargo run -p flacon --example login
//! curl -c jar -b jar http://127.0.0.1:3001/login/ada
//! curl -c jar -b jar http://127.0.0.1:3001/
//! curl -c jar -b jar http://127.0.0.1:3001/logout
//! ```

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use flacon::store::MemoryStore;
use flacon::{KeyRing, SecretKey, Session, StoreLayer};

async fn login(session: Session, Path(user): Path<String>) -> String {
    session.insert_value("user", user.clone().into());
    session.cycle_id(); // a new id at login, against session fixation
    format!("logged in as {user}\n")
}

async fn whoami(session: Session) -> String {
    match session.try_get::<String>("user") {
        Ok(Some(user)) => format!("you are {user}\n"),
        Ok(None) => "nobody\n".to_owned(),
        Err(error) => format!("unreadable login: {error}\n"),
    }
}

async fn logout(session: Session) -> &'static str {
    session.clear(); // deletes the record: the old cookie stops working at once
    "bye\n"
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let keys = KeyRing::new(SecretKey::generate().map_err(std::io::Error::other)?);
    let app = Router::new()
        .route("/login/{user}", get(login))
        .route("/logout", get(logout))
        .route("/", get(whoami))
        .layer(StoreLayer::new(MemoryStore::new(10_000), keys));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    axum::serve(listener, app).await
}
