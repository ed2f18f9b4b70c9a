//! The user's approvals of apps, bound to the exact component.
//!
//! A grant records, for one app id, the SHA-256 of the component the user
//! approved and the credentials it may read. A run is allowed only when the
//! component's hash matches and the manifest asks for nothing beyond the
//! grant, so changing one byte of the component or declaring another
//! credential asks the user again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::{create_private_dir, open_private, parent_or_current, write_private_atomically};
use crate::manifest::{EnvName, EnvValue, Manifest};
use crate::metadata::Timestamp;
use crate::name::CredentialName;
use crate::permissions::{FolderAccess, GuestPath, LimitRequest, NetworkPermissions};
use crate::runtime::BoundFolder;
use crate::store::StoreError;

/// The grants file's name inside lahat's data folder.
pub const GRANTS_FILE_NAME: &str = "grants.json";

const FORMAT_VERSION: u32 = 1;

/// One app's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The SHA-256 of the approved component, in hex.
    pub component_sha256: String,
    /// The credentials the app may read.
    pub credentials: BTreeSet<CredentialName>,
    /// The environment variables the app gets.
    #[serde(default)]
    pub env: BTreeMap<EnvName, EnvValue>,
    /// The network, folders and limits the app was granted.
    #[serde(default, skip_serializing_if = "GrantedAccess::is_empty")]
    pub access: GrantedAccess,
    /// When the user approved it.
    pub approved: Timestamp,
}

/// The part of a grant beyond credentials and environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantedAccess {
    /// The network destinations the app may connect to.
    #[serde(default, skip_serializing_if = "NetworkPermissions::is_empty")]
    pub network: NetworkPermissions,
    /// The host folder bound to each folder path, and its access.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub folders: BTreeMap<GuestPath, GrantedFolder>,
    /// The limits the manifest asked for.
    #[serde(default, skip_serializing_if = "LimitRequest::is_empty")]
    pub limits: LimitRequest,
}

/// A folder in a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantedFolder {
    /// The host folder.
    pub host: PathBuf,
    /// The app's access to the folder.
    pub access: FolderAccess,
}

impl GrantedAccess {
    /// Returns the access `manifest` requests with `folders` bound.
    pub fn requested(manifest: &Manifest, folders: &[BoundFolder]) -> Self {
        Self {
            network: manifest.network.clone(),
            folders: folders
                .iter()
                .map(|folder| {
                    let granted = GrantedFolder {
                        host: folder.host.clone(),
                        access: folder.access,
                    };
                    (folder.guest.clone(), granted)
                })
                .collect(),
            limits: manifest.limits,
        }
    }

    /// Returns true when the grant allows nothing beyond credentials and
    /// environment variables.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Describes how `requested` differs from this grant, or returns `None`
    /// when it requests nothing new.
    fn difference(&self, requested: &Self) -> Option<String> {
        let mut changes = Vec::new();
        let new_http: Vec<String> = requested
            .network
            .http
            .iter()
            .filter(|origin| !self.network.http.contains(origin))
            .map(ToString::to_string)
            .collect();
        let new_tcp: Vec<String> = requested
            .network
            .tcp
            .iter()
            .filter(|endpoint| !self.network.tcp.contains(endpoint))
            .map(ToString::to_string)
            .collect();
        if !new_http.is_empty() || !new_tcp.is_empty() {
            changes.push(format!("network access to {}", [new_http, new_tcp].concat().join(", ")));
        }
        for (path, folder) in &requested.folders {
            if self.folders.get(path) != Some(folder) {
                changes.push(format!(
                    "{} access to {} as {path}",
                    folder.access.as_str(),
                    folder.host.display()
                ));
            }
        }
        if requested.limits != self.limits {
            changes.push("other limits".to_owned());
        }
        (!changes.is_empty()).then(|| changes.join("; "))
    }
}

/// The state of an app's approval for a given component and manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantStatus {
    /// The grant covers this component and everything the manifest declares.
    Granted,
    /// The app was never approved, or its approval was revoked.
    Missing,
    /// The approved component had another hash.
    ComponentChanged,
    /// The manifest declares credentials beyond the grant.
    MoreRequested(Vec<CredentialName>),
    /// The manifest's environment variables differ from the approved ones.
    EnvironmentChanged,
    /// The run requests network access, folders or limits beyond the grant.
    AccessChanged(String),
}

impl GrantStatus {
    /// Describes why a run needs approval; empty for [`GrantStatus::Granted`].
    pub fn reason(&self) -> String {
        match self {
            Self::Granted => String::new(),
            Self::Missing => "it has not been approved".to_owned(),
            Self::ComponentChanged => "its component changed since it was approved".to_owned(),
            Self::MoreRequested(names) => format!(
                "its manifest now also asks for {}",
                names.iter().map(CredentialName::as_str).collect::<Vec<_>>().join(", ")
            ),
            Self::EnvironmentChanged => "its manifest's environment variables changed since it was approved".to_owned(),
            Self::AccessChanged(what) => format!("it now asks for {what}"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantsFile {
    version: u32,
    grants: BTreeMap<String, Grant>,
}

/// The grants file.
#[derive(Debug, Clone)]
pub struct Grants {
    path: PathBuf,
}

impl Grants {
    /// Uses the grants file at `path`, created on the first approval.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Returns the file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns every grant by app id.
    ///
    /// # Errors
    ///
    /// Returns [`StoreError::Unavailable`] when the file cannot be read and
    /// [`StoreError::Corrupt`] when it is not a valid grants file.
    pub fn load(&self) -> Result<BTreeMap<String, Grant>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(err) => return Err(self.io_error("read", &err)),
        };
        let file: GrantsFile = serde_json::from_slice(&bytes).map_err(|err| {
            StoreError::Corrupt(format!(
                "the grants file {} is invalid ({err}); move it away and approve your apps again",
                self.path.display()
            ))
        })?;
        if file.version != FORMAT_VERSION {
            return Err(StoreError::Corrupt(format!(
                "the grants file {} has format version {}, and this lahat reads version {FORMAT_VERSION}",
                self.path.display(),
                file.version
            )));
        }
        Ok(file.grants)
    }

    /// Checks whether `manifest`'s app may run the component with hash
    /// `component_sha256` with `folders` bound.
    ///
    /// # Errors
    ///
    /// Returns what [`Grants::load`] returns.
    pub fn status(
        &self,
        manifest: &Manifest,
        component_sha256: &str,
        folders: &[BoundFolder],
    ) -> Result<GrantStatus, StoreError> {
        let grants = self.load()?;
        let Some(grant) = grants.get(manifest.app.id.as_str()) else {
            return Ok(GrantStatus::Missing);
        };
        if grant.component_sha256 != component_sha256 {
            return Ok(GrantStatus::ComponentChanged);
        }
        let more: Vec<CredentialName> = manifest
            .declared_names()
            .into_iter()
            .filter(|name| !grant.credentials.contains(name))
            .collect();
        if !more.is_empty() {
            return Ok(GrantStatus::MoreRequested(more));
        }
        if grant.env != manifest.env {
            return Ok(GrantStatus::EnvironmentChanged);
        }
        if let Some(what) = grant.access.difference(&GrantedAccess::requested(manifest, folders)) {
            return Ok(GrantStatus::AccessChanged(what));
        }
        Ok(GrantStatus::Granted)
    }

    /// Records the user's approval of `manifest`'s app with this component
    /// and `folders` bound, replacing any earlier grant of the app.
    ///
    /// # Errors
    ///
    /// Returns what [`Grants::load`] returns, or [`StoreError::Unavailable`]
    /// when the file cannot be written.
    pub fn approve(&self, manifest: &Manifest, component_sha256: &str, folders: &[BoundFolder]) -> Result<(), StoreError> {
        let grant = Grant {
            component_sha256: component_sha256.to_owned(),
            credentials: manifest.declared_names(),
            env: manifest.env.clone(),
            access: GrantedAccess::requested(manifest, folders),
            approved: Timestamp::now(),
        };
        let id = manifest.app.id.to_string();
        self.update(move |grants| {
            grants.insert(id, grant);
            true
        })
        .map(|_| ())
    }

    /// Removes the grant of app `id`; returns whether there was one.
    ///
    /// # Errors
    ///
    /// Returns what [`Grants::load`] returns, or [`StoreError::Unavailable`]
    /// when the file cannot be written.
    pub fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        self.update(|grants| grants.remove(id).is_some())
    }

    fn update(&self, change: impl FnOnce(&mut BTreeMap<String, Grant>) -> bool) -> Result<bool, StoreError> {
        create_private_dir(parent_or_current(&self.path)).map_err(|err| self.io_error("create the folder of", &err))?;
        let mut lock_name = self.path.file_name().unwrap_or_default().to_owned();
        lock_name.push(".lock");
        let lock = open_private(&self.path.with_file_name(lock_name)).map_err(|err| self.io_error("lock", &err))?;
        lock.lock().map_err(|err| self.io_error("lock", &err))?;

        let mut grants = self.load()?;
        let changed = change(&mut grants);
        if changed {
            let file = GrantsFile {
                version: FORMAT_VERSION,
                grants,
            };
            let mut bytes = serde_json::to_vec_pretty(&file)
                .map_err(|err| StoreError::Rejected(format!("cannot encode the grants: {err}")))?;
            bytes.push(b'\n');
            write_private_atomically(&self.path, &bytes).map_err(|err| self.io_error("write", &err))?;
        }
        Ok(changed)
    }

    fn io_error(&self, action: &str, err: &std::io::Error) -> StoreError {
        StoreError::Unavailable(format!("cannot {action} the grants file {}: {err}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(credentials: &[&str]) -> Manifest {
        let mut text = String::from(
            "[app]\nid = \"greeter\"\nname = \"Greeter\"\nversion = \"0.1.0\"\ncomponent = \"greeter.wasm\"\n",
        );
        for name in credentials {
            text.push_str(&format!("\n[[credentials]]\nname = \"{name}\"\npurpose = \"Test\"\n"));
        }
        Manifest::parse(&text, Path::new("/apps/greeter/lahat.toml")).unwrap()
    }

    #[test]
    fn grant_binds_component_and_credentials() {
        let folder = tempfile::tempdir().unwrap();
        let grants = Grants::new(folder.path().join(GRANTS_FILE_NAME));
        let first = manifest(&["demo.greeting"]);
        let hash = "a".repeat(64);
        assert_eq!(grants.status(&first, &hash, &[]).unwrap(), GrantStatus::Missing);

        grants.approve(&first, &hash, &[]).unwrap();
        assert_eq!(grants.status(&first, &hash, &[]).unwrap(), GrantStatus::Granted);
        assert_eq!(grants.status(&first, &"b".repeat(64), &[]).unwrap(), GrantStatus::ComponentChanged);

        let more = manifest(&["demo.greeting", "aws.default"]);
        let status = grants.status(&more, &hash, &[]).unwrap();
        assert_eq!(status, GrantStatus::MoreRequested(vec![CredentialName::parse("aws.default").unwrap()]));
        assert!(status.reason().contains("aws.default"), "{}", status.reason());

        let mut with_env = first.clone();
        with_env.env.insert(
            EnvName::try_from("LOG_LEVEL".to_owned()).unwrap(),
            EnvValue::try_from("debug".to_owned()).unwrap(),
        );
        assert_eq!(grants.status(&with_env, &hash, &[]).unwrap(), GrantStatus::EnvironmentChanged);

        let mut with_network = first.clone();
        with_network
            .network
            .tcp
            .push(crate::permissions::TcpEndpoint::try_from("127.0.0.1:5432".to_owned()).unwrap());
        let status = grants.status(&with_network, &hash, &[]).unwrap();
        assert!(
            matches!(&status, GrantStatus::AccessChanged(what) if what.contains("127.0.0.1:5432")),
            "{status:?}"
        );

        let fewer = manifest(&[]);
        assert_eq!(grants.status(&fewer, &hash, &[]).unwrap(), GrantStatus::Granted, "asking for less is fine");

        assert!(grants.revoke("greeter").unwrap());
        assert!(!grants.revoke("greeter").unwrap());
        assert_eq!(grants.status(&first, &hash, &[]).unwrap(), GrantStatus::Missing);
    }

    #[test]
    fn grant_binds_each_folder_to_its_host_folder() {
        let folder = tempfile::tempdir().unwrap();
        let grants = Grants::new(folder.path().join(GRANTS_FILE_NAME));
        let mut backup = manifest(&[]);
        backup.folders.push(crate::permissions::FolderRequest {
            path: GuestPath::try_from("/backup".to_owned()).unwrap(),
            access: FolderAccess::Read,
            purpose: crate::manifest::Text::try_from("Files to back up".to_owned()).unwrap(),
        });
        let bound = |host: &str, access| {
            vec![BoundFolder {
                guest: GuestPath::try_from("/backup".to_owned()).unwrap(),
                host: PathBuf::from(host),
                access,
            }]
        };
        let hash = "a".repeat(64);
        grants.approve(&backup, &hash, &bound("/home/me/docs", FolderAccess::Read)).unwrap();
        let same = grants.status(&backup, &hash, &bound("/home/me/docs", FolderAccess::Read));
        assert_eq!(same.unwrap(), GrantStatus::Granted);
        for (host, access) in [("/home/me", FolderAccess::Read), ("/home/me/docs", FolderAccess::ReadWrite)] {
            let status = grants.status(&backup, &hash, &bound(host, access)).unwrap();
            assert!(matches!(status, GrantStatus::AccessChanged(_)), "{host} {access:?}: {status:?}");
        }
    }

    #[test]
    fn damaged_grants_file_is_reported() {
        let folder = tempfile::tempdir().unwrap();
        let grants = Grants::new(folder.path().join(GRANTS_FILE_NAME));
        std::fs::write(grants.path(), b"[]").unwrap();
        let err = grants.load().unwrap_err();
        assert!(err.to_string().contains("approve your apps again"), "{err}");
    }
}
