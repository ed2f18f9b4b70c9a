//! `lahat app`: approving, revoking and listing apps, and the consent prompt
//! that `lahat run` shows for an app without a valid approval.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use lahat_host::grants::{GrantStatus, Grants};
use lahat_host::manifest::Manifest;
use lahat_host::paths::Paths;
use lahat_host::runtime::ComponentCache;
use serde_json::json;

use super::run::{load_manifest, new_runtime, run_error};
use super::{CliError, ExitCode};

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Approve an app: show what it asks for and record the approval for
    /// this exact component. Changing one byte of the component, or
    /// declaring more in the manifest, needs a new approval.
    Approve(ApproveArgs),
    /// Withdraw the approval of an app, by app id.
    Revoke(RevokeArgs),
    /// List approved apps.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The app folder that contains `lahat.toml`, or the manifest file.
    path: PathBuf,
    /// Approve without asking.
    #[arg(long, short)]
    yes: bool,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The app id from the manifest's `[app]` table.
    id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print one JSON object: `{"apps": [{"id", "component_sha256",
    /// "credentials", "env", "approved"}]}`.
    #[arg(long)]
    json: bool,
}

pub fn execute(command: AppCommand, paths: &Paths) -> Result<ExitCode, CliError> {
    let grants = Grants::new(paths.grants_file());
    match command {
        AppCommand::Approve(args) => {
            let manifest = load_manifest(&args.path)?;
            let runtime = new_runtime(Some(ComponentCache::new(paths.component_cache())))?;
            let loaded = runtime.load_component(&manifest.component_path()).map_err(run_error)?;
            if !args.yes {
                // The question goes to stderr, so both must be the terminal
                // or the person answering could not see what they approve.
                if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
                    return Err(CliError::new(
                        ExitCode::USAGE,
                        "approval needs a terminal on stdin and stderr to ask on; pass --yes to approve without asking",
                    ));
                }
                if !ask_consent(&manifest, &loaded.sha256, "")? {
                    return Err(not_approved(&manifest, "you declined"));
                }
            }
            grants.approve(&manifest, &loaded.sha256)?;
            eprintln!("approved {} with component {}", manifest.app.id, &loaded.sha256[..12]);
        }
        AppCommand::Revoke(args) => {
            if grants.revoke(&args.id)? {
                eprintln!("revoked the approval of {}", super::printable(&args.id));
            } else {
                return Err(CliError::new(
                    ExitCode::NOT_FOUND,
                    format!("no approved app has the id {:?}; `lahat app list` shows them", args.id),
                ));
            }
        }
        AppCommand::List(args) => {
            let all = grants.load()?;
            if args.json {
                let apps: Vec<_> = all
                    .iter()
                    .map(|(id, grant)| {
                        json!({
                            "id": id,
                            "component_sha256": grant.component_sha256,
                            "credentials": grant.credentials,
                            "env": grant.env,
                            "approved": grant.approved,
                        })
                    })
                    .collect();
                println!("{}", json!({ "apps": apps }));
            } else {
                for (id, grant) in &all {
                    let names: Vec<&str> = grant.credentials.iter().map(|name| name.as_str()).collect();
                    let short_hash: String = grant.component_sha256.chars().take(12).collect();
                    // The file may have been edited by hand, so its text is escaped.
                    println!(
                        "{}  component {}  approved {}  credentials: {}",
                        super::printable(id),
                        super::printable(&short_hash),
                        grant.approved,
                        if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Makes sure the user approved this component before it runs: asks on a
/// terminal, and fails without one.
pub fn ensure_approved(manifest: &Manifest, component_sha256: &str, paths: &Paths) -> Result<(), CliError> {
    // An app that declares nothing gets nothing beyond the sandbox, so there
    // is nothing to consent to.
    if manifest.credentials.is_empty() && manifest.env.is_empty() {
        return Ok(());
    }
    let grants = Grants::new(paths.grants_file());
    let status = grants.status(manifest, component_sha256)?;
    if status == GrantStatus::Granted {
        return Ok(());
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        return Err(CliError::new(
            ExitCode::NOT_APPROVED,
            format!(
                "{} needs approval because {}; review it with `lahat inspect {}` and approve it with `lahat app approve {}`",
                manifest.app.id,
                status.reason(),
                shell_quote(&manifest.folder().display().to_string()),
                shell_quote(&manifest.folder().display().to_string())
            ),
        ));
    }
    if !ask_consent(manifest, component_sha256, &status.reason())? {
        return Err(not_approved(manifest, "you declined"));
    }
    grants.approve(manifest, component_sha256)?;
    Ok(())
}

/// Quotes `text` for a POSIX shell when it has characters a shell would
/// interpret, so a suggested command can be pasted safely.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '/' | '.' | '_' | '-' | '+' | ':' | ','));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn not_approved(manifest: &Manifest, why: &str) -> CliError {
    CliError::new(ExitCode::NOT_APPROVED, format!("{} was not approved: {why}", manifest.app.id))
}

/// Shows what the app requests and reads the reply from the terminal. Input
/// typed before the question appears is discarded, so it cannot count as
/// consent.
fn ask_consent(manifest: &Manifest, component_sha256: &str, reason: &str) -> Result<bool, CliError> {
    // Manifest texts were validated when the manifest was read: they hold no
    // control, bidirectional or zero-width characters.
    let mut out = std::io::stderr().lock();
    let mut summary = String::new();
    if !reason.is_empty() {
        summary.push_str(&format!("{} needs approval because {reason}.\n", manifest.app.id));
    }
    summary.push_str(&format!(
        "{} {} ({})\ncomponent: {}\nsha256:    {component_sha256}\n",
        manifest.app.name,
        manifest.app.version,
        manifest.app.id,
        manifest.component_path().display()
    ));
    if manifest.credentials.is_empty() {
        summary.push_str("It asks to read no credentials.\n");
    } else {
        summary.push_str("It asks to read these credentials:\n");
    }
    for credential in &manifest.credentials {
        summary.push_str(&format!("  {}: {}\n", credential.name, credential.purpose));
    }
    if manifest.env.is_empty() {
        summary.push_str("It gets no network, files or environment variables.\n");
    } else {
        summary.push_str("It gets these environment variables, and no network or files:\n");
        for (name, value) in &manifest.env {
            summary.push_str(&format!("  {}={:?}\n", name.as_str(), value.as_str()));
        }
    }
    summary.push_str(&format!("Allow {} to run with these permissions? [y/N] ", manifest.app.id));
    let _ = out.write_all(super::printable(&summary).as_bytes());
    let _ = out.flush();

    discard_pending_input();
    super::read_yes()
}

/// Throws away input that is waiting on the terminal.
fn discard_pending_input() {
    #[cfg(unix)]
    // SAFETY: `tcflush` only drops queued input of the given descriptor; on a
    // descriptor that is not a terminal it fails and changes nothing.
    unsafe {
        libc::tcflush(libc::STDIN_FILENO, libc::TCIFLUSH);
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_quote_leaves_plain_paths() {
        assert_eq!(shell_quote("sample-apps/greeter"), "sample-apps/greeter");
        assert_eq!(shell_quote("a b$(id)"), "'a b$(id)'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
