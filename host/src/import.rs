//! Planning the import of existing keys into the vault.
//!
//! Sources:
//!
//! - Environment variables: `OPENAI_API_KEY` to `openai.default`,
//!   `ANTHROPIC_API_KEY` to `claude.default`, or explicit `VAR=NAME` pairs.
//! - A Lahat desktop app's data folder, which kept keys in two generations:
//!   plaintext in electron-store's `config.json`, and later the OS keychain
//!   under service `lahat-app`, described by `credentials-metadata.json`.
//!
//! Planning reads everything and writes nothing; the CLI applies a plan.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::metadata::{CredentialKind, Timestamp};
use crate::name::CredentialName;

/// The keychain service under which the Lahat desktop app stored keys.
pub const LEGACY_KEYCHAIN_SERVICE: &str = "lahat-app";

/// The default environment variables and the credentials they import into.
pub const DEFAULT_ENV_MAPPINGS: &[(&str, &str)] =
    &[("OPENAI_API_KEY", "openai.default"), ("ANTHROPIC_API_KEY", "claude.default")];

/// `config.json` keys with plaintext keys, in priority order: when two keys
/// map to one credential, the earlier one is imported.
const PLAINTEXT_KEYS: &[(&str, &str)] = &[
    ("claude_api_key", "claude.default"),
    ("apiKey", "claude.default"),
    ("dev_claude_api_key", "claude.development"),
    ("claude_api_key_dev", "claude.development"),
    ("openai_api_key", "openai.default"),
    ("openAIKey", "openai.default"),
    ("dev_openai_api_key", "openai.development"),
    ("openai_api_key_dev", "openai.development"),
];

/// `config.json` keys whose values the desktop app encrypted with a key this
/// host cannot read.
const ENCRYPTED_KEYS: &[&str] = &["encryptedApiKey", "encryptedOpenAIKey"];

/// The origin of an item, for reports and for cleaning up afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportSource {
    /// An environment variable.
    Environment(String),
    /// A key of `config.json`, which `--wipe-plaintext` can remove.
    PlaintextConfig(String),
    /// A keychain item under [`LEGACY_KEYCHAIN_SERVICE`] with this account,
    /// which `--remove-old-items` can delete.
    LegacyKeychain(String),
}

impl std::fmt::Display for ImportSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Environment(variable) => write!(f, "environment variable {variable}"),
            Self::PlaintextConfig(key) => write!(f, "config.json key {key:?}"),
            Self::LegacyKeychain(account) => write!(f, "keychain item {LEGACY_KEYCHAIN_SERVICE}/{account}"),
        }
    }
}

/// One credential to import.
pub struct ImportItem {
    /// The origin.
    pub source: ImportSource,
    /// The credential it becomes.
    pub target: CredentialName,
    /// The original name when it had to change to be valid.
    pub renamed_from: Option<String>,
    /// The value.
    pub value: SecretString,
    /// The description the source gave.
    pub description: Option<String>,
    /// The creation time the source gave.
    pub created: Option<Timestamp>,
    /// The kind of value.
    pub kind: CredentialKind,
}

/// Something found that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The place it was found.
    pub source: String,
    /// The reason it cannot be imported.
    pub reason: String,
}

/// Everything an import would do.
#[derive(Default)]
pub struct ImportPlan {
    /// The credentials to import.
    pub items: Vec<ImportItem>,
    /// Items found that cannot be imported.
    pub unreadable: Vec<Unreadable>,
}

/// A data folder that cannot be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot import from {path}: {reason}")]
pub struct ImportError {
    /// The file or folder.
    pub path: PathBuf,
    /// The problem and the fix.
    pub reason: String,
}

/// Plans an import of environment variables: `mappings` of variable to
/// credential, or [`DEFAULT_ENV_MAPPINGS`] when empty. `lookup` reads a
/// variable. Unset variables are skipped silently when the defaults are used
/// and reported otherwise.
pub fn plan_from_env(
    mappings: &[(String, CredentialName)],
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> ImportPlan {
    let defaults: Vec<(String, CredentialName)>;
    let explicit = !mappings.is_empty();
    let mappings = if explicit {
        mappings
    } else {
        defaults = DEFAULT_ENV_MAPPINGS
            .iter()
            .filter_map(|(variable, name)| Some(((*variable).to_owned(), CredentialName::parse(name).ok()?)))
            .collect();
        &defaults
    };
    let mut plan = ImportPlan::default();
    for (variable, target) in mappings {
        match lookup(variable).map(std::ffi::OsString::into_string) {
            Some(Ok(value)) if !value.is_empty() => plan.items.push(ImportItem {
                source: ImportSource::Environment(variable.clone()),
                target: target.clone(),
                renamed_from: None,
                value: SecretString::from(value),
                description: Some(format!("Imported from the environment variable {variable}")),
                created: None,
                kind: CredentialKind::Secret,
            }),
            Some(Ok(_)) if explicit => plan.unreadable.push(Unreadable {
                source: format!("environment variable {variable}"),
                reason: "it is empty".to_owned(),
            }),
            Some(Err(_)) => plan.unreadable.push(Unreadable {
                source: format!("environment variable {variable}"),
                reason: "it is not valid UTF-8".to_owned(),
            }),
            None if explicit => plan.unreadable.push(Unreadable {
                source: format!("environment variable {variable}"),
                reason: "it is not set".to_owned(),
            }),
            _ => {}
        }
    }
    plan
}

/// Plans an import from a Lahat desktop app's data folder. `read_legacy`
/// reads a keychain item under [`LEGACY_KEYCHAIN_SERVICE`] by account and
/// returns `Err` with a reason when the keychain cannot be read.
///
/// # Errors
///
/// Returns [`ImportError`] when `dir` is not a folder, or when `config.json`
/// or `credentials-metadata.json` exists but is not valid JSON of the
/// expected shape. Problems with single items go into
/// [`ImportPlan::unreadable`].
pub fn plan_from_lahat_dir(
    dir: &Path,
    read_legacy: impl Fn(&str) -> Result<Option<SecretString>, String>,
) -> Result<ImportPlan, ImportError> {
    if !dir.is_dir() {
        return Err(ImportError {
            path: dir.to_owned(),
            reason: "it is not a folder; pass the Lahat app's data folder, which holds config.json".to_owned(),
        });
    }
    let mut plan = ImportPlan::default();
    let config = dir.join("config.json");
    if let Some(document) = read_json(&config)? {
        plan_plaintext(&config, &document, &mut plan)?;
    }
    let metadata = dir.join("credentials-metadata.json");
    if let Some(document) = read_json(&metadata)? {
        plan_keychain(&metadata, &document, &read_legacy, &mut plan)?;
    }
    Ok(plan)
}

fn read_json(path: &Path) -> Result<Option<Value>, ImportError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(ImportError {
                path: path.to_owned(),
                reason: format!("cannot read it: {err}"),
            });
        }
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|err| ImportError {
        path: path.to_owned(),
        reason: format!("it is not valid JSON ({err}); nothing was imported"),
    })
}

fn plan_plaintext(path: &Path, document: &Value, plan: &mut ImportPlan) -> Result<(), ImportError> {
    let Some(object) = document.as_object() else {
        return Err(ImportError {
            path: path.to_owned(),
            reason: "it is not a JSON object; nothing was imported".to_owned(),
        });
    };
    for (key, target) in PLAINTEXT_KEYS {
        let Some(value) = object.get(*key) else { continue };
        let Some(text) = value.as_str().filter(|text| !text.is_empty()) else {
            plan.unreadable.push(Unreadable {
                source: format!("config.json key {key:?}"),
                reason: "it is not a non-empty string".to_owned(),
            });
            continue;
        };
        let Ok(target) = CredentialName::parse(target) else { continue };
        plan.items.push(ImportItem {
            source: ImportSource::PlaintextConfig((*key).to_owned()),
            target,
            renamed_from: None,
            value: SecretString::from(text),
            description: Some(format!("Imported from Lahat's config.json key {key}")),
            created: None,
            kind: CredentialKind::Secret,
        });
    }
    for key in ENCRYPTED_KEYS {
        if object.contains_key(*key) {
            plan.unreadable.push(Unreadable {
                source: format!("config.json key {key:?}"),
                reason: "the desktop app encrypted it with a key lahat cannot read; store the key again with `lahat credential add`".to_owned(),
            });
        }
    }
    Ok(())
}

fn plan_keychain(
    path: &Path,
    document: &Value,
    read_legacy: &impl Fn(&str) -> Result<Option<SecretString>, String>,
    plan: &mut ImportPlan,
) -> Result<(), ImportError> {
    let Some(entries) = document.as_array() else {
        return Err(ImportError {
            path: path.to_owned(),
            reason: "it is not a JSON array; nothing was imported".to_owned(),
        });
    };
    for (index, entry) in entries.iter().enumerate() {
        let field = |name: &str| entry.get(name).and_then(Value::as_str);
        let Some(id) = field("id").filter(|id| !id.is_empty()) else {
            plan.unreadable.push(Unreadable {
                source: format!("credentials-metadata.json entry {index}"),
                reason: "it has no `id`".to_owned(),
            });
            continue;
        };
        let is_pair = field("type") == Some("username-password");
        let account = if is_pair { format!("{id}_password") } else { format!("{id}_value") };
        let source = ImportSource::LegacyKeychain(account.clone());
        let original_name = field("name").unwrap_or(id);
        let Some((target, renamed_from)) = valid_name(original_name) else {
            plan.unreadable.push(Unreadable {
                source: source.to_string(),
                reason: format!("its name {original_name:?} cannot be made a valid credential name"),
            });
            continue;
        };
        let secret = match read_legacy(&account) {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                plan.unreadable.push(Unreadable {
                    source: source.to_string(),
                    reason: "the keychain has no such item".to_owned(),
                });
                continue;
            }
            Err(reason) => {
                plan.unreadable.push(Unreadable {
                    source: source.to_string(),
                    reason,
                });
                continue;
            }
        };
        let (value, kind) = if is_pair {
            let username = field("username").unwrap_or_default();
            let pair = serde_json::json!({ "username": username, "password": secret.expose_secret() });
            (SecretString::from(pair.to_string()), CredentialKind::UsernamePassword)
        } else {
            (secret, CredentialKind::Secret)
        };
        plan.items.push(ImportItem {
            source,
            target,
            renamed_from,
            value,
            description: field("description").map(str::to_owned),
            created: entry.get("createdAt").and_then(parse_created),
            kind,
        });
    }
    Ok(())
}

/// Accepts `createdAt` as an RFC 3339 string or as milliseconds since the
/// Unix epoch, the two forms JavaScript's `Date` serializes to.
fn parse_created(value: &Value) -> Option<Timestamp> {
    if let Some(text) = value.as_str() {
        let parsed: Timestamp = text.parse().ok()?;
        return Timestamp::checked(parsed.as_system_time());
    }
    let millis = value.as_u64()?;
    let time = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_millis(millis))?;
    Timestamp::checked(time)
}

/// Returns `raw` as a credential name, changed to be valid when needed:
/// lowercased, other characters replaced by `-`, and `imported.` put in front
/// of a name with one segment.
fn valid_name(raw: &str) -> Option<(CredentialName, Option<String>)> {
    if let Ok(name) = CredentialName::parse(raw) {
        return Some((name, None));
    }
    let mut cleaned: String = raw
        .trim()
        .chars()
        .map(|ch| match ch.to_ascii_lowercase() {
            lower @ ('a'..='z' | '0'..='9' | '-' | '_' | '.') => lower,
            _ => '-',
        })
        .collect();
    cleaned = cleaned
        .split('.')
        .map(|segment| segment.trim_matches('-'))
        .filter(|segment| !segment.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    if !cleaned.contains('.') {
        cleaned = format!("imported.{cleaned}");
    }
    CredentialName::parse(&cleaned)
        .ok()
        .map(|name| (name, Some(raw.to_owned())))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn default_env_mappings_import_set_variables() {
        let env = HashMap::from([("OPENAI_API_KEY", "sk-openai")]);
        let plan = plan_from_env(&[], |name| env.get(name).map(Into::into));
        assert_eq!(plan.items.len(), 1);
        assert_eq!(plan.items[0].target.as_str(), "openai.default");
        assert_eq!(plan.items[0].value.expose_secret(), "sk-openai");
        assert!(plan.unreadable.is_empty(), "unset defaults are not reported");
    }

    #[test]
    fn explicit_env_mapping_reports_unset() {
        let mappings = vec![("MY_KEY".to_owned(), CredentialName::parse("svc.main").unwrap())];
        let plan = plan_from_env(&mappings, |_| None);
        assert!(plan.items.is_empty());
        assert_eq!(plan.unreadable[0].reason, "it is not set");
    }

    #[test]
    fn names_are_made_valid() {
        let cases = [
            ("claude.default", "claude.default", false),
            ("Claude.Default", "claude.default", true),
            ("AWS Default", "imported.aws-default", true),
            ("openai..team", "openai.team", true),
            (" my key ", "imported.my-key", true),
        ];
        for (raw, expected, renamed) in cases {
            let (name, from) = valid_name(raw).unwrap_or_else(|| panic!("{raw:?} gave no name"));
            assert_eq!(name.as_str(), expected, "{raw:?}");
            assert_eq!(from.is_some(), renamed, "{raw:?}");
        }
        assert!(valid_name("***").is_none());
    }

    #[test]
    fn created_accepts_string_and_millis() {
        let text = serde_json::json!("2025-03-01T10:00:00Z");
        assert_eq!(parse_created(&text).unwrap().to_string(), "2025-03-01T10:00:00Z");
        let millis = serde_json::json!(1_740_823_200_000u64);
        assert_eq!(parse_created(&millis).unwrap().to_string(), "2025-03-01T10:00:00Z");
    }
}
