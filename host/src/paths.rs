//! The locations of lahat's files: the platform's data, cache and state
//! folders, or one folder named by `LAHAT_HOME`.

use std::path::PathBuf;

/// The environment variable that moves all of lahat's files into one folder.
pub const HOME_ENV: &str = "LAHAT_HOME";

/// The folders lahat writes to.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Long-lived data: the encrypted vault file.
    pub data_dir: PathBuf,
    /// Files that can be rebuilt: compiled components.
    pub cache_dir: PathBuf,
    /// Records of what happened: the audit log.
    pub state_dir: PathBuf,
}

impl Paths {
    /// Uses `LAHAT_HOME` when it is set and not empty, otherwise the
    /// platform's folders (on Linux `$XDG_DATA_HOME/lahat`,
    /// `$XDG_CACHE_HOME/lahat` and `$XDG_STATE_HOME/lahat`; other platforms
    /// keep state in the data folder).
    ///
    /// # Errors
    ///
    /// Returns a message when `LAHAT_HOME` is unset and the platform has no
    /// home folder to derive the folders from.
    pub fn from_env() -> Result<Self, String> {
        if let Some(home) = std::env::var_os(HOME_ENV).filter(|value| !value.is_empty()) {
            return Ok(Self::under(PathBuf::from(home)));
        }
        let dirs = directories::ProjectDirs::from("", "", "lahat").ok_or_else(|| {
            format!("cannot find a home folder for lahat's files; set {HOME_ENV} to a folder lahat may use")
        })?;
        Ok(Self {
            data_dir: dirs.data_dir().to_owned(),
            cache_dir: dirs.cache_dir().to_owned(),
            state_dir: dirs.state_dir().unwrap_or(dirs.data_dir()).to_owned(),
        })
    }

    /// Places every folder under `root`.
    pub fn under(root: PathBuf) -> Self {
        Self {
            data_dir: root.join("data"),
            cache_dir: root.join("cache"),
            state_dir: root.join("state"),
        }
    }

    /// Returns the default path of the encrypted vault file.
    pub fn vault_file(&self) -> PathBuf {
        self.data_dir.join("vault.lahat")
    }

    /// Returns the metadata file of the credentials in the OS keychain.
    pub fn keychain_metadata(&self) -> PathBuf {
        self.data_dir.join("keychain-metadata.json")
    }

    /// Returns the file of app approvals.
    pub fn grants_file(&self) -> PathBuf {
        self.data_dir.join(crate::grants::GRANTS_FILE_NAME)
    }

    /// Returns the audit log's path.
    pub fn audit_log(&self) -> PathBuf {
        self.state_dir.join(crate::audit::AUDIT_FILE_NAME)
    }

    /// Returns the folder of precompiled components.
    pub fn component_cache(&self) -> PathBuf {
        self.cache_dir.join("components")
    }
}
