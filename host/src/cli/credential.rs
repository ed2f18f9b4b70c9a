//! `lahat credential`: storing, listing and deleting credentials.

use std::io::{IsTerminal, Read};

use clap::{Args, Subcommand};
use lahat_host::name::CredentialName;
use lahat_host::store::{StoreConfig, Vault, open_store};
use lahat_host::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{CliError, ExitCode};

/// The largest value `credential set` accepts, in bytes.
const MAX_VALUE_LEN: usize = 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Store a credential. The value is read from a no-echo prompt on a
    /// terminal, or from stdin when stdin is not a terminal (one trailing
    /// newline is removed). It is never taken from an argument, because other
    /// users can read arguments from the process list.
    Set(NameArgs),
    /// List the names of stored credentials, never their values.
    List(ListArgs),
    /// Delete a stored credential.
    Delete(NameArgs),
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// The credential name, `namespace.profile`, such as `aws.default`.
    #[arg(value_parser = parse_name)]
    name: CredentialName,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print one JSON object: `{"store": {"kind": "os" or "file",
    /// "description": TEXT}, "credentials": [NAME, ...]}`.
    #[arg(long)]
    json: bool,
}

fn parse_name(raw: &str) -> Result<CredentialName, String> {
    CredentialName::parse(raw).map_err(|err| err.to_string())
}

pub async fn execute(command: CredentialCommand, config: &StoreConfig) -> Result<ExitCode, CliError> {
    match command {
        CredentialCommand::Set(args) => {
            let value = read_value(&args.name)?;
            let vault = open(config).await?;
            vault.set(&args.name, value).await?;
            eprintln!("stored {} in {}", args.name, vault.store().description());
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::List(args) => {
            let vault = open(config).await?;
            let names = vault.list().await?;
            if args.json {
                let document = serde_json::json!({
                    "store": { "kind": vault.store().kind(), "description": vault.store().description() },
                    "credentials": names,
                });
                println!("{document}");
            } else {
                for name in &names {
                    println!("{name}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Delete(args) => {
            let vault = open(config).await?;
            let description = vault.store().description();
            if vault.delete(&args.name).await? {
                eprintln!("deleted {} from {description}", args.name);
                Ok(ExitCode::SUCCESS)
            } else {
                Err(CliError::new(
                    ExitCode::NOT_FOUND,
                    format!(
                        "no credential named {} in {description}; `lahat credential list` shows the stored names",
                        args.name
                    ),
                ))
            }
        }
    }
}

/// Opens the configured store and prints the notice of an automatic choice.
async fn open(config: &StoreConfig) -> Result<Vault, CliError> {
    let opened = open_store(config).await?;
    if let Some(notice) = &opened.notice {
        eprintln!("{}", super::printable(notice));
    }
    Ok(opened.vault)
}

/// Reads a credential value from a no-echo prompt or from stdin.
fn read_value(name: &CredentialName) -> Result<SecretString, CliError> {
    let value = if std::io::stdin().is_terminal() {
        let typed = rpassword::prompt_password(format!("Value for {name}: ")).map_err(|err| {
            CliError::new(ExitCode::FAILURE, format!("cannot read the value from the terminal: {err}"))
        })?;
        SecretString::from(typed)
    } else {
        read_value_from_stdin()?
    };
    if value.expose_secret().is_empty() {
        return Err(CliError::new(
            ExitCode::DATA_ERROR,
            format!("the value for {name} is empty; nothing was stored"),
        ));
    }
    Ok(value)
}

fn read_value_from_stdin() -> Result<SecretString, CliError> {
    let mut buffer = Zeroizing::new(Vec::with_capacity(4096));
    std::io::stdin()
        .lock()
        .take(MAX_VALUE_LEN as u64 + 3)
        .read_to_end(&mut buffer)
        .map_err(|err| CliError::new(ExitCode::FAILURE, format!("cannot read the value from stdin: {err}")))?;
    let newline_len = if buffer.ends_with(b"\r\n") {
        2
    } else {
        usize::from(buffer.ends_with(b"\n"))
    };
    let value = &buffer[..buffer.len() - newline_len];
    if value.len() > MAX_VALUE_LEN {
        return Err(CliError::new(
            ExitCode::DATA_ERROR,
            format!("the value on stdin is longer than {MAX_VALUE_LEN} bytes; nothing was stored"),
        ));
    }
    let text = std::str::from_utf8(value).map_err(|err| {
        CliError::new(
            ExitCode::DATA_ERROR,
            format!(
                "the value on stdin is not valid UTF-8 (invalid byte at offset {}); nothing was stored",
                err.valid_up_to()
            ),
        )
    })?;
    Ok(SecretString::from(text))
}
