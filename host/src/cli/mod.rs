//! The `lahat` command line: argument types and dispatch.

mod app;
mod audit;
mod credential;
mod exit;
mod import;
mod run;
mod terminal;
mod tester;
mod value;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lahat_host::paths::Paths;
use lahat_host::store::{STORE_ENV, StoreConfig, StoreKind, TIMEOUT_ENV};

pub use exit::{CliError, ExitCode};
pub use terminal::SavedTerminal;

const AFTER_HELP: &str = "\
Exit status:
  lahat run exits with the app's own exit status, which WASI 0.2 limits to
  0 (success) or 1 (failure). Failures of lahat itself print a line starting
  with `lahat: error:` and use these codes:
    2   invalid command-line arguments
    65  invalid manifest, component or input value
    66  manifest, file or credential not found
    69  credential store unavailable, locked or not answering
    73  a credential with that name already exists
    77  the app is not approved for this component
    70  the app crashed or could not start
    124 the app ran longer than its time limit
    1   any other failure

Environment:
  LAHAT_STORE          `os` or `file`, when --store is not given
  LAHAT_PASSPHRASE     passphrase of the encrypted vault file
  LAHAT_STORE_TIMEOUT  seconds a keychain call may take (default 10)
  LAHAT_HOME           folder for all of lahat's files (vault file, cache)
  LAHAT_LOG            log filter for stderr, such as `info` (default `warn`)";

/// Runs WebAssembly mini apps and hands each one only the credentials its
/// manifest declares.
#[derive(Debug, Parser)]
#[command(name = "lahat", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Credential store: `os` for the operating system's keychain, `file` for
    /// the encrypted vault file. Default: the keychain when one answers,
    /// otherwise the vault file.
    #[arg(long, global = true, env = STORE_ENV, value_name = "STORE", value_parser = parse_store_kind)]
    store: Option<StoreKind>,

    /// Path of the encrypted vault file. Default: `vault.lahat` in the
    /// platform's data folder (`$LAHAT_HOME/data` when LAHAT_HOME is set).
    #[arg(long, global = true, env = "LAHAT_VAULT_FILE", value_name = "PATH")]
    vault_file: Option<PathBuf>,

    /// Seconds each OS keychain call (connect, read, write, list) may take
    /// before lahat reports the keychain as not answering.
    #[arg(long, global = true, env = TIMEOUT_ENV, value_name = "SECONDS", default_value = "10",
          value_parser = parse_seconds)]
    store_timeout: Duration,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a mini app. It can read exactly the credentials its manifest
    /// declares, reach only the network destinations, folders and
    /// environment variables it declares, and nothing of the host's own.
    Run(run::RunArgs),
    /// Show an app's manifest, declared credentials and the interfaces its
    /// component imports and exports.
    Inspect(run::InspectArgs),
    /// Manage the credentials in the vault.
    #[command(subcommand)]
    Credential(credential::CredentialCommand),
    /// Approve, revoke and list apps.
    #[command(subcommand)]
    App(app::AppCommand),
    /// Show the audit log of credential requests: time, app, credential,
    /// outcome and component hash, never values.
    Audit(audit::AuditArgs),
}

impl Cli {
    /// Runs the parsed command and returns the process exit code.
    pub async fn execute(self) -> Result<ExitCode, CliError> {
        let paths = Paths::from_env().map_err(|message| CliError::new(ExitCode::FAILURE, message))?;
        let store_config = StoreConfig {
            kind: self.store,
            vault_file: self.vault_file.clone().unwrap_or_else(|| paths.vault_file()),
            keychain_metadata: paths.keychain_metadata(),
            timeout: self.store_timeout,
        };
        match self.command {
            Command::Run(args) => run::run(args, &paths, store_config).await,
            Command::Inspect(args) => run::inspect(args, &paths),
            Command::Credential(credential::CredentialCommand::Test(args)) => {
                tester::execute(args, &paths, store_config).await
            }
            Command::Credential(command) => credential::execute(command, &store_config).await,
            Command::Audit(args) => audit::execute(args, &paths),
            Command::App(command) => app::execute(command, &paths),
        }
    }
}

fn parse_store_kind(raw: &str) -> Result<StoreKind, String> {
    raw.parse()
}

fn parse_seconds(raw: &str) -> Result<Duration, String> {
    let seconds: f64 = raw
        .parse()
        .map_err(|_| format!("invalid number of seconds {raw:?}; use a number such as 10 or 0.5"))?;
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
        return Err(format!("{raw} seconds is out of range; use a number above 0 and at most 86400"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Reads one line from stdin and returns whether it is `y` or `yes`, in any
/// case; anything else, end of input included, means no.
pub fn read_yes() -> Result<bool, CliError> {
    use std::io::BufRead;

    let mut reply = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut reply)
        .map_err(|err| CliError::new(ExitCode::FAILURE, format!("cannot read the reply from stdin: {err}")))?;
    Ok(matches!(reply.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// The maximum line length of a message that lahat prints, in characters.
const MAX_PRINTED_LINE: usize = 2000;

/// Makes `text` safe to print on a terminal: control characters other than
/// newline and tab, and the Unicode bidirectional and zero-width characters,
/// are shown as `\u{...}` escapes, and each line is cut after
/// [`MAX_PRINTED_LINE`] characters. Manifest values, file names and names
/// typed on the command line reach messages, and any of them may come from
/// someone else.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let mut count = 0;
        for ch in line.chars() {
            if count == MAX_PRINTED_LINE {
                let rest = line.chars().count() - count;
                out.push_str(&format!("... ({rest} more characters)"));
                break;
            }
            count += 1;
            if ch != '\t' && (ch.is_control() || is_invisible_format(ch)) {
                out.extend(ch.escape_unicode());
            } else {
                out.push(ch);
            }
        }
    }
    out
}

/// Shows `text` on one line: control characters are escaped as by
/// [`printable`], and newlines and tabs too, so a path or stored text cannot
/// fake extra lines of output.
pub fn one_line(text: &str) -> String {
    printable(text).replace('\n', "\\n").replace('\t', "\\t")
}

fn is_invisible_format(ch: char) -> bool {
    matches!(
        ch,
        '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::{one_line, printable};

    #[test]
    fn one_line_escapes_newlines_and_tabs() {
        assert_eq!(one_line("/apps/a\nIt asks to read no credentials.\tx"), "/apps/a\\nIt asks to read no credentials.\\tx");
        assert_eq!(one_line("a\u{1b}]0;t\u{7}"), "a\\u{1b}]0;t\\u{7}");
    }

    #[test]
    fn printable_escapes_terminal_controls() {
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(printable("line one\n\tline two"), "line one\n\tline two");
    }

    #[test]
    fn printable_cuts_long_lines() {
        let printed = printable(&"n".repeat(100_000));
        assert!(printed.len() < 2100, "{} bytes", printed.len());
        assert!(printed.ends_with("(98000 more characters)"), "{}", &printed[printed.len() - 40..]);
    }
}
