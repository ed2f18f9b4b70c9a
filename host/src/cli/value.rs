//! Reading a credential value: from a no-echo prompt, stdin, an environment
//! variable or a file, never from a command-line argument, because other
//! users can read arguments from the process list.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::Args;
use lahat_host::name::CredentialName;
use lahat_host::{ExposeSecret, SecretString};
use base64ct::Encoding;
use zeroize::Zeroizing;

use super::{CliError, ExitCode};

/// The largest value lahat accepts, in bytes.
const MAX_VALUE_LEN: usize = 1024 * 1024;

/// The source of a value. With neither option, the value comes from a no-echo
/// prompt on a terminal or from stdin otherwise.
#[derive(Debug, Args, Default)]
pub struct ValueSource {
    /// Read the value from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "from_file")]
    pub from_env: Option<String>,

    /// Read the value from this file; one trailing newline is removed.
    #[arg(long, value_name = "PATH")]
    pub from_file: Option<PathBuf>,

    /// Store the value as raw bytes: read it exactly, keeping any trailing
    /// newline, and store it base64-encoded. Apps receive the base64 text.
    /// With `edit`, this reads a new value.
    #[arg(long)]
    pub binary: bool,
}

impl ValueSource {
    /// Returns whether an option names the source.
    pub fn is_explicit(&self) -> bool {
        self.from_env.is_some() || self.from_file.is_some()
    }

    /// Reads the value for `name`; with `--binary`, returns its base64
    /// encoding.
    pub fn read(&self, name: &CredentialName) -> Result<SecretString, CliError> {
        if self.binary {
            return self.read_binary(name);
        }
        let value = if let Some(variable) = &self.from_env {
            read_env(variable)?
        } else if let Some(path) = &self.from_file {
            read_file(path)?
        } else if std::io::stdin().is_terminal() {
            let typed = rpassword::prompt_password(format!("Value for {name}: ")).map_err(|err| {
                CliError::new(ExitCode::FAILURE, format!("cannot read the value from the terminal: {err}"))
            })?;
            SecretString::from(typed)
        } else {
            let mut stdin = std::io::stdin().lock();
            read_bounded(&mut stdin, "stdin")?
        };
        if value.expose_secret().is_empty() {
            return Err(CliError::new(
                ExitCode::DATA_ERROR,
                format!("the value for {name} is empty; nothing was stored"),
            ));
        }
        Ok(value)
    }
}

impl ValueSource {
    fn read_binary(&self, name: &CredentialName) -> Result<SecretString, CliError> {
        let mut bytes = Zeroizing::new(Vec::new());
        let (mut reader, source): (Box<dyn Read>, String) = if let Some(path) = &self.from_file {
            let file = std::fs::File::open(path).map_err(|err| {
                CliError::new(ExitCode::NOT_FOUND, format!("cannot open the value file {}: {err}", path.display()))
            })?;
            (Box::new(file), path.display().to_string())
        } else if self.from_env.is_some() {
            return Err(CliError::new(
                ExitCode::USAGE,
                "--binary reads from stdin or --from-file; environment variables hold text",
            ));
        } else {
            (Box::new(std::io::stdin().lock()), "stdin".to_owned())
        };
        reader
            .as_mut()
            .take(MAX_VALUE_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| CliError::new(ExitCode::FAILURE, format!("cannot read the value from {source}: {err}")))?;
        if bytes.len() > MAX_VALUE_LEN {
            return Err(CliError::new(
                ExitCode::DATA_ERROR,
                format!("the value from {source} is longer than {MAX_VALUE_LEN} bytes; nothing was stored"),
            ));
        }
        if bytes.is_empty() {
            return Err(CliError::new(
                ExitCode::DATA_ERROR,
                format!("the value for {name} is empty; nothing was stored"),
            ));
        }
        Ok(SecretString::from(base64ct::Base64::encode_string(&bytes)))
    }
}

fn read_env(variable: &str) -> Result<SecretString, CliError> {
    match std::env::var_os(variable) {
        None => Err(CliError::new(
            ExitCode::NOT_FOUND,
            format!("the environment variable {variable} is not set; export it or pick another source"),
        )),
        Some(value) => value.into_string().map(SecretString::from).map_err(|_| {
            CliError::new(
                ExitCode::DATA_ERROR,
                format!("the environment variable {variable} is not valid UTF-8; nothing was stored"),
            )
        }),
    }
}

fn read_file(path: &Path) -> Result<SecretString, CliError> {
    let mut file = std::fs::File::open(path).map_err(|err| {
        CliError::new(
            ExitCode::NOT_FOUND,
            format!("cannot open the value file {}: {err}", path.display()),
        )
    })?;
    read_bounded(&mut file, &path.display().to_string())
}

/// Reads at most [`MAX_VALUE_LEN`] bytes of UTF-8 and removes one trailing
/// newline (`\n` or `\r\n`).
fn read_bounded(reader: &mut dyn Read, source: &str) -> Result<SecretString, CliError> {
    let mut buffer = Zeroizing::new(Vec::with_capacity(4096));
    reader
        .take(MAX_VALUE_LEN as u64 + 3)
        .read_to_end(&mut buffer)
        .map_err(|err| CliError::new(ExitCode::FAILURE, format!("cannot read the value from {source}: {err}")))?;
    let newline_len = if buffer.ends_with(b"\r\n") {
        2
    } else {
        usize::from(buffer.ends_with(b"\n"))
    };
    let value = &buffer[..buffer.len() - newline_len];
    if value.len() > MAX_VALUE_LEN {
        return Err(CliError::new(
            ExitCode::DATA_ERROR,
            format!("the value from {source} is longer than {MAX_VALUE_LEN} bytes; nothing was stored"),
        ));
    }
    let text = std::str::from_utf8(value).map_err(|err| {
        CliError::new(
            ExitCode::DATA_ERROR,
            format!(
                "the value from {source} is not valid UTF-8 (invalid byte at offset {}); nothing was stored",
                err.valid_up_to()
            ),
        )
    })?;
    Ok(SecretString::from(text))
}
