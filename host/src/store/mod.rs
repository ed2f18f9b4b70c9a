//! Where credential values live.
//!
//! Every backend implements the small, blocking [`CredentialStore`] trait.
//! [`Vault`] wraps a backend for async callers: it runs each call on a blocking
//! thread and bounds keychain calls with a timeout, because a keychain daemon
//! can stop answering and must not hang the host.

mod file;
mod keychain;
mod memory;
mod select;

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::name::CredentialName;

pub use file::{FileStore, PASSPHRASE_ENV};
pub use keychain::{KEYCHAIN_SERVICE, KeychainStore};
pub use memory::MemoryStore;
pub use select::{OpenedStore, STORE_ENV, StoreConfig, StoreKind, TIMEOUT_ENV, open_store, vault_metadata_path};

/// A backend that stores credential values by name.
///
/// Calls may block on I/O or on another process. Implementations never put a
/// secret value into an error.
pub trait CredentialStore: Send + Sync {
    /// Returns the backend's short name for scripts: `os`, `file` or `memory`.
    fn kind(&self) -> &'static str;

    /// Describes the backend for people, such as `the OS keychain (Secret Service)`.
    fn description(&self) -> String;

    /// Returns whether calls can wait on another process and so need a timeout.
    fn needs_timeout(&self) -> bool;

    /// Reads the value stored under `name`, or `None` when there is none.
    ///
    /// # Errors
    ///
    /// Returns a [`StoreError`] when the backend cannot be read.
    fn get(&self, name: &CredentialName) -> Result<Option<SecretString>, StoreError>;

    /// Stores `value` under `name`, replacing any previous value.
    ///
    /// # Errors
    ///
    /// Returns a [`StoreError`] when the backend cannot be written. The
    /// previous value is then unchanged.
    fn set(&self, name: &CredentialName, value: &SecretString) -> Result<(), StoreError>;

    /// Deletes the value under `name`; returns whether there was one.
    ///
    /// # Errors
    ///
    /// Returns a [`StoreError`] when the backend cannot be written.
    fn delete(&self, name: &CredentialName) -> Result<bool, StoreError>;

    /// Lists the stored names in ascending order.
    ///
    /// # Errors
    ///
    /// Returns a [`StoreError`] when the backend cannot be read.
    fn list(&self) -> Result<Vec<CredentialName>, StoreError>;
}

/// A failure of a credential store. Messages never contain a secret value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached, such as a keychain daemon that is not
    /// running.
    #[error("{0}")]
    Unavailable(String),
    /// The store is reachable but locked.
    #[error("{0}")]
    Locked(String),
    /// The store did not answer in time.
    #[error(
        "the credential store did not answer within {} s; check that the keychain is running and unlocked, or raise {TIMEOUT_ENV}",
        .0.as_secs_f64()
    )]
    TimedOut(Duration),
    /// Stored data is damaged or ambiguous.
    #[error("{0}")]
    Corrupt(String),
    /// The store rejected the value or the request, such as a value over a
    /// platform's size limit.
    #[error("{0}")]
    Rejected(String),
}

/// An async handle to a credential store.
#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn CredentialStore>,
    timeout: Duration,
}

impl Vault {
    /// Wraps `store`; keychain calls that take longer than `timeout` fail with
    /// [`StoreError::TimedOut`].
    pub fn new(store: Arc<dyn CredentialStore>, timeout: Duration) -> Self {
        Self { store, timeout }
    }

    /// Returns the wrapped store.
    pub fn store(&self) -> &Arc<dyn CredentialStore> {
        &self.store
    }

    /// Reads the value stored under `name` off the async executor.
    ///
    /// # Errors
    ///
    /// Returns what [`CredentialStore::get`] returns, or
    /// [`StoreError::TimedOut`].
    pub async fn get(&self, name: &CredentialName) -> Result<Option<SecretString>, StoreError> {
        let name = name.clone();
        self.call(move |store| store.get(&name)).await
    }

    /// Stores `value` under `name` off the async executor.
    ///
    /// # Errors
    ///
    /// Returns what [`CredentialStore::set`] returns, or
    /// [`StoreError::TimedOut`]. After a timeout the write may still
    /// complete in the background.
    pub async fn set(&self, name: &CredentialName, value: SecretString) -> Result<(), StoreError> {
        let name = name.clone();
        self.call(move |store| store.set(&name, &value)).await
    }

    /// Deletes the value under `name` off the async executor; returns
    /// whether there was one.
    ///
    /// # Errors
    ///
    /// Returns what [`CredentialStore::delete`] returns, or
    /// [`StoreError::TimedOut`].
    pub async fn delete(&self, name: &CredentialName) -> Result<bool, StoreError> {
        let name = name.clone();
        self.call(move |store| store.delete(&name)).await
    }

    /// Lists the stored names off the async executor.
    ///
    /// # Errors
    ///
    /// Returns what [`CredentialStore::list`] returns, or
    /// [`StoreError::TimedOut`].
    pub async fn list(&self) -> Result<Vec<CredentialName>, StoreError> {
        self.call(|store| store.list()).await
    }

    /// Runs `operation` on a blocking thread, under the timeout when the
    /// store needs one.
    async fn call<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&dyn CredentialStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = Arc::clone(&self.store);
        let task = tokio::task::spawn_blocking(move || operation(store.as_ref()));
        let joined = if self.store.needs_timeout() {
            tokio::time::timeout(self.timeout, task)
                .await
                .map_err(|_elapsed| StoreError::TimedOut(self.timeout))?
        } else {
            task.await
        };
        joined.map_err(|err| StoreError::Unavailable(format!("the credential store call failed: {err}")))?
    }
}
