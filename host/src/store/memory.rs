//! An in-memory store for unit tests and benchmarks. It keeps nothing after
//! the process ends.

use std::collections::BTreeMap;
use std::sync::Mutex;

use secrecy::SecretString;

use super::{CredentialStore, StoreError};
use crate::name::CredentialName;

/// A store that keeps values in process memory, with an optional injected
/// failure for tests of error paths.
#[derive(Default)]
pub struct MemoryStore {
    values: Mutex<BTreeMap<CredentialName, SecretString>>,
    failure: Mutex<Option<String>>,
    reads: std::sync::atomic::AtomicUsize,
}

impl MemoryStore {
    /// Creates an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later call fail with [`StoreError::Unavailable`] carrying
    /// `message`, or succeed again when `message` is `None`.
    pub fn fail_with(&self, message: Option<&str>) {
        *lock(&self.failure) = message.map(str::to_owned);
    }

    /// Returns how many times [`CredentialStore::get`] was called.
    pub fn read_count(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn check_failure(&self) -> Result<(), StoreError> {
        match lock(&self.failure).as_ref() {
            Some(message) => Err(StoreError::Unavailable(message.clone())),
            None => Ok(()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the map half-updated, because
    // each method does one map operation, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl CredentialStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn description(&self) -> String {
        "the in-memory store".to_owned()
    }

    fn needs_timeout(&self) -> bool {
        false
    }

    fn get(&self, name: &CredentialName) -> Result<Option<SecretString>, StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.check_failure()?;
        Ok(lock(&self.values).get(name).cloned())
    }

    fn set(&self, name: &CredentialName, value: &SecretString) -> Result<(), StoreError> {
        self.check_failure()?;
        lock(&self.values).insert(name.clone(), value.clone());
        Ok(())
    }

    fn delete(&self, name: &CredentialName) -> Result<bool, StoreError> {
        self.check_failure()?;
        Ok(lock(&self.values).remove(name).is_some())
    }

    fn list(&self) -> Result<Vec<CredentialName>, StoreError> {
        self.check_failure()?;
        Ok(lock(&self.values).keys().cloned().collect())
    }
}
