//! The operating system's keychain, through the keyring-core ecosystem:
//! Secret Service on Linux, Keychain on macOS and Credential Manager on
//! Windows.
//!
//! Each credential is one keychain item with service [`KEYCHAIN_SERVICE`] and
//! the credential name as its user (account).

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::{CredentialStore as KeyringStore, Entry, Error as KeyringError};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

use super::{CredentialStore, StoreError};
use crate::name::CredentialName;

/// The keychain service under which every Lahat credential is stored.
pub const KEYCHAIN_SERVICE: &str = "lahat";

const UNAVAILABLE_HINT: &str = "start a Secret Service provider such as gnome-keyring or KeePassXC, or use the encrypted vault file with `--store file`";

/// The platform keychain.
pub struct KeychainStore {
    store: Arc<KeyringStore>,
}

impl KeychainStore {
    /// Connects to the platform keychain. On Linux this opens a D-Bus session
    /// connection to the Secret Service, which takes a few milliseconds, so
    /// callers connect only when they need a credential.
    ///
    /// # Errors
    ///
    /// Returns [`StoreError::Unavailable`] when no keychain answers, such as
    /// on a Linux machine with no D-Bus session or no Secret Service provider.
    pub fn connect() -> Result<Self, StoreError> {
        let store = platform_store().map_err(|err| {
            StoreError::Unavailable(format!(
                "no OS keychain is reachable ({}); {UNAVAILABLE_HINT}",
                describe(&err)
            ))
        })?;
        Ok(Self { store })
    }

    fn entry(&self, name: &CredentialName) -> Result<Entry, StoreError> {
        let label = format!("Lahat credential {name}");
        let modifiers = HashMap::from([("label", label.as_str())]);
        Entry::new_in_store_with_modifiers(&self.store, KEYCHAIN_SERVICE, name.as_str(), &modifiers)
            .or_else(|_| Entry::new_in_store(&self.store, KEYCHAIN_SERVICE, name.as_str()))
            .map_err(|err| map_error(err, name))
    }
}

#[cfg(target_os = "linux")]
fn platform_store() -> keyring_core::Result<Arc<KeyringStore>> {
    let store: Arc<KeyringStore> = dbus_secret_service_keyring_store::Store::new()?;
    Ok(store)
}

// NOTE: the macOS and Windows stores below are written against their crates'
// documented constructors but are not built or tested by this project's CI,
// which runs on Linux only.
#[cfg(target_os = "macos")]
fn platform_store() -> keyring_core::Result<Arc<KeyringStore>> {
    let store: Arc<KeyringStore> = apple_native_keyring_store::keychain::Store::new()?;
    Ok(store)
}

#[cfg(target_os = "windows")]
fn platform_store() -> keyring_core::Result<Arc<KeyringStore>> {
    let store: Arc<KeyringStore> = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_store() -> keyring_core::Result<Arc<KeyringStore>> {
    Err(KeyringError::NotSupportedByStore(
        "this operating system has no supported keychain".to_owned(),
    ))
}

impl KeychainStore {
    /// Reads an item that another program stored under `service` and
    /// `account`. Items are matched by the `account` attribute that
    /// Electron's keytar writes on Linux and by keyring's `username`
    /// attribute.
    ///
    /// # Errors
    ///
    /// Returns [`StoreError::Corrupt`] when several items match or the value
    /// is not UTF-8, and what [`CredentialStore::get`] returns otherwise.
    pub fn read_foreign(&self, service: &str, account: &str) -> Result<Option<SecretString>, StoreError> {
        let entries = self.find_foreign(service, account)?;
        match entries.as_slice() {
            [] => Ok(None),
            [entry] => match entry.get_password() {
                Ok(value) => Ok(Some(SecretString::from(value))),
                Err(KeyringError::NoEntry) => Ok(None),
                Err(KeyringError::BadEncoding(mut bytes)) => {
                    bytes.zeroize();
                    Err(StoreError::Corrupt(format!(
                        "the keychain item {service}/{account} is not valid UTF-8"
                    )))
                }
                Err(err) => Err(map_store_error(err)),
            },
            several => Err(StoreError::Corrupt(format!(
                "{} keychain items match {service}/{account}; delete the extra ones with your keychain's manager",
                several.len()
            ))),
        }
    }

    /// Deletes the items that [`KeychainStore::read_foreign`] reads; returns
    /// how many there were.
    ///
    /// # Errors
    ///
    /// Returns a [`StoreError`] when the keychain fails.
    pub fn delete_foreign(&self, service: &str, account: &str) -> Result<usize, StoreError> {
        let entries = self.find_foreign(service, account)?;
        for entry in &entries {
            match entry.delete_credential() {
                Ok(()) | Err(KeyringError::NoEntry) => {}
                Err(err) => return Err(map_store_error(err)),
            }
        }
        Ok(entries.len())
    }

    fn find_foreign(&self, service: &str, account: &str) -> Result<Vec<Entry>, StoreError> {
        let mut found = Vec::new();
        for attribute in ["account", "username"] {
            let query = HashMap::from([("service", service), (attribute, account)]);
            match self.store.search(&query) {
                Ok(entries) => found = entries,
                Err(KeyringError::NotSupportedByStore(_)) => {}
                Err(err) => return Err(map_store_error(err)),
            }
            if !found.is_empty() {
                break;
            }
        }
        if found.is_empty() {
            // Stores that cannot search, such as Windows Credential Manager,
            // address items by service and user directly.
            if let Ok(entry) = Entry::new_in_store(&self.store, service, account) {
                match entry.get_password() {
                    Err(KeyringError::NoEntry) => {}
                    _ => found.push(entry),
                }
            }
        }
        Ok(found)
    }
}

impl CredentialStore for KeychainStore {
    fn kind(&self) -> &'static str {
        "os"
    }

    fn description(&self) -> String {
        if cfg!(target_os = "linux") {
            "the OS keychain (Secret Service)".to_owned()
        } else if cfg!(target_os = "macos") {
            "the OS keychain (macOS Keychain)".to_owned()
        } else {
            "the OS keychain (Windows Credential Manager)".to_owned()
        }
    }

    fn needs_timeout(&self) -> bool {
        true
    }

    fn get(&self, name: &CredentialName) -> Result<Option<SecretString>, StoreError> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(SecretString::from(value))),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(err) => Err(map_error(err, name)),
        }
    }

    fn set(&self, name: &CredentialName, value: &SecretString) -> Result<(), StoreError> {
        if cfg!(target_os = "windows") {
            check_windows_size(name, value.expose_secret())?;
        }
        self.entry(name)?
            .set_password(value.expose_secret())
            .map_err(|err| map_error(err, name))
    }

    fn delete(&self, name: &CredentialName) -> Result<bool, StoreError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            // Several items for one name (older keyring versions could
            // leave them) cannot be told apart, so deleting removes them all.
            Err(KeyringError::Ambiguous(entries)) => {
                for entry in entries {
                    match entry.delete_credential() {
                        Ok(()) | Err(KeyringError::NoEntry) => {}
                        Err(err) => return Err(map_error(err, name)),
                    }
                }
                Ok(true)
            }
            Err(err) => Err(map_error(err, name)),
        }
    }

    fn list(&self) -> Result<Vec<CredentialName>, StoreError> {
        let query = HashMap::from([("service", KEYCHAIN_SERVICE)]);
        let entries = self.store.search(&query).map_err(|err| match err {
            KeyringError::NotSupportedByStore(_) => StoreError::Rejected(
                "this keychain cannot list its items; use `--store file` to keep a listable vault".to_owned(),
            ),
            other => map_store_error(other),
        })?;
        let mut names: Vec<CredentialName> = entries
            .iter()
            .filter_map(Entry::get_specifiers)
            .filter(|(service, _)| service == KEYCHAIN_SERVICE)
            // NOTE: items under this service whose account is not a valid name
            // were written by something other than Lahat and are not listed.
            .filter_map(|(_, user)| CredentialName::parse(&user).ok())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

/// The largest secret Windows Credential Manager stores, in bytes
/// (`CRED_MAX_CREDENTIAL_BLOB_SIZE`, 5 * 512); keyring stores a password as
/// UTF-16, two bytes per code unit.
const WINDOWS_MAX_BLOB_BYTES: usize = 5 * 512;

/// Rejects a value that Windows Credential Manager cannot hold, before
/// anything is written.
fn check_windows_size(name: &CredentialName, value: &str) -> Result<(), StoreError> {
    let bytes = value.encode_utf16().count() * 2;
    if bytes > WINDOWS_MAX_BLOB_BYTES {
        return Err(StoreError::Rejected(format!(
            "the value for {name} takes {bytes} bytes as UTF-16, and Windows Credential Manager stores at most {WINDOWS_MAX_BLOB_BYTES} (about {} characters); use `--store file` for larger values",
            WINDOWS_MAX_BLOB_BYTES / 2
        )));
    }
    Ok(())
}

/// Converts a keyring error without ever formatting the raw bytes that some
/// variants carry.
fn map_error(err: KeyringError, name: &CredentialName) -> StoreError {
    match err {
        KeyringError::BadEncoding(mut bytes) => {
            bytes.zeroize();
            StoreError::Corrupt(format!(
                "the keychain item for {name} is not valid UTF-8; store the value again with `lahat credential set {name}`"
            ))
        }
        KeyringError::BadDataFormat(mut bytes, _) => {
            bytes.zeroize();
            StoreError::Corrupt(format!(
                "the keychain item for {name} is malformed; store the value again with `lahat credential set {name}`"
            ))
        }
        KeyringError::Ambiguous(items) => StoreError::Corrupt(format!(
            "the keychain holds {} items for {name} under service {KEYCHAIN_SERVICE:?}; `lahat credential delete {name}` removes them all, then store the value again",
            items.len()
        )),
        KeyringError::TooLong(field, limit) => StoreError::Rejected(format!(
            "the keychain rejected {name}: `{field}` is longer than the platform limit of {limit}"
        )),
        other => map_store_error(other),
    }
}

fn map_store_error(err: KeyringError) -> StoreError {
    match err {
        KeyringError::NoStorageAccess(_) => StoreError::Locked(format!(
            "the OS keychain is locked or refused access ({}); unlock it and try again",
            describe(&err)
        )),
        KeyringError::PlatformFailure(_) | KeyringError::NoDefaultStore => {
            StoreError::Unavailable(format!("the OS keychain failed ({}); {UNAVAILABLE_HINT}", describe(&err)))
        }
        KeyringError::BadEncoding(mut bytes) | KeyringError::BadDataFormat(mut bytes, _) => {
            bytes.zeroize();
            StoreError::Corrupt("a keychain item is malformed".to_owned())
        }
        other => StoreError::Rejected(format!("the OS keychain rejected the request ({})", describe(&other))),
    }
}

/// Describes a keyring error through its source chain only, for the variants
/// whose payload carries no secret.
fn describe(err: &KeyringError) -> String {
    match err {
        KeyringError::PlatformFailure(inner) | KeyringError::NoStorageAccess(inner) => inner.to_string(),
        KeyringError::NoDefaultStore => "no keychain is configured".to_owned(),
        KeyringError::NotSupportedByStore(reason) => reason.clone(),
        KeyringError::Invalid(field, reason) => format!("`{field}` is invalid: {reason}"),
        KeyringError::BadStoreFormat(reason) => reason.clone(),
        _ => "unexpected keychain error".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_size_limit_is_exact() {
        let name = CredentialName::parse("big.value").unwrap();
        assert!(check_windows_size(&name, &"a".repeat(1280)).is_ok(), "1280 UTF-16 units fit");
        let err = check_windows_size(&name, &"a".repeat(1281)).unwrap_err();
        assert!(err.to_string().contains("2562 bytes"), "{err}");
        assert!(err.to_string().contains("--store file"), "{err}");
        // A character outside the Basic Multilingual Plane takes two units.
        assert!(check_windows_size(&name, &"\u{1f511}".repeat(641)).is_err());
    }
}
