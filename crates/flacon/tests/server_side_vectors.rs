//! Flask-Session 0.8's format and request flow, from the vectors recorded against real
//! Flask-Session, replayed through `StoreLayer` on a real redis-server, on both adapters
//! (axum, actix-web).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/adapters.rs"]
mod adapters;
mod common;

use adapters::action_routes;
use adapters::{Adapter, Routes};
use common::actions::{case_request, config_of};
use common::redis_server::RedisServer;
use common::*;
use flacon::codec::{KeyDerivation, Signer};
use flacon::http::ServerSideConfig;
use flacon::store::flask_session;
use flacon::store::redis::RedisStore;
use flacon::{KeyRing, Map, StoreLayer, Value};
use http::header::{SET_COOKIE, VARY};

#[test]
fn msgpack_records_are_byte_identical_to_flask_session() {
    let cases = cases_of("server_side_msgpack");
    assert_eq!(cases.len(), 3);
    for case in cases {
        let id = str_of(&case, "id");
        let expect = dict_of(&case, "expect");
        let Value::Dict(session) = from_convention(case.get("session").unwrap()) else {
            panic!()
        };
        let bytes = flask_session::encode(&session);
        assert_eq!(hex::encode(&bytes), str_of(expect, "msgpack_hex"), "{id}");
        let decoded = Value::Dict(flask_session::decode(&bytes).unwrap());
        assert!(
            same(&decoded, &from_convention(expect.get("decoded").unwrap())),
            "{id}: {decoded:?}"
        );
    }
}

#[test]
fn signed_session_ids_match_flask_sessions_signer() {
    let case = &cases_of("server_side_signed_sid")[0];
    let ring = KeyRing::new(key_of(case.get("secret_key").unwrap()));
    let signer = Signer::new(&ring, b"flask-session", KeyDerivation::Hmac);
    let expect = dict_of(case, "expect");
    assert_eq!(signer.sign(str_of(case, "sid")), str_of(expect, "cookie"));
}

fn redis_set(url: &str, key: &str, value: &[u8]) {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query::<()>(&mut conn)
        .unwrap();
}

fn redis_dump(url: &str) -> Vec<(String, String, i64)> {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let v: Vec<u8> = redis::cmd("GET").arg(&k).query(&mut conn).unwrap();
            let ttl: i64 = redis::cmd("TTL").arg(&k).query(&mut conn).unwrap();
            (k, hex::encode(v), ttl)
        })
        .collect()
}

crate::on_both_adapters! {
async fn flask_session_requests_replay_on_real_redis(adapter: Adapter) {
    let redis = RedisServer::start();
    let cases = cases_of("server_side_http");
    assert_eq!(cases.len(), 6);
    for case in &cases {
        let id = str_of(case, "id");
        let expect = dict_of(case, "expect");
        let generated = str_of(case, "generated_sid");
        redis.cli(&["FLUSHALL"]);
        for (key, value) in dict_of(case, "redis_before") {
            redis_set(
                &redis.url(),
                key,
                &hex::decode(value.as_str().unwrap()).unwrap(),
            );
        }
        let flask_config = dict_of(case, "config");
        let prefix = flask_config
            .get("SESSION_KEY_PREFIX")
            .and_then(Value::as_str)
            .unwrap_or("session:");
        let server = ServerSideConfig::builder()
            .permanent_by_default(
                flask_config.get("SESSION_PERMANENT") != Some(&Value::Bool(false)),
            )
            .build();
        let now = int_of(case, "now").unwrap();
        let store = RedisStore::open(&redis.url()).unwrap().with_prefix(prefix);
        let keys = KeyRing::new(key_of(case.get("secret_key").unwrap()));
        let layer = StoreLayer::new(store, keys)
            .with_config(config_of(case))
            .with_server_config(server)
            .with_clock(move || now);
        let app = crate::test_app!(adapter, layer, action_routes(case));
        let response = app.send(case_request(case, "session")).await;
        assert_eq!(
            u64::from(response.status().as_u16()),
            int_of(expect, "status").unwrap(),
            "{id}"
        );
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        // flacon's new ids are random: map the one it made onto the vector's.
        let ours = set_cookies.iter().find_map(|c| {
            let sid = c.strip_prefix("session=")?.split(';').next()?;
            (sid.len() == 43 && Some(sid) != case.get("request_cookie").and_then(Value::as_str))
                .then(|| sid.to_owned())
        });
        let unmask = |s: &str| {
            ours.as_ref()
                .map_or(s.to_owned(), |o| s.replace(o.as_str(), generated))
        };
        // One documented difference: flacon's deletion cookie carries the attributes the
        // cookie was set with (here Flask's default HttpOnly), where Flask-Session sends
        // name, domain and path only, which browsers ignore for __Host-/__Secure- and
        // partitioned cookies.
        let with_attributes =
            |c: &str| c.replace("; Max-Age=0; Path=", "; Max-Age=0; HttpOnly; Path=");
        let want_cookies: Vec<String> = match expect.get("set_cookie") {
            Some(Value::List(items)) => items
                .iter()
                .map(|v| with_attributes(v.as_str().unwrap()))
                .collect(),
            _ => Vec::new(),
        };
        assert_eq!(
            set_cookies.iter().map(|c| unmask(c)).collect::<Vec<_>>(),
            want_cookies,
            "{id}: Set-Cookie"
        );
        assert_eq!(
            response
                .headers()
                .get(VARY)
                .map(|v| v.to_str().unwrap().to_owned()),
            expect
                .get("vary")
                .and_then(Value::as_str)
                .map(str::to_owned),
            "{id}: Vary"
        );
        let after: Vec<(String, String)> = redis_dump(&redis.url())
            .into_iter()
            .map(|(k, v, ttl)| {
                assert!(
                    (2_678_390..=2_678_400).contains(&ttl),
                    "{id}: TTL {ttl} is the lifetime"
                );
                (unmask(&k), v)
            })
            .collect();
        let mut want_after: Vec<(String, String)> = dict_of(expect, "redis_after")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        want_after.sort();
        assert_eq!(after, want_after, "{id}: Redis contents");
    }
}
}

#[test]
fn pickled_records_are_refused_not_unpickled() {
    // pickle.dumps({"a": 1}, protocol=5)
    let pickle = hex::decode("80059509000000000000007d948c0161944b01732e").unwrap();
    let err = flask_session::decode(&pickle).unwrap_err();
    assert!(err.to_string().contains("pickle"), "{err}");
    let json = flask_session::decode(br#"{"email": "a@b.c"}"#).unwrap();
    assert_eq!(json.get("email"), Some(&Value::from("a@b.c")));
    let _ = Map::default();
}

/// Datetimes across the three sizes of msgpack's timestamp extension, encoded by real
/// msgspec (Flask-Session's serializer) and by flacon: the same bytes.
#[test]
fn datetimes_take_the_timestamp_form_msgspec_picks() {
    let seconds: [i64; 8] = [
        0,
        1_700_000_000,
        (1 << 32) - 1,
        1 << 32,
        7_258_118_400, // 2200-01-01
        (1 << 34) - 1,
        1 << 34,
        -1,
    ];
    let script = format!(
        "import datetime, msgspec, sys\n\
         for s in {seconds:?}:\n    \
             d = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=s)\n    \
             print('\"' + msgspec.msgpack.encode({{'d': d}}).hex() + '\"')"
    );
    let expected: Vec<String> = common::python::json_lines(&["-c", &script], String::new())
        .iter()
        .map(|line| line.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(expected.len(), seconds.len());
    for (s, msgspec_hex) in seconds.iter().zip(expected) {
        let mut session = Map::default();
        session.insert(
            "d".to_owned(),
            Value::DateTime(flacon::value::DateTime::from_unix(*s)),
        );
        assert_eq!(
            hex::encode(flask_session::encode(&session)),
            msgspec_hex,
            "{s} s"
        );
        assert_eq!(
            flask_session::decode(&hex::decode(&msgspec_hex).unwrap()).unwrap(),
            session,
            "{s} s read back"
        );
    }
}

/// Datetimes with microseconds, before and after 1970 and past 2106, as msgspec writes
/// them: flacon reads them to the microsecond and writes the same bytes back.
#[test]
fn datetimes_keep_their_microseconds_as_msgspec_writes_them() {
    let instants: [(i64, u32); 7] = [
        (1_714_979_289, 123_456),
        (0, 1),
        (-1, 999_999),
        (-86_400 * 365 * 100, 500_000),
        ((1 << 32) + 5, 42),
        ((1 << 34) + 5, 654_321),
        (1_714_979_289, 0),
    ];
    let script = format!(
        "import datetime, msgspec\n\
         for s, us in {instants:?}:\n    \
             d = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=s, microseconds=us)\n    \
             print('\"' + msgspec.msgpack.encode({{'d': d}}).hex() + '\"')"
    );
    let written = common::python::json_lines(&["-c", &script], String::new());
    assert_eq!(written.len(), instants.len());
    for ((seconds, micros), msgspec_hex) in instants.iter().zip(written) {
        let msgspec_hex = msgspec_hex.as_str().unwrap();
        let read = flask_session::decode(&hex::decode(msgspec_hex).unwrap()).unwrap();
        let Some(Value::DateTime(d)) = read.get("d") else {
            panic!("{seconds}.{micros}: not a datetime: {read:?}");
        };
        assert_eq!(
            (d.unix_seconds, d.nanos),
            (*seconds, micros * 1000),
            "{seconds} s {micros} us read"
        );
        assert_eq!(
            hex::encode(flask_session::encode(&read)),
            msgspec_hex,
            "{seconds} s {micros} us written back"
        );
    }
}

/// Random sessions made by Python and encoded by msgspec (int, float, bool, None, bytes and
/// tuple dict keys, datetimes to the microsecond, sets and tuples, long strings, big ints):
/// flacon reads each, writes it back unchanged byte for byte, and writes a changed copy that
/// msgspec reads back with every untouched value exact.
#[test]
fn random_msgspec_records_survive_flacon_rewriting_them() {
    let script = common::python::script("msgspec_records.py");
    let script = script.to_str().unwrap();
    let records = common::python::json_lines(&[script, "generate", "300", "11"], String::new());
    assert_eq!(records.len(), 300);
    let mut cases = String::new();
    for record in &records {
        let original = record["hex"].as_str().unwrap();
        let mut data = flask_session::decode(&hex::decode(original).unwrap())
            .unwrap_or_else(|e| panic!("{original}: {e}"));
        let rewritten = hex::encode(flask_session::encode(&data));
        assert_eq!(
            rewritten, original,
            "an unchanged record is written back as it was"
        );
        data.insert("touched".to_owned(), Value::Int(1));
        let changed = hex::encode(flask_session::encode(&data));
        cases.push_str(
            &serde_json::json!({"original": original, "rewritten": rewritten, "changed": changed})
                .to_string(),
        );
        cases.push('\n');
    }
    let verdicts = common::python::json_lines(&[script, "check"], cases);
    assert_eq!(verdicts.len(), records.len());
    for verdict in verdicts {
        assert!(verdict["ok"].as_bool().unwrap(), "{}", verdict["why"]);
    }
}

crate::on_both_adapters! {
/// `{"scores": {1: "gold"}}`, which Flask-Session stores and reads back: flacon keeps the
/// integer keys, and a handler's change to another key leaves them as they were.
async fn a_record_with_integer_keys_is_kept_through_a_request(adapter: Adapter) {
    let redis = RedisServer::start();
    let record = hex::decode(
        common::python::json_lines(
            &[
                "-c",
                "import msgspec; print('\"' + msgspec.msgpack.encode({'_permanent': True, 'scores': {1: 'gold', 2: 'silver'}}).hex() + '\"')",
            ],
            String::new(),
        )[0]
        .as_str()
        .unwrap(),
    )
    .unwrap();
    let id = "k".repeat(43);
    redis_set(&redis.url(), &format!("session:{id}"), &record);
    let response = set_email(adapter, &redis, &id).await;
    assert_eq!(response.status(), 200);
    let after = redis_dump(&redis.url());
    let stored = &after
        .iter()
        .find(|(k, _, _)| k == &format!("session:{id}"))
        .unwrap()
        .1;
    let verdict = common::python::json_lines(
        &[
            "-c",
            "import json, msgspec, sys; d = msgspec.msgpack.decode(bytes.fromhex(sys.stdin.read())); print(json.dumps(d == {'_permanent': True, 'scores': {1: 'gold', 2: 'silver'}, 'email': 'a@b.c'}))",
        ],
        stored.clone(),
    );
    assert_eq!(verdict, [serde_json::json!(true)], "{stored}");
}

/// A record flacon cannot read (a pickle from an older Flask-Session, a msgpack extension
/// it does not know) is someone's data: the request fails with the store-error response and
/// the record keeps its bytes and its expiry; no fresh session replaces it.
async fn a_record_flacon_cannot_read_is_left_alone_and_the_request_fails(adapter: Adapter) {
    let redis = RedisServer::start();
    let unreadable = [
        // pickle.dumps({"a": 1}, protocol=5)
        "80059509000000000000007d948c0161944b01732e",
        // {"a": msgspec.msgpack.Ext(5, b"xy")}
        "81a161d5057879",
    ];
    for (n, record) in unreadable.iter().enumerate() {
        let id = format!("{n}").repeat(43);
        let key = format!("session:{id}");
        redis_set(&redis.url(), &key, &hex::decode(record).unwrap());
        redis.cli(&["EXPIRE", &key, "1000"]);
        let response = set_email(adapter, &redis, &id).await;
        assert_eq!(response.status(), 503, "{record}");
        assert!(response.headers().get(SET_COOKIE).is_none(), "{record}");
        let after = redis_dump(&redis.url());
        let (_, stored, ttl) = after.iter().find(|(k, _, _)| *k == key).unwrap();
        assert_eq!(stored, record);
        assert!(*ttl > 990, "expiry kept: {ttl}");
    }
}
}

/// An app whose handler sets `email` in the session, over Flask-Session's Redis layout,
/// asked once with the session cookie `id`.
async fn set_email(adapter: Adapter, redis: &RedisServer, id: &str) -> http::Response<String> {
    let store = RedisStore::open(&redis.url()).unwrap();
    let routes = Routes::new().route("/", |session: flacon::Session| async move {
        session.insert_value("email", Value::from("a@b.c"));
        "ok"
    });
    let layer = StoreLayer::new(store, KeyRing::new(flacon::SecretKey::from_text("k")));
    let app = crate::test_app!(adapter, layer, routes);
    let request = http::Request::get("/")
        .header(http::header::COOKIE, format!("session={id}"))
        .body(String::new())
        .unwrap();
    app.send(request).await
}
