//! Credential management: secrets in a store plus their metadata, kept
//! consistent.
//!
//! The secret is the record of truth: a credential exists when its secret
//! does. Every change writes the secret first and the metadata second, and
//! every removal deletes the secret first and the metadata second. A crash
//! between the two steps therefore leaves either the old credential or the
//! new one, plus at worst metadata without a secret or a secret without
//! metadata. [`CredentialManager::doctor`] finds and repairs both.

use std::collections::BTreeSet;

use secrecy::SecretString;

use crate::metadata::{CredentialKind, CredentialMetadata, MetadataIndex, MetadataMap, Timestamp};
use crate::name::CredentialName;
use crate::store::{StoreError, Vault};

/// A failure of a management operation.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// The store or the metadata file failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No credential has this name.
    #[error("no credential named {0}; `lahat credential list` shows the stored names")]
    NotFound(CredentialName),
    /// A credential with this name already exists.
    #[error("a credential named {0} already exists; use `lahat credential edit {0}` to change it")]
    AlreadyExists(CredentialName),
}

/// A value and metadata for a new or replaced credential.
pub struct NewCredential {
    /// The secret value.
    pub value: SecretString,
    /// A note for people.
    pub description: Option<String>,
    /// When apps stop receiving it.
    pub expires: Option<Timestamp>,
    /// The creation time to record for a new credential, such as the one an
    /// imported key had; `None` means now.
    pub created: Option<Timestamp>,
    /// The kind of value.
    pub kind: CredentialKind,
}

/// Changes to an existing credential; `None` leaves a field as it is.
#[derive(Default)]
pub struct CredentialChanges {
    /// A new value.
    pub value: Option<SecretString>,
    /// A new description, or `Some(None)` to remove it.
    pub description: Option<Option<String>>,
    /// A new expiry, or `Some(None)` to remove it.
    pub expires: Option<Option<Timestamp>>,
    /// The kind of the new value; set it together with `value`.
    pub kind: Option<CredentialKind>,
}

/// A stored credential and its metadata, which is missing when the secret
/// was written by another program or a crash interrupted a write.
#[derive(Debug, Clone)]
pub struct ListedCredential {
    /// The name.
    pub name: CredentialName,
    /// The metadata, when there is any.
    pub metadata: Option<CredentialMetadata>,
}

/// The findings and repairs of [`CredentialManager::doctor`].
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DoctorReport {
    /// Secrets that had no metadata and got new metadata.
    pub adopted: Vec<CredentialName>,
    /// Metadata entries whose secret was missing, now removed.
    pub removed: Vec<CredentialName>,
    /// Credentials whose secret cannot be read, with the problem and the
    /// fix; doctor changes nothing for them.
    pub damaged: Vec<(CredentialName, String)>,
    /// Temporary files that killed writers left beside the metadata (and,
    /// for the vault file, beside the vault), now deleted. They can contain
    /// encrypted old values.
    pub temporary_files_removed: usize,
}

/// Secrets and metadata, managed together.
#[derive(Clone)]
pub struct CredentialManager {
    vault: Vault,
    index: MetadataIndex,
}

impl CredentialManager {
    /// Manages the credentials in `vault` with metadata in `index`.
    pub fn new(vault: Vault, index: MetadataIndex) -> Self {
        Self { vault, index }
    }

    /// Returns the store.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Returns the metadata file.
    pub fn index(&self) -> &MetadataIndex {
        &self.index
    }

    /// Stores a credential. With `replace` false an existing name is an
    /// error; with `replace` true the value is replaced and the creation time
    /// and usage history are kept.
    ///
    /// # Errors
    ///
    /// Returns [`ManageError::AlreadyExists`] when `replace` is false and the
    /// name is taken, and [`ManageError::Store`] when the store or the
    /// metadata file fails. When the metadata write fails after the secret
    /// was stored, the credential exists and `doctor` adds its metadata.
    pub async fn add(&self, name: &CredentialName, new: NewCredential, replace: bool) -> Result<(), ManageError> {
        let _operation = self.begin_change().await?;
        if !replace && self.vault.get(name).await?.is_some() {
            return Err(ManageError::AlreadyExists(name.clone()));
        }
        self.vault.set(name, new.value).await?;
        let now = Timestamp::now();
        let key = name.clone();
        self.update_index(move |map| {
            let entry = map
                .entry(key)
                .or_insert_with(|| CredentialMetadata::new(new.created.unwrap_or(now)));
            entry.updated = now;
            entry.description = new.description;
            entry.expires = new.expires;
            entry.kind = new.kind;
            Ok(())
        })
        .await
    }

    /// Applies `changes` to an existing credential.
    ///
    /// # Errors
    ///
    /// Returns [`ManageError::NotFound`] when there is no such credential and
    /// [`ManageError::Store`] when the store or the metadata file fails.
    pub async fn edit(&self, name: &CredentialName, changes: CredentialChanges) -> Result<(), ManageError> {
        let _operation = self.begin_change().await?;
        if self.vault.get(name).await?.is_none() {
            return Err(ManageError::NotFound(name.clone()));
        }
        if let Some(value) = changes.value {
            self.vault.set(name, value).await?;
        }
        let now = Timestamp::now();
        let key = name.clone();
        self.update_index(move |map| {
            let entry = map.entry(key).or_insert_with(|| CredentialMetadata::new(now));
            entry.updated = now;
            if let Some(description) = changes.description {
                entry.description = description;
            }
            if let Some(expires) = changes.expires {
                entry.expires = expires;
            }
            if let Some(kind) = changes.kind {
                entry.kind = kind;
            }
            Ok(())
        })
        .await
    }

    /// Deletes a credential and its metadata.
    ///
    /// # Errors
    ///
    /// Returns [`ManageError::NotFound`] when there is no such credential and
    /// [`ManageError::Store`] when the store or the metadata file fails.
    pub async fn delete(&self, name: &CredentialName) -> Result<(), ManageError> {
        let _operation = self.begin_change().await?;
        if !self.vault.delete(name).await? {
            return Err(ManageError::NotFound(name.clone()));
        }
        let key = name.clone();
        self.update_index(move |map| {
            map.remove(&key);
            Ok(())
        })
        .await
    }

    /// Renames a credential, keeping its value and metadata.
    ///
    /// The new secret is written first, then the metadata moves in one file
    /// write, then the old secret is deleted. A crash before the last step
    /// leaves the credential under both names; `lahat credential delete OLD`
    /// finishes the rename.
    ///
    /// # Errors
    ///
    /// Returns [`ManageError::NotFound`] when `old` does not exist,
    /// [`ManageError::AlreadyExists`] when `new` does, and
    /// [`ManageError::Store`] when the store or the metadata file fails.
    pub async fn rename(&self, old: &CredentialName, new: &CredentialName) -> Result<(), ManageError> {
        if old == new {
            return Err(ManageError::AlreadyExists(new.clone()));
        }
        let _operation = self.begin_change().await?;
        let value = self
            .vault
            .get(old)
            .await?
            .ok_or_else(|| ManageError::NotFound(old.clone()))?;
        if self.vault.get(new).await?.is_some() {
            return Err(ManageError::AlreadyExists(new.clone()));
        }
        self.vault.set(new, value).await?;
        let now = Timestamp::now();
        let (old_key, new_key) = (old.clone(), new.clone());
        self.update_index(move |map| {
            let mut metadata = map.remove(&old_key).unwrap_or_else(|| CredentialMetadata::new(now));
            metadata.updated = now;
            map.insert(new_key, metadata);
            Ok(())
        })
        .await?;
        self.vault.delete(old).await?;
        Ok(())
    }

    /// Returns a credential's metadata, `None` inside when its secret has no
    /// metadata.
    ///
    /// # Errors
    ///
    /// Returns [`ManageError::NotFound`] when there is no such credential and
    /// [`ManageError::Store`] when the store or the metadata file fails.
    pub async fn show(&self, name: &CredentialName) -> Result<ListedCredential, ManageError> {
        if self.vault.get(name).await?.is_none() {
            return Err(ManageError::NotFound(name.clone()));
        }
        let metadata = self.load_index().await?.remove(name);
        Ok(ListedCredential {
            name: name.clone(),
            metadata,
        })
    }

    /// Returns a credential's value.
    ///
    /// # Errors
    ///
    /// Returns [`ManageError::NotFound`] when there is no such credential and
    /// [`ManageError::Store`] when the store fails.
    pub async fn reveal(&self, name: &CredentialName) -> Result<SecretString, ManageError> {
        self.vault
            .get(name)
            .await?
            .ok_or_else(|| ManageError::NotFound(name.clone()))
    }

    /// Lists every stored credential with its metadata, sorted by name.
    ///
    /// # Errors
    ///
    /// Returns [`ManageError::Store`] when the store or the metadata file
    /// fails.
    pub async fn list(&self) -> Result<Vec<ListedCredential>, ManageError> {
        let names = self.vault.list().await?;
        let mut index = self.load_index().await?;
        Ok(names
            .into_iter()
            .map(|name| {
                let metadata = index.remove(&name);
                ListedCredential { name, metadata }
            })
            .collect())
    }

    /// Gives metadata to secrets that have none and removes metadata whose
    /// secret is gone.
    ///
    /// # Errors
    ///
    /// Returns [`ManageError::Store`] when the store or the metadata file
    /// fails; nothing is changed then.
    pub async fn doctor(&self) -> Result<DoctorReport, ManageError> {
        let _operation = self.begin_change().await?;
        let secrets: BTreeSet<CredentialName> = self.vault.list().await?.into_iter().collect();
        let mut damaged = Vec::new();
        for name in &secrets {
            if let Err(err @ StoreError::Corrupt(_)) = self.vault.get(name).await {
                damaged.push((name.clone(), err.to_string()));
            }
        }
        let now = Timestamp::now();
        let mut report = self
            .update_index(move |map| {
                let mut report = DoctorReport::default();
                for name in &secrets {
                    if !map.contains_key(name) {
                        map.insert(name.clone(), CredentialMetadata::new(now));
                        report.adopted.push(name.clone());
                    }
                }
                let orphans: Vec<CredentialName> = map.keys().filter(|name| !secrets.contains(*name)).cloned().collect();
                for name in orphans {
                    map.remove(&name);
                    report.removed.push(name);
                }
                Ok(report)
            })
            .await?;
        report.damaged = damaged;
        let folder = crate::fsutil::parent_or_current(self.index.path()).to_owned();
        report.temporary_files_removed = blocking(move || {
            // Writers finish within seconds; an hour-old file has no owner.
            crate::fsutil::remove_stale_temporaries(&folder, std::time::Duration::from_secs(3600)).map_err(|err| {
                StoreError::Unavailable(format!("cannot clean temporary files in {}: {err}", folder.display()))
            })
        })
        .await?;
        Ok(report)
    }

    /// Takes the exclusive operation lock and checks that the metadata file
    /// is readable, so that no change starts that could not finish. The lock
    /// is held until the returned file is dropped; it orders whole
    /// operations of concurrent lahat processes, such as a rename against a
    /// set of the same name.
    async fn begin_change(&self) -> Result<std::fs::File, ManageError> {
        let index = self.index.clone();
        let lock = blocking(move || {
            let lock = index.lock_operations()?;
            index.load()?;
            Ok(lock)
        })
        .await?;
        Ok(lock)
    }

    async fn load_index(&self) -> Result<MetadataMap, StoreError> {
        let index = self.index.clone();
        blocking(move || index.load()).await
    }

    async fn update_index<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut MetadataMap) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ManageError> {
        let index = self.index.clone();
        Ok(blocking(move || index.update(change)).await?)
    }
}

/// Runs a metadata file operation off the async executor.
pub(crate) async fn blocking<T: Send + 'static>(
    operation: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(operation)
        .await
        .map_err(|err| StoreError::Unavailable(format!("the metadata file operation failed: {err}")))?
}
