//! Server-side sessions: Flask-Session 0.8's `ServerSideSessionInterface`, where it is
//! sound, and improved where it loses data: nothing stored for a visitor until there is
//! something to store, unknown ids never adopted, update-only saves (a logout racing a slow
//! request stays a logout), the expiry refreshed at most every `touch_interval` for stores
//! that cannot refresh while loading.

use std::sync::Arc;

use super::overlap::Landed;
use super::rejections::log_rejection;
use super::{Decision, Failure, Settings};
use crate::codec::{KeyDerivation, Signer};
use crate::config::ServerSideConfig;
use crate::cookie::{deletion_cookie, set_cookie, Expiry};
use crate::http::SessionFailure;
use crate::keys::KeyRing;
use crate::session::{
    is_permanent, user_of, Ended, Ender, Exclusive, Hooks, Loaded, LoadedAs, Outcome, Pending,
    Saver, Session, Written, LOGIN_KEY, PERMANENT_KEY,
};
use crate::store::{flask_session, Record, SessionId, SessionStore, StoreError};
use crate::telemetry::{self, Layer, StoreOp};
use crate::value::{Map, Value};

/// The error of a store failure that has no store error of its own (a session used before it
/// was loaded, a policy gone before its save).
fn no_store_error() -> Arc<StoreError> {
    Arc::new(StoreError::unavailable(crate::session::SessionUnavailable))
}

/// Everything the server-side rules need, shared across requests.
pub(crate) struct StorePolicy<S> {
    /// Shared, so that a builder call on a cloned layer copies the settings, not the store.
    pub(crate) store: Arc<S>,
    pub(crate) keys: KeyRing,
    pub(crate) server: ServerSideConfig,
    signer: Signer,
    pub(crate) settings: Settings,
    /// [`Session::save`]'s and [`Session::logout`]'s way back here, made once (they hold
    /// the policy weakly).
    hooks: std::sync::OnceLock<Hooks>,
}

impl<S> Clone for StorePolicy<S> {
    fn clone(&self) -> Self {
        StorePolicy {
            store: self.store.clone(),
            keys: self.keys.clone(),
            server: self.server.clone(),
            signer: self.signer.clone(),
            settings: self.settings.clone(),
            // A clone is another policy: its hooks must point at it, not at this one.
            hooks: std::sync::OnceLock::new(),
        }
    }
}

impl<S> StorePolicy<S> {
    pub(crate) fn new(store: S, keys: KeyRing) -> Self {
        keys.warn_if_weak();
        // Flask-Session signs ids with the current key only, salted `flask-session`.
        let signer = Signer::new(
            &KeyRing::new(keys.current().clone()),
            b"flask-session",
            KeyDerivation::Hmac,
        );
        StorePolicy {
            store: Arc::new(store),
            keys,
            server: ServerSideConfig::default(),
            signer,
            settings: Settings::default(),
            hooks: std::sync::OnceLock::new(),
        }
    }
}

impl<S: SessionStore> StorePolicy<S> {
    /// The session of a request whose cookie named `id` (if it parsed): loaded from the
    /// store on first use, or a new visitor's fresh session.
    pub(crate) fn session_for(self: &Arc<Self>, id: Option<SessionId>) -> Session {
        let pending = id.map(|id| {
            let policy = self.clone();
            Pending::Async(Box::new(move |exclusive| {
                Box::pin(async move { policy.load(&id, exclusive).await })
            }))
        });
        // With an id, the loader supplies the data; only a new visitor starts from scratch.
        let initial = if pending.is_some() {
            Map::default()
        } else {
            self.fresh_data()
        };
        let hooks = self
            .hooks
            .get_or_init(|| {
                let policy = Arc::downgrade(self);
                let ender_policy = policy.clone();
                let saver: Saver = Arc::new(move |session: Session| {
                    let policy = policy.upgrade();
                    Box::pin(async move {
                        match policy {
                            Some(policy) => policy.save_now(&session).await,
                            None => Err(no_store_error()),
                        }
                    })
                });
                let ender: Ender = Arc::new(move |ended: Ended| {
                    let policy = ender_policy.upgrade();
                    Box::pin(async move {
                        match policy {
                            Some(policy) => policy.end(ended).await,
                            None => Err(no_store_error()),
                        }
                    })
                });
                Hooks {
                    saver: Some(saver),
                    ender: Some(ender),
                }
            })
            .clone();
        Session::lazy(
            pending,
            initial,
            self.settings.config.rewrite_on_equal_assignment,
            hooks,
        )
    }

    /// [`Session::logout`]: the record goes now, and out of its user's index.
    async fn end(&self, ended: Ended) -> Result<(), Arc<StoreError>> {
        let Some(id) = ended.id else {
            return Ok(());
        };
        let failed = |error: StoreError| {
            tracing::error!(%error, "cannot end the session (logout)");
            Arc::new(error)
        };
        telemetry::store_op(StoreOp::Delete, self.store.delete(&id))
            .await
            .map_err(failed)?;
        if let Some(user) = user_of(&ended.data) {
            self.unindex(&user, &id).await.map_err(failed)?;
        }
        Ok(())
    }

    /// Takes `id` out of `user`'s index; a store without one has nothing to undo.
    async fn unindex(&self, user: &str, id: &SessionId) -> Result<(), StoreError> {
        match self.store.unindex_user_session(user, id).await {
            Err(StoreError::Unsupported(_)) => Ok(()),
            other => other,
        }
    }

    /// What a session without a stored record starts as: `{"_permanent": true}` when
    /// sessions are permanent by default, as in Flask-Session.
    pub(crate) fn fresh_data(&self) -> Map {
        let mut data = Map::default();
        if self.server.permanent_by_default {
            data.insert(PERMANENT_KEY.to_owned(), Value::Bool(true));
        }
        data
    }

    fn fresh_loaded(&self) -> Loaded {
        Loaded {
            data: self.fresh_data(),
            ..Loaded::default()
        }
    }

    pub(crate) fn parse_id(&self, raw: &str) -> Option<SessionId> {
        if !self.server.use_signer {
            return SessionId::parse(raw);
        }
        match self.signer.unsign(raw) {
            Ok((id, _)) => SessionId::parse(id),
            Err(_) => {
                log_rejection!(
                    self.settings.rejections,
                    self.settings.now(),
                    "bad-signature",
                    "rejected session id cookie; starting a new session"
                );
                None
            }
        }
    }

    fn cookie_value(&self, id: &SessionId) -> String {
        if self.server.use_signer {
            self.signer.sign(id.as_str())
        } else {
            id.as_str().to_owned()
        }
    }

    /// One store round trip: the record, its expiry refreshed where the store can do both;
    /// for an exclusive route, under the session's lock, taken first.
    pub(crate) async fn load(
        &self,
        id: &SessionId,
        exclusive: Option<Exclusive>,
    ) -> Result<Loaded, Arc<StoreError>> {
        let lease = match exclusive {
            Some(exclusive) => Some(self.lock(id, exclusive).await.map_err(|error| {
                tracing::error!(%error, "cannot lock the session; answering with the store-error response");
                Arc::new(error)
            })?),
            None => None,
        };
        let loaded = self.load_record(id).await;
        match (loaded, lease) {
            (Ok(loaded), lease) => Ok(Loaded { lease, ..loaded }),
            (Err(error), Some(lease)) => {
                self.unlock(lease).await;
                Err(error)
            }
            (Err(error), None) => Err(error),
        }
    }

    async fn load_record(&self, id: &SessionId) -> Result<Loaded, Arc<StoreError>> {
        let now = self.settings.now();
        let limits = self.settings.limits();
        let refresh_to = Some(now.saturating_add(limits.cookie_max_age()));
        let load = self.store.load_versioned(id, refresh_to, now);
        match telemetry::store_op(StoreOp::Load, load).await {
            Ok(Some((record, version))) => {
                if let Err(expired) = limits.check(&record.data, now, true, None) {
                    log_rejection!(
                        self.settings.rejections,
                        now,
                        expired.kind(),
                        "session past its timeout; starting a new session"
                    );
                    // Gone for good: a later request must not find it either.
                    if let Err(error) =
                        telemetry::store_op(StoreOp::Delete, self.store.delete(id)).await
                    {
                        tracing::warn!(%error, "could not delete a session past its timeout");
                    }
                    return Ok(self.fresh_loaded());
                }
                telemetry::session_loaded(Layer::Store);
                Ok(Loaded {
                    version: Some(version),
                    data: record.data,
                    stored_until: Some(record.expires_at),
                    stored_id: Some(id.clone()),
                    ..Loaded::default()
                })
            }
            // Unknown, expired or unreadable: never adopted; a new id is issued when
            // something is saved.
            Ok(None) => Ok(self.fresh_loaded()),
            // A record flacon cannot read is someone's data (a newer schema, a type a Flask
            // app stored): never replaced by a fresh session, the request fails and the
            // record stays as it is.
            Err(StoreError::Corrupt(why)) => {
                log_rejection!(
                    self.settings.rejections,
                    self.settings.now(),
                    "bad-record",
                    %why,
                    "unreadable session record left alone; answering with the store-error response"
                );
                Err(Arc::new(StoreError::Corrupt(why)))
            }
            Err(error) => {
                tracing::error!(%error, "cannot load the session; answering with the store-error response");
                Err(Arc::new(error))
            }
        }
    }

    /// What the response carries for `session`, after writing it to the store as needed;
    /// the failure the adapter answers with otherwise.
    pub(crate) async fn decide(&self, session: &Session) -> Result<Decision, Failure> {
        let Some(mut outcome) = session.outcome(|| false) else {
            return Ok(Decision::default());
        };
        let lease = outcome.lease.take();
        let decided = self.decide_outcome(outcome).await;
        // Held from the load through the save: released whatever the save came to.
        if let Some(lease) = lease {
            self.unlock(lease).await;
        }
        decided
    }

    async fn decide_outcome(&self, outcome: Outcome) -> Result<Decision, Failure> {
        if outcome.failed {
            return Err(Failure::at_load(outcome.cause.clone()));
        }
        let saved = outcome.saved.clone();
        let (decision, _) = self.write_back(outcome, false).await.map_err(|error| {
            tracing::error!(%error, "cannot save the session; answering with the store-error response");
            Failure {
                at_load: false,
                failure: SessionFailure::StoreUnavailable {
                    cause: Some(Arc::new(error)),
                },
            }
        })?;
        // After an explicit save, what it decided holds unless this write says more.
        Ok(match saved {
            Some(saved) => Decision {
                vary_cookie: decision.vary_cookie || saved.vary_cookie,
                set_cookie: decision.set_cookie.or(saved.set_cookie),
            },
            None => decision,
        })
    }

    /// [`Session::save`]: the write the response would make, made now.
    async fn save_now(&self, session: &Session) -> Result<(), Arc<StoreError>> {
        let outcome = session.outcome_to_save();
        if outcome.failed {
            return Err(outcome.cause.unwrap_or_else(no_store_error));
        }
        let (decision, stored) = self.write_back(outcome, true).await.map_err(|error| {
            tracing::error!(%error, "cannot save the session (explicit save)");
            Arc::new(error)
        })?;
        session.saved_as(stored, decision);
        Ok(())
    }

    /// Flask-Session's `save_session`, update-only and with throttled expiry refresh: what
    /// the response carries, and the record's id and expiry when there is one.
    ///
    /// `then_more`: the handler goes on after this save (an explicit one), so the record as
    /// stored is kept for its next save to compare against.
    async fn write_back(
        &self,
        outcome: Outcome,
        then_more: bool,
    ) -> Result<(Decision, Option<Written>), StoreError> {
        let config = &self.settings.config;
        let mut decision = Decision {
            vary_cookie: outcome.accessed,
            set_cookie: None,
        };
        let stored_until = outcome.stored_until;
        // The record this session is stored under: the one the load found (or an explicit
        // save made), never a cookie's id that named nothing.
        let mut id = outcome.stored_id.clone().filter(|_| stored_until.is_some());
        if flask_session::is_empty(&outcome.data) {
            if outcome.modified {
                if let Some(id) = &id {
                    telemetry::store_op(StoreOp::Delete, self.store.delete(id)).await?;
                }
                // With the attributes the cookie was set with (Flask-Session sends only name, domain
                // and path): browsers refuse to delete a `__Host-` or `__Secure-` cookie
                // without `Secure`, and a partitioned one without `Partitioned`.
                decision.send(deletion_cookie(config));
            }
            return Ok((decision, None));
        }
        let now = self.settings.now();
        let limits = self.settings.limits();
        let mut data = outcome.data;
        // A session signed in by the Flask app (Flask-Login's `_user_id`, none of flacon's
        // sign-in bookkeeping) is adopted the first time flacon loads it: stamped and filed
        // under its user, so that listing and "log out everywhere" see it.
        let user = user_of(&data);
        let adopted =
            !outcome.login && id.is_some() && user.is_some() && !data.contains_key(LOGIN_KEY);
        if outcome.login || adopted {
            let stamp = i64::try_from(super::unix_millis()).unwrap_or(i64::MAX);
            data.insert(LOGIN_KEY.to_owned(), Value::Int(stamp));
        }
        if outcome.login {
            limits.restart(&mut data, now);
        }
        let stamped = limits.stamp(&mut data, now, true, None) || adopted;
        let modified = outcome.modified || stamped;
        let expires_at = limits.deadline(&data, now);
        let mut record = Record { data, expires_at };
        let mut saved = None;
        let mut new_id = false;
        if let (true, Some(old)) = (outcome.cycle_id, id.clone()) {
            let fresh = SessionId::generate_of(self.server.id_bytes)?;
            if telemetry::store_op(StoreOp::ChangeId, self.store.change_id(&old, &fresh, now))
                .await?
            {
                if let Some(user) = &user {
                    self.unindex(user, &old).await?;
                }
                id = Some(fresh);
                new_id = true;
            }
        }
        if modified {
            match &id {
                Some(existing) => {
                    // A handler that changed nothing kept no base: the data is it (but
                    // for stamps, whose differences no merge reports).
                    let loaded = outcome.version.map(|version| LoadedAs {
                        data: outcome.base.unwrap_or_else(|| record.data.clone()),
                        version,
                    });
                    match self.save_over(existing, record, loaded, now).await? {
                        Landed::Saved(stored, version) => {
                            saved = version.filter(|_| then_more).map(|version| LoadedAs {
                                data: stored.data.clone(),
                                version,
                            });
                            record = stored;
                        }
                        Landed::Gone => {
                            // Deleted meanwhile (a logout racing this request): stay deleted.
                            tracing::info!(
                                "session was deleted during this request; its update is dropped"
                            );
                            return Ok((decision, None));
                        }
                    }
                }
                None => {
                    id = Some(self.create(&record, now).await?);
                    new_id = true;
                }
            }
        } else if let (Some(existing), Some(until)) = (&id, stored_until) {
            let refresh_due =
                until.saturating_add(self.server.touch_interval.as_secs()) < expires_at;
            if refresh_due {
                telemetry::store_op(StoreOp::Touch, self.store.touch(existing, expires_at, now))
                    .await?;
            }
        }
        let Some(id) = id else {
            return Ok((decision, None));
        };
        let (expires_at, permanent) = (record.expires_at, is_permanent(&record.data));
        if let (Some(user), true) = (&user, outcome.login || new_id || adopted) {
            self.store
                .index_user_session(user, &id, now, expires_at)
                .await
                .or_else(|error| match error {
                    // Listing and revoking need an index; signing in does not.
                    StoreError::Unsupported(_) => Ok(()),
                    error => Err(error),
                })?;
        }
        if modified || new_id || (permanent && config.refresh_each_request) {
            let expiry = Expiry::of_session(permanent, expires_at);
            decision.send(set_cookie(config, &self.cookie_value(&id), expiry));
        }
        let written = Written {
            id,
            expires_at,
            saved,
        };
        Ok((decision, Some(written)))
    }

    /// Stores a new session under a fresh random id, retrying on the (astronomically
    /// unlikely) collision.
    async fn create(&self, record: &Record, now: u64) -> Result<SessionId, StoreError> {
        for _ in 0..4 {
            let id = SessionId::generate_of(self.server.id_bytes)?;
            if telemetry::store_op(StoreOp::Create, self.store.create(&id, record, now)).await? {
                telemetry::session_created(Layer::Store);
                return Ok(id);
            }
        }
        Err(StoreError::Corrupt(
            "four random session ids collided".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::keys::SecretKey;
    use crate::store::MemoryStore;

    const NOW: u64 = 1_700_000_000;

    fn policy() -> Arc<StorePolicy<MemoryStore>> {
        let keys = KeyRing::new(SecretKey::from_text("policy-unit-test-key-0123456789"));
        let mut policy = StorePolicy::new(MemoryStore::new(100), keys);
        policy.settings.clock = Arc::new(|| NOW);
        Arc::new(policy)
    }

    /// The session a request with the cookie value `raw` gets, loaded as the extractor does.
    async fn session_from(policy: &Arc<StorePolicy<MemoryStore>>, raw: Option<&str>) -> Session {
        let session = policy.session_for(raw.and_then(|raw| policy.parse_id(raw)));
        session.load().await.unwrap();
        session
    }

    fn id_of(decision: &Decision) -> String {
        let header = decision.set_cookie.as_deref().expect("a cookie is sent");
        let value = header.strip_prefix("session=").expect("the session cookie");
        value.split(';').next().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn a_visitor_who_stores_nothing_creates_nothing() {
        let policy = policy();
        let session = session_from(&policy, None).await;
        assert_eq!(policy.decide(&session).await.unwrap(), Decision::default());
        assert_eq!(policy.store.len(), 0);
    }

    #[tokio::test]
    async fn a_first_write_creates_a_record_and_sends_its_id() {
        let policy = policy();
        let session = session_from(&policy, None).await;
        session.insert("user", "ada").unwrap();
        let decision = policy.decide(&session).await.unwrap();
        assert!(decision.vary_cookie);
        let sid = id_of(&decision);
        let stored = policy
            .store
            .load(&SessionId::parse(&sid).unwrap(), None, NOW)
            .await
            .unwrap();
        assert_eq!(stored.unwrap().data.get("user"), Some(&Value::from("ada")));
    }

    #[tokio::test]
    async fn an_unknown_id_is_never_adopted() {
        let policy = policy();
        let forged = SessionId::generate().unwrap();
        let session = session_from(&policy, Some(forged.as_str())).await;
        session.insert("user", "mallory").unwrap();
        let decision = policy.decide(&session).await.unwrap();
        assert_ne!(id_of(&decision), forged.as_str());
        assert!(policy
            .store
            .load(&forged, None, NOW)
            .await
            .unwrap()
            .is_none());
    }

    /// A stored session with a cart of one item, and its cookie value.
    async fn stored_cart(policy: &Arc<StorePolicy<MemoryStore>>) -> String {
        let session = session_from(policy, None).await;
        session.insert("cart", &["bike"]).unwrap();
        id_of(&policy.decide(&session).await.unwrap())
    }

    async fn stored_record(policy: &Arc<StorePolicy<MemoryStore>>, sid: &str) -> Record {
        let id = SessionId::parse(sid).unwrap();
        policy.store.load(&id, None, NOW).await.unwrap().unwrap()
    }

    fn add_to_cart(session: &Session, item: &str) {
        session.update(|data| {
            if let Some(Value::List(items)) = data.get_mut("cart") {
                items.push(Value::from(item));
            }
        });
    }

    #[tokio::test]
    async fn overlapping_writes_are_merged_and_none_is_lost() {
        let policy = policy();
        let sid = stored_cart(&policy).await;
        // Three requests load the same record before any of them saves.
        let first = session_from(&policy, Some(&sid)).await;
        let second = session_from(&policy, Some(&sid)).await;
        let third = session_from(&policy, Some(&sid)).await;
        add_to_cart(&first, "helmet");
        first.insert("email", "someone@example.com").unwrap();
        add_to_cart(&second, "lock");
        third.insert("lang", "fr").unwrap();
        for session in [&first, &second, &third] {
            policy.decide(session).await.unwrap();
        }
        let stored = stored_record(&policy, &sid).await;
        assert_eq!(
            stored.data.get("cart"),
            Some(&Value::List(vec![
                Value::from("bike"),
                Value::from("helmet"),
                Value::from("lock")
            ]))
        );
        assert_eq!(
            stored.data.get("email"),
            Some(&Value::from("someone@example.com"))
        );
        assert_eq!(stored.data.get("lang"), Some(&Value::from("fr")));
    }

    #[tokio::test]
    async fn an_explicit_save_takes_in_what_others_wrote_and_the_final_save_keeps_it() {
        let policy = policy();
        let sid = stored_cart(&policy).await;
        let slow = session_from(&policy, Some(&sid)).await;
        let fast = session_from(&policy, Some(&sid)).await;
        add_to_cart(&fast, "lock");
        policy.decide(&fast).await.unwrap();
        slow.insert("email", "someone@example.com").unwrap();
        slow.save().await.unwrap();
        // The handler goes on from the merged record: its next save removes nothing.
        slow.insert("lang", "fr").unwrap();
        policy.decide(&slow).await.unwrap();
        let stored = stored_record(&policy, &sid).await;
        assert_eq!(
            stored.data.get("cart"),
            Some(&Value::List(vec![Value::from("bike"), Value::from("lock")]))
        );
        assert!(stored.data.contains_key("email") && stored.data.contains_key("lang"));
    }

    #[tokio::test]
    async fn a_session_cleared_while_another_request_writes_stays_gone() {
        let policy = policy();
        let sid = stored_cart(&policy).await;
        let clearing = session_from(&policy, Some(&sid)).await;
        let writing = session_from(&policy, Some(&sid)).await;
        clearing.clear();
        policy.decide(&clearing).await.unwrap();
        add_to_cart(&writing, "lock");
        let decision = policy.decide(&writing).await.unwrap();
        assert_eq!(
            policy.store.len(),
            0,
            "the cleared session is not brought back"
        );
        assert_eq!(decision.set_cookie, None, "no cookie names the dead record");
    }

    #[tokio::test]
    async fn a_request_of_an_id_that_was_changed_meanwhile_never_recreates_it() {
        let policy = policy();
        let sid = stored_cart(&policy).await;
        let signing_in = session_from(&policy, Some(&sid)).await;
        let late = session_from(&policy, Some(&sid)).await;
        signing_in.login("ada");
        let new_sid = id_of(&policy.decide(&signing_in).await.unwrap());
        assert_ne!(new_sid, sid);
        add_to_cart(&late, "lock");
        policy.decide(&late).await.unwrap();
        let old = SessionId::parse(&sid).unwrap();
        assert!(policy.store.load(&old, None, NOW).await.unwrap().is_none());
        assert_eq!(
            policy.store.len(),
            1,
            "only the signed-in session is stored"
        );
    }

    #[tokio::test]
    async fn clearing_deletes_the_record_and_sends_the_deletion_cookie() {
        let policy = policy();
        let session = session_from(&policy, None).await;
        session.insert("user", "ada").unwrap();
        let sid = id_of(&policy.decide(&session).await.unwrap());
        let session = session_from(&policy, Some(&sid)).await;
        session.clear();
        let decision = policy.decide(&session).await.unwrap();
        assert!(decision
            .set_cookie
            .as_deref()
            .unwrap()
            .starts_with("session=; Expires=Thu, 01 Jan 1970"));
        assert_eq!(policy.store.len(), 0);
    }
}
