//! Non-secret metadata kept beside the credentials: description, times,
//! expiry, last use and last connection test.
//!
//! The metadata lives in one JSON file, `metadata.json` in lahat's data
//! folder, for every store. Keychain attributes would keep it closer to the
//! secret, but the platforms differ in which attributes they allow and
//! macOS and Windows cannot search by them, while a file reads the same
//! everywhere and costs no keychain round trip. The file never contains a
//! secret value. Writers hold an exclusive lock on `metadata.json.lock` and
//! replace the file atomically, so concurrent `lahat` processes do not lose
//! each other's updates.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::fsutil::{create_private_dir, open_private, parent_or_current, write_private_atomically};
use crate::name::CredentialName;
use crate::store::StoreError;

/// The metadata file's name inside lahat's data folder.
pub const METADATA_FILE_NAME: &str = "metadata.json";

const FORMAT_VERSION: u32 = 1;

/// A point in time, written as RFC 3339 in UTC with second precision, such as
/// `2026-12-04T20:15:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(SystemTime);

/// The latest time RFC 3339 can write with a four-digit year,
/// 9999-12-31T23:59:59Z, in seconds after the Unix epoch.
const MAX_SECONDS: u64 = 253_402_300_799;

impl Timestamp {
    /// Returns `time` when RFC 3339 can write it: from the Unix epoch up to
    /// the end of the year 9999.
    pub fn checked(time: SystemTime) -> Option<Self> {
        let seconds = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
        (seconds <= MAX_SECONDS).then_some(Self(time))
    }

    /// Returns the current time.
    pub fn now() -> Self {
        Self(SystemTime::now())
    }

    /// Returns the time as a [`SystemTime`].
    pub fn as_system_time(self) -> SystemTime {
        self.0
    }

    /// Parses an expiry given by a person: a date `2027-01-31` (midnight UTC),
    /// an RFC 3339 time `2027-01-31T12:00:00Z`, or a duration from now such as
    /// `90days` or `12h`.
    ///
    /// # Errors
    ///
    /// Returns a message that quotes the value and lists the accepted forms.
    pub fn parse_expiry(raw: &str, now: Self) -> Result<Self, String> {
        Self::parse_relative(raw, now, true).map_err(|forms| format!("invalid expiry {forms}"))
    }

    /// Parses a start time given by a person: a date, an RFC 3339 time, or a
    /// duration before now such as `1h` or `7days`.
    ///
    /// # Errors
    ///
    /// Returns a message that quotes the value and lists the accepted forms.
    pub fn parse_since(raw: &str, now: Self) -> Result<Self, String> {
        Self::parse_relative(raw, now, false).map_err(|forms| format!("invalid start time {forms}"))
    }

    fn parse_relative(raw: &str, now: Self, forward: bool) -> Result<Self, String> {
        let trimmed = raw.trim();
        let is_date = trimmed.len() == 10 && trimmed.as_bytes().get(4) == Some(&b'-');
        if is_date && let Ok(time) = humantime::parse_rfc3339(&format!("{trimmed}T00:00:00Z")) {
            return Ok(Self(time));
        }
        if let Ok(time) = humantime::parse_rfc3339(trimmed) {
            return Ok(Self(time));
        }
        if let Ok(duration) = humantime::parse_duration(trimmed) {
            let shifted = if forward { now.0.checked_add(duration) } else { now.0.checked_sub(duration) };
            if let Some(time) = shifted.and_then(Self::checked) {
                return Ok(time);
            }
        }
        Err(format!(
            "{:?}: use a date such as 2027-01-31, a UTC time such as 2027-01-31T12:00:00Z, or a duration such as 90days, up to the year 9999",
            trimmed.chars().take(64).collect::<String>()
        ))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_rfc3339_seconds(self.0))
    }
}

impl FromStr for Timestamp {
    type Err = humantime::TimestampError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        humantime::parse_rfc3339(raw).map(Self)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// The kind of a credential's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialKind {
    /// One opaque value, such as an API key.
    #[default]
    Secret,
    /// A username and a password, stored as the JSON object
    /// `{"username": "...", "password": "..."}`.
    UsernamePassword,
    /// Arbitrary bytes, stored as standard base64 (RFC 4648 with padding).
    /// Apps receive the base64 text; `lahat credential get --reveal` prints
    /// the bytes.
    Binary,
}

/// The outcome of the last connection test of a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRecord {
    /// When the test ran.
    pub time: Timestamp,
    /// Whether the service accepted the credential.
    pub passed: bool,
    /// The tester's one-line message.
    pub message: String,
}

/// The metadata of one credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialMetadata {
    /// A note for people, such as what the key is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The kind of value.
    #[serde(default)]
    pub kind: CredentialKind,
    /// When the credential was first stored.
    pub created: Timestamp,
    /// When the value or metadata last changed.
    pub updated: Timestamp,
    /// When apps stop receiving the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    /// The last delivery to each app, by app id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub last_used: BTreeMap<String, Timestamp>,
    /// The last connection test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_test: Option<TestRecord>,
}

impl CredentialMetadata {
    /// Creates metadata for a credential stored at `now`.
    pub fn new(now: Timestamp) -> Self {
        Self {
            description: None,
            kind: CredentialKind::Secret,
            created: now,
            updated: now,
            expires: None,
            last_used: BTreeMap::new(),
            last_test: None,
        }
    }

    /// Returns whether the expiry time has passed at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }
}

/// The metadata of every credential, by name.
pub type MetadataMap = BTreeMap<CredentialName, CredentialMetadata>;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetadataFile {
    version: u32,
    credentials: MetadataMap,
}

/// The metadata file.
#[derive(Debug, Clone)]
pub struct MetadataIndex {
    path: PathBuf,
}

impl MetadataIndex {
    /// Uses the metadata file at `path`, created on the first update.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Returns the file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads every credential's metadata; a missing file reads as empty.
    ///
    /// # Errors
    ///
    /// Returns [`StoreError::Unavailable`] when the file cannot be read and
    /// [`StoreError::Corrupt`] when it is not a valid metadata file.
    pub fn load(&self) -> Result<MetadataMap, StoreError> {
        let _lock = self.lock(false)?;
        self.read()
    }

    /// Applies `change` under the exclusive lock and writes the result back,
    /// unless `change` returns an error.
    ///
    /// # Errors
    ///
    /// Returns what [`MetadataIndex::load`] returns, the error of `change`,
    /// or [`StoreError::Unavailable`] when the file cannot be written.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut MetadataMap) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _lock = self.lock(true)?;
        let mut credentials = self.read()?;
        let result = change(&mut credentials)?;
        let file = MetadataFile {
            version: FORMAT_VERSION,
            credentials,
        };
        let mut bytes = serde_json::to_vec_pretty(&file)
            .map_err(|err| StoreError::Rejected(format!("cannot encode the metadata: {err}")))?;
        bytes.push(b'\n');
        write_private_atomically(&self.path, &bytes).map_err(|err| self.io_error("write", &err))?;
        Ok(result)
    }

    fn read(&self) -> Result<MetadataMap, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(MetadataMap::new()),
            Err(err) => return Err(self.io_error("read", &err)),
        };
        let file: MetadataFile = serde_json::from_slice(&bytes).map_err(|err| {
            StoreError::Corrupt(format!(
                "the metadata file {} is invalid ({err}); fix it, or move it away and run `lahat credential doctor`, which rebuilds it without descriptions, expiry times or usage history",
                self.path.display()
            ))
        })?;
        if file.version != FORMAT_VERSION {
            return Err(StoreError::Corrupt(format!(
                "the metadata file {} has format version {}, and this lahat reads version {FORMAT_VERSION}",
                self.path.display(),
                file.version
            )));
        }
        Ok(file.credentials)
    }

    /// Takes the exclusive lock that management operations hold from start
    /// to end; it is released when the returned file is dropped.
    ///
    /// # Errors
    ///
    /// Returns [`StoreError::Unavailable`] when the lock file cannot be
    /// created or locked.
    pub fn lock_operations(&self) -> Result<std::fs::File, StoreError> {
        self.lock_file(".operation.lock", true)
    }

    fn lock(&self, exclusive: bool) -> Result<std::fs::File, StoreError> {
        self.lock_file(".lock", exclusive)
    }

    fn lock_file(&self, suffix: &str, exclusive: bool) -> Result<std::fs::File, StoreError> {
        create_private_dir(parent_or_current(&self.path)).map_err(|err| self.io_error("create the folder of", &err))?;
        let mut name = self.path.file_name().unwrap_or_default().to_owned();
        name.push(suffix);
        let lock_file = open_private(&self.path.with_file_name(name)).map_err(|err| self.io_error("lock", &err))?;
        let locked = if exclusive { lock_file.lock() } else { lock_file.lock_shared() };
        locked.map_err(|err| self.io_error("lock", &err))?;
        Ok(lock_file)
    }

    fn io_error(&self, action: &str, err: &std::io::Error) -> StoreError {
        StoreError::Unavailable(format!("cannot {action} the metadata file {}: {err}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> Timestamp {
        raw.parse().unwrap()
    }

    #[test]
    fn expiry_forms_parse() {
        let now = at("2026-12-04T20:00:00Z");
        assert_eq!(Timestamp::parse_expiry("2027-01-31", now).unwrap(), at("2027-01-31T00:00:00Z"));
        assert_eq!(
            Timestamp::parse_expiry("2027-01-31T12:30:00Z", now).unwrap(),
            at("2027-01-31T12:30:00Z")
        );
        assert_eq!(Timestamp::parse_expiry("90days", now).unwrap(), at("2027-03-04T20:00:00Z"));
        assert_eq!(Timestamp::parse_expiry("12h", now).unwrap(), at("2026-12-05T08:00:00Z"));
    }

    #[test]
    fn since_counts_back() {
        let now = at("2026-12-04T20:00:00Z");
        assert_eq!(Timestamp::parse_since("2h", now).unwrap(), at("2026-12-04T18:00:00Z"));
        assert_eq!(Timestamp::parse_since("2026-12-01", now).unwrap(), at("2026-12-01T00:00:00Z"));
    }

    #[test]
    fn huge_duration_is_rejected() {
        for raw in ["999999999999years", "18446744073709551615s", "7999years"] {
            let err = Timestamp::parse_expiry(raw, Timestamp::now()).unwrap_err();
            assert!(err.contains("invalid expiry"), "{raw}: {err}");
        }
    }

    #[test]
    fn checked_stops_at_year_9999() {
        let last = std::time::UNIX_EPOCH + std::time::Duration::from_secs(MAX_SECONDS);
        assert_eq!(Timestamp::checked(last).unwrap().to_string(), "9999-12-31T23:59:59Z");
        assert!(Timestamp::checked(last + std::time::Duration::from_secs(1)).is_none());
    }

    #[test]
    fn invalid_expiry_lists_forms() {
        let err = Timestamp::parse_expiry("next tuesday", Timestamp::now()).unwrap_err();
        assert!(err.contains("\"next tuesday\""), "{err}");
        assert!(err.contains("2027-01-31"), "{err}");
    }

    #[test]
    fn expired_is_inclusive() {
        let mut metadata = CredentialMetadata::new(at("2026-01-01T00:00:00Z"));
        assert!(!metadata.is_expired(at("2030-01-01T00:00:00Z")), "no expiry never expires");
        metadata.expires = Some(at("2027-01-01T00:00:00Z"));
        assert!(!metadata.is_expired(at("2026-12-31T23:59:59Z")));
        assert!(metadata.is_expired(at("2027-01-01T00:00:00Z")));
    }

    #[test]
    fn index_round_trips_and_keeps_updates() {
        let folder = tempfile::tempdir().unwrap();
        let index = MetadataIndex::new(folder.path().join(METADATA_FILE_NAME));
        assert!(index.load().unwrap().is_empty());

        let name = CredentialName::parse("aws.default").unwrap();
        let mut metadata = CredentialMetadata::new(at("2026-12-04T20:00:00Z"));
        metadata.description = Some("Backup bucket key".to_owned());
        metadata.last_used.insert("s3-backup".to_owned(), at("2026-12-04T21:00:00Z"));
        index
            .update(|map| {
                map.insert(name.clone(), metadata.clone());
                Ok(())
            })
            .unwrap();
        assert_eq!(index.load().unwrap().get(&name), Some(&metadata));

        let text = std::fs::read_to_string(index.path()).unwrap();
        assert!(text.contains("\"created\": \"2026-12-04T20:00:00Z\""), "{text}");
    }

    #[test]
    fn failed_change_writes_nothing() {
        let folder = tempfile::tempdir().unwrap();
        let index = MetadataIndex::new(folder.path().join(METADATA_FILE_NAME));
        let result: Result<(), _> = index.update(|_| Err(StoreError::Rejected("no".to_owned())));
        assert!(result.is_err());
        assert!(!index.path().exists());
    }

    #[test]
    fn concurrent_updates_are_not_lost() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join(METADATA_FILE_NAME);
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let index = MetadataIndex::new(path.clone());
                std::thread::spawn(move || {
                    for round in 0..10 {
                        let name = CredentialName::parse(&format!("t{thread}.r{round}")).unwrap();
                        index
                            .update(|map| {
                                map.insert(name, CredentialMetadata::new(Timestamp::now()));
                                Ok(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(MetadataIndex::new(path).load().unwrap().len(), 80);
    }

    #[test]
    fn damaged_file_is_reported() {
        let folder = tempfile::tempdir().unwrap();
        let index = MetadataIndex::new(folder.path().join(METADATA_FILE_NAME));
        std::fs::write(index.path(), b"{ not json").unwrap();
        let err = index.load().unwrap_err();
        assert!(err.to_string().contains("is invalid"), "{err}");
        assert!(err.to_string().contains("doctor"), "{err}");
    }
}
