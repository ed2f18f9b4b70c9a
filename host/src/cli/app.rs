//! `lahat app`: approving, revoking and listing apps, and the consent prompt
//! that `lahat run` shows for an app without a valid approval.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use lahat_host::grants::{GrantStatus, Grants};
use lahat_host::manifest::Manifest;
use lahat_host::paths::Paths;
use lahat_host::runtime::{BoundFolder, ComponentCache};
use serde_json::json;

use super::run::{FolderBinding, bind_folders, load_manifest, new_runtime, run_error};
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
    /// Bind a folder the manifest declares to a host folder, as
    /// `GUEST_PATH=HOST_FOLDER`; repeat for each declared folder.
    #[arg(long = "folder", value_name = "GUEST_PATH=HOST_FOLDER")]
    folders: Vec<FolderBinding>,
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
            let folders = bind_folders(&manifest, &args.folders)?;
            if !args.yes {
                // The question goes to stderr, so both must be the terminal
                // or the person answering could not see what they approve.
                if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
                    return Err(CliError::new(
                        ExitCode::USAGE,
                        "approval needs a terminal on stdin and stderr to ask on; pass --yes to approve without asking",
                    ));
                }
                if !ask_consent(&manifest, &loaded.sha256, &folders, "")? {
                    return Err(not_approved(&manifest, "you declined"));
                }
            }
            grants.approve(&manifest, &loaded.sha256, &folders)?;
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
                            "access": grant.access,
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
pub fn ensure_approved(
    manifest: &Manifest,
    component_sha256: &str,
    folders: &[BoundFolder],
    paths: &Paths,
) -> Result<(), CliError> {
    // An app that declares nothing gets nothing beyond the sandbox, so there
    // is nothing to consent to.
    let declares_nothing = manifest.credentials.is_empty()
        && manifest.env.is_empty()
        && manifest.network.is_empty()
        && manifest.folders.is_empty()
        && manifest.limits.is_empty();
    if declares_nothing {
        return Ok(());
    }
    let grants = Grants::new(paths.grants_file());
    let status = grants.status(manifest, component_sha256, folders)?;
    if status == GrantStatus::Granted {
        return Ok(());
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        let folder = shell_quote(&manifest.folder().display().to_string());
        let bindings: String = folders
            .iter()
            .map(|bound| {
                let binding = format!("{}={}", bound.guest, bound.host.display());
                format!(" --folder {}", shell_quote(&binding))
            })
            .collect();
        return Err(CliError::new(
            ExitCode::NOT_APPROVED,
            super::printable(&format!(
                "{} needs approval because {}; review it with `lahat inspect {folder}` and approve it with `lahat app approve {folder}{bindings}`",
                manifest.app.id,
                status.reason(),
            )),
        ));
    }
    if !ask_consent(manifest, component_sha256, folders, &status.reason())? {
        return Err(not_approved(manifest, "you declined"));
    }
    grants.approve(manifest, component_sha256, folders)?;
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
fn ask_consent(
    manifest: &Manifest,
    component_sha256: &str,
    folders: &[BoundFolder],
    reason: &str,
) -> Result<bool, CliError> {
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
        super::one_line(&manifest.component_path().display().to_string())
    ));
    if manifest.credentials.is_empty() {
        summary.push_str("It asks to read no credentials.\n");
    } else {
        summary.push_str("It asks to read these credentials:\n");
    }
    for credential in &manifest.credentials {
        summary.push_str(&format!("  {}: {}\n", credential.name, credential.purpose));
    }
    summary.push_str(&describe_access(manifest, folders));
    summary.push_str(&format!("Allow {} to run with these permissions? [y/N] ", manifest.app.id));
    let _ = out.write_all(super::printable(&summary).as_bytes());
    let _ = out.flush();

    discard_pending_input();
    super::read_yes()
}

/// Describes the network, folders, environment and limits an app requests.
fn describe_access(manifest: &Manifest, folders: &[BoundFolder]) -> String {
    let mut text = String::new();
    if manifest.network.is_empty() {
        text.push_str("It gets no network access.\n");
    } else {
        text.push_str("It may connect to:\n");
        for origin in &manifest.network.http {
            text.push_str(&format!("  {origin} (HTTP)\n"));
        }
        for endpoint in &manifest.network.tcp {
            text.push_str(&format!("  {endpoint} (TCP)\n"));
        }
    }
    if folders.is_empty() {
        text.push_str("It gets no files.\n");
    } else {
        text.push_str("It gets these folders:\n");
        for folder in folders {
            let purpose = manifest
                .folders
                .iter()
                .find(|request| request.path == folder.guest)
                .map_or("", |request| request.purpose.as_str());
            text.push_str(&format!(
                "  {} as {} ({}): {purpose}\n",
                super::one_line(&folder.host.display().to_string()),
                folder.guest,
                folder.access.as_str()
            ));
        }
    }
    if manifest.env.is_empty() {
        text.push_str("It gets no environment variables.\n");
    } else {
        text.push_str("It gets these environment variables:\n");
        for (name, value) in &manifest.env {
            text.push_str(&format!("  {}={:?}\n", name.as_str(), value.as_str()));
        }
    }
    let limits = &manifest.limits;
    if let Some(memory) = limits.memory {
        text.push_str(&format!("It may use up to {memory} of memory.\n"));
    }
    if let Some(timeout) = limits.timeout {
        text.push_str(&format!("It may run for up to {}.\n", humantime::format_duration(timeout.0)));
    }
    if let Some(output) = limits.output {
        text.push_str(&format!("It may write up to {output} of output.\n"));
    }
    text
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
