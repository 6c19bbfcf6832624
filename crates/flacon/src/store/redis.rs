//! [`RedisStore`]: sessions in Redis, in Flask-Session's layout (`session:<sid>` keys holding
//! msgpack, `EX` = the lifetime), so a Flask app using Flask-Session and a flacon service
//! share them. Built on the `redis` crate: its `ConnectionManager` multiplexes one
//! connection and reconnects by itself after an outage, and it speaks Redis Cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::revocation::{RegistryVersion, RevocationChanges, UserRevocation};
use redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{Cmd, FromRedisValue};
use tokio::sync::Mutex;

use super::deadline::{Deadlines, Overdue};
use super::flask_session::{self, Serialization};
use super::{Record, SaveOutcome, ScanPage, SessionId, SessionStore, StoreError, Version};

/// How late a hung command may be noticed past its timeout.
const DEADLINE_GRANULARITY: Duration = Duration::from_millis(100);

/// Flask-Session's default key prefix.
pub const DEFAULT_PREFIX: &str = "session:";

enum Target {
    Single(redis::Client),
    Cluster(redis::cluster::ClusterClient),
    Sentinel(Mutex<SentinelClient>),
}

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(MultiplexedConnection),
}

/// Sessions in Redis (or a Redis Cluster).
///
/// ```no_run
/// # async fn demo() -> Result<(), flacon::store::StoreError> {
/// use flacon::store::redis::RedisStore;
/// let store = RedisStore::open("redis://127.0.0.1:6379/0")?;
/// let cluster = RedisStore::cluster(&["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])?;
/// let watched = RedisStore::sentinel(&["redis://10.0.0.1:26379"], "mymaster")?;
/// # let _ = (store, cluster, watched); Ok(()) }
/// ```
pub struct RedisStore {
    target: Target,
    /// The connection, once made (a plain mutex: held only to clone or replace it).
    conn: std::sync::Mutex<Option<Conn>>,
    /// Held while connecting, so that concurrent first requests make one connection.
    connecting: Mutex<()>,
    /// The last failed attempt to connect: when it ended, and why.
    last_failure: std::sync::Mutex<Option<(Instant, Arc<ConnectFailed>)>>,
    prefix: String,
    serialization: Serialization,
    timeout: Duration,
    deadlines: Deadlines,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// How long a failed connection attempt answers new requests before another is made: an
/// outage costs Redis one attempt a second, not one per request.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// A connection attempt failed; every request that waited for it gets this.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to Redis")]
pub(crate) struct ConnectFailed(#[source] Box<dyn std::error::Error + Send + Sync>);

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::unavailable(e)
}

fn ttl(expires_at: u64, now: u64) -> u64 {
    expires_at.saturating_sub(now).max(1)
}

impl RedisStore {
    /// A store on the Redis at `url` (`redis://host:port/db`). Connects on first use, so
    /// flacon starts even while Redis is down and serves sessions once it is back.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Ok(Self::new(Target::Single(
            redis::Client::open(url).map_err(unavailable)?,
        )))
    }

    /// A store on a Redis Cluster reached through any of `nodes`.
    pub fn cluster(nodes: &[&str]) -> Result<Self, StoreError> {
        let client = redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
            .connection_timeout(Duration::from_secs(2))
            .response_timeout(Duration::from_secs(2))
            .build()
            .map_err(unavailable)?;
        Ok(Self::new(Target::Cluster(client)))
    }

    /// A store on the primary that Redis Sentinel names `service`, found through any of
    /// `sentinels`. After a failover the next request asks the sentinels again.
    pub fn sentinel(sentinels: &[&str], service: &str) -> Result<Self, StoreError> {
        let client = SentinelClient::build(
            sentinels.to_vec(),
            service.to_owned(),
            None,
            SentinelServerType::Master,
        )
        .map_err(unavailable)?;
        Ok(Self::new(Target::Sentinel(Mutex::new(client))))
    }

    fn new(target: Target) -> Self {
        RedisStore {
            target,
            conn: std::sync::Mutex::new(None),
            connecting: Mutex::new(()),
            last_failure: std::sync::Mutex::new(None),
            prefix: DEFAULT_PREFIX.to_owned(),
            serialization: Serialization::default(),
            timeout: Duration::from_secs(2),
            deadlines: Deadlines::new(DEADLINE_GRANULARITY),
        }
    }

    /// Uses another key prefix (Flask-Session's `SESSION_KEY_PREFIX`).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Writes records as `serialization` says (Flask-Session's
    /// `SESSION_SERIALIZATION_FORMAT`, msgpack by default); either is read.
    #[must_use]
    pub fn with_serialization(mut self, serialization: Serialization) -> Self {
        self.serialization = serialization;
        self
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}{}", self.prefix, id.as_str())
    }

    /// The stored bytes and expiry, in one round trip: `GETEX key EX ttl` when refreshing,
    /// else `GET` and `TTL` pipelined.
    async fn load_stored(
        &self,
        id: &SessionId,
        refresh_to: Option<u64>,
        now: u64,
    ) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        let key = self.key(id);
        let (bytes, expires_at) = match refresh_to {
            Some(at) => {
                let mut cmd = redis::cmd("GETEX");
                cmd.arg(&key).arg("EX").arg(ttl(at, now));
                (
                    self.query::<Option<Vec<u8>>>(Request::Command(&cmd))
                        .await?,
                    at,
                )
            }
            None => {
                let mut pipe = redis::pipe();
                pipe.get(&key).ttl(&key);
                let (bytes, left): (Option<Vec<u8>>, i64) =
                    self.query(Request::Pipeline(&pipe)).await?;
                (bytes, now + u64::try_from(left).unwrap_or(0))
            }
        };
        Ok(bytes.map(|bytes| (bytes, expires_at)))
    }

    /// The per-session lock of an exclusive route, beside Flask-Session's records and
    /// outside their `prefix*` pattern.
    fn lock_key(&self, id: &SessionId) -> String {
        format!("flacon:lock:{}{}", self.prefix, id.as_str())
    }

    /// A user's index: a sorted set of session ids scored by sign-in time, one key per user
    /// (so every command on it is one key, on one Cluster slot), beside Flask-Session's
    /// records and outside their `prefix*` pattern.
    fn user_key(&self, user: &str) -> String {
        format!("flacon:users:{}{user}", self.prefix)
    }

    /// The cookie revocation registry's keys, under one hash tag: one Cluster slot, so a
    /// change and its version bump are one atomic script.
    fn revocation_keys(&self) -> RegistryKeys {
        let tag = format!("{{flacon:revocations:{}}}", self.prefix);
        RegistryKeys {
            users: format!("{tag}:users"),
            logouts: format!("{tag}:logouts"),
            tokens: format!("{tag}:tokens"),
            changes: format!("{tag}:changes"),
            version: format!("{tag}:version"),
            generation: format!("{tag}:generation"),
        }
    }

    fn cached_conn(&self) -> std::sync::MutexGuard<'_, Option<Conn>> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The connection, made if there is none. Requests that arrive while an attempt runs
    /// wait for that attempt and share its outcome, and a failure answers new requests for
    /// [`RECONNECT_PAUSE`]: with Redis down, 50 waiting requests get their error after one
    /// attempt, not after fifty made one after another.
    async fn conn(&self) -> Result<Conn, StoreError> {
        if let Some(conn) = self.cached_conn().clone() {
            return Ok(conn);
        }
        let asked_at = Instant::now();
        let _connecting = self.connecting.lock().await;
        if let Some(conn) = self.cached_conn().clone() {
            return Ok(conn);
        }
        let last_failure = self
            .last_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some((failed_at, why)) = last_failure {
            if failed_at >= asked_at || failed_at.elapsed() < RECONNECT_PAUSE {
                return Err(StoreError::unavailable(why));
            }
        }
        let outcome = tokio::time::timeout(self.timeout, self.connect())
            .await
            .unwrap_or_else(|elapsed| Err(StoreError::unavailable(elapsed)));
        let mut last_failure = self
            .last_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match outcome {
            Ok(conn) => {
                *last_failure = None;
                *self.cached_conn() = Some(conn.clone());
                Ok(conn)
            }
            Err(StoreError::Unavailable(cause)) => {
                let why = Arc::new(ConnectFailed(cause));
                *last_failure = Some((Instant::now(), why.clone()));
                Err(StoreError::unavailable(why))
            }
            Err(other) => Err(other),
        }
    }

    /// One attempt to connect.
    async fn connect(&self) -> Result<Conn, StoreError> {
        Ok(match &self.target {
            Target::Single(client) => {
                // Command timeouts are `self.deadlines`' (no timer per command).
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(self.timeout)
                    .set_number_of_retries(1);
                Conn::Single(
                    ConnectionManager::new_with_config(client.clone(), config)
                        .await
                        .map_err(unavailable)?,
                )
            }
            Target::Cluster(client) => {
                Conn::Cluster(client.get_async_connection().await.map_err(unavailable)?)
            }
            Target::Sentinel(client) => {
                let mut client = client.lock().await;
                Conn::Sentinel(client.get_async_connection().await.map_err(unavailable)?)
            }
        })
    }

    /// Sends `request` (a command or a pipeline), within the store's timeout except on a
    /// Cluster, whose client keeps its own.
    async fn query<T: FromRedisValue>(&self, request: Request<'_>) -> Result<T, StoreError> {
        match self.conn().await? {
            Conn::Single(mut c) => self
                .deadlines
                .within(self.timeout, request.send(&mut c))
                .await
                .map_err(StoreError::unavailable)?
                .map_err(unavailable),
            Conn::Cluster(mut c) => request.send(&mut c).await.map_err(unavailable),
            Conn::Sentinel(mut c) => {
                let result = self
                    .deadlines
                    .within(self.timeout, request.send(&mut c))
                    .await;
                self.after_sentinel_call(result)
            }
        }
    }

    /// A sentinel-resolved connection is dropped after a connection failure or a timeout,
    /// so that the next call asks the sentinels for the (possibly new) primary.
    fn after_sentinel_call<T>(
        &self,
        result: Result<redis::RedisResult<T>, Overdue>,
    ) -> Result<T, StoreError> {
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.kind() == redis::ErrorKind::ReadOnly
                {
                    *self.cached_conn() = None;
                }
                Err(unavailable(e))
            }
            Err(elapsed) => {
                *self.cached_conn() = None;
                Err(StoreError::unavailable(elapsed))
            }
        }
    }
}

/// `RENAMENX old new` only when `old` exists, in one atomic step: 1 when renamed, 0 when
/// `old` is gone or `new` is taken. (`RENAMENX` alone answers a missing key with an error,
/// which could be told from an outage only by its text.)
const RENAME_IF_EXISTS: &str = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end \
     return redis.call('RENAMENX', KEYS[1], KEYS[2])";

/// Compare-and-set on one key: 1 when the record still held the bytes `ARGV[1]` and now
/// holds `ARGV[2]` for `ARGV[3]` seconds, 0 when it is gone, -1 when another request wrote
/// it since.
const SAVE_IF_UNCHANGED: &str = "local stored = redis.call('GET', KEYS[1]) \
     if not stored then return 0 end \
     if stored ~= ARGV[1] then return -1 end \
     redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1";

/// Releases a lock only for the token that holds it (a holder whose hold ran out must not
/// release the next holder's).
const UNLOCK_IF_HELD: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     return redis.call('DEL', KEYS[1]) end return 0";

/// [`SAVE_IF_UNCHANGED`]'s SHA-1, the name `EVALSHA` calls it by.
static SAVE_IF_UNCHANGED_SHA1: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use sha1::Digest as _;
    crate::value::hex_of(&sha1::Sha1::digest(SAVE_IF_UNCHANGED))
});

/// Redis does not have the script `EVALSHA` named (it restarted, or never saw it).
fn is_unknown_script(error: &(dyn std::error::Error + 'static)) -> bool {
    error
        .downcast_ref::<redis::RedisError>()
        .is_some_and(|error| error.kind() == redis::ErrorKind::NoScriptError)
}

/// Files a session in its user's index and keeps the index alive as long as its longest
/// session: `ZADD`, then the key's expiry raised (never lowered) to `ARGV[3]` seconds.
const INDEX_SESSION: &str = "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) \
     if redis.call('TTL', KEYS[1]) < tonumber(ARGV[3]) then \
       redis.call('EXPIRE', KEYS[1], ARGV[3]) end return 1";

/// The registry's keys: per user the "void before" time (`users`) and the count of
/// "log out everywhere" (`logouts`), the denied ids by expiry (`tokens`), the change log
/// (`changes`: `u:USER` or `t:TOKEN` scored by the version that last changed it), the
/// version, and the generation (when the registry was created, Unix milliseconds).
struct RegistryKeys {
    users: String,
    logouts: String,
    tokens: String,
    changes: String,
    version: String,
    generation: String,
}

/// A "log out everywhere": the user's "void before" (never moved back) and count, the
/// version bumped and the change logged, atomically.
const VOID_USER: &str = "local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') \
     if tonumber(ARGV[2]) > old then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end \
     redis.call('HINCRBY', KEYS[2], ARGV[1], 1) \
     local v = redis.call('INCR', KEYS[4]) \
     redis.call('ZADD', KEYS[3], v, 'u:' .. ARGV[1]) return v";
/// A denied id, the version bumped and the change logged, atomically.
const DENY_TOKEN: &str = "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) \
     local v = redis.call('INCR', KEYS[3]) \
     redis.call('ZADD', KEYS[2], v, 't:' .. ARGV[1]) return v";
/// What changed since the version a reader knows (`ARGV[1]` generation, `ARGV[2]` version),
/// or all of it; a registry without a generation (new, or its data lost) starts one at
/// `ARGV[4]`. Answers `{generation, version}` when nothing changed, else
/// `{generation, version, since, users, tokens}` (flat arrays: user, before, count; token,
/// expiry), denials past `ARGV[3]` left out.
const READ_CHANGES: &str = "local gen = redis.call('GET', KEYS[6]) \
     if not gen then redis.call('SET', KEYS[6], ARGV[4], 'NX') gen = redis.call('GET', KEYS[6]) end \
     local v = tonumber(redis.call('GET', KEYS[5]) or '0') \
     local since = 0 \
     if gen == ARGV[1] then \
       local known = tonumber(ARGV[2]) \
       if known == v then return {gen, tostring(v)} end \
       if known < v then since = known end \
     end \
     local users, tokens = {}, {} \
     local function user(u) \
       users[#users + 1] = u \
       users[#users + 1] = redis.call('HGET', KEYS[1], u) or '0' \
       users[#users + 1] = redis.call('HGET', KEYS[2], u) or '0' \
     end \
     if since == 0 then \
       for _, u in ipairs(redis.call('HKEYS', KEYS[1])) do user(u) end \
       tokens = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[3], '+inf', 'WITHSCORES') \
     else \
       for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. since, '+inf')) do \
         local key = string.sub(m, 3) \
         if string.sub(m, 1, 2) == 'u:' then user(key) else \
           local expiry = redis.call('ZSCORE', KEYS[3], key) \
           if expiry and tonumber(expiry) > tonumber(ARGV[3]) then \
             tokens[#tokens + 1] = key tokens[#tokens + 1] = expiry end \
         end \
       end \
     end \
     return {gen, tostring(v), tostring(since), users, tokens}";
/// Up to `ARGV[2]` denials expired by `ARGV[1]`, removed with their change-log entries.
const PURGE_TOKENS: &str = "local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2])) \
     for _, t in ipairs(expired) do \
       redis.call('ZREM', KEYS[1], t) redis.call('ZREM', KEYS[2], 't:' .. t) end \
     return #expired";

/// What [`RedisStore::query`] sends: a command or a pipeline.
#[derive(Clone, Copy)]
enum Request<'r> {
    Command(&'r Cmd),
    Pipeline(&'r redis::Pipeline),
}

impl Request<'_> {
    async fn send<T: FromRedisValue>(
        self,
        conn: &mut (impl ConnectionLike + Send),
    ) -> redis::RedisResult<T> {
        match self {
            Request::Command(cmd) => cmd.query_async(conn).await,
            Request::Pipeline(pipe) => pipe.query_async(conn).await,
        }
    }
}

impl SessionStore for RedisStore {
    async fn create(&self, id: &SessionId, record: &Record, now: u64) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(id))
            .arg(self.serialization.encode(&record.data))
            .arg("EX")
            .arg(ttl(record.expires_at, now))
            .arg("NX");
        Ok(self
            .query::<Option<String>>(Request::Command(&cmd))
            .await?
            .is_some())
    }

    async fn load(
        &self,
        id: &SessionId,
        refresh_to: Option<u64>,
        now: u64,
    ) -> Result<Option<Record>, StoreError> {
        self.load_stored(id, refresh_to, now)
            .await?
            .map(|(bytes, expires_at)| {
                Ok(Record {
                    data: flask_session::decode(&bytes)?,
                    expires_at,
                })
            })
            .transpose()
    }

    /// `SET key value EX ttl XX`: only an existing key is written.
    async fn save(&self, id: &SessionId, record: &Record, now: u64) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(id))
            .arg(self.serialization.encode(&record.data))
            .arg("EX")
            .arg(ttl(record.expires_at, now))
            .arg("XX");
        Ok(self
            .query::<Option<String>>(Request::Command(&cmd))
            .await?
            .is_some())
    }

    /// The version is the stored bytes, so that [`save_if`](SessionStore::save_if) is one
    /// script on the record's one key (Cluster-safe) and the record stays what
    /// Flask-Session writes. (Comparing the bytes costs Redis less than hashing them.)
    async fn load_versioned(
        &self,
        id: &SessionId,
        refresh_to: Option<u64>,
        now: u64,
    ) -> Result<Option<(Record, Version)>, StoreError> {
        self.load_stored(id, refresh_to, now)
            .await?
            .map(|(bytes, expires_at)| {
                let version = Version::new(bytes.clone());
                let record = Record {
                    data: flask_session::decode(&bytes)?,
                    expires_at,
                };
                Ok((record, version))
            })
            .transpose()
    }

    async fn save_if(
        &self,
        id: &SessionId,
        record: &Record,
        expected: &Version,
        now: u64,
    ) -> Result<SaveOutcome, StoreError> {
        let bytes = self.serialization.encode(&record.data);
        let version = Version::new(bytes.clone());
        let call = |name: &str, script: &str| {
            let mut cmd = redis::cmd(name);
            cmd.arg(script)
                .arg(1)
                .arg(self.key(id))
                .arg(expected.as_bytes())
                .arg(&bytes)
                .arg(ttl(record.expires_at, now));
            cmd
        };
        // By its SHA-1, so the hot path's script is not sent and hashed on every save; the
        // body once per server that has not seen it (a restart, a new Cluster node).
        let answer = match self
            .query::<i64>(Request::Command(&call("EVALSHA", &SAVE_IF_UNCHANGED_SHA1)))
            .await
        {
            Err(StoreError::Unavailable(error)) if is_unknown_script(&*error) => {
                self.query::<i64>(Request::Command(&call("EVAL", SAVE_IF_UNCHANGED)))
                    .await?
            }
            answer => answer?,
        };
        Ok(match answer {
            1 => SaveOutcome::Saved(version),
            0 => SaveOutcome::Gone,
            _ => SaveOutcome::Changed,
        })
    }

    /// `SET lock token NX PX hold`: a lock that runs out if its holder dies.
    async fn try_lock(
        &self,
        id: &SessionId,
        token: &str,
        until_ms: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.lock_key(id))
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(until_ms.saturating_sub(now_ms).max(1));
        Ok(self
            .query::<Option<String>>(Request::Command(&cmd))
            .await?
            .is_some())
    }

    async fn unlock(&self, id: &SessionId, token: &str) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(UNLOCK_IF_HELD)
            .arg(1)
            .arg(self.lock_key(id))
            .arg(token);
        self.query::<i64>(Request::Command(&cmd)).await.map(drop)
    }

    async fn touch(&self, id: &SessionId, expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("EXPIRE");
        cmd.arg(self.key(id)).arg(ttl(expires_at, now));
        Ok(self.query::<i64>(Request::Command(&cmd)).await? == 1)
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(id));
        self.query::<i64>(Request::Command(&cmd)).await.map(drop)
    }

    async fn change_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        now: u64,
    ) -> Result<bool, StoreError> {
        match &self.target {
            Target::Single(_) | Target::Sentinel(_) => {
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(RENAME_IF_EXISTS)
                    .arg(2)
                    .arg(self.key(old))
                    .arg(self.key(new));
                Ok(self.query::<i64>(Request::Command(&cmd)).await? == 1)
            }
            // Keys in different slots cannot be renamed: copy, then delete the old one.
            Target::Cluster(_) => {
                let Some(record) = self.load(old, None, now).await? else {
                    return Ok(false);
                };
                if !self.create(new, &record, now).await? {
                    return Ok(false);
                }
                self.delete(old).await?;
                Ok(true)
            }
        }
    }

    /// Redis expires keys itself.
    async fn delete_expired(&self, _now: u64) -> Result<usize, StoreError> {
        Ok(0)
    }

    async fn scan(&self, cursor: Option<String>, page_size: usize) -> Result<ScanPage, StoreError> {
        let pattern = format!("{}*", self.prefix);
        let (keys, next): (Vec<String>, Option<String>) = match &self.target {
            Target::Single(_) | Target::Sentinel(_) => {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor.as_deref().unwrap_or("0"))
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(page_size.max(1));
                let (next, keys): (String, Vec<String>) =
                    self.query(Request::Command(&cmd)).await?;
                (keys, (next != "0").then_some(next))
            }
            // A cursor is per node: ask every primary at once (KEYS is routed to all of
            // them and the answers merged). Meant for administration, not for hot paths.
            Target::Cluster(_) => {
                let mut cmd = redis::cmd("KEYS");
                cmd.arg(&pattern);
                (self.query(Request::Command(&cmd)).await?, None)
            }
        };
        Ok(ScanPage {
            ids: keys
                .iter()
                .filter_map(|k| k.strip_prefix(&self.prefix))
                .filter_map(SessionId::parse)
                .collect(),
            next,
        })
    }

    async fn index_user_session(
        &self,
        user: &str,
        id: &SessionId,
        created: u64,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(INDEX_SESSION)
            .arg(1)
            .arg(self.user_key(user))
            .arg(created)
            .arg(id.as_str())
            .arg(ttl(expires_at, created));
        self.query::<i64>(Request::Command(&cmd)).await.map(drop)
    }

    async fn user_session_ids(&self, user: &str) -> Result<Vec<(SessionId, u64)>, StoreError> {
        let mut cmd = redis::cmd("ZRANGE");
        cmd.arg(self.user_key(user))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES");
        let entries: Vec<(String, u64)> = self.query(Request::Command(&cmd)).await?;
        Ok(entries
            .into_iter()
            .filter_map(|(id, created)| Some((SessionId::parse(&id)?, created)))
            .collect())
    }

    async fn unindex_user_session(&self, user: &str, id: &SessionId) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.user_key(user)).arg(id.as_str());
        self.query::<i64>(Request::Command(&cmd)).await.map(drop)
    }
}

impl crate::revocation::RevocationBackend for RedisStore {
    async fn void_user_before(&self, user: &str, before_ms: u64) -> Result<(), StoreError> {
        let keys = self.revocation_keys();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(VOID_USER)
            .arg(4)
            .arg(keys.users)
            .arg(keys.logouts)
            .arg(keys.changes)
            .arg(keys.version)
            .arg(user)
            .arg(before_ms);
        self.query::<i64>(Request::Command(&cmd)).await.map(drop)
    }

    async fn deny_token(&self, token: &str, until: u64) -> Result<(), StoreError> {
        let keys = self.revocation_keys();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(DENY_TOKEN)
            .arg(3)
            .arg(keys.tokens)
            .arg(keys.changes)
            .arg(keys.version)
            .arg(token)
            .arg(until);
        self.query::<i64>(Request::Command(&cmd)).await.map(drop)
    }

    async fn revocations_since(
        &self,
        known: Option<RegistryVersion>,
        now: u64,
        now_ms: u64,
    ) -> Result<Option<RevocationChanges>, StoreError> {
        let keys = self.revocation_keys();
        let known = known.unwrap_or_default();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(READ_CHANGES)
            .arg(6)
            .arg(keys.users)
            .arg(keys.logouts)
            .arg(keys.tokens)
            .arg(keys.changes)
            .arg(keys.version)
            .arg(keys.generation)
            .arg(known.generation)
            .arg(known.version)
            .arg(now)
            .arg(now_ms);
        let answer: Vec<redis::Value> = self.query(Request::Command(&cmd)).await?;
        parse_changes(&answer)
    }

    async fn start_generation(&self, now_ms: u64) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.revocation_keys().generation).arg(now_ms);
        self.query::<()>(Request::Command(&cmd)).await
    }

    async fn purge_revocations(&self, now: u64) -> Result<usize, StoreError> {
        let keys = self.revocation_keys();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(PURGE_TOKENS)
            .arg(2)
            .arg(keys.tokens)
            .arg(keys.changes)
            .arg(now)
            .arg(crate::revocation::PURGE_BATCH);
        let purged: i64 = self.query(Request::Command(&cmd)).await?;
        Ok(usize::try_from(purged).unwrap_or(0))
    }
}

/// [`READ_CHANGES`]'s answer.
fn parse_changes(answer: &[redis::Value]) -> Result<Option<RevocationChanges>, StoreError> {
    let corrupt = || StoreError::Corrupt("unexpected answer from the registry's read".to_owned());
    let number = |value: &redis::Value| -> Result<u64, StoreError> {
        let text: String = redis::from_redis_value(value).map_err(|_| corrupt())?;
        // Scores may come back as floats ("1.7e9" for large ones).
        text.parse::<u64>()
            .ok()
            .or_else(|| text.parse::<f64>().ok().map(|f| f as u64))
            .ok_or_else(corrupt)
    };
    let (Some(generation), Some(version)) = (answer.first(), answer.get(1)) else {
        return Err(corrupt());
    };
    let at = RegistryVersion {
        generation: number(generation)?,
        version: number(version)?,
    };
    let (Some(since), Some(users), Some(tokens)) = (answer.get(2), answer.get(3), answer.get(4))
    else {
        return Ok(None);
    };
    let users: Vec<redis::Value> = redis::from_redis_value(users).map_err(|_| corrupt())?;
    let tokens: Vec<redis::Value> = redis::from_redis_value(tokens).map_err(|_| corrupt())?;
    let text = |value: &redis::Value| -> Result<String, StoreError> {
        redis::from_redis_value(value).map_err(|_| corrupt())
    };
    Ok(Some(RevocationChanges {
        at,
        complete: number(since)? == 0,
        users: users
            .chunks_exact(3)
            .map(|entry| match entry {
                [user, before, logouts] => Ok((
                    text(user)?,
                    UserRevocation {
                        before_ms: number(before)?,
                        logouts: number(logouts)?,
                    },
                )),
                _ => Err(corrupt()),
            })
            .collect::<Result<_, _>>()?,
        tokens: tokens
            .chunks_exact(2)
            .map(|entry| match entry {
                [token, until] => Ok((text(token)?, number(until)?)),
                _ => Err(corrupt()),
            })
            .collect::<Result<_, _>>()?,
    }))
}
