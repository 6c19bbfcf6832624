//! Who is signed in: [`Session::login`], [`Session::user`], [`Session::logout`].
//!
//! The user id lives under Flask-Login's own keys (`_user_id`, `_fresh`), so a session
//! signed in by flacon is signed in for a Flask-Login app sharing it, and back. flacon's own
//! bookkeeping beside it: when the sign-in happened (`_flacon_login`, Unix milliseconds, what
//! "void before" revocations compare with) and, for cookie sessions, a random id that a
//! single-session logout denies (`_flacon_sid`).

use super::{Ended, Session, SessionUnavailable};
use crate::value::{Map, Value};

/// Flask-Login's key for the signed-in user's id.
pub const USER_KEY: &str = "_user_id";
/// Flask-Login's key saying the login happened in this session (not from a remember cookie).
pub const FRESH_KEY: &str = "_fresh";
/// When the user signed in, in Unix milliseconds.
pub(crate) const LOGIN_KEY: &str = "_flacon_login";
/// Flask-WTF's session key for the CSRF secret (`WTF_CSRF_FIELD_NAME`'s default), dropped
/// at sign-in so that a token handed out before it (to a fixated session) is void after.
pub(crate) const CSRF_SECRET_KEY: &str = "csrf_token";
/// A cookie session's own random id, which a logout denies until the cookie would expire.
pub(crate) const TOKEN_KEY: &str = "_flacon_sid";

/// The signed-in user of a session's data: Flask-Login's `_user_id` (a string, or a number
/// an older app stored).
pub(crate) fn user_of(data: &Map) -> Option<String> {
    match data.get(USER_KEY)? {
        // Flask-Login restoring a login from flacon's remember-me cookie stores the token's
        // payload, `user|issued.id`, as the user id.
        Value::Str(user) if !user.is_empty() => {
            Some(split_stamp(user).map_or_else(|| user.clone(), |(user, _, _)| user.to_owned()))
        }
        Value::Int(user) => Some(user.to_string()),
        _ => None,
    }
}

/// A remember-me token's payload as flacon writes it, `user|issued_ms.id` (a 22-character
/// base64url id), split into its parts; `None` for anything else.
pub(crate) fn split_stamp(payload: &str) -> Option<(&str, u64, &str)> {
    let (user, stamp) = payload.rsplit_once('|')?;
    let (issued, id) = stamp.split_once('.')?;
    let base64url = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let well_formed = !user.is_empty()
        && !issued.is_empty()
        && issued.len() <= 15
        && issued.bytes().all(|c| c.is_ascii_digit())
        && id.len() == 22
        && id.bytes().all(base64url);
    well_formed
        .then(|| Some((user, issued.parse().ok()?, id)))
        .flatten()
}

/// The time a session's user signed in (Unix milliseconds), if flacon recorded it.
pub(crate) fn login_time_of(data: &Map) -> Option<u64> {
    match data.get(LOGIN_KEY)? {
        Value::Int(at) => u64::try_from(*at).ok(),
        _ => None,
    }
}

#[cfg(feature = "tokio")]
/// How many times the user had been logged out everywhere when this session signed in
/// (signed cookies with a revocation registry): a later "log out everywhere" voids it by
/// count, whatever the clocks of the processes say.
pub(crate) const GENERATION_KEY: &str = "_flacon_gen";

#[cfg(feature = "tokio")]
/// The count a session's sign-in recorded, if it did.
pub(crate) fn generation_of(data: &Map) -> Option<u64> {
    match data.get(GENERATION_KEY)? {
        Value::Int(count) => u64::try_from(*count).ok(),
        _ => None,
    }
}

/// A cookie session's random id, if it has one.
#[cfg(feature = "tokio")]
pub(crate) fn token_of(data: &Map) -> Option<&str> {
    match data.get(TOKEN_KEY)? {
        Value::Str(token) => Some(token),
        _ => None,
    }
}

impl Session {
    /// Signs `user_id` in: stored as Flask-Login stores it (`_user_id`, `_fresh`), the CSRF
    /// secret of Flask-WTF's default field dropped (forms served before the sign-in no longer
    /// post; see [`Csrf::rotate`](crate::csrf::Csrf::rotate) for another field), and, at
    /// the end of the request, the layer records when, starts the absolute timeout afresh,
    /// gives a server-side session a new id (against fixation) and files it in the store's
    /// per-user index.
    ///
    /// ```
    /// let session = flacon::Session::detached();
    /// session.login("ada");
    /// assert_eq!(session.user().as_deref(), Some("ada"));
    /// ```
    pub fn login(&self, user_id: &str) {
        self.update(|data| {
            data.shift_remove(CSRF_SECRET_KEY);
            data.insert(USER_KEY.to_owned(), Value::from(user_id));
            data.insert(FRESH_KEY.to_owned(), Value::Bool(true));
        });
        let mut state = self.lock();
        state.modified = true;
        state.login = true;
        state.cycle_id = true;
    }

    /// The signed-in user's id, if any (Flask-Login's `current_user.get_id()`).
    pub fn user(&self) -> Option<String> {
        self.read(user_of)
    }

    /// Ends this session for good: its data is cleared, and the layer revokes it now (a
    /// server-side record is deleted and taken out of its user's index; a signed cookie's id
    /// is denied in the revocation registry, when one is configured, so that a copy of the
    /// cookie replayed later opens an empty session). An error means the revocation could
    /// not be recorded: nothing is written, and the user is still signed in.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let session = flacon::Session::detached();
    /// session.login("ada");
    /// session.logout().await.unwrap();
    /// assert_eq!(session.user(), None);
    /// assert!(session.is_empty());
    /// # }
    /// ```
    pub async fn logout(&self) -> Result<(), SessionUnavailable> {
        let (ender, ended) = {
            let mut state = self.lock();
            if state.failed {
                return Err(SessionUnavailable);
            }
            state.accessed = true;
            let data = std::mem::take(state.load());
            state.modified = true;
            state.login = false;
            state.cycle_id = false;
            let ended = Ended {
                data,
                id: state.stored_id.clone(),
            };
            (state.hooks.ender.clone(), ended)
        };
        let Some(ender) = ender else {
            return Ok(());
        };
        ender(ended).await.map_err(|cause| {
            self.lock().fail(cause);
            SessionUnavailable
        })
    }
}
