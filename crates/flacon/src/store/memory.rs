//! [`MemoryStore`]: sessions in this process's memory, bounded.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Record, SaveOutcome, ScanPage, SessionId, SessionStore, StoreError, Version};

/// Sessions in memory, for one process and for tests. Holds at most `capacity` sessions:
/// expired ones are dropped first, then those closest to expiry, so memory never grows
/// without bound. Everything is lost on restart.
///
/// ```
/// use flacon::store::MemoryStore;
/// let store = MemoryStore::new(10_000);
/// # let _ = store;
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Each record with its version: a number no earlier write of it had.
    records: HashMap<SessionId, (Record, u64)>,
    /// (expires_at, id), to find expired and soonest-expiring records in order.
    by_expiry: BTreeSet<(u64, SessionId)>,
    /// The per-user index: user, then each session id with its sign-in time.
    users: HashMap<String, BTreeMap<SessionId, u64>>,
    next_version: u64,
    /// The per-session locks: the holder's token and when its hold runs out (Unix ms).
    locks: HashMap<SessionId, (String, u64)>,
}

impl Inner {
    fn live(&self, id: &SessionId, now: u64) -> Option<&Record> {
        self.live_versioned(id, now).map(|(record, _)| record)
    }

    fn live_versioned(&self, id: &SessionId, now: u64) -> Option<(&Record, u64)> {
        let (record, version) = self.records.get(id)?;
        (record.expires_at > now).then_some((record, *version))
    }

    /// Removes a record for good, and its entry in the per-user index.
    fn remove(&mut self, id: &SessionId) -> Option<Record> {
        let record = self.take(id)?;
        if let Some(user) = crate::session::user_of(&record.data) {
            self.unindex(&user, id);
        }
        Some(record)
    }

    /// Takes a record out to put it back or elsewhere.
    fn take(&mut self, id: &SessionId) -> Option<Record> {
        let (record, _) = self.records.remove(id)?;
        self.by_expiry.remove(&(record.expires_at, id.clone()));
        Some(record)
    }

    fn unindex(&mut self, user: &str, id: &SessionId) {
        if let Some(ids) = self.users.get_mut(user) {
            ids.remove(id);
            if ids.is_empty() {
                self.users.remove(user);
            }
        }
    }

    /// Stores `record` under `id` at a new version (or at `version`, for a write that does
    /// not change the data).
    fn put(&mut self, id: &SessionId, record: Record, version: Option<u64>) -> u64 {
        self.take(id);
        self.by_expiry.insert((record.expires_at, id.clone()));
        let version = version.unwrap_or_else(|| {
            self.next_version += 1;
            self.next_version
        });
        self.records.insert(id.clone(), (record, version));
        version
    }

    fn purge_expired(&mut self, now: u64, limit: usize) -> usize {
        let expired: Vec<SessionId> = self
            .by_expiry
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .map(|(_, id)| id.clone())
            .collect();
        for id in &expired {
            self.remove(id);
        }
        expired.len()
    }

    fn make_room(&mut self, capacity: usize, now: u64) {
        if self.records.len() < capacity {
            return;
        }
        self.purge_expired(now, usize::MAX);
        while self.records.len() >= capacity {
            let Some((_, id)) = self.by_expiry.iter().next().cloned() else {
                break;
            };
            self.remove(&id);
        }
    }
}

impl MemoryStore {
    /// A store holding at most `capacity` sessions (at least one).
    pub fn new(capacity: usize) -> Self {
        MemoryStore {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many sessions are held (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(100_000)
    }
}

fn version_of(number: u64) -> Version {
    Version::new(number.to_be_bytes().to_vec())
}

impl SessionStore for MemoryStore {
    async fn create(&self, id: &SessionId, record: &Record, now: u64) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.live(id, now).is_some() {
            return Ok(false);
        }
        inner.make_room(self.capacity, now);
        inner.put(id, record.clone(), None);
        Ok(true)
    }

    async fn load(
        &self,
        id: &SessionId,
        _refresh_to: Option<u64>,
        now: u64,
    ) -> Result<Option<Record>, StoreError> {
        Ok(self.lock().live(id, now).cloned())
    }

    async fn save(&self, id: &SessionId, record: &Record, now: u64) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.live(id, now).is_none() {
            return Ok(false);
        }
        inner.put(id, record.clone(), None);
        Ok(true)
    }

    async fn load_versioned(
        &self,
        id: &SessionId,
        _refresh_to: Option<u64>,
        now: u64,
    ) -> Result<Option<(Record, Version)>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .live_versioned(id, now)
            .map(|(record, version)| (record.clone(), version_of(version))))
    }

    async fn save_if(
        &self,
        id: &SessionId,
        record: &Record,
        expected: &Version,
        now: u64,
    ) -> Result<SaveOutcome, StoreError> {
        let mut inner = self.lock();
        let Some((_, version)) = inner.live_versioned(id, now) else {
            return Ok(SaveOutcome::Gone);
        };
        if version_of(version) != *expected {
            return Ok(SaveOutcome::Changed);
        }
        let version = inner.put(id, record.clone(), None);
        Ok(SaveOutcome::Saved(version_of(version)))
    }

    async fn try_lock(
        &self,
        id: &SessionId,
        token: &str,
        until_ms: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if let Some((holder, held_until)) = inner.locks.get(id) {
            if holder != token && *held_until > now_ms {
                return Ok(false);
            }
        }
        // Holds that ran out are dropped here too, so the map stays as small as the
        // number of sessions locked right now.
        if inner.locks.len() > 1024 {
            inner.locks.retain(|_, (_, until)| *until > now_ms);
        }
        inner.locks.insert(id.clone(), (token.to_owned(), until_ms));
        Ok(true)
    }

    async fn unlock(&self, id: &SessionId, token: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner
            .locks
            .get(id)
            .is_some_and(|(holder, _)| holder == token)
        {
            inner.locks.remove(id);
        }
        Ok(())
    }

    async fn touch(&self, id: &SessionId, expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some((record, version)) = inner
            .live_versioned(id, now)
            .map(|(record, version)| (record.clone(), version))
        else {
            return Ok(false);
        };
        // The data does not change: a save that loaded it still lands.
        inner.put(
            id,
            Record {
                expires_at,
                ..record
            },
            Some(version),
        );
        Ok(true)
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        self.lock().remove(id);
        Ok(())
    }

    async fn change_id(
        &self,
        old: &SessionId,
        new: &SessionId,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.records.contains_key(new) || inner.live(old, now).is_none() {
            return Ok(false);
        }
        let Some(record) = inner.take(old) else {
            return Ok(false);
        };
        inner.put(new, record, None);
        Ok(true)
    }

    async fn delete_expired(&self, now: u64) -> Result<usize, StoreError> {
        Ok(self.lock().purge_expired(now, 10_000))
    }

    async fn scan(&self, cursor: Option<String>, page_size: usize) -> Result<ScanPage, StoreError> {
        let inner = self.lock();
        let mut ids: Vec<&SessionId> = inner
            .records
            .keys()
            .filter(|id| cursor.as_deref().is_none_or(|c| id.as_str() > c))
            .collect();
        ids.sort();
        let page = ids.into_iter().take(page_size.max(1)).cloned().collect();
        Ok(ScanPage::ordered(page, page_size))
    }

    async fn index_user_session(
        &self,
        user: &str,
        id: &SessionId,
        created: u64,
        _expires_at: u64,
    ) -> Result<(), StoreError> {
        self.lock()
            .users
            .entry(user.to_owned())
            .or_default()
            .insert(id.clone(), created);
        Ok(())
    }

    async fn user_session_ids(&self, user: &str) -> Result<Vec<(SessionId, u64)>, StoreError> {
        let inner = self.lock();
        let mut ids: Vec<(SessionId, u64)> = inner
            .users
            .get(user)
            .into_iter()
            .flatten()
            .map(|(id, created)| (id.clone(), *created))
            .collect();
        ids.sort_by_key(|(_, created)| *created);
        Ok(ids)
    }

    async fn unindex_user_session(&self, user: &str, id: &SessionId) -> Result<(), StoreError> {
        self.lock().unindex(user, id);
        Ok(())
    }
}
