//! `lahat credential`: storing, listing and deleting credentials.

use std::io::{IsTerminal, Read};

use clap::{Args, Subcommand};
use lahat_host::name::CredentialName;
use lahat_host::store::{StoreConfig, open_store};
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
    /// Print a JSON object `{"store": STRING, "credentials": [NAME, ...]}`.
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
            let opened = open_store(config).await?;
            show_notice(opened.notice.as_deref());
            let store = opened.vault.store().clone();
            let name = args.name.clone();
            blocking(move || store.set(&name, &value)).await?;
            eprintln!("stored {} in {}", args.name, opened.vault.store().description());
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::List(args) => {
            let opened = open_store(config).await?;
            show_notice(opened.notice.as_deref());
            let store = opened.vault.store().clone();
            let names = blocking(move || store.list()).await?;
            if args.json {
                let document = serde_json::json!({
                    "store": opened.vault.store().description(),
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
            let opened = open_store(config).await?;
            show_notice(opened.notice.as_deref());
            let store = opened.vault.store().clone();
            let name = args.name.clone();
            let description = store.description();
            if blocking(move || store.delete(&name)).await? {
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

fn show_notice(notice: Option<&str>) {
    if let Some(notice) = notice {
        eprintln!("{notice}");
    }
}

/// Runs a store call on a blocking thread. Keychain timeouts apply to reads
/// during app runs; a person at the command line can interrupt a slow write.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, lahat_host::store::StoreError> + Send + 'static,
) -> Result<T, CliError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|err| CliError::new(ExitCode::FAILURE, format!("the credential store call failed: {err}")))?
        .map_err(CliError::from)
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
        .take(MAX_VALUE_LEN as u64 + 1)
        .read_to_end(&mut buffer)
        .map_err(|err| CliError::new(ExitCode::FAILURE, format!("cannot read the value from stdin: {err}")))?;
    if buffer.len() > MAX_VALUE_LEN {
        return Err(CliError::new(
            ExitCode::DATA_ERROR,
            format!("the value on stdin is longer than {MAX_VALUE_LEN} bytes; nothing was stored"),
        ));
    }
    let newline_len = if buffer.ends_with(b"\r\n") {
        2
    } else {
        usize::from(buffer.ends_with(b"\n"))
    };
    let text = std::str::from_utf8(&buffer[..buffer.len() - newline_len]).map_err(|err| {
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
