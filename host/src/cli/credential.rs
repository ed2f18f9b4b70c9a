//! `lahat credential`: adding, editing, showing, listing, renaming, revealing,
//! deleting and repairing credentials.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use clap::{Args, Subcommand};
use lahat_host::manager::{CredentialChanges, CredentialManager, ListedCredential, ManageError, NewCredential};
use lahat_host::metadata::{CredentialKind, CredentialMetadata, Timestamp};
use lahat_host::name::CredentialName;
use lahat_host::store::{StoreConfig, open_store};
use lahat_host::ExposeSecret;
use base64ct::Encoding;
use serde_json::{Value, json};

use super::value::ValueSource;
use super::{CliError, ExitCode, one_line, printable};

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Store a credential, replacing any value it had. The value comes from
    /// a no-echo prompt on a terminal, from stdin otherwise, or from
    /// --from-env or --from-file; never from an argument.
    Set(SetArgs),
    /// Store a new credential; fails when the name is taken.
    Add(SetArgs),
    /// Change a credential's value, description or expiry.
    Edit(EditArgs),
    /// Show a credential's metadata, never its value.
    Show(ShowArgs),
    /// List stored credentials grouped by namespace, never their values.
    List(ListArgs),
    /// Rename a credential, keeping its value and metadata.
    Rename(RenameArgs),
    /// Print a credential's value, for scripts; requires --reveal.
    Get(GetArgs),
    /// Delete a credential, after a confirmation prompt on a terminal.
    Delete(DeleteArgs),
    /// Find and repair secrets without metadata and metadata without a
    /// secret, which an interrupted write can leave.
    Doctor(JsonArgs),
    /// Import existing keys from environment variables or a Lahat desktop
    /// app's data folder.
    Import(super::import::ImportArgs),
    /// Check a credential with the service it belongs to: run the tester app
    /// of its namespace, print the outcome and record it as the last test.
    /// Exits 0 when the service accepted it and 1 when it did not.
    Test(super::tester::TestArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The credential name, `namespace.profile`, such as `aws.default`.
    #[arg(value_parser = parse_name)]
    name: CredentialName,
    #[command(flatten)]
    source: ValueSource,
    /// A note for people, such as what the key is for: one line of at most
    /// 200 characters.
    #[arg(long, value_parser = parse_description)]
    description: Option<String>,
    /// When apps stop receiving the credential: a date (2027-01-31), an
    /// RFC 3339 time, or a duration from now (90days).
    #[arg(long, value_name = "WHEN", value_parser = parse_expiry)]
    expires: Option<Timestamp>,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The credential name.
    #[arg(value_parser = parse_name)]
    name: CredentialName,
    /// Read a new value from a no-echo prompt or stdin.
    #[arg(long, conflicts_with_all = ["from_env", "from_file"])]
    value: bool,
    #[command(flatten)]
    source: ValueSource,
    /// A new description: one line of at most 200 characters.
    #[arg(long, conflicts_with = "clear_description", value_parser = parse_description)]
    description: Option<String>,
    /// Remove the description.
    #[arg(long)]
    clear_description: bool,
    /// A new expiry: a date, an RFC 3339 time, or a duration from now.
    #[arg(long, value_name = "WHEN", value_parser = parse_expiry, conflicts_with = "no_expiry")]
    expires: Option<Timestamp>,
    /// Remove the expiry.
    #[arg(long)]
    no_expiry: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The credential name.
    #[arg(value_parser = parse_name)]
    name: CredentialName,
    /// Print one JSON object (see docs/cli.md).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print one JSON object (see docs/cli.md).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print one JSON object (see docs/cli.md).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The current name.
    #[arg(value_parser = parse_name)]
    old: CredentialName,
    /// The new name.
    #[arg(value_parser = parse_name)]
    new: CredentialName,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The credential name.
    #[arg(value_parser = parse_name)]
    name: CredentialName,
    /// Print the value on stdout. Without this flag `get` refuses, so a value
    /// is never shown by accident. A newline follows only on a terminal.
    #[arg(long)]
    reveal: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The credential name.
    #[arg(value_parser = parse_name)]
    name: CredentialName,
    /// Delete without asking.
    #[arg(long, short)]
    yes: bool,
}

pub(super) fn parse_name(raw: &str) -> Result<CredentialName, String> {
    CredentialName::parse(raw).map_err(|err| err.to_string())
}

fn parse_description(raw: &str) -> Result<String, String> {
    lahat_host::manifest::Text::try_from(raw.to_owned())
        .map(|text| text.as_str().to_owned())
        .map_err(|err| format!("invalid description: {err}"))
}

fn parse_expiry(raw: &str) -> Result<Timestamp, String> {
    Timestamp::parse_expiry(raw, Timestamp::now())
}

pub async fn execute(command: CredentialCommand, config: &StoreConfig) -> Result<ExitCode, CliError> {
    if let CredentialCommand::Import(args) = command {
        return super::import::execute(args, config).await;
    }
    // Values are read before the store opens, so a prompt for the value
    // comes before any prompt for the vault passphrase.
    let value = match &command {
        CredentialCommand::Set(args) | CredentialCommand::Add(args) => Some(args.source.read(&args.name)?),
        CredentialCommand::Edit(args) if args.value || args.source.is_explicit() || args.source.binary => {
            Some(args.source.read(&args.name)?)
        }
        _ => None,
    };
    if let CredentialCommand::Get(args) = &command
        && !args.reveal
    {
        return Err(CliError::new(
            ExitCode::USAGE,
            format!("`get` prints the value of {} only with --reveal; add it if you mean to", args.name),
        ));
    }

    let manager = open(config).await?;
    let store = manager.vault().store().description();
    match command {
        CredentialCommand::Set(args) => store_new(&manager, args, value, true, &store).await?,
        CredentialCommand::Add(args) => store_new(&manager, args, value, false, &store).await?,
        CredentialCommand::Edit(args) => {
            let nothing = value.is_none()
                && args.description.is_none()
                && !args.clear_description
                && args.expires.is_none()
                && !args.no_expiry;
            if nothing {
                return Err(CliError::new(
                    ExitCode::USAGE,
                    format!(
                        "nothing to change for {}; pass --value, --description, --clear-description, --expires or --no-expiry",
                        args.name
                    ),
                ));
            }
            let kind = value.is_some().then_some(if args.source.binary {
                CredentialKind::Binary
            } else {
                CredentialKind::Secret
            });
            let changes = CredentialChanges {
                kind,
                value,
                description: if args.clear_description { Some(None) } else { args.description.map(Some) },
                expires: if args.no_expiry { Some(None) } else { args.expires.map(Some) },
            };
            manager.edit(&args.name, changes).await.map_err(manage_error)?;
            eprintln!("updated {} in {store}", args.name);
        }
        CredentialCommand::Show(args) => {
            let listed = manager.show(&args.name).await.map_err(manage_error)?;
            if args.json {
                println!("{}", describe(&listed, Timestamp::now()));
            } else {
                print_details(&listed, &store);
            }
        }
        CredentialCommand::List(args) => {
            let credentials = manager.list().await.map_err(manage_error)?;
            if args.json {
                let now = Timestamp::now();
                let entries: Vec<Value> = credentials.iter().map(|listed| describe(listed, now)).collect();
                let document = json!({
                    "store": { "kind": manager.vault().store().kind(), "description": store },
                    "credentials": entries,
                });
                println!("{document}");
            } else {
                print_grouped(&credentials);
            }
        }
        CredentialCommand::Rename(args) => {
            if args.old == args.new {
                return Err(CliError::new(
                    ExitCode::USAGE,
                    format!("the old and new names are both {}; pass a different new name", args.old),
                ));
            }
            manager.rename(&args.old, &args.new).await.map_err(manage_error)?;
            eprintln!("renamed {} to {} in {store}", args.old, args.new);
        }
        CredentialCommand::Get(args) => {
            let value = manager.reveal(&args.name).await.map_err(manage_error)?;
            let kind = manager
                .show(&args.name)
                .await
                .map_err(manage_error)?
                .metadata
                .map(|metadata| metadata.kind);
            let mut stdout = std::io::stdout().lock();
            let written = if kind == Some(CredentialKind::Binary) {
                let bytes = zeroize::Zeroizing::new(base64ct::Base64::decode_vec(value.expose_secret()).map_err(|_| {
                    CliError::new(
                        ExitCode::DATA_ERROR,
                        format!("{} is marked binary but its value is not valid base64; store it again", args.name),
                    )
                })?);
                stdout.write_all(&bytes)
            } else {
                let newline = if stdout.is_terminal() { "\n" } else { "" };
                write!(stdout, "{}{newline}", value.expose_secret())
            };
            written
                .and_then(|()| stdout.flush())
                .map_err(|err| CliError::new(ExitCode::FAILURE, format!("cannot write the value: {err}")))?;
        }
        CredentialCommand::Delete(args) => {
            if !args.yes && std::io::stdin().is_terminal() && !confirm(&format!("Delete {} from {store}?", args.name))? {
                eprintln!("kept {}", args.name);
                return Ok(ExitCode::FAILURE);
            }
            manager.delete(&args.name).await.map_err(manage_error)?;
            eprintln!("deleted {} from {store}", args.name);
        }
        CredentialCommand::Doctor(args) => {
            let report = manager.doctor().await.map_err(manage_error)?;
            if args.json {
                let damaged: Vec<Value> = report
                    .damaged
                    .iter()
                    .map(|(name, problem)| json!({ "name": name, "problem": problem }))
                    .collect();
                println!(
                    "{}",
                    json!({
                        "adopted": report.adopted,
                        "removed": report.removed,
                        "damaged": damaged,
                        "temporary_files_removed": report.temporary_files_removed,
                    })
                );
            } else if report.adopted.is_empty()
                && report.removed.is_empty()
                && report.damaged.is_empty()
                && report.temporary_files_removed == 0
            {
                println!("the credentials and their metadata agree; nothing to repair");
            } else {
                for name in &report.adopted {
                    println!("added metadata for {name}, whose secret had none");
                }
                for name in &report.removed {
                    println!("removed metadata of {name}, whose secret is missing");
                }
                for (name, problem) in &report.damaged {
                    println!("cannot read {name}: {}", printable(problem));
                }
                if report.temporary_files_removed > 0 {
                    println!(
                        "removed {} temporary file(s) left by interrupted writes",
                        report.temporary_files_removed
                    );
                }
            }
            if !report.damaged.is_empty() {
                return Ok(ExitCode::DATA_ERROR);
            }
        }
        CredentialCommand::Import(_) | CredentialCommand::Test(_) => {}
    }
    Ok(ExitCode::SUCCESS)
}

async fn store_new(
    manager: &CredentialManager,
    args: SetArgs,
    value: Option<lahat_host::SecretString>,
    replace: bool,
    store: &str,
) -> Result<(), CliError> {
    let kind = if args.source.binary { CredentialKind::Binary } else { CredentialKind::Secret };
    let new = NewCredential {
        value: value.unwrap_or_default(),
        description: args.description,
        expires: args.expires,
        created: None,
        kind,
    };
    manager.add(&args.name, new, replace).await.map_err(manage_error)?;
    eprintln!("stored {} in {store}", args.name);
    Ok(())
}

/// Opens the configured store with its metadata and prints the notice of an
/// automatic choice.
pub(super) async fn open(config: &StoreConfig) -> Result<CredentialManager, CliError> {
    let opened = open_store(config).await?;
    if let Some(notice) = &opened.notice {
        eprintln!("{}", printable(notice));
    }
    Ok(CredentialManager::new(opened.vault, opened.metadata))
}

pub(super) fn manage_error(err: ManageError) -> CliError {
    match err {
        ManageError::Store(err) => CliError::from(err),
        ManageError::NotFound(_) => CliError::new(ExitCode::NOT_FOUND, err.to_string()),
        ManageError::AlreadyExists(_) => CliError::new(ExitCode::ALREADY_EXISTS, err.to_string()),
    }
}

/// Asks a yes-or-no question on the terminal; only `y` or `yes` agrees.
fn confirm(question: &str) -> Result<bool, CliError> {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    super::read_yes()
}

/// Builds the JSON description of a credential, as `show --json` and
/// `list --json` print it.
fn describe(listed: &ListedCredential, now: Timestamp) -> Value {
    let Some(metadata) = &listed.metadata else {
        return json!({
            "name": listed.name,
            "namespace": listed.name.namespace(),
            "metadata": false,
        });
    };
    json!({
        "name": listed.name,
        "namespace": listed.name.namespace(),
        "metadata": true,
        "kind": metadata.kind,
        "description": metadata.description,
        "created": metadata.created,
        "updated": metadata.updated,
        "expires": metadata.expires,
        "expired": metadata.is_expired(now),
        "last_used": metadata.last_used,
        "last_test": metadata.last_test,
    })
}

fn print_details(listed: &ListedCredential, store: &str) {
    println!("name:        {}", listed.name);
    println!("store:       {store}");
    let Some(metadata) = &listed.metadata else {
        println!("metadata:    none; `lahat credential doctor` adds it");
        return;
    };
    print_metadata(metadata);
}

fn print_metadata(metadata: &CredentialMetadata) {
    let now = Timestamp::now();
    if let Some(description) = &metadata.description {
        println!("description: {}", one_line(description));
    }
    let kind = match metadata.kind {
        CredentialKind::Secret => "secret",
        CredentialKind::UsernamePassword => "username and password",
        CredentialKind::Binary => "binary (apps receive base64)",
    };
    println!("kind:        {kind}");
    println!("created:     {}", metadata.created);
    println!("updated:     {}", metadata.updated);
    match metadata.expires {
        Some(expires) if metadata.is_expired(now) => println!("expires:     {expires} (expired)"),
        Some(expires) => println!("expires:     {expires}"),
        None => println!("expires:     never"),
    }
    if metadata.last_used.is_empty() {
        println!("last used:   never");
    }
    for (app, time) in &metadata.last_used {
        println!("last used:   {time} by {app}");
    }
    match &metadata.last_test {
        Some(test) => println!(
            "last test:   {} {} ({})",
            test.time,
            if test.passed { "passed" } else { "failed" },
            printable(&test.message)
        ),
        None => println!("last test:   never"),
    }
}


fn print_grouped(credentials: &[ListedCredential]) {
    let mut groups: BTreeMap<&str, Vec<&ListedCredential>> = BTreeMap::new();
    for listed in credentials {
        groups.entry(listed.name.namespace()).or_default().push(listed);
    }
    let now = Timestamp::now();
    for (namespace, members) in groups {
        println!("{namespace}");
        for listed in members {
            let note = match &listed.metadata {
                None => " (no metadata)".to_owned(),
                Some(metadata) if metadata.is_expired(now) => " (expired)".to_owned(),
                Some(metadata) => metadata
                    .description
                    .as_ref()
                    .map(|description| format!("  {}", one_line(description)))
                    .unwrap_or_default(),
            };
            println!("  {}{note}", listed.name);
        }
    }
}
