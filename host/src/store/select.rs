//! Choosing and opening a credential store.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::file::{FileStore, PASSPHRASE_ENV};
use super::keychain::KeychainStore;
use super::{CredentialStore, StoreError, Vault};
use crate::metadata::MetadataIndex;

/// The environment variable that selects the store when `--store` is absent.
pub const STORE_ENV: &str = "LAHAT_STORE";

/// The environment variable that sets the keychain timeout, in seconds.
pub const TIMEOUT_ENV: &str = "LAHAT_STORE_TIMEOUT";

/// The kinds of credential store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The operating system's keychain.
    Os,
    /// The encrypted vault file.
    File,
}

impl FromStr for StoreKind {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "os" => Ok(Self::Os),
            "file" => Ok(Self::File),
            other => Err(format!(
                "invalid store {:?}: use `os` for the OS keychain or `file` for the encrypted vault file",
                other.chars().take(32).collect::<String>()
            )),
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Os => "os",
            Self::File => "file",
        })
    }
}

/// How to find and open the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The store to use; `None` picks the OS keychain when one answers and
    /// the vault file otherwise.
    pub kind: Option<StoreKind>,
    /// The vault file, for the `file` store. Its metadata is kept beside it
    /// in a file with the extra extension `.metadata.json`.
    pub vault_file: PathBuf,
    /// The metadata file of the OS keychain's credentials.
    pub keychain_metadata: PathBuf,
    /// How long a keychain call may take.
    pub timeout: Duration,
}

/// A store ready for use, and the notice to show when it was chosen
/// automatically.
pub struct OpenedStore {
    /// The store.
    pub vault: Vault,
    /// The metadata file of this store's credentials.
    pub metadata: MetadataIndex,
    /// One line for stderr saying which store is used and why, when the
    /// choice was not explicit and fell back to the vault file.
    pub notice: Option<String>,
}

/// Opens the store that `config` selects.
///
/// Connecting to the keychain runs on a blocking thread under the configured
/// timeout. With no explicit choice, the vault file is used only when no
/// keychain is reachable; a keychain that times out or is locked is an
/// error. The vault file's passphrase comes from `LAHAT_PASSPHRASE` or, when
/// that is unset, from a no-echo prompt on the terminal.
///
/// # Errors
///
/// Returns [`StoreError::Unavailable`] when the selected keychain does not
/// answer, [`StoreError::TimedOut`] when connecting takes too long, and
/// [`StoreError::Rejected`] when the vault file's passphrase cannot be read.
pub async fn open_store(config: &StoreConfig) -> Result<OpenedStore, StoreError> {
    let keychain = match config.kind {
        Some(StoreKind::File) => None,
        Some(StoreKind::Os) => Some(connect_keychain(config.timeout).await?),
        None => match connect_keychain(config.timeout).await {
            Ok(store) => Some(store),
            // Only a missing keychain selects the vault file. A keychain that
            // exists but is slow or locked holds the user's credentials, and
            // writing to the file instead would split the vault in two.
            Err(StoreError::Unavailable(reason)) => {
                let reason = first_clause(&reason).to_owned();
                let vault = open_file_store(config).await.map_err(|err| {
                    StoreError::Unavailable(format!(
                        "{reason}, and the encrypted vault file {} cannot be opened either: {err}",
                        config.vault_file.display()
                    ))
                })?;
                let notice = format!(
                    "lahat: {reason}, so lahat uses the encrypted vault file {}; pass `--store os` or `--store file` to choose",
                    config.vault_file.display()
                );
                return Ok(OpenedStore {
                    vault,
                    metadata: MetadataIndex::new(vault_metadata_path(&config.vault_file)),
                    notice: Some(notice),
                });
            }
            Err(other) => return Err(other),
        },
    };
    let (vault, metadata_path) = match keychain {
        Some(store) => (Vault::new(Arc::new(store), config.timeout), config.keychain_metadata.clone()),
        None => (open_file_store(config).await?, vault_metadata_path(&config.vault_file)),
    };
    Ok(OpenedStore {
        vault,
        metadata: MetadataIndex::new(metadata_path),
        notice: None,
    })
}

/// Returns the metadata file of the vault file at `vault_file`.
pub fn vault_metadata_path(vault_file: &std::path::Path) -> PathBuf {
    let mut name = vault_file.as_os_str().to_owned();
    name.push(".metadata.json");
    PathBuf::from(name)
}

async fn connect_keychain(timeout: Duration) -> Result<KeychainStore, StoreError> {
    let call = tokio::task::spawn_blocking(KeychainStore::connect);
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_elapsed| StoreError::TimedOut(timeout))?
        .map_err(|err| StoreError::Unavailable(format!("connecting to the OS keychain failed: {err}")))?
}

async fn open_file_store(config: &StoreConfig) -> Result<Vault, StoreError> {
    let path = config.vault_file.clone();
    let timeout = config.timeout;
    let store = tokio::task::spawn_blocking(move || {
        let passphrase = read_passphrase(&path)?;
        FileStore::open(path, passphrase)
    })
    .await
    .map_err(|err| StoreError::Unavailable(format!("opening the vault file failed: {err}")))??;
    let store: Arc<dyn CredentialStore> = Arc::new(store);
    Ok(Vault::new(store, timeout))
}

fn read_passphrase(path: &std::path::Path) -> Result<SecretString, StoreError> {
    if let Some(value) = std::env::var_os(PASSPHRASE_ENV) {
        return value.into_string().map(SecretString::from).map_err(|_| {
            StoreError::Rejected(format!("{PASSPHRASE_ENV} is not valid UTF-8; set it to a UTF-8 passphrase"))
        });
    }
    let creating = !path.exists();
    let prompt = if creating {
        format!("New passphrase for the vault file {}: ", path.display())
    } else {
        format!("Passphrase for the vault file {}: ", path.display())
    };
    let no_terminal = |err: std::io::Error| {
        StoreError::Locked(format!(
            "cannot prompt for the vault passphrase ({err}); set {PASSPHRASE_ENV} or run lahat in a terminal"
        ))
    };
    let first = SecretString::from(rpassword::prompt_password(prompt).map_err(no_terminal)?);
    if creating {
        let again = SecretString::from(rpassword::prompt_password("Repeat the passphrase: ").map_err(no_terminal)?);
        use secrecy::ExposeSecret;
        if first.expose_secret() != again.expose_secret() {
            return Err(StoreError::Rejected("the passphrases do not match; nothing was stored".to_owned()));
        }
    }
    Ok(first)
}

fn first_clause(message: &str) -> &str {
    message.split(';').next().unwrap_or(message).trim()
}
