//! Signed-cookie sessions: Flask's `SecureCookieSessionInterface` (`open_session`,
//! `save_session`), plus what flacon adds (oversize policy, re-signing fallback-key cookies,
//! untouched cookies re-signed without being parsed).

use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::expiry::Limits;
use super::rejections::log_rejection;
use super::{Decision, Failure, Settings};
use crate::codec::{is_encrypted, to_tagged_json, CookieCipher, CookieCodec, DecodeError, Decoded};
use crate::config::OversizePolicy;
use crate::cookie::{deletion_cookie, set_cookie, Expiry};
use crate::http::{OversizedCookie, SessionFailure};
use crate::keys::{KeyMatch, KeyRing};
use crate::session::{
    holds_nothing, is_permanent, Hooks, Loaded, Loader, Pending, Session, LOGIN_KEY, PERMANENT_KEY,
    TOKEN_KEY,
};
use crate::store::StoreError;
use crate::telemetry::{self, Layer};
use crate::value::{Map, Value};

/// Everything the cookie rules need, shared across requests.
pub(crate) struct CookiePolicy {
    pub(crate) keys: KeyRing,
    codec: CookieCodec,
    /// For encrypted cookies: made on first use, for the cookie name then configured.
    cipher: OnceLock<CookieCipher>,
    pub(crate) settings: Settings,
    /// Where logouts are recorded and checked, when signed cookies can be revoked.
    #[cfg(feature = "tokio")]
    pub(crate) revocations: Option<Arc<crate::revocation::RevocationRegistry>>,
}

impl Clone for CookiePolicy {
    fn clone(&self) -> Self {
        CookiePolicy {
            keys: self.keys.clone(),
            codec: self.codec.clone(),
            // A clone is reconfigured (another cookie name, say): its cipher is made anew.
            cipher: OnceLock::new(),
            settings: self.settings.clone(),
            #[cfg(feature = "tokio")]
            revocations: self.revocations.clone(),
        }
    }
}

impl CookiePolicy {
    pub(crate) fn new(keys: KeyRing) -> Self {
        keys.warn_if_weak();
        CookiePolicy {
            cipher: OnceLock::new(),
            codec: CookieCodec::flask(&keys),
            keys,
            settings: Settings::default(),
            #[cfg(feature = "tokio")]
            revocations: None,
        }
    }

    /// The session of a request that came with the cookie `raw`: decoded on first use (by
    /// the extractor, when a revocation registry must clear it).
    pub(crate) fn session_for(self: &Arc<Self>, raw: Option<Arc<str>>) -> Session {
        let checked = self.revocable();
        let loader = raw.map(|raw| {
            let policy = self.clone();
            let load: Loader = Box::new(move || policy.load(raw));
            if checked {
                Pending::Checked(load)
            } else {
                Pending::Sync(load)
            }
        });
        Session::lazy(
            loader,
            Map::default(),
            self.settings.config.rewrite_on_equal_assignment,
            self.hooks(),
        )
    }

    #[cfg(feature = "tokio")]
    fn revocable(&self) -> bool {
        self.revocations.is_some()
    }

    #[cfg(not(feature = "tokio"))]
    fn revocable(&self) -> bool {
        false
    }

    /// A logout denies the session's own id in the registry, until its cookie would have
    /// expired anyway.
    #[cfg(feature = "tokio")]
    fn hooks(self: &Arc<Self>) -> Hooks {
        use crate::session::{token_of, user_of, Ended, Ender};
        let Some(registry) = self.revocations.clone() else {
            return Hooks::default();
        };
        let until = self
            .settings
            .now()
            .saturating_add(self.settings.limits().cookie_max_age());
        let ender: Ender = Arc::new(move |ended: Ended| {
            let registry = registry.clone();
            Box::pin(async move {
                let Some(token) = token_of(&ended.data) else {
                    return Ok(());
                };
                let denied = match user_of(&ended.data) {
                    Some(user) => registry.deny_for(&user, token, until).await,
                    None => registry.deny(token, until).await,
                };
                denied.map_err(|error| {
                    tracing::error!(%error, "cannot record the logout in the revocation registry");
                    Arc::new(error)
                })
            })
        });
        Hooks {
            saver: None,
            ender: Some(ender),
        }
    }

    #[cfg(not(feature = "tokio"))]
    fn hooks(self: &Arc<Self>) -> Hooks {
        Hooks::default()
    }

    /// A sign-in records how many times its user was logged out everywhere, so that the
    /// next one voids it by count rather than by the clocks of two processes.
    #[cfg(feature = "tokio")]
    fn record_logouts(&self, data: &mut Map) {
        use crate::session::{user_of, GENERATION_KEY};
        if let (Some(registry), Some(user)) = (&self.revocations, user_of(data)) {
            let logouts = i64::try_from(registry.logouts_of(&user)).unwrap_or(i64::MAX);
            data.insert(GENERATION_KEY.to_owned(), Value::Int(logouts));
        }
    }

    #[cfg(not(feature = "tokio"))]
    fn record_logouts(&self, _data: &mut Map) {}

    /// What the registry says of a verified session: `Ok(true)` to serve it, `Ok(false)` when
    /// it was revoked, an error when the registry's view is too old to tell.
    #[cfg(feature = "tokio")]
    fn cleared(&self, data: &Map) -> Result<bool, Arc<StoreError>> {
        use crate::revocation::Verdict;
        let Some(registry) = &self.revocations else {
            return Ok(true);
        };
        match registry.verdict(data) {
            Ok(verdict) => Ok(verdict == Verdict::Valid),
            Err(stale) => {
                tracing::error!(%stale, "cannot tell whether a signed-in cookie was revoked; answering with the store-error response");
                Err(Arc::new(StoreError::unavailable(stale)))
            }
        }
    }

    #[cfg(not(feature = "tokio"))]
    fn cleared(&self, _data: &Map) -> Result<bool, Arc<StoreError>> {
        Ok(true)
    }

    /// Whether a session no handler touched must be loaded to answer as Flask would: when
    /// it may be permanent (re-sent every time), when a fallback key signed it (re-signed),
    /// and when the cookie is bad (logged). Only a current-key cookie whose payload cannot
    /// hold `_permanent` is left unopened: its signature is checked, its JSON is not parsed.
    fn untouched_needs_loading(&self, raw: &str) -> bool {
        let limits = self.settings.limits();
        if limits.any_timeout() || self.revocable() || self.settings.config.encrypted {
            // Each request is a use to record, or a start to check.
            return true;
        }
        let probe = self.codec.verify_and_probe(
            raw,
            Some(limits.cookie_max_age()),
            self.settings.now(),
            PERMANENT_KEY,
        );
        !matches!(probe, Ok((KeyMatch::Current, false)))
    }

    fn cipher(&self) -> &CookieCipher {
        self.cipher
            .get_or_init(|| CookieCipher::new(&self.keys, &self.settings.config.cookie_name))
    }

    /// Opens an encrypted cookie, or verifies a signed one (also while encrypting: a cookie
    /// from before encryption was turned on is read, and re-sent encrypted).
    fn decode(&self, raw: &str, max_age: u64, now: u64) -> Result<Decoded, DecodeError> {
        if self.settings.config.encrypted && is_encrypted(raw) {
            self.cipher().decrypt(raw, Some(max_age), now)
        } else {
            self.codec.decode(raw, Some(max_age), now)
        }
    }

    /// Verifies and decodes the request's cookie. A bad cookie is an empty session, logged
    /// with its kind, and left in the browser (Flask does not delete it either).
    pub(crate) fn load(&self, raw: Arc<str>) -> Result<Loaded, Arc<StoreError>> {
        let now = self.settings.now();
        let limits = self.settings.limits();
        match self.decode(&raw, limits.cookie_max_age(), now) {
            Ok(decoded) => match decoded.value {
                Value::Dict(data) => {
                    if let Err(expired) = limits.check(&data, now, false, Some(decoded.timestamp)) {
                        log_rejection!(
                            self.settings.rejections,
                            now,
                            expired.kind(),
                            "session cookie past its timeout; using an empty session"
                        );
                        return Ok(Loaded::default());
                    }
                    if !self.cleared(&data)? {
                        log_rejection!(
                            self.settings.rejections,
                            now,
                            "revoked",
                            "session cookie was logged out; using an empty session"
                        );
                        return Ok(Loaded::default());
                    }
                    telemetry::session_loaded(Layer::Cookie);
                    if matches!(decoded.key, KeyMatch::Fallback(_)) {
                        telemetry::fallback_key_hit();
                    }
                    Ok(Loaded {
                        data,
                        signed_with: Some(decoded.key),
                        signed_at: Some(decoded.timestamp),
                        verified_cookie: Some(raw),
                        ..Loaded::default()
                    })
                }
                Value::Null => Ok(Loaded::default()),
                other => {
                    // Flask answers 500 on every request for such a cookie; an empty session
                    // lets the user carry on.
                    log_rejection!(
                        self.settings.rejections,
                        now,
                        "bad-payload",
                        found = other.type_name(),
                        "rejected session cookie: payload is not a dict; using an empty session"
                    );
                    Ok(Loaded::default())
                }
            },
            Err(error) => {
                let kind = match error {
                    DecodeError::Expired { age, .. } => limits.cookie_age_kind(age),
                    _ => error.kind(),
                };
                log_rejection!(
                    self.settings.rejections,
                    now,
                    kind,
                    %error,
                    "rejected session cookie; using an empty session"
                );
                Ok(Loaded::default())
            }
        }
    }

    /// Flask's `save_session`, plus the size check: what the response carries for
    /// `session`, which came with the cookie `raw`. The failure instead when the policy
    /// turns an oversized cookie into an error response, or when the revocation registry
    /// could not clear the cookie.
    pub(crate) fn decide(&self, session: &Session, raw: Option<&str>) -> Result<Decision, Failure> {
        let config = &self.settings.config;
        let mut decision = Decision::default();
        // Permanent sessions are re-sent on every request, so an untouched cookie must be
        // opened when it may be permanent.
        let load_untouched = || {
            config.refresh_each_request && raw.is_some_and(|raw| self.untouched_needs_loading(raw))
        };
        let Some(outcome) = session.outcome(load_untouched) else {
            return Ok(decision);
        };
        if outcome.failed {
            return Err(Failure::at_load(outcome.cause));
        }
        decision.vary_cookie = outcome.accessed;
        let mut data = outcome.data;
        if holds_nothing(&data) {
            if outcome.modified {
                decision.send(deletion_cookie(config));
            }
            return Ok(decision);
        }
        let now = self.settings.now();
        let limits = self.settings.limits();
        let mut stamped = limits.stamp(&mut data, now, false, outcome.signed_at);
        if outcome.login {
            signed_in(&mut data, limits, now);
            self.record_logouts(&mut data);
            stamped = true;
        }
        let permanent = is_permanent(&data);
        let resign = config.resign_fallback_cookies
            && matches!(outcome.signed_with, Some(KeyMatch::Fallback(_)));
        // A signed cookie met while encrypting is replaced by an encrypted one.
        let upgrade = config.encrypted
            && outcome
                .verified_cookie
                .as_deref()
                .is_some_and(|raw| !is_encrypted(raw));
        // With an idle timeout, each use re-signs the cookie: its age is the time unused.
        let refresh = (permanent && config.refresh_each_request) || limits.idle();
        if !(outcome.modified || stamped || resign || upgrade || refresh) {
            return Ok(decision);
        }
        let expiry = Expiry::of_session(permanent, limits.deadline(&data, now));
        let changed = outcome.modified || stamped;
        let data = Value::Dict(data);
        // An unchanged session is re-signed as it came: the same bytes Flask would write.
        let verified_payload = outcome
            .verified_cookie
            .as_deref()
            .filter(|_| !changed)
            .and_then(CookieCodec::payload_segment);
        let value = match verified_payload {
            _ if config.encrypted => self.cipher().encrypt(&data, now),
            Some(payload) => self.codec.resign(payload, now),
            None => self.codec.encode(&data, now),
        };
        let header = set_cookie(config, &value, expiry);
        if config.max_cookie_size > 0 && header.len() > config.max_cookie_size {
            let oversized = OversizedCookie {
                size: header.len(),
                limit: config.max_cookie_size,
                largest_keys: largest_keys(data.as_dict()),
            };
            match config.oversize_policy {
                OversizePolicy::Error => {
                    telemetry::cookie_oversized("error");
                    tracing::error!(
                        size = oversized.size,
                        limit = oversized.limit,
                        "{oversized}; the session was NOT saved"
                    );
                    return Err(Failure {
                        at_load: false,
                        failure: SessionFailure::CookieTooLarge(oversized),
                    });
                }
                OversizePolicy::Warn => {
                    telemetry::cookie_oversized("warn");
                    tracing::warn!(
                        size = oversized.size,
                        limit = oversized.limit,
                        "{oversized}; sent anyway, browsers may drop it"
                    );
                }
            }
        }
        if outcome.signed_with.is_none() {
            telemetry::session_created(Layer::Cookie);
        }
        decision.send(header);
        Ok(decision)
    }
}

/// Records a sign-in in a cookie session: when, and a fresh random id that a logout can deny.
fn signed_in(data: &mut Map, limits: Limits, now: u64) {
    let stamp = i64::try_from(super::unix_millis()).unwrap_or(i64::MAX);
    data.insert(LOGIN_KEY.to_owned(), Value::Int(stamp));
    let mut token = [0_u8; 16];
    if getrandom::fill(&mut token).is_ok() {
        data.insert(
            TOKEN_KEY.to_owned(),
            Value::from(URL_SAFE_NO_PAD.encode(token)),
        );
    }
    limits.restart(data, now);
}

fn largest_keys(data: Option<&Map>) -> Vec<(String, usize)> {
    let mut sizes: Vec<(String, usize)> = data
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), k.len() + to_tagged_json(v).len()))
        .collect();
    sizes.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    sizes.truncate(3);
    sizes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::SessionConfig;
    use crate::keys::SecretKey;

    const NOW: u64 = 1_700_000_000;

    fn policy(config: SessionConfig) -> CookiePolicy {
        let mut policy = CookiePolicy::new(KeyRing::new(SecretKey::from_text(
            "policy-unit-test-key-0123456789",
        )));
        policy.settings.config = config;
        policy.settings.clock = Arc::new(|| NOW);
        policy
    }

    /// The session a request carrying `raw` would get.
    fn session_from(policy: &Arc<CookiePolicy>, raw: Option<&str>) -> Session {
        policy.session_for(raw.map(Arc::from))
    }

    fn cookie_of(decision: &Decision) -> &str {
        let header = decision.set_cookie.as_deref().expect("a cookie is sent");
        let value = header.strip_prefix("session=").expect("the session cookie");
        value.split(';').next().unwrap_or_default()
    }

    #[test]
    fn nothing_is_sent_for_a_visitor_whose_session_is_untouched() {
        let policy = Arc::new(policy(SessionConfig::default()));
        let decision = policy.decide(&session_from(&policy, None), None).unwrap();
        assert_eq!(decision, Decision::default());
    }

    #[test]
    fn a_change_is_sent_and_varies_the_response_and_a_read_only_varies_it() {
        let policy = Arc::new(policy(SessionConfig::default()));
        let session = session_from(&policy, None);
        session.insert("email", "a@b.c").unwrap();
        let decision = policy.decide(&session, None).unwrap();
        assert!(decision.vary_cookie);
        let cookie = cookie_of(&decision).to_owned();
        // Flask's browser-session cookie: no Expires for a session that is not permanent.
        assert!(!decision.set_cookie.as_deref().unwrap().contains("Expires="));

        let read_only = session_from(&policy, Some(&cookie));
        assert_eq!(read_only.get::<String>("email").as_deref(), Some("a@b.c"));
        let decision = policy.decide(&read_only, Some(&cookie)).unwrap();
        assert_eq!(
            decision,
            Decision {
                vary_cookie: true,
                set_cookie: None
            }
        );
    }

    #[test]
    fn an_emptied_session_sends_the_deletion_cookie() {
        let policy = Arc::new(policy(SessionConfig::default()));
        let session = session_from(&policy, None);
        session.insert("n", &1).unwrap();
        let cookie = cookie_of(&policy.decide(&session, None).unwrap()).to_owned();
        let session = session_from(&policy, Some(&cookie));
        session.clear();
        let decision = policy.decide(&session, Some(&cookie)).unwrap();
        assert!(decision
            .set_cookie
            .as_deref()
            .unwrap()
            .starts_with("session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0"));
    }

    #[test]
    fn an_untouched_permanent_session_is_re_sent_unless_refresh_is_off() {
        let policy_on = Arc::new(policy(SessionConfig::default()));
        let session = session_from(&policy_on, None);
        session.set_permanent(true);
        let cookie = cookie_of(&policy_on.decide(&session, None).unwrap()).to_owned();
        let untouched = session_from(&policy_on, Some(&cookie));
        assert!(policy_on
            .decide(&untouched, Some(&cookie))
            .unwrap()
            .set_cookie
            .is_some());

        let policy_off = Arc::new(policy(SessionConfig {
            refresh_each_request: false,
            ..SessionConfig::default()
        }));
        let untouched = session_from(&policy_off, Some(&cookie));
        assert_eq!(
            policy_off.decide(&untouched, Some(&cookie)).unwrap(),
            Decision::default()
        );
    }

    #[test]
    fn an_oversized_cookie_is_reported_with_its_largest_key() {
        let policy = Arc::new(policy(SessionConfig::default()));
        let session = session_from(&policy, None);
        // Text zlib cannot shrink much: letters from a linear congruential generator.
        let mut state = 12_345u32;
        let noise: String = (0..6000)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                char::from(b'a' + u8::try_from((state >> 16) % 26).unwrap())
            })
            .collect();
        session.insert("blob", &noise).unwrap();
        session.insert("small", &1).unwrap();
        let Failure {
            failure: SessionFailure::CookieTooLarge(oversized),
            ..
        } = policy.decide(&session, None).unwrap_err()
        else {
            panic!("an oversized cookie")
        };
        assert!(oversized.size > oversized.limit);
        assert_eq!(
            oversized.largest_keys.first().map(|(k, _)| k.as_str()),
            Some("blob")
        );
    }
}
