//! The revocation registry on every store it runs on (memory, SQLite, Redis, PostgreSQL,
//! each real and started by the test), one suite for all: a change made through one
//! registry reaches another as a change, not a reload; the generation stays while the store
//! keeps its data; expired denials are purged; and a registry written by an earlier flacon
//! (SQLite) is migrated with its revocations.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::postgres_server::PostgresServer;
use common::redis_server::RedisServer;
use flacon::revocation::{
    MemoryRevocations, RegistryVersion, RevocationBackend, RevocationRegistry,
};
use flacon::store::postgres::PostgresStore;
use flacon::store::redis::RedisStore;
use flacon::store::sqlite::SqliteStore;

fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The suite, on one backend shared by two registries (two processes, in effect).
async fn check<B: RevocationBackend>(backend: Arc<B>) {
    let now = now_ms() / 1000;
    let one = RevocationRegistry::start_with(backend.clone(), Duration::from_secs(60))
        .await
        .unwrap();
    let two = RevocationRegistry::start_with(backend.clone(), Duration::from_secs(60))
        .await
        .unwrap();
    let start = one.version();
    assert_ne!(start.generation, 0, "a registry has a generation");
    assert_eq!(
        two.version().generation,
        start.generation,
        "one registry, one generation"
    );

    // A change through one is read by the other as a change.
    one.deny("tok-first", now + 600).await.unwrap();
    two.refresh().await.unwrap();
    one.deny("tok-a", now + 600).await.unwrap();
    one.revoke_user("ada").await.unwrap();
    assert_eq!(
        one.logouts_of("ada"),
        1,
        "applied at once where it was made"
    );
    let known = two.version();
    let changes = backend
        .revocations_since(Some(known), now, now_ms())
        .await
        .unwrap()
        .expect("two changes");
    assert!(!changes.complete, "a delta, not the registry: {changes:?}");
    assert_eq!(changes.tokens, vec![("tok-a".to_owned(), now + 600)]);
    assert_eq!(changes.users.len(), 1);
    assert_eq!(changes.users[0].0, "ada");
    assert_eq!(changes.users[0].1.logouts, 1);
    assert!(changes.users[0].1.before_ms >= now * 1000);
    two.refresh().await.unwrap();
    assert_eq!(two.logouts_of("ada"), 1);
    assert_eq!(two.denials(), 2);
    assert_eq!(
        backend
            .revocations_since(Some(two.version()), now, now_ms())
            .await
            .unwrap(),
        None,
        "nothing new"
    );
    // Counted, not overwritten.
    two.revoke_user("ada").await.unwrap();
    one.refresh().await.unwrap();
    assert_eq!(one.logouts_of("ada"), 2);

    // A reader of another generation, or ahead of the store, gets the whole registry.
    let stranger = RegistryVersion {
        generation: start.generation + 1,
        version: 1,
    };
    let whole = backend
        .revocations_since(Some(stranger), now, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert!(whole.complete);
    assert_eq!(whole.at.generation, start.generation);
    let ahead = RegistryVersion {
        generation: start.generation,
        version: whole.at.version + 10,
    };
    assert!(
        backend
            .revocations_since(Some(ahead), now, now_ms())
            .await
            .unwrap()
            .unwrap()
            .complete
    );

    // Expired denials are left out of reads and purged.
    one.deny("tok-expired", now - 1).await.unwrap();
    let whole = backend
        .revocations_since(None, now, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert!(whole.tokens.iter().all(|(t, _)| t != "tok-expired"));
    assert_eq!(one.purge().await.unwrap(), 1);
    assert_eq!(one.purge().await.unwrap(), 0);
    assert_eq!(two.version().generation, start.generation);

    // Everyone logged out: a new generation, read whole by the other registry.
    tokio::time::sleep(Duration::from_millis(5)).await;
    one.revoke_all().await.unwrap();
    let renewed = one.version();
    assert!(renewed.generation > start.generation, "{renewed:?}");
    two.refresh().await.unwrap();
    assert_eq!(two.version(), renewed);
}

#[tokio::test]
async fn memory_registry() {
    check(Arc::new(MemoryRevocations::default())).await;
}

#[tokio::test]
async fn sqlite_registry() {
    let path = common::python::workspace_root()
        .join(format!("target/tmp/registry-{}.db", std::process::id()));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    check(Arc::new(SqliteStore::open(&path).await.unwrap())).await;
    // Opened again: the same generation.
    let first = RevocationRegistry::start(SqliteStore::open(&path).await.unwrap())
        .await
        .unwrap()
        .version();
    let again = RevocationRegistry::start(SqliteStore::open(&path).await.unwrap())
        .await
        .unwrap()
        .version();
    assert_eq!(first, again);
}

#[tokio::test]
async fn redis_registry() {
    let server = RedisServer::start();
    check(Arc::new(RedisStore::open(&server.url()).unwrap())).await;
}

#[tokio::test]
async fn postgres_registry() {
    let server = PostgresServer::start();
    check(Arc::new(
        PostgresStore::connect(&server.url()).await.unwrap(),
    ))
    .await;
}

/// A registry written by the flacon before versioned rows (its tables without `version`,
/// `logouts`, `generation`) opens with its revocations: a new reader reads them whole.
#[tokio::test]
async fn an_earlier_sqlite_registry_is_migrated_with_its_revocations() {
    let path = common::python::workspace_root()
        .join(format!("target/tmp/registry-old-{}.db", std::process::id()));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    let until = now_ms() / 1000 + 600;
    common::python::json_lines(
        &[
            "-c",
            "import sqlite3, sys\n\
             db = sqlite3.connect(sys.argv[1])\n\
             db.executescript('''\n\
             CREATE TABLE flacon_revoked_users (user TEXT PRIMARY KEY NOT NULL, before_ms INTEGER NOT NULL) WITHOUT ROWID;\n\
             CREATE TABLE flacon_revoked_tokens (token TEXT PRIMARY KEY NOT NULL, until INTEGER NOT NULL) WITHOUT ROWID;\n\
             CREATE TABLE flacon_revocation_version (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL);\n\
             INSERT INTO flacon_revocation_version VALUES (1, 2);\n\
             INSERT INTO flacon_revoked_users VALUES ('ada', 1000);\n\
             ''')\n\
             db.execute('INSERT INTO flacon_revoked_tokens VALUES (?, ?)', ('old-token', int(sys.argv[2])))\n\
             db.commit()\n\
             print('[]')\n",
            path.to_str().unwrap(),
            &until.to_string(),
        ],
        String::new(),
    );
    let registry = RevocationRegistry::start(SqliteStore::open(&path).await.unwrap())
        .await
        .unwrap();
    assert_eq!(registry.denials(), 1);
    assert_eq!(
        registry.version().generation,
        1,
        "its data is all there: upgrading voids no sign-in"
    );
    registry.deny("new-token", until).await.unwrap();
    registry.revoke_user("ada").await.unwrap();
    assert_eq!(registry.denials(), 2);
    assert_eq!(registry.logouts_of("ada"), 1);
}

/// The same on PostgreSQL: a registry in the tables of the flacon before versioned rows is
/// migrated in place, keeps its revocations, and voids no sign-in.
#[tokio::test]
async fn an_earlier_postgres_registry_is_migrated_with_its_revocations() {
    let server = PostgresServer::start();
    let until = now_ms() / 1000 + 600;
    server
        .psql(&format!(
            "CREATE TABLE flacon_revoked_users (user_id TEXT PRIMARY KEY, before_ms BIGINT NOT NULL);
             CREATE TABLE flacon_revoked_tokens (token TEXT PRIMARY KEY, until BIGINT NOT NULL);
             CREATE TABLE flacon_revocation_version (one INT PRIMARY KEY, version BIGINT NOT NULL);
             INSERT INTO flacon_revocation_version VALUES (1, 2);
             INSERT INTO flacon_revoked_users VALUES ('ada', 1000);
             INSERT INTO flacon_revoked_tokens VALUES ('old-token', {until});"
        ))
        .unwrap();
    let registry = RevocationRegistry::start(PostgresStore::connect(&server.url()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(registry.denials(), 1);
    assert_eq!(registry.version().generation, 1);
    registry.deny("new-token", until).await.unwrap();
    registry.revoke_user("ada").await.unwrap();
    assert_eq!(registry.denials(), 2);
    assert_eq!(registry.logouts_of("ada"), 1);
}
