//! An encrypted vault file for machines with no OS keychain, such as servers,
//! CI runners and SSH sessions.
//!
//! The whole credential map is one JSON document sealed with
//! XChaCha20-Poly1305 under a key derived from the passphrase with Argon2id.
//! The file layout, all integers little-endian:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `LAHATVLT` |
//! | 1 | format version, `1` |
//! | 4, 4, 4 | Argon2id memory cost (KiB), iterations, parallelism |
//! | 16 | Argon2id salt |
//! | 24 | XChaCha20-Poly1305 nonce |
//! | rest | ciphertext of `{"credentials": {NAME: VALUE}}` with its tag |
//!
//! Everything before the ciphertext is authenticated as associated data, so
//! a changed parameter fails decryption like a wrong passphrase does. Writers
//! hold an exclusive lock on a `.lock` file beside the vault, write a new file
//! with mode 0600, flush it to disk and rename it over the old one, so readers
//! see the old or the new vault, never a mix.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{CredentialStore, StoreError};
use crate::fsutil::{create_private_dir, open_private, parent_or_current, write_private_atomically};
use crate::name::CredentialName;

/// The environment variable that supplies the vault file's passphrase.
pub const PASSPHRASE_ENV: &str = "LAHAT_PASSPHRASE";

const MAGIC: &[u8; 8] = b"LAHATVLT";
const FORMAT_VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = MAGIC.len() + 1 + 12 + SALT_LEN + NONCE_LEN;

/// Argon2id cost for new vaults: 19 MiB, two passes, one lane, the minimum
/// that OWASP's password storage guidance recommends for Argon2id.
const DEFAULT_KDF: KdfParams = KdfParams {
    memory_kib: 19 * 1024,
    iterations: 2,
    parallelism: 1,
};

/// Upper bounds on costs read from a file, so a crafted file cannot make the
/// host allocate gigabytes or spin for minutes.
const MAX_KDF_MEMORY_KIB: u32 = 256 * 1024;
const MAX_KDF_ITERATIONS: u32 = 10;
const MAX_KDF_PARALLELISM: u32 = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
struct KdfParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

#[derive(Clone)]
struct DerivedKey {
    salt: [u8; SALT_LEN],
    params: KdfParams,
    key: Zeroizing<[u8; 32]>,
}

/// The encrypted vault file.
pub struct FileStore {
    path: PathBuf,
    passphrase: SecretString,
    // Argon2id takes tens of milliseconds, so the key for the file's salt is
    // kept for later calls in the same process.
    key: Mutex<Option<DerivedKey>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Contents {
    credentials: BTreeMap<String, SecretString>,
}

impl FileStore {
    /// Opens the vault at `path` with `passphrase`. The file is created by
    /// the first [`CredentialStore::set`]; reading a missing file finds no
    /// credentials.
    ///
    /// A relative `path` is made absolute. When `path` is a symbolic link,
    /// lahat reads and replaces the file it points to and leaves the link in
    /// place.
    ///
    /// # Errors
    ///
    /// Returns [`StoreError::Rejected`] when the passphrase is empty, and
    /// [`StoreError::Unavailable`] when `path` is a symbolic link to a file
    /// that does not exist, because creating a new vault there would hide the
    /// real one (on an unmounted drive, say).
    pub fn open(path: PathBuf, passphrase: SecretString) -> Result<Self, StoreError> {
        if passphrase.expose_secret().is_empty() {
            return Err(StoreError::Rejected(format!(
                "the passphrase for the vault file {} is empty; set a non-empty {PASSPHRASE_ENV}",
                path.display()
            )));
        }
        let path = resolve_vault_path(path)?;
        Ok(Self {
            path,
            passphrase,
            key: Mutex::new(None),
        })
    }

    /// Returns the vault file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_owned();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    /// Opens and locks the lock file: shared for reads, exclusive for writes.
    fn lock(&self, exclusive: bool) -> Result<File, StoreError> {
        create_private_dir(parent_or_current(&self.path)).map_err(|err| self.io_error("create the folder for", &err))?;
        let lock_file = open_private(&self.lock_path())
            .map_err(|err| self.io_error("open the lock file of", &err))?;
        let locked = if exclusive { lock_file.lock() } else { lock_file.lock_shared() };
        locked.map_err(|err| self.io_error("lock", &err))?;
        Ok(lock_file)
    }

    fn io_error(&self, action: &str, err: &std::io::Error) -> StoreError {
        StoreError::Unavailable(format!("cannot {action} the vault file {}: {err}", self.path.display()))
    }

    fn read_contents(&self) -> Result<Option<(Contents, DerivedKey)>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(self.io_error("read", &err)),
        };
        let corrupt = |what: &str| {
            StoreError::Corrupt(format!(
                "the vault file {} is damaged ({what}); restore it from a backup or move it away to start a new vault",
                self.path.display()
            ))
        };
        if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
            return Err(corrupt("it does not start with a Lahat vault header"));
        }
        if bytes[MAGIC.len()] != FORMAT_VERSION {
            return Err(corrupt(&format!(
                "format version {} is not supported by this lahat, which reads version {FORMAT_VERSION}",
                bytes[MAGIC.len()]
            )));
        }
        let mut at = MAGIC.len() + 1;
        let mut next_u32 = || {
            let value = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or_default());
            at += 4;
            value
        };
        let params = KdfParams {
            memory_kib: next_u32(),
            iterations: next_u32(),
            parallelism: next_u32(),
        };
        if params.memory_kib > MAX_KDF_MEMORY_KIB
            || params.iterations > MAX_KDF_ITERATIONS
            || params.parallelism > MAX_KDF_PARALLELISM
        {
            return Err(corrupt("its key derivation costs exceed the supported maximum"));
        }
        let salt_start = MAGIC.len() + 1 + 12;
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[salt_start..salt_start + SALT_LEN]);
        let nonce = XNonce::from_slice(&bytes[salt_start + SALT_LEN..HEADER_LEN]);

        let key = self.key_for(salt, params)?;
        let cipher = XChaCha20Poly1305::new(Key::from_slice(key.key.as_slice()));
        let payload = Payload {
            msg: &bytes[HEADER_LEN..],
            aad: &bytes[..HEADER_LEN],
        };
        let plaintext = Zeroizing::new(cipher.decrypt(nonce, payload).map_err(|_| {
            StoreError::Locked(format!(
                "cannot unlock the vault file {}: the passphrase is wrong or the file was modified; check {PASSPHRASE_ENV}",
                self.path.display()
            ))
        })?);
        let contents: Contents =
            serde_json::from_slice(&plaintext).map_err(|_| corrupt("its decrypted contents are not valid"))?;
        Ok(Some((contents, key)))
    }

    /// Derives the key for `salt` and `params`, reusing the cached one when
    /// they match.
    fn key_for(&self, salt: [u8; SALT_LEN], params: KdfParams) -> Result<DerivedKey, StoreError> {
        let mut cached = self.key.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = cached.as_ref()
            && existing.salt == salt
            && existing.params == params
        {
            return Ok(existing.clone());
        }
        let argon_params = Params::new(params.memory_kib, params.iterations, params.parallelism, Some(32))
            .map_err(|err| StoreError::Corrupt(format!("invalid key derivation parameters in the vault file: {err}")))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(self.passphrase.expose_secret().as_bytes(), &salt, key.as_mut_slice())
            .map_err(|err| StoreError::Corrupt(format!("key derivation failed: {err}")))?;
        let derived = DerivedKey { salt, params, key };
        *cached = Some(derived.clone());
        Ok(derived)
    }

    fn write_contents(&self, credentials: &BTreeMap<String, SecretString>, key: &DerivedKey) -> Result<(), StoreError> {
        let plaintext = serialize_contents(credentials)?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);

        let mut file_bytes = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
        file_bytes.extend_from_slice(MAGIC);
        file_bytes.push(FORMAT_VERSION);
        file_bytes.extend_from_slice(&key.params.memory_kib.to_le_bytes());
        file_bytes.extend_from_slice(&key.params.iterations.to_le_bytes());
        file_bytes.extend_from_slice(&key.params.parallelism.to_le_bytes());
        file_bytes.extend_from_slice(&key.salt);
        file_bytes.extend_from_slice(&nonce);

        let cipher = XChaCha20Poly1305::new(Key::from_slice(key.key.as_slice()));
        let payload = Payload {
            msg: plaintext.as_slice(),
            aad: &file_bytes,
        };
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .map_err(|_| StoreError::Rejected("encryption of the vault failed".to_owned()))?;
        file_bytes.extend_from_slice(&ciphertext);

        write_private_atomically(&self.path, &file_bytes).map_err(|err| self.io_error("write", &err))?;
        Ok(())
    }

    /// Applies `change` to the credential map under the exclusive lock and
    /// writes the result back.
    fn update<T>(&self, change: impl FnOnce(&mut BTreeMap<String, SecretString>) -> T) -> Result<T, StoreError> {
        let _lock = self.lock(true)?;
        let (mut credentials, key) = match self.read_contents()? {
            Some((contents, key)) => (contents.credentials, key),
            None => {
                let mut salt = [0u8; SALT_LEN];
                OsRng.fill_bytes(&mut salt);
                (BTreeMap::new(), self.key_for(salt, DEFAULT_KDF)?)
            }
        };
        let result = change(&mut credentials);
        self.write_contents(&credentials, &key)?;
        Ok(result)
    }
}

/// Serializes the credential map into a zeroizing buffer. The buffer is sized
/// up front for the worst case of JSON escaping so that serde_json never
/// reallocates it and leaves partial copies in freed memory.
fn serialize_contents(credentials: &BTreeMap<String, SecretString>) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let exposed: BTreeMap<&str, &str> = credentials
        .iter()
        .map(|(name, value)| (name.as_str(), value.expose_secret()))
        .collect();
    let worst_case: usize = exposed.iter().map(|(name, value)| 6 * (name.len() + value.len()) + 8).sum();
    let mut buffer = Zeroizing::new(Vec::with_capacity(worst_case + 64));
    serde_json::to_writer(&mut *buffer, &serde_json::json!({ "credentials": exposed }))
        .map_err(|err| StoreError::Rejected(format!("cannot encode the vault: {err}")))?;
    Ok(buffer)
}

impl CredentialStore for FileStore {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn description(&self) -> String {
        format!("the encrypted vault file {}", self.path.display())
    }

    fn needs_timeout(&self) -> bool {
        false
    }

    fn get(&self, name: &CredentialName) -> Result<Option<SecretString>, StoreError> {
        let _lock = self.lock(false)?;
        Ok(self
            .read_contents()?
            .and_then(|(mut contents, _)| contents.credentials.remove(name.as_str())))
    }

    fn set(&self, name: &CredentialName, value: &SecretString) -> Result<(), StoreError> {
        self.update(|credentials| {
            credentials.insert(name.as_str().to_owned(), value.clone());
        })
    }

    fn delete(&self, name: &CredentialName) -> Result<bool, StoreError> {
        if self.get(name)?.is_none() {
            return Ok(false);
        }
        self.update(|credentials| credentials.remove(name.as_str()).is_some())
    }

    fn list(&self) -> Result<Vec<CredentialName>, StoreError> {
        let _lock = self.lock(false)?;
        let Some((contents, _)) = self.read_contents()? else {
            return Ok(Vec::new());
        };
        // NOTE: keys that are not valid names can only come from a file written
        // by something other than lahat; they are skipped, not reported.
        Ok(contents
            .credentials
            .keys()
            .filter_map(|key| CredentialName::parse(key).ok())
            .collect())
    }
}

fn resolve_vault_path(path: PathBuf) -> Result<PathBuf, StoreError> {
    let absolute = std::path::absolute(&path).map_err(|err| {
        StoreError::Unavailable(format!("cannot resolve the vault file path {}: {err}", path.display()))
    })?;
    let is_link = std::fs::symlink_metadata(&absolute).is_ok_and(|meta| meta.file_type().is_symlink());
    if !is_link {
        return Ok(absolute);
    }
    std::fs::canonicalize(&absolute).map_err(|err| {
        StoreError::Unavailable(format!(
            "the vault file {} is a symbolic link whose target cannot be reached ({err}); mount or restore the target, or remove the link to start a new vault",
            absolute.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(raw: &str) -> CredentialName {
        CredentialName::parse(raw).unwrap()
    }

    fn open(path: &Path, passphrase: &str) -> FileStore {
        FileStore::open(path.to_owned(), SecretString::from(passphrase)).unwrap()
    }

    #[test]
    fn values_round_trip_through_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("vault.lahat");
        let store = open(&path, "correct horse");
        store.set(&name("aws.default"), &SecretString::from("line one\nline \"two\"\u{0}é")).unwrap();
        store.set(&name("demo.greeting"), &SecretString::from("hello")).unwrap();

        let reopened = open(&path, "correct horse");
        let value = reopened.get(&name("aws.default")).unwrap().unwrap();
        assert_eq!(value.expose_secret(), "line one\nline \"two\"\u{0}é");
        assert_eq!(reopened.list().unwrap(), [name("aws.default"), name("demo.greeting")]);
        assert!(reopened.delete(&name("aws.default")).unwrap());
        assert!(!reopened.delete(&name("aws.default")).unwrap());
        assert_eq!(reopened.list().unwrap(), [name("demo.greeting")]);
    }

    #[test]
    fn file_contains_no_plaintext() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("vault.lahat");
        open(&path, "pass").set(&name("demo.secret"), &SecretString::from("canary-7f3a9c")).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("canary-7f3a9c"));
        assert!(!text.contains("demo.secret"));
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("vault.lahat");
        open(&path, "pass").set(&name("a.b"), &SecretString::from("v")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "vault mode is {mode:o}");
    }

    #[test]
    fn wrong_passphrase_is_rejected() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("vault.lahat");
        open(&path, "right").set(&name("a.b"), &SecretString::from("v")).unwrap();
        let err = open(&path, "wrong").get(&name("a.b")).unwrap_err();
        assert!(matches!(err, StoreError::Locked(_)), "{err}");
        assert!(err.to_string().contains("passphrase is wrong"), "{err}");
    }

    #[test]
    fn tampered_header_is_rejected() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("vault.lahat");
        open(&path, "pass").set(&name("a.b"), &SecretString::from("v")).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        // Lower the memory cost: authenticated as associated data.
        bytes[MAGIC.len() + 1] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(open(&path, "pass").get(&name("a.b")).is_err());
    }

    #[test]
    fn foreign_file_is_reported_damaged() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("vault.lahat");
        std::fs::write(&path, b"not a vault").unwrap();
        let err = open(&path, "pass").get(&name("a.b")).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn failed_write_keeps_old_vault() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("vault.lahat");
        open(&path, "pass").set(&name("a.b"), &SecretString::from("old")).unwrap();
        let before = std::fs::read(&path).unwrap();
        // A wrong passphrase fails before anything is written.
        assert!(open(&path, "other").set(&name("a.b"), &SecretString::from("new")).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn relative_path_is_made_absolute() {
        let store = FileStore::open(PathBuf::from("vault.lahat"), SecretString::from("pass")).unwrap();
        assert!(store.path().is_absolute(), "{}", store.path().display());
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_vault_is_written_through() {
        let folder = tempfile::tempdir().unwrap();
        let target = folder.path().join("real.lahat");
        let link = folder.path().join("vault.lahat");
        open(&target, "pass").set(&name("seed.value"), &SecretString::from("s")).unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        open(&link, "pass").set(&name("a.b"), &SecretString::from("v")).unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "link replaced");
        let value = open(&target, "pass").get(&name("a.b")).unwrap().unwrap();
        assert_eq!(value.expose_secret(), "v");
    }

    #[cfg(unix)]
    #[test]
    fn dangling_symlink_is_rejected() {
        let folder = tempfile::tempdir().unwrap();
        let link = folder.path().join("vault.lahat");
        std::os::unix::fs::symlink(folder.path().join("unmounted/real.lahat"), &link).unwrap();
        let result = FileStore::open(link.clone(), SecretString::from("pass"));
        let err = result.err().expect("a dangling link must be rejected");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    }

    #[test]
    fn excessive_kdf_cost_is_rejected() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("vault.lahat");
        open(&path, "pass").set(&name("a.b"), &SecretString::from("v")).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let memory_at = MAGIC.len() + 1;
        bytes[memory_at..memory_at + 4].copy_from_slice(&(1024u32 * 1024).to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let err = open(&path, "pass").get(&name("a.b")).unwrap_err();
        assert!(err.to_string().contains("exceed the supported maximum"), "{err}");
    }

    #[test]
    fn empty_passphrase_is_rejected() {
        let result = FileStore::open(PathBuf::from("vault.lahat"), SecretString::from(""));
        assert!(matches!(result, Err(StoreError::Rejected(_))));
    }
}
