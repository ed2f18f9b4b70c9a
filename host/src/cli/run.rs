//! `lahat run` and `lahat inspect`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use lahat_host::manifest::{MANIFEST_FILE_NAME, Manifest, ManifestError};
use lahat_host::metadata::MetadataIndex;
use lahat_host::paths::Paths;
use lahat_host::audit::AuditLog;
use lahat_host::permissions::GuestPath;
use lahat_host::runtime::{
    AuditTarget, BoundFolder, ComponentCache, CredentialAccess, Limits, RunError, RunOutcome, Runtime, Sandbox,
    VaultSource,
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

    /// Bind a folder the manifest declares to a host folder, as
    /// `GUEST_PATH=HOST_FOLDER` (for example `--folder /backup=$HOME/Documents`);
    /// repeat for each folder in the manifest's `[[folders]]`.
    #[arg(long = "folder", value_name = "GUEST_PATH=HOST_FOLDER")]
    folders: Vec<FolderBinding>,

    /// Maximum size of each of the app's linear memories, in MiB [default:
    /// the manifest's `limits.memory`, or 256].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_memory: Option<u32>,

    /// Maximum wall-clock time of the run, in seconds, including time spent
    /// waiting for the keychain or the network [default: the manifest's
    /// `limits.timeout`, or 300].
    #[arg(long, value_name = "SECONDS", value_parser = super::parse_seconds)]
    timeout: Option<Duration>,

    /// Maximum bytes the app may write to stdout and to stderr, each, in MiB
    /// [default: the manifest's `limits.output`, or 64].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..=1024))]
    max_output: Option<u32>,

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
    runtime
        .check_imports(&loaded.component, &manifest.network)
        .map_err(run_error)?;
    let folders = bind_folders(&manifest, &args.folders)?;
    super::app::ensure_approved(&manifest, &loaded.sha256, &folders, paths)?;

    let limits = limits_for(&manifest, args.max_memory, args.timeout, args.max_output);
    let sandbox = Sandbox {
        folders,
        capture_stdout: None,
    };
    let access = audited_access(VaultSource::Lazy(store), None, paths, &loaded.sha256);
    let result = runtime
        .run(&manifest, &loaded.component, &args.args, access, limits, &sandbox)
        .await;
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
            "network": manifest.network,
            "folders": manifest.folders.iter().map(|folder| serde_json::json!({
                "path": folder.path,
                "access": folder.access,
                "purpose": folder.purpose.as_str(),
            })).collect::<Vec<_>>(),
            "limits": manifest.limits,
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
    println!("network:");
    if manifest.network.is_empty() {
        println!("  (none)");
    }
    for origin in &manifest.network.http {
        println!("  {origin} (HTTP)");
    }
    for endpoint in &manifest.network.tcp {
        println!("  {endpoint} (TCP)");
    }
    println!("folders:");
    if manifest.folders.is_empty() {
        println!("  (none)");
    }
    for folder in &manifest.folders {
        println!("  {} ({}): {}", folder.path, folder.access.as_str(), folder.purpose);
    }
    println!("limits:");
    let limits = limits_for(&manifest, None, None, None);
    println!(
        "  memory {}, time {}, output {} per stream",
        lahat_host::permissions::ByteSize(limits.max_memory_bytes as u64),
        humantime::format_duration(limits.timeout),
        lahat_host::permissions::ByteSize(limits.max_output_bytes)
    );
    if let Some(tester) = &manifest.tester {
        println!("tester:");
        println!("  tests {}.* credentials against {}", tester.namespace.as_str(), tester.endpoint);
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

/// Returns credential access from `source` that prints store notices on
/// stderr and records every request in the audit log under the component's
/// hash.
pub(super) fn audited_access(
    source: VaultSource,
    metadata: Option<MetadataIndex>,
    paths: &Paths,
    component_sha256: &str,
) -> CredentialAccess {
    CredentialAccess {
        source,
        metadata,
        notice: Arc::new(|line: &str| eprintln!("{}", super::printable(line))),
        audit: Some(AuditTarget {
            log: Arc::new(AuditLog::new(paths.audit_log())),
            component_sha256: component_sha256.to_owned(),
        }),
    }
}

/// Combines the defaults, the manifest's `[limits]` and the command line's
/// flags, the flags winning.
pub(super) fn limits_for(
    manifest: &Manifest,
    max_memory_mib: Option<u32>,
    timeout: Option<Duration>,
    max_output_mib: Option<u32>,
) -> Limits {
    let defaults = Limits::default();
    let requested = manifest.limits;
    Limits {
        max_memory_bytes: max_memory_mib
            .map(|mib| mib as usize * 1024 * 1024)
            .or(requested.memory.map(|size| usize::try_from(size.0).unwrap_or(usize::MAX)))
            .unwrap_or(defaults.max_memory_bytes),
        timeout: timeout
            .or(requested.timeout.map(|limit| limit.0))
            .unwrap_or(defaults.timeout),
        max_output_bytes: max_output_mib
            .map(|mib| u64::from(mib) * 1024 * 1024)
            .or(requested.output.map(|size| size.0))
            .unwrap_or(defaults.max_output_bytes),
    }
}

/// A `--folder GUEST_PATH=HOST_FOLDER` argument.
#[derive(Debug, Clone)]
pub struct FolderBinding {
    guest: GuestPath,
    host: PathBuf,
}

impl std::str::FromStr for FolderBinding {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let (guest, host) = raw
            .split_once('=')
            .ok_or("write GUEST_PATH=HOST_FOLDER, such as /backup=/home/me/Documents")?;
        let guest = GuestPath::try_from(guest.to_owned())?;
        if host.is_empty() {
            return Err(format!("the host folder for {guest} is empty"));
        }
        Ok(Self {
            guest,
            host: PathBuf::from(host),
        })
    }
}

/// Binds each folder the manifest declares to the host folder given for it;
/// a declared folder without a binding is left out.
pub(super) fn bind_folders(manifest: &Manifest, bindings: &[FolderBinding]) -> Result<Vec<BoundFolder>, CliError> {
    for binding in bindings {
        if !manifest.folders.iter().any(|request| request.path == binding.guest) {
            return Err(CliError::new(
                ExitCode::USAGE,
                format!(
                    "--folder {}: {} declares no folder {}; its folders are: {}",
                    binding.guest,
                    manifest.app.id,
                    binding.guest,
                    folder_list(manifest)
                ),
            ));
        }
    }
    let mut bound = Vec::with_capacity(manifest.folders.len());
    for request in &manifest.folders {
        let mut matching = bindings.iter().filter(|binding| binding.guest == request.path);
        let Some(binding) = matching.next() else {
            // An unbound folder is not given to the app, which may not need
            // it for this run (a backup app listing what it uploaded).
            eprintln!(
                "lahat: note: {} is not given the folder {} ({}); bind it with --folder {}=HOST_FOLDER",
                manifest.app.id, request.path, request.purpose, request.path
            );
            continue;
        };
        if matching.next().is_some() {
            return Err(CliError::new(
                ExitCode::USAGE,
                format!("--folder {} is given more than once; bind each folder once", request.path),
            ));
        }
        let host = std::fs::canonicalize(&binding.host)
            .ok()
            .filter(|path| path.is_dir())
            .ok_or_else(|| {
                CliError::new(
                    ExitCode::NOT_FOUND,
                    format!(
                        "--folder {}={}: the host folder does not exist or is not a folder",
                        request.path,
                        super::one_line(&binding.host.display().to_string())
                    ),
                )
            })?;
        bound.push(BoundFolder {
            guest: request.path.clone(),
            host,
            access: request.access,
        });
    }
    Ok(bound)
}

fn folder_list(manifest: &Manifest) -> String {
    if manifest.folders.is_empty() {
        return "none".to_owned();
    }
    let paths: Vec<&str> = manifest.folders.iter().map(|folder| folder.path.as_str()).collect();
    paths.join(", ")
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
            format!("the folder {} has no {MANIFEST_FILE_NAME}", super::one_line(&path.display().to_string()))
        } else {
            format!("{} does not exist", super::one_line(&path.display().to_string()))
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
        RunError::Instantiate(_) | RunError::Trap(_) | RunError::Stopped(_) => ExitCode::APP_FAILED,
        RunError::NotPermitted { .. } => ExitCode::NOT_APPROVED,
        RunError::Folder { .. } => ExitCode::NOT_FOUND,
        RunError::TimedOut(_) => ExitCode::TIMED_OUT,
    };
    CliError::new(code, err.to_string())
}
