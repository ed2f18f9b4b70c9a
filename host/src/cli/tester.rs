//! `lahat credential test`: runs the tester app of a credential's namespace
//! and records the outcome in the credential's metadata.
//!
//! A tester is an ordinary mini app whose manifest has a `[tester]` table
//! naming the namespace it tests and its default endpoint. For one test the
//! host grants it exactly the credential under test and network access to
//! exactly the endpoint, and runs it with the arguments `NAME ENDPOINT`. The
//! tester prints one line and exits with success when the service accepted
//! the credential.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clap::Args;
use lahat_host::grants::{GrantStatus, Grants};
use lahat_host::manifest::{CredentialRequest, MANIFEST_FILE_NAME, Manifest, Text};
use lahat_host::metadata::{TestRecord, Timestamp};
use lahat_host::name::CredentialName;
use lahat_host::paths::Paths;
use lahat_host::permissions::Endpoint;
use lahat_host::runtime::{ComponentCache, RunOutcome, Sandbox, VaultSource};
use lahat_host::store::StoreConfig;
use serde_json::json;

use super::run::{audited_access, limits_for, new_runtime, run_error};
use super::{CliError, ExitCode, printable};

/// The environment variable that names the folder of tester apps.
const TESTERS_ENV: &str = "LAHAT_TESTERS";

/// The maximum length of a tester message kept in the metadata, in
/// characters.
const MAX_MESSAGE_CHARS: usize = 300;

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The credential to test, such as `openai.default`. The tester is chosen
    /// by the name's first segment.
    name: CredentialName,

    /// Send the test to this endpoint instead of the tester's default: an
    /// HTTP origin such as `https://api.openai.com`, or `tcp://HOST:PORT`.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,

    /// The folder of tester apps, one app folder per tester [default:
    /// `testers` in lahat's data folder, then the testers built with this
    /// lahat].
    #[arg(long, value_name = "DIR", env = TESTERS_ENV)]
    testers: Option<PathBuf>,

    /// Maximum wall-clock time of the test, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = super::parse_seconds)]
    timeout: Duration,

    /// Print one JSON object: `{"name", "tester", "endpoint", "passed",
    /// "message", "time"}`.
    #[arg(long)]
    json: bool,

    /// Allow the tester to read NAME and reach the endpoint without asking,
    /// and remember the approval.
    #[arg(long, short)]
    yes: bool,
}

pub async fn execute(args: TestArgs, paths: &Paths, config: StoreConfig) -> Result<ExitCode, CliError> {
    let namespace = args.name.as_str().split('.').next().unwrap_or_default().to_owned();
    let folders = tester_folders(args.testers.as_deref(), paths);
    let mut manifest = find_tester(&folders, &namespace)?;
    let tester = manifest
        .tester
        .clone()
        .ok_or_else(|| CliError::new(ExitCode::FAILURE, "the tester has no [tester] table"))?;
    let endpoint = match &args.endpoint {
        Some(raw) => Endpoint::try_from(raw.clone())
            .map_err(|message| CliError::new(ExitCode::USAGE, format!("--endpoint: {}", printable(&message))))?,
        None => tester.endpoint.clone(),
    };

    // The user named the credential and the endpoint, so the tester gets
    // exactly those for this run and nothing its manifest declares besides.
    manifest.credentials = vec![CredentialRequest {
        name: args.name.clone(),
        purpose: Text::try_from("The credential under test".to_owned())
            .map_err(|message| CliError::new(ExitCode::FAILURE, message))?,
    }];
    manifest.network = endpoint.permission();
    manifest.folders.clear();

    let runtime = new_runtime(Some(ComponentCache::new(paths.component_cache())))?;
    let loaded = runtime.load_component(&manifest.component_path()).map_err(run_error)?;
    runtime
        .check_imports(&loaded.component, &manifest.network)
        .map_err(|err| match err {
            lahat_host::runtime::RunError::NotPermitted { .. } => CliError::new(
                ExitCode::USAGE,
                format!(
                    "--endpoint {endpoint}: the tester {} sends HTTP requests; pass an http:// or https:// endpoint",
                    manifest.app.id
                ),
            ),
            other => run_error(other),
        })?;
    let opened = lahat_host::store::open_store(&config).await?;
    if let Some(notice) = &opened.notice {
        eprintln!("{}", printable(notice));
    }
    if !opened.metadata.load()?.contains_key(&args.name) {
        return Err(CliError::new(
            ExitCode::NOT_FOUND,
            format!("no credential named {}; `lahat credential list` shows the stored names", args.name),
        ));
    }
    approve_test(&manifest, &loaded.sha256, &args, &endpoint, paths)?;
    let index = opened.metadata.clone();
    let captured = Arc::new(Mutex::new(Vec::new()));
    let sandbox = Sandbox {
        folders: Vec::new(),
        capture_stdout: Some(captured.clone()),
    };
    let access = audited_access(VaultSource::Ready(opened.vault), Some(opened.metadata), paths, &loaded.sha256);
    let mut limits = limits_for(&manifest, None, None, None);
    limits.timeout = args.timeout;
    let tester_args = vec![args.name.to_string(), endpoint.to_string()];
    if !args.json {
        eprintln!("testing {} with {} against {endpoint}", args.name, manifest.app.id);
    }
    let outcome = runtime
        .run(&manifest, &loaded.component, &tester_args, access, limits, &sandbox)
        .await
        .map_err(run_error)?;

    let output = captured.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let passed = outcome == RunOutcome::Exited(0);
    let message = summary(&output, passed);
    let time = Timestamp::now();
    let record = TestRecord {
        time,
        passed,
        message: message.clone(),
    };
    let name = args.name.clone();
    index
        .update(move |credentials| {
            if let Some(metadata) = credentials.get_mut(&name) {
                metadata.last_test = Some(record);
            }
            Ok(())
        })
        .map_err(CliError::from)?;

    if args.json {
        println!(
            "{}",
            json!({
                "name": args.name,
                "tester": manifest.app.id.as_str(),
                "endpoint": endpoint.to_string(),
                "passed": passed,
                "message": message,
                "time": time,
            })
        );
    } else {
        println!("{}: {}", args.name, printable(&message));
    }
    Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Checks that the user approved this tester for the credential and the
/// endpoint. `--yes` records the approval and a terminal prompts for it.
/// Without either, the test fails with the command that approves it.
fn approve_test(manifest: &Manifest, sha256: &str, args: &TestArgs, endpoint: &Endpoint, paths: &Paths) -> Result<(), CliError> {
    let grants = Grants::new(paths.grants_file());
    if grants.status(manifest, sha256, &[])? == GrantStatus::Granted {
        return Ok(());
    }
    if args.yes {
        grants.approve(manifest, sha256, &[])?;
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(CliError::new(
            ExitCode::NOT_APPROVED,
            format!(
                "the tester {} may read {} and reach {endpoint} only with your approval; run `lahat credential test {} --yes{}` to allow it",
                manifest.app.id,
                args.name,
                args.name,
                args.endpoint.as_deref().map(|raw| format!(" --endpoint {}", printable(raw))).unwrap_or_default()
            ),
        ));
    }
    super::app::ensure_approved(manifest, sha256, &[], paths)
}

/// Returns the tester's first line of output, shortened, or a fallback
/// when it printed nothing.
fn summary(output: &[u8], passed: bool) -> String {
    let text = String::from_utf8_lossy(output);
    let line = text.lines().find(|line| !line.trim().is_empty()).unwrap_or_default();
    if line.is_empty() {
        return if passed { "passed" } else { "failed; the tester printed no reason" }.to_owned();
    }
    line.chars().take(MAX_MESSAGE_CHARS).collect()
}

/// Returns the folders searched for testers, in order.
fn tester_folders(explicit: Option<&Path>, paths: &Paths) -> Vec<PathBuf> {
    if let Some(folder) = explicit {
        return vec![folder.to_owned()];
    }
    let mut folders = vec![paths.data_dir.join("testers")];
    // The testers in this source tree, for a lahat run from its build folder.
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-apps/testers");
    if built.is_dir() {
        folders.push(built);
    }
    folders
}

/// Finds the tester whose manifest's `[tester]` table names `namespace`.
fn find_tester(folders: &[PathBuf], namespace: &str) -> Result<Manifest, CliError> {
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        let mut apps: Vec<PathBuf> = entries.filter_map(Result::ok).map(|entry| entry.path()).collect();
        apps.sort();
        for app in apps {
            let manifest_path = app.join(MANIFEST_FILE_NAME);
            if !manifest_path.is_file() {
                continue;
            }
            match Manifest::load(&manifest_path) {
                Ok(manifest) if manifest.tester.as_ref().is_some_and(|t| t.namespace.as_str() == namespace) => {
                    return Ok(manifest);
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "skipping a tester that cannot be loaded"),
            }
        }
    }
    let searched: Vec<String> = folders.iter().map(|folder| folder.display().to_string()).collect();
    Err(CliError::new(
        ExitCode::NOT_FOUND,
        format!(
            "no tester for the namespace \"{namespace}\" in {}; put a tester app there or name its folder with --testers DIR",
            printable(&searched.join(", "))
        ),
    ))
}
