//! The PostgreSQL store on a real PostgreSQL server started by the test: the conformance
//! suite, Flask-Session 0.8's table (its schema read live from what Flask-Session creates),
//! records shared with a real Flask-Session app, and an outage answered with the
//! store-error response, nothing lost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::postgres_server::PostgresServer;
use common::python;
use flacon::store::conformance;
use flacon::store::postgres::PostgresStore;
use flacon::store::{Record, SessionId, SessionStore};
use flacon::{KeyRing, Map, SecretKey, StoreLayer, Value};
use tower::ServiceExt as _;

const KEY: &str = "postgres-interop-key-2c3d4e5f6a";

fn db_url(server: &PostgresServer, db: &str) -> String {
    server.psql(&format!("CREATE DATABASE {db}")).unwrap();
    server.url().replace("/postgres", &format!("/{db}"))
}

#[tokio::test(flavor = "current_thread")]
async fn postgres_store_conforms_on_a_current_thread_runtime() {
    let server = PostgresServer::start();
    conformance::check(&PostgresStore::connect(&server.url()).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_store_conforms_on_a_multi_threaded_runtime() {
    let server = PostgresServer::start();
    conformance::check(&PostgresStore::connect(&server.url()).await.unwrap()).await;
}

/// Runs tests/python/flask_session_sql.py with one command per line; one JSON line back
/// per command.
fn flask_session(url: &str, commands: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let script = python::script("flask_session_sql.py");
    let input: String = commands.iter().map(|c| c.to_string() + "\n").collect();
    python::json_lines(&[script.to_str().unwrap(), url], input)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_table_is_the_one_flask_session_creates() {
    let server = PostgresServer::start();
    let by_flask = db_url(&server, "made_by_flask");
    let by_flacon = db_url(&server, "made_by_flacon");
    let flask_schema = flask_session(&by_flask, &[serde_json::json!(["schema"])]);
    PostgresStore::connect(&by_flacon).await.unwrap();
    // Flask-Session finds flacon's table (checkfirst) and reads the same columns off it.
    let flacon_schema = flask_session(&by_flacon, &[serde_json::json!(["schema"])]);
    assert_eq!(flacon_schema, flask_schema);
    assert_eq!(
        flask_schema[0][0],
        serde_json::json!([
            ["id", "integer", null, "NO"],
            ["session_id", "character varying", 255, "YES"],
            ["data", "bytea", null, "YES"],
            ["expiry", "timestamp without time zone", null, "YES"]
        ])
    );
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread")]
async fn flask_session_and_flacon_share_records() {
    let server = PostgresServer::start();
    let url = server.url();
    // Flask-Session creates a session; flacon reads it, changes it, and Flask sees that.
    let sid = flask_session(
        &url,
        &[serde_json::json!([
            "set",
            KEY,
            null,
            "email",
            "from-flask@example.com"
        ])],
    )[0][0]
        .as_str()
        .unwrap()
        .to_owned();
    let store = PostgresStore::connect(&url).await.unwrap();
    let id = SessionId::parse(&sid).unwrap();
    let mut record = store
        .load(&id, None, now())
        .await
        .unwrap()
        .expect("Flask's record");
    assert_eq!(
        record.data.get("email"),
        Some(&Value::from("from-flask@example.com"))
    );
    assert!(
        record.expires_at > now() + 30 * 24 * 3600,
        "Flask-Session's 31 days"
    );
    record.data.insert("cart".into(), Value::from("bike"));
    assert!(store.save(&id, &record, now()).await.unwrap());
    let seen = flask_session(&url, &[serde_json::json!(["get", KEY, sid, "cart"])]);
    assert_eq!(seen, [serde_json::json!("bike")]);
    // flacon creates one; Flask-Session reads it.
    let mine = SessionId::generate().unwrap();
    let mut data = Map::default();
    data.insert("_permanent".into(), Value::Bool(true));
    data.insert("email".into(), Value::from("from-flacon@example.com"));
    let record = Record {
        data,
        expires_at: now() + 3600,
    };
    assert!(store.create(&mine, &record, now()).await.unwrap());
    let seen = flask_session(
        &url,
        &[serde_json::json!(["get", KEY, mine.as_str(), "email"])],
    );
    assert_eq!(seen, [serde_json::json!("from-flacon@example.com")]);
    assert_eq!(
        server
            .psql(&format!(
                "SELECT count(*) FROM sessions WHERE session_id = 'session:{}'",
                mine.as_str()
            ))
            .unwrap(),
        "1",
        "under Flask-Session's key prefix"
    );
}

/// A request through `StoreLayer` on `store` with the session cookie `id`.
async fn request(
    store: std::sync::Arc<PostgresStore>,
    id: &str,
) -> http::Response<axum::body::Body> {
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|session: flacon::Session| async move {
                let visits = session.get::<i64>("visits").unwrap_or(0) + 1;
                session.insert("visits", &visits).unwrap();
                visits.to_string()
            }),
        )
        .layer(StoreLayer::new(
            store,
            KeyRing::new(SecretKey::from_text(KEY)),
        ));
    let request = http::Request::get("/")
        .header(http::header::COOKIE, format!("session={id}"))
        .body(axum::body::Body::empty())
        .unwrap();
    app.oneshot(request).await.unwrap()
}

async fn body(response: http::Response<axum::body::Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_is_the_store_error_response_and_nothing_is_lost() {
    let mut server = PostgresServer::start();
    let store = std::sync::Arc::new(PostgresStore::connect(&server.url()).await.unwrap());
    let id = SessionId::generate().unwrap();
    let mut data = Map::default();
    data.insert("visits".into(), Value::Int(41));
    store
        .create(
            &id,
            &Record {
                data,
                expires_at: now() + 3600,
            },
            now(),
        )
        .await
        .unwrap();
    server.stop();
    let response = request(store.clone(), id.as_str()).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get(http::header::SET_COOKIE).is_none());
    server.restart();
    // Reconnects by itself; the session is as it was, not a fresh one.
    let response = request(store.clone(), id.as_str()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body(response).await, "42");
}
