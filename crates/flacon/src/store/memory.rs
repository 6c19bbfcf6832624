//! [`MemoryStore`]: sessions in this process's memory, bounded.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Record, ScanPage, SessionId, SessionStore, StoreError};

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
    records: HashMap<SessionId, Record>,
    /// (expires_at, id), to find expired and soonest-expiring records in order.
    by_expiry: BTreeSet<(u64, SessionId)>,
    /// The per-user index: user, then each session id with its sign-in time.
    users: HashMap<String, BTreeMap<SessionId, u64>>,
}

impl Inner {
    fn live(&self, id: &SessionId, now: u64) -> Option<&Record> {
        self.records.get(id).filter(|r| r.expires_at > now)
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
        let record = self.records.remove(id)?;
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

    fn put(&mut self, id: &SessionId, record: Record) {
        self.take(id);
        self.by_expiry.insert((record.expires_at, id.clone()));
        self.records.insert(id.clone(), record);
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

impl SessionStore for MemoryStore {
    async fn create(&self, id: &SessionId, record: &Record, now: u64) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.live(id, now).is_some() {
            return Ok(false);
        }
        inner.make_room(self.capacity, now);
        inner.put(id, record.clone());
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
        inner.put(id, record.clone());
        Ok(true)
    }

    async fn touch(&self, id: &SessionId, expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(record) = inner.live(id, now).cloned() else {
            return Ok(false);
        };
        inner.put(
            id,
            Record {
                expires_at,
                ..record
            },
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
        inner.put(new, record);
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
