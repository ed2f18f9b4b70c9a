//! `lahat run` and `lahat inspect`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use lahat_host::manifest::{MANIFEST_FILE_NAME, Manifest, ManifestError};
use lahat_host::paths::Paths;
use lahat_host::audit::AuditLog;
use lahat_host::runtime::{
    AuditTarget, ComponentCache, CredentialAccess, Limits, RunError, RunOutcome, Runtime, VaultSource,
};
use lahat_host::store::StoreConfig;

use super::{CliError, ExitCode};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The app folder that contains `lahat.toml`, or the manifest file.
    path: PathBuf,

    /// Arguments passed to the app, after `--`.
    #[arg(last = true)]
    args: Vec<String>,

    /// Maximum size of each of the app's linear memories, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_memory: u32,

    /// Maximum wall-clock time of the run, in seconds, including time spent
    /// waiting for the keychain.
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = super::parse_seconds)]
    timeout: Duration,

    /// Compile the component without reading or writing the compilation cache.
    #[arg(long)]
    no_cache: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The app folder that contains `lahat.toml`, or the manifest file.
    path: PathBuf,

    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: RunArgs, paths: &Paths, store: StoreConfig) -> Result<ExitCode, CliError> {
    let manifest = load_manifest(&args.path)?;
    let cache = (!args.no_cache).then(|| ComponentCache::new(paths.component_cache()));
    let runtime = new_runtime(cache)?;
    let loaded = runtime.load_component(&manifest.component_path()).map_err(run_error)?;
    tracing::debug!(app = %manifest.app.id, cache = ?loaded.cache, "component loaded");
    super::app::ensure_approved(&manifest, &loaded.sha256, paths)?;

    let limits = Limits {
        max_memory_bytes: args.max_memory as usize * 1024 * 1024,
        timeout: args.timeout,
    };
    let access = CredentialAccess {
        source: VaultSource::Lazy(store),
        metadata: None,
        notice: Arc::new(|line: &str| eprintln!("{}", super::printable(line))),
        audit: Some(AuditTarget {
            log: Arc::new(AuditLog::new(paths.audit_log())),
            component_sha256: loaded.sha256.clone(),
        }),
    };
    let result = runtime.run(&manifest, &loaded.component, &args.args, access, limits).await;
    match result {
        Ok(RunOutcome::Exited(status)) => Ok(ExitCode::from_app_status(status)),
        Err(err) => Err(run_error(err)),
    }
}

pub fn inspect(args: InspectArgs, paths: &Paths) -> Result<ExitCode, CliError> {
    let manifest = load_manifest(&args.path)?;
    let component_path = manifest.component_path();
    let runtime = new_runtime(Some(ComponentCache::new(paths.component_cache())))?;
    let loaded = runtime.load_component(&component_path).map_err(run_error)?;
    let (imports, exports) = runtime.interfaces(&loaded.component);
    let sha256 = loaded.sha256;

    if args.json {
        let credentials: Vec<_> = manifest
            .credentials
            .iter()
            .map(|c| serde_json::json!({ "name": c.name, "purpose": c.purpose.as_str() }))
            .collect();
        let document = serde_json::json!({
            "manifest": manifest.path.display().to_string(),
            "id": manifest.app.id.as_str(),
            "name": manifest.app.name.as_str(),
            "version": manifest.app.version.to_string(),
            "component": component_path.display().to_string(),
            "sha256": sha256,
            "credentials": credentials,
            "imports": imports,
            "exports": exports,
        });
        println!("{document}");
        return Ok(ExitCode::SUCCESS);
    }

    println!("{} {} ({})", manifest.app.name, manifest.app.version, manifest.app.id);
    println!("manifest:  {}", manifest.path.display());
    println!("component: {}", component_path.display());
    println!("sha256:    {sha256}");
    println!("credentials:");
    if manifest.credentials.is_empty() {
        println!("  (none)");
    }
    for credential in &manifest.credentials {
        println!("  {}: {}", credential.name, credential.purpose);
    }
    println!("imports:");
    for name in &imports {
        println!("  {name}");
    }
    println!("exports:");
    for name in &exports {
        println!("  {name}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn new_runtime(cache: Option<ComponentCache>) -> Result<Runtime, CliError> {
    Runtime::new(cache)
        .map_err(|err| CliError::new(ExitCode::FAILURE, format!("cannot create the WebAssembly engine: {err:#}")))
}

/// Finds the manifest for `path`: the file itself, or `lahat.toml` inside a
/// folder.
pub(super) fn load_manifest(path: &Path) -> Result<Manifest, CliError> {
    let manifest_path = if path.is_dir() {
        path.join(MANIFEST_FILE_NAME)
    } else {
        path.to_owned()
    };
    if !manifest_path.is_file() {
        let hint = if path.is_dir() {
            format!("the folder {} has no {MANIFEST_FILE_NAME}", path.display())
        } else {
            format!("{} does not exist", path.display())
        };
        return Err(CliError::new(
            ExitCode::NOT_FOUND,
            format!("cannot find the app: {hint}; pass an app folder that contains {MANIFEST_FILE_NAME}, or the manifest file"),
        ));
    }
    Manifest::load(&manifest_path).map_err(|err| {
        let code = match err {
            ManifestError::Read { .. } => ExitCode::NOT_FOUND,
            ManifestError::Invalid { .. } | ManifestError::BadComponent { .. } => ExitCode::DATA_ERROR,
        };
        CliError::new(code, err.to_string())
    })
}

pub(super) fn run_error(err: RunError) -> CliError {
    let code = match err {
        RunError::InvalidComponent { .. } => ExitCode::DATA_ERROR,
        RunError::Instantiate(_) | RunError::Trap(_) => ExitCode::APP_FAILED,
        RunError::TimedOut(_) => ExitCode::TIMED_OUT,
    };
    CliError::new(code, err.to_string())
}
