//! `lahat credential import`: moving existing keys into the vault.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgGroup, Args};
use lahat_host::ExposeSecret;
use lahat_host::import::{ImportItem, ImportPlan, ImportSource, LEGACY_KEYCHAIN_SERVICE, plan_from_env, plan_from_lahat_dir};
use lahat_host::manager::{CredentialManager, ManageError, NewCredential};
use lahat_host::name::CredentialName;
use lahat_host::store::{KeychainStore, StoreConfig, StoreError};
use serde_json::{Value, json};

use super::credential::{manage_error, open};
use super::{CliError, ExitCode, printable};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["from_env", "from_lahat"])))]
pub struct ImportArgs {
    /// Import environment variables: with no value, OPENAI_API_KEY to
    /// openai.default and ANTHROPIC_API_KEY to claude.default; otherwise the
    /// VAR=NAME pairs given, such as `--from-env MY_KEY=service.main`.
    #[arg(long, num_args = 0.., value_name = "VAR=NAME")]
    from_env: Option<Vec<String>>,

    /// Import from a Lahat desktop app's data folder: plaintext keys in
    /// config.json and keychain items described by credentials-metadata.json.
    #[arg(long, value_name = "DIR")]
    from_lahat: Option<PathBuf>,

    /// Show what would be imported and change nothing.
    #[arg(long)]
    dry_run: bool,

    /// After each plaintext key was written to the vault and read back,
    /// remove it from config.json. The original file is kept beside it as
    /// `config.json.lahat-backup` (mode 0600) until you delete it.
    #[arg(long, requires = "from_lahat")]
    wipe_plaintext: bool,

    /// After each keychain item was written to the vault and read back,
    /// delete the old `lahat-app` keychain item.
    #[arg(long, requires = "from_lahat")]
    remove_old_items: bool,

    /// Print one JSON object (see docs/cli.md).
    #[arg(long)]
    json: bool,
}

/// The outcome of one planned item.
enum Outcome {
    Imported,
    /// The vault already had the name; `true` when its value is the same.
    Skipped(bool),
    WouldImport,
    WouldSkip,
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Self::Imported => "imported",
            Self::Skipped(_) => "skipped",
            Self::WouldImport => "would-import",
            Self::WouldSkip => "would-skip",
        }
    }

    /// Returns whether the vault now contains exactly the source's value.
    fn verified(&self) -> bool {
        matches!(self, Self::Imported | Self::Skipped(true))
    }
}

pub async fn execute(args: ImportArgs, config: &StoreConfig) -> Result<ExitCode, CliError> {
    let plan = make_plan(&args, config.timeout).await?;
    let manager = open(config).await?;

    let mut outcomes = Vec::with_capacity(plan.items.len());
    let mut planned = std::collections::BTreeSet::new();
    for item in &plan.items {
        let outcome = if args.dry_run && !planned.insert(item.target.clone()) {
            // An earlier item of this dry run would already have created it.
            Outcome::WouldSkip
        } else {
            apply(&manager, item, args.dry_run).await?
        };
        outcomes.push(outcome);
    }

    let mut wiped = Vec::new();
    let mut backup = None;
    if args.wipe_plaintext && !args.dry_run && let Some(dir) = &args.from_lahat {
        let verified: Vec<(String, &lahat_host::SecretString)> = plan
            .items
            .iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| outcome.verified())
            .filter_map(|(item, _)| match &item.source {
                ImportSource::PlaintextConfig(key) => Some((key.clone(), &item.value)),
                _ => None,
            })
            .collect();
        if !verified.is_empty() {
            let (path, keys) = wipe_plaintext(&dir.join("config.json"), &verified)?;
            if !keys.is_empty() {
                backup = Some(path);
            }
            wiped = keys;
        }
    }

    let mut removed = Vec::new();
    if args.remove_old_items && !args.dry_run {
        removed = remove_old_items(&plan, &outcomes, config.timeout).await?;
    }

    report(&args, &plan, &outcomes, &wiped, backup.as_deref(), &removed);
    Ok(ExitCode::SUCCESS)
}

async fn make_plan(args: &ImportArgs, timeout: Duration) -> Result<ImportPlan, CliError> {
    if let Some(pairs) = &args.from_env {
        let mappings = pairs.iter().map(|pair| parse_mapping(pair)).collect::<Result<Vec<_>, _>>()?;
        return Ok(plan_from_env(&mappings, |variable| std::env::var_os(variable)));
    }
    let Some(dir) = args.from_lahat.clone() else {
        return Err(CliError::new(ExitCode::USAGE, "pass --from-env or --from-lahat DIR"));
    };
    let legacy = connect_legacy_keychain(timeout).await;
    tokio::task::spawn_blocking(move || {
        plan_from_lahat_dir(&dir, |account| match &legacy {
            Ok(keychain) => keychain
                .read_foreign(LEGACY_KEYCHAIN_SERVICE, account)
                .map_err(|err| err.to_string()),
            Err(reason) => Err(reason.clone()),
        })
    })
    .await
    .map_err(|err| CliError::new(ExitCode::FAILURE, format!("reading the data folder failed: {err}")))?
    .map_err(|err| CliError::new(ExitCode::DATA_ERROR, err.to_string()))
}

fn parse_mapping(pair: &str) -> Result<(String, CredentialName), CliError> {
    let invalid = |reason: String| {
        CliError::new(
            ExitCode::USAGE,
            format!("invalid --from-env mapping {:?}: {reason}; use VAR=NAME such as MY_KEY=service.main", printable(pair)),
        )
    };
    let (variable, name) = pair.split_once('=').ok_or_else(|| invalid("it has no `=`".to_owned()))?;
    if variable.is_empty() {
        return Err(invalid("the variable name is empty".to_owned()));
    }
    let name = CredentialName::parse(name).map_err(|err| invalid(err.to_string()))?;
    Ok((variable.to_owned(), name))
}

/// Connects to the OS keychain for the desktop app's old items; on failure,
/// returns the reason every such item will be reported with.
async fn connect_legacy_keychain(timeout: Duration) -> Result<Arc<KeychainStore>, String> {
    let connect = tokio::task::spawn_blocking(KeychainStore::connect);
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(Ok(keychain))) => Ok(Arc::new(keychain)),
        Ok(Ok(Err(err))) => Err(err.to_string()),
        Ok(Err(err)) => Err(format!("connecting to the OS keychain failed: {err}")),
        Err(_) => Err(StoreError::TimedOut(timeout).to_string()),
    }
}

async fn apply(manager: &CredentialManager, item: &ImportItem, dry_run: bool) -> Result<Outcome, CliError> {
    let existing = manager.vault().get(&item.target).await?;
    if let Some(existing) = existing {
        let same = existing.expose_secret() == item.value.expose_secret();
        return Ok(if dry_run { Outcome::WouldSkip } else { Outcome::Skipped(same) });
    }
    if dry_run {
        return Ok(Outcome::WouldImport);
    }
    let new = NewCredential {
        value: item.value.clone(),
        description: item.description.clone(),
        expires: None,
        created: item.created,
        kind: item.kind,
    };
    match manager.add(&item.target, new, false).await {
        Ok(()) => {}
        // Another process stored the name after the check above.
        Err(ManageError::AlreadyExists(_)) => {
            let current = manager.reveal(&item.target).await.map_err(manage_error)?;
            return Ok(Outcome::Skipped(current.expose_secret() == item.value.expose_secret()));
        }
        Err(err) => return Err(manage_error(err)),
    }
    let stored = manager.reveal(&item.target).await.map_err(manage_error)?;
    if stored.expose_secret() != item.value.expose_secret() {
        return Err(CliError::new(
            ExitCode::STORE_UNAVAILABLE,
            format!(
                "{} was written but reads back differently; nothing was removed from the sources",
                item.target
            ),
        ));
    }
    Ok(Outcome::Imported)
}

/// Removes from `config.json` each key of `verified` whose current value is
/// still the verified one, after copying the original to
/// `config.json.lahat-backup`; returns the backup's path and the removed
/// keys. A symbolic link is followed, so the file it points to is rewritten.
fn wipe_plaintext(
    config: &Path,
    verified: &[(String, &lahat_host::SecretString)],
) -> Result<(PathBuf, Vec<String>), CliError> {
    let fail = |action: &str, path: &Path, err: &dyn std::fmt::Display| {
        CliError::new(ExitCode::FAILURE, format!("cannot {action} {}: {err}", path.display()))
    };
    let config = &std::fs::canonicalize(config).map_err(|err| fail("resolve", config, &err))?;
    let original = std::fs::read(config).map_err(|err| fail("read", config, &err))?;
    let permissions = std::fs::metadata(config).map_err(|err| fail("read", config, &err))?.permissions();
    let mut document: serde_json::Map<String, Value> =
        serde_json::from_slice(&original).map_err(|err| fail("parse", config, &err))?;

    // The file is read again here, so a key that changed since the import
    // read it stays: the vault holds the old value, not the new one.
    let removable: Vec<String> = verified
        .iter()
        .filter(|(key, value)| document.get(key).and_then(Value::as_str) == Some(value.expose_secret()))
        .map(|(key, _)| key.clone())
        .collect();
    let backup = unused_backup_path(config);
    if removable.is_empty() {
        return Ok((backup, removable));
    }
    write_private(&backup, &original).map_err(|err| fail("write the backup", &backup, &err))?;

    for key in &removable {
        document.remove(key);
    }
    // electron-store indents config.json with tabs; keep that layout.
    let mut rewritten = Vec::with_capacity(original.len());
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    serde::Serialize::serialize(&document, &mut serde_json::Serializer::with_formatter(&mut rewritten, formatter))
        .map_err(|err| fail("encode", config, &err))?;
    let folder = config.parent().unwrap_or(Path::new("."));
    let mut temporary = tempfile::NamedTempFile::new_in(folder).map_err(|err| fail("write", config, &err))?;
    std::io::Write::write_all(&mut temporary, &rewritten).map_err(|err| fail("write", config, &err))?;
    temporary
        .as_file()
        .set_permissions(permissions)
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(|err| fail("write", config, &err))?;
    temporary.persist(config).map_err(|err| fail("replace", config, &err.error))?;
    Ok((backup, removable))
}

fn unused_backup_path(config: &Path) -> PathBuf {
    let base = config.with_file_name("config.json.lahat-backup");
    if !base.exists() {
        return base;
    }
    (2..)
        .map(|number| config.with_file_name(format!("config.json.lahat-backup.{number}")))
        .find(|path| !path.exists())
        .unwrap_or(base)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    std::io::Write::write_all(&mut file, bytes)?;
    file.sync_all()
}

async fn remove_old_items(plan: &ImportPlan, outcomes: &[Outcome], timeout: Duration) -> Result<Vec<String>, CliError> {
    let accounts: Vec<String> = plan
        .items
        .iter()
        .zip(outcomes)
        .filter(|(_, outcome)| outcome.verified())
        .filter_map(|(item, _)| match &item.source {
            ImportSource::LegacyKeychain(account) => Some(account.clone()),
            _ => None,
        })
        .collect();
    if accounts.is_empty() {
        return Ok(accounts);
    }
    let keychain = connect_legacy_keychain(timeout)
        .await
        .map_err(|reason| CliError::new(ExitCode::STORE_UNAVAILABLE, reason))?;
    let removed = tokio::task::spawn_blocking(move || {
        let mut removed = Vec::new();
        for account in accounts {
            if keychain.delete_foreign(LEGACY_KEYCHAIN_SERVICE, &account)? > 0 {
                removed.push(account);
            }
        }
        Ok::<_, StoreError>(removed)
    })
    .await
    .map_err(|err| CliError::new(ExitCode::FAILURE, format!("removing old keychain items failed: {err}")))??;
    Ok(removed)
}

fn report(
    args: &ImportArgs,
    plan: &ImportPlan,
    outcomes: &[Outcome],
    wiped: &[String],
    backup: Option<&Path>,
    removed: &[String],
) {
    if args.json {
        let items: Vec<Value> = plan
            .items
            .iter()
            .zip(outcomes)
            .map(|(item, outcome)| {
                json!({
                    "source": item.source.to_string(),
                    "target": item.target,
                    "renamed_from": item.renamed_from,
                    "outcome": outcome.label(),
                    "same_value": match outcome { Outcome::Skipped(same) => Some(*same), _ => None },
                })
            })
            .collect();
        let unreadable: Vec<Value> = plan
            .unreadable
            .iter()
            .map(|entry| json!({ "source": entry.source, "reason": entry.reason }))
            .collect();
        let document = json!({
            "dry_run": args.dry_run,
            "items": items,
            "unreadable": unreadable,
            "wiped_plaintext_keys": wiped,
            "backup": backup.map(|path| path.display().to_string()),
            "removed_old_items": removed,
        });
        println!("{document}");
        return;
    }

    if plan.items.is_empty() && plan.unreadable.is_empty() {
        println!("found nothing to import");
    }
    for (item, outcome) in plan.items.iter().zip(outcomes) {
        let renamed = item
            .renamed_from
            .as_ref()
            .map(|from| format!(" (renamed from {:?} to be a valid name)", printable(from)))
            .unwrap_or_default();
        let detail = match outcome {
            Outcome::Skipped(true) => " (already in the vault with the same value)",
            Outcome::Skipped(false) => " (already in the vault with a different value; left unchanged)",
            Outcome::WouldSkip => " (already in the vault)",
            Outcome::Imported | Outcome::WouldImport => "",
        };
        println!("{}: {} -> {}{renamed}{detail}", outcome.label(), item.source, item.target);
    }
    for entry in &plan.unreadable {
        println!("unreadable: {}: {}", entry.source, printable(&entry.reason));
    }
    if let Some(backup) = backup {
        println!(
            "removed {} plaintext key(s) from config.json; the original is at {} until you delete it",
            wiped.len(),
            backup.display()
        );
    }
    for account in removed {
        println!("deleted old keychain item {LEGACY_KEYCHAIN_SERVICE}/{account}");
    }
}
