//! The app manifest, `lahat.toml`.
//!
//! A manifest sits beside an app's component and declares who the app is and
//! which credentials it may read. Fields are validated while deserializing so
//! that `toml` reports the line and column of a bad value.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component as PathComponent, Path, PathBuf};

use serde::Deserialize;

use crate::name::CredentialName;
use crate::permissions::{FolderRequest, LimitRequest, NetworkPermissions, TesterInfo};

/// The file name `lahat run` looks for inside an app folder.
pub const MANIFEST_FILE_NAME: &str = "lahat.toml";

const MAX_APP_ID_LEN: usize = 64;
/// The most `[[folders]]` entries, and the most entries in each `[network]`
/// list, a manifest may have; each one is a line of the approval prompt.
const MAX_PERMISSION_ENTRIES: usize = 64;
const MAX_TEXT_LEN: usize = 200;

/// A parsed and validated app manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file the manifest was read from.
    pub path: PathBuf,
    /// The `[app]` table.
    pub app: AppInfo,
    /// The `[[credentials]]` entries, in file order, with unique names.
    pub credentials: Vec<CredentialRequest>,
    /// The `[env]` table: the only environment variables the app sees.
    pub env: BTreeMap<EnvName, EnvValue>,
    /// The `[network]` table: where the app may connect.
    pub network: NetworkPermissions,
    /// The `[[folders]]` entries, with unique paths.
    pub folders: Vec<FolderRequest>,
    /// The `[limits]` table: limits the app requests beyond the defaults.
    pub limits: LimitRequest,
    /// The `[tester]` table, when the app tests credentials.
    pub tester: Option<TesterInfo>,
}

/// The `[app]` table: the app's identity and its component.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppInfo {
    /// A stable identifier such as `greeter`.
    pub id: AppId,
    /// The name shown to people.
    pub name: Text,
    /// The app's version, in semantic versioning form.
    pub version: semver::Version,
    /// The component file, relative to the manifest's folder.
    pub component: RelativePath,
}

/// One `[[credentials]]` entry: a credential the app may read and why.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    /// The credential's name in the vault.
    pub name: CredentialName,
    /// The reason the app needs it, shown to the user.
    pub purpose: Text,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    app: AppInfo,
    #[serde(default)]
    credentials: Vec<RawCredentialRequest>,
    #[serde(default)]
    env: BTreeMap<EnvName, EnvValue>,
    #[serde(default)]
    network: NetworkPermissions,
    #[serde(default)]
    folders: Vec<FolderRequest>,
    #[serde(default)]
    limits: LimitRequest,
    tester: Option<TesterInfo>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentialRequest {
    name: toml::Spanned<CredentialName>,
    purpose: Text,
}

/// A manifest that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest file could not be read.
    #[error("cannot read manifest {path}: {source}")]
    Read {
        /// The manifest path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest is not valid TOML or a field has an invalid value.
    #[error("invalid manifest {path}: {message}")]
    Invalid {
        /// The manifest path.
        path: PathBuf,
        /// The parser's message, with line, column and the offending value.
        message: String,
    },
    /// The component file named by `app.component` is missing, is not a
    /// regular file, or resolves outside the manifest's folder.
    #[error("invalid manifest {path}: `app.component` names {component}, which {problem}")]
    BadComponent {
        /// The manifest path.
        path: PathBuf,
        /// The resolved component path.
        component: PathBuf,
        /// The problem and the fix.
        problem: String,
    },
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    ///
    /// # Errors
    ///
    /// Returns [`ManifestError::Read`] when the file cannot be read,
    /// [`ManifestError::Invalid`] for invalid TOML, unknown fields, invalid
    /// values and duplicate credential names, and
    /// [`ManifestError::BadComponent`] when the component file does not
    /// exist, is not a regular file, or resolves outside the manifest's folder
    /// through a symbolic link.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let bytes = std::fs::read(path).map_err(|source| ManifestError::Read {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|err| ManifestError::Invalid {
            path: path.to_owned(),
            message: format!(
                "the file is not valid UTF-8 (invalid byte at offset {}); save it as UTF-8",
                err.utf8_error().valid_up_to()
            ),
        })?;
        let manifest = Self::parse(&text, path)?;
        manifest.check_component()?;
        Ok(manifest)
    }

    fn check_component(&self) -> Result<(), ManifestError> {
        let component = self.component_path();
        let bad = |problem: &str| ManifestError::BadComponent {
            path: self.path.clone(),
            component: component.clone(),
            problem: problem.to_owned(),
        };
        let metadata = std::fs::metadata(&component)
            .map_err(|_| bad("does not exist; build the app first or fix the path"))?;
        if !metadata.is_file() {
            return Err(bad("is not a regular file; point `app.component` at the .wasm file"));
        }
        let real_component = std::fs::canonicalize(&component).map_err(|_| bad("cannot be resolved"))?;
        let real_folder = std::fs::canonicalize(self.folder()).map_err(|_| bad("is in a folder that cannot be resolved"))?;
        if !real_component.starts_with(&real_folder) {
            return Err(bad(
                "resolves outside the app's folder through a symbolic link; copy the component into the folder",
            ));
        }
        Ok(())
    }

    /// Parses manifest text; `path` is used for messages and to resolve the
    /// component. The component file is not checked.
    ///
    /// # Errors
    ///
    /// Returns [`ManifestError::Invalid`] as [`Manifest::load`] does.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ManifestError> {
        let invalid = |message: String| ManifestError::Invalid {
            path: path.to_owned(),
            message,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|err| invalid(err.to_string()))?;

        let mut seen = BTreeSet::new();
        let mut credentials = Vec::with_capacity(raw.credentials.len());
        for (index, entry) in raw.credentials.into_iter().enumerate() {
            let span = entry.name.span();
            let name = entry.name.into_inner();
            if !seen.insert(name.clone()) {
                let (line, column) = line_and_column(text, span.start);
                return Err(invalid(format!(
                    "line {line}, column {column}: `credentials[{index}].name` repeats \"{name}\"; declare each credential once"
                )));
            }
            credentials.push(CredentialRequest {
                name,
                purpose: entry.purpose,
            });
        }

        let lists = [
            ("folders", raw.folders.len()),
            ("network.http", raw.network.http.len()),
            ("network.tcp", raw.network.tcp.len()),
        ];
        for (field, count) in lists {
            if count > MAX_PERMISSION_ENTRIES {
                return Err(invalid(format!(
                    "`{field}` has {count} entries, and the maximum is {MAX_PERMISSION_ENTRIES}; an app that needs more should be split"
                )));
            }
        }
        if let Some(origin) = first_repeat(&raw.network.http) {
            return Err(invalid(format!("`network.http` lists {origin} more than once; list each origin once")));
        }
        if let Some(endpoint) = first_repeat(&raw.network.tcp) {
            return Err(invalid(format!("`network.tcp` lists {endpoint} more than once; list each endpoint once")));
        }
        if raw.tester.is_some() {
            let extra = [
                ("[[credentials]]", !credentials.is_empty()),
                ("[[folders]]", !raw.folders.is_empty()),
                ("[env]", !raw.env.is_empty()),
            ];
            if let Some((table, _)) = extra.iter().find(|(_, present)| *present) {
                return Err(invalid(format!(
                    "a tester's manifest has no {table}: `lahat credential test` grants a tester only the credential under test and its endpoint; remove the table"
                )));
            }
        }
        let mut folder_paths = BTreeSet::new();
        for (index, folder) in raw.folders.iter().enumerate() {
            let path = folder.path.as_str();
            let nested = folder_paths.iter().any(|other: &&str| {
                other == &path || path.starts_with(&format!("{other}/")) || other.starts_with(&format!("{path}/"))
            });
            if nested {
                return Err(invalid(format!(
                    "`folders[{index}].path` \"{path}\" repeats or nests inside another folder's path; give each folder its own path"
                )));
            }
            folder_paths.insert(path);
        }
        if let Some(limit) = raw.limits.memory
            && limit.0 < crate::permissions::MIN_MEMORY_BYTES
        {
            return Err(invalid(format!(
                "`limits.memory` is {limit}, and an app needs at least 1 MiB; write a size such as \"64 MiB\""
            )));
        }
        if let Some(limit) = raw.limits.memory
            && limit.0 > crate::permissions::MAX_MEMORY_BYTES
        {
            return Err(invalid(format!(
                "`limits.memory` is {limit}, and the most an app may ask for is 4 GiB"
            )));
        }
        if let Some(limit) = raw.limits.timeout
            && limit.0 > crate::permissions::MAX_TIMEOUT
        {
            return Err(invalid("`limits.timeout` is longer than 24 hours, the most an app may ask for".to_owned()));
        }
        if let Some(limit) = raw.limits.output
            && limit.0 > crate::permissions::MAX_OUTPUT_BYTES
        {
            return Err(invalid(format!(
                "`limits.output` is {limit}, and the most an app may ask for is 1 GiB"
            )));
        }

        Ok(Self {
            path: path.to_owned(),
            app: raw.app,
            credentials,
            env: raw.env,
            network: raw.network,
            folders: raw.folders,
            limits: raw.limits,
            tester: raw.tester,
        })
    }

    /// Returns the folder that contains the manifest.
    pub fn folder(&self) -> &Path {
        self.path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// Returns the component path resolved against the manifest's folder.
    pub fn component_path(&self) -> PathBuf {
        self.folder().join(self.app.component.as_path())
    }

    /// Returns the set of declared credential names.
    pub fn declared_names(&self) -> BTreeSet<CredentialName> {
        self.credentials.iter().map(|c| c.name.clone()).collect()
    }
}

/// Returns the first entry of `items` that appears twice.
fn first_repeat<T: Ord + fmt::Display>(items: &[T]) -> Option<&T> {
    let mut seen = BTreeSet::new();
    items.iter().find(|item| !seen.insert(*item))
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |tail| tail.chars().count()) + 1;
    (line, column)
}

/// An app identifier: 1 to 64 lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct AppId(String);

impl AppId {
    /// Returns the identifier as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AppId {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let valid_chars = raw
            .chars()
            .all(|ch| matches!(ch, 'a'..='z' | '0'..='9' | '-' | '_'));
        let starts_with_letter = raw.starts_with(|ch: char| ch.is_ascii_lowercase());
        if raw.is_empty() || raw.len() > MAX_APP_ID_LEN || !valid_chars || !starts_with_letter {
            return Err(format!(
                "invalid app id {:?}: use 1 to {MAX_APP_ID_LEN} lowercase ASCII letters, digits, `-` and `_`, starting with a letter (for example \"backup-s3\")",
                shorten(&raw)
            ));
        }
        Ok(Self(raw))
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A short text shown to people, such as an app name or a purpose: 1 to 200
/// characters on one line, with no control or bidirectional-override
/// characters that could disguise what a terminal shows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Text(String);

impl Text {
    /// Returns the text as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Text {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        if raw.trim().is_empty() {
            return Err("the text is empty; write a short description".to_owned());
        }
        let length = raw.chars().count();
        if length > MAX_TEXT_LEN {
            return Err(format!(
                "the text is {length} characters long, and the maximum is {MAX_TEXT_LEN}"
            ));
        }
        if let Some(ch) = raw.chars().find(|&ch| is_deceptive_char(ch)) {
            return Err(format!(
                "the text {:?} contains the character {}, which could disguise what a terminal shows; remove it",
                shorten(&raw),
                ch.escape_unicode()
            ));
        }
        Ok(Self(raw))
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Control characters (newlines and ANSI escapes among them), the Unicode
/// bidirectional formatting characters, zero-width characters and the line
/// and paragraph separators.
fn is_deceptive_char(ch: char) -> bool {
    ch.is_control()
        || matches!(
            ch,
            '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
        )
}

/// An environment variable name: an ASCII letter or `_`, then up to 127
/// ASCII letters, digits or `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvName(String);

impl EnvName {
    /// Returns the name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EnvName {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let starts_well = raw.starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_');
        let rest_ok = raw.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !starts_well || !rest_ok || raw.len() > 128 {
            return Err(format!(
                "invalid environment variable name \"{}\": use an ASCII letter or `_`, then up to 127 ASCII letters, digits or `_` (for example LOG_LEVEL)",
                shorten(&raw).escape_debug()
            ));
        }
        Ok(Self(raw))
    }
}

impl From<EnvName> for String {
    fn from(name: EnvName) -> Self {
        name.0
    }
}

/// An environment variable value: at most 4096 characters with no control,
/// bidirectional or zero-width characters, because the approval prompt shows
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvValue(String);

impl EnvValue {
    /// Returns the value as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EnvValue {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        if raw.chars().count() > 4096 {
            return Err("the environment variable value is longer than 4096 characters".to_owned());
        }
        if let Some(ch) = raw.chars().find(|&ch| is_deceptive_char(ch)) {
            return Err(format!(
                "the environment variable value contains the character {}; remove it",
                ch.escape_unicode()
            ));
        }
        Ok(Self(raw))
    }
}

impl From<EnvValue> for String {
    fn from(value: EnvValue) -> Self {
        value.0
    }
}

/// A relative path that stays inside the manifest's folder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct RelativePath(PathBuf);

impl RelativePath {
    /// Returns the path.
    pub fn as_path(&self) -> &Path {
        &self.0
    }
}

impl TryFrom<String> for RelativePath {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let path = PathBuf::from(&raw);
        let inside = !raw.is_empty()
            && !raw.chars().any(is_deceptive_char)
            && path
                .components()
                .all(|part| matches!(part, PathComponent::Normal(_) | PathComponent::CurDir));
        if !inside {
            return Err(format!(
                "invalid component path \"{}\": use a path relative to the manifest's folder that does not leave it, without control characters (for example \"app.wasm\")",
                shorten(&raw).escape_debug()
            ));
        }
        Ok(Self(path))
    }
}

fn shorten(raw: &str) -> String {
    raw.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
[app]
id = "greeter"
name = "Greeter"
version = "0.1.0"
component = "greeter.wasm"

[[credentials]]
name = "demo.greeting"
purpose = "Text the app shows"
"#;

    #[test]
    fn valid_manifest_parses() {
        let manifest = Manifest::parse(VALID, Path::new("/apps/greeter/lahat.toml")).unwrap();
        assert_eq!(manifest.app.id.as_str(), "greeter");
        assert_eq!(manifest.app.version, semver::Version::new(0, 1, 0));
        assert_eq!(manifest.component_path(), Path::new("/apps/greeter/greeter.wasm"));
        let names: Vec<_> = manifest.declared_names().into_iter().map(String::from).collect();
        assert_eq!(names, ["demo.greeting"]);
    }

    #[test]
    fn credentials_are_optional() {
        let text = VALID.split("[[credentials]]").next().unwrap();
        let manifest = Manifest::parse(text, Path::new("lahat.toml")).unwrap();
        assert!(manifest.credentials.is_empty());
    }

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_and_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
    }
}
