//! Running mini apps: the wasmtime engine, the component cache and one
//! sandboxed store per run.
//!
//! Each run gets a fresh [`wasmtime::Store`] whose WASI context has the
//! arguments given, the manifest's `[env]` pairs, the folders the user bound
//! to the manifest's `[[folders]]`, the network its `[network]` table
//! declares, and masked stdout and stderr. It has no stdin and nothing of
//! the host's environment. Memory is capped by a [`wasmtime::StoreLimits`],
//! time by epoch interruption plus a deadline on the whole run, which also
//! covers time spent in host calls, and output by the streams themselves.

mod cache;
mod gate;
mod network;
mod output;
mod state;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::Digest;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::Command;

pub use cache::{CacheOutcome, ComponentCache};
pub use gate::{AuditTarget, CredentialAccess, CredentialGate, NoticeSink, Refusal, VaultSource};
pub use network::NetworkPolicy;
pub use output::{MASK, MIN_MASKED_LEN};

use crate::manifest::Manifest;
use crate::permissions::{FolderAccess, GuestPath, NetworkPermissions};
use state::{RunSetup, RunState};

/// How often the engine's epoch advances while an app runs.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The maximum number of bytes a guest may pass to the host in one call (wasmtime's
/// hostcall fuel). A credential name is at most 128 bytes and WASI streams
/// move at most a few kilobytes per call, so 4 MiB leaves room for ordinary
/// calls, and for a rejected 1 MiB name, while a guest can no longer make
/// the host copy its whole memory.
const MAX_HOSTCALL_BYTES: usize = 4 * 1024 * 1024;

/// The largest component file lahat reads, in bytes. Real mini apps are well
/// under a megabyte; the cap keeps a huge file from being read into memory.
pub const MAX_COMPONENT_BYTES: u64 = 256 * 1024 * 1024;

/// Resource limits for one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The maximum size of each linear memory, in bytes.
    pub max_memory_bytes: usize,
    /// The maximum wall-clock time of the whole run, including host calls.
    pub timeout: Duration,
    /// The maximum bytes the app may write to stdout and to stderr, each.
    pub max_output_bytes: u64,
}

impl Default for Limits {
    /// 256 MiB of memory, 5 minutes and 64 MiB of output.
    fn default() -> Self {
        Self {
            max_memory_bytes: 256 * 1024 * 1024,
            timeout: Duration::from_secs(300),
            max_output_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A manifest's `[[folders]]` entry bound to a host folder by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundFolder {
    /// The folder's path inside the app.
    pub guest: GuestPath,
    /// The host folder, canonical.
    pub host: PathBuf,
    /// The app's access to the folder.
    pub access: FolderAccess,
}

/// The host resources a run gets beyond the manifest's credentials,
/// environment and network.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    /// The folders the app can open.
    pub folders: Vec<BoundFolder>,
    /// Collects the app's stdout, masked, instead of writing it to the
    /// host's stdout.
    pub capture_stdout: Option<Arc<Mutex<Vec<u8>>>>,
}

/// Returns the manifest field that permits an imported interface, for
/// interfaces that an app imports only when it uses them.
///
/// `wasi:sockets` and `wasi:filesystem` are not listed: language runtimes
/// such as CPython import them in every component, whether or not the app
/// uses them. They stay linked, and every socket operation outside
/// `network.tcp` and every path outside a bound folder is refused when the
/// app tries it.
fn permitting_field(interface: &str) -> Option<&'static str> {
    let name = interface.split('@').next().unwrap_or(interface);
    name.starts_with("wasi:http/").then_some("network.http")
}

/// A compiled component and what identifies it.
pub struct LoadedComponent {
    /// The compiled component.
    pub component: Component,
    /// The SHA-256 of the component file, in hex.
    pub sha256: String,
    /// Whether the cache supplied the machine code.
    pub cache: CacheOutcome,
}

/// The end of a run that the app itself chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The app exited with this status code.
    Exited(i32),
}

/// A run that failed for a reason other than the app's own exit.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The component file could not be read or is not a valid component.
    #[error("invalid component {path}: {message}")]
    InvalidComponent {
        /// The component path.
        path: String,
        /// The problem and the fix.
        message: String,
    },
    /// The component could not be instantiated, usually because it imports
    /// an interface the host does not provide.
    #[error("cannot start the app: {0}")]
    Instantiate(String),
    /// The component imports an interface its manifest does not permit.
    #[error(
        "cannot start the app: it imports {interface}, which its manifest does not permit; declare what it may reach in `{field}` if you trust it to"
    )]
    NotPermitted {
        /// The imported interface.
        interface: String,
        /// The manifest field that would permit it.
        field: &'static str,
    },
    /// A folder bound to the app could not be opened.
    #[error("cannot give the app the folder {guest}: cannot open {host}: {message}")]
    Folder {
        /// The folder's path inside the app.
        guest: String,
        /// The host folder.
        host: String,
        /// The problem.
        message: String,
    },
    /// The app trapped: a crash, such as an out-of-bounds access.
    #[error("the app crashed: {0}")]
    Trap(String),
    /// The app reached one of its limits: memory, output, host resources or
    /// the size of one host call.
    #[error("the app was stopped: {0}")]
    Stopped(String),
    /// The run took longer than its time limit.
    #[error("the app ran longer than its limit of {} s and was stopped", .0.as_secs_f64())]
    TimedOut(Duration),
}

/// The host's wasmtime engine, linker and component cache.
pub struct Runtime {
    engine: Engine,
    linker: Linker<RunState>,
    cache: Option<ComponentCache>,
    epochs: bool,
}

impl Runtime {
    /// Creates the engine and links WASI 0.2 and `lahat:vault/credentials`.
    /// With `cache` set, compiled components are kept there.
    ///
    /// # Errors
    ///
    /// Returns an error when wasmtime cannot create the engine on this
    /// machine.
    pub fn new(cache: Option<ComponentCache>) -> wasmtime::Result<Self> {
        Self::build(cache, true)
    }

    /// Creates a runtime without epoch interruption, to measure what the
    /// deadline costs. Its runs still have a deadline, but a guest that never
    /// calls the host is not stopped by it, so it must not run untrusted apps.
    ///
    /// # Errors
    ///
    /// Returns an error when wasmtime cannot create the engine on this
    /// machine.
    pub fn without_epoch_interruption(cache: Option<ComponentCache>) -> wasmtime::Result<Self> {
        Self::build(cache, false)
    }

    fn build(cache: Option<ComponentCache>, epochs: bool) -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(epochs);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        state::add_credentials_to_linker(&mut linker)?;
        Ok(Self {
            engine,
            linker,
            cache,
            epochs,
        })
    }

    /// Returns the engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Reads and compiles the component at `path`, from the cache when it
    /// has one.
    ///
    /// # Errors
    ///
    /// Returns [`RunError::InvalidComponent`] when the file cannot be read or
    /// is not a WebAssembly component.
    pub fn load_component(&self, path: &Path) -> Result<LoadedComponent, RunError> {
        let invalid = |message: String| RunError::InvalidComponent {
            path: path.display().to_string(),
            message,
        };
        let size = std::fs::metadata(path)
            .map_err(|err| invalid(format!("cannot read it: {err}")))?
            .len();
        if size > MAX_COMPONENT_BYTES {
            return Err(invalid(format!(
                "it is {size} bytes, and the maximum is {MAX_COMPONENT_BYTES}"
            )));
        }
        let wasm = std::fs::read(path).map_err(|err| invalid(format!("cannot read it: {err}")))?;
        let (component, cache) = self.compile(&wasm).map_err(|err| {
            invalid(format!(
                "{err:#}; build the app for the wasm32-wasip2 target so that it is a WebAssembly component"
            ))
        })?;
        Ok(LoadedComponent {
            component,
            sha256: hex::encode(sha2::Sha256::digest(&wasm)),
            cache,
        })
    }

    /// Compiles `wasm`, from the cache when it has one.
    ///
    /// # Errors
    ///
    /// Returns wasmtime's error when `wasm` is not a valid component.
    pub fn compile(&self, wasm: &[u8]) -> wasmtime::Result<(Component, CacheOutcome)> {
        match &self.cache {
            Some(cache) => cache.load(&self.engine, wasm),
            None => Ok((Component::new(&self.engine, wasm)?, CacheOutcome::Uncached)),
        }
    }

    /// Checks that `component` imports only interfaces that `network`
    /// permits.
    ///
    /// # Errors
    ///
    /// Returns [`RunError::NotPermitted`] naming the first interface that
    /// needs a permission the manifest does not declare.
    pub fn check_imports(&self, component: &Component, network: &NetworkPermissions) -> Result<(), RunError> {
        let (imports, _) = self.interfaces(component);
        for interface in imports {
            if let Some(field) = permitting_field(&interface)
                && network.http.is_empty()
            {
                return Err(RunError::NotPermitted { interface, field });
            }
        }
        Ok(())
    }

    /// Runs `component` as the app that `manifest` describes.
    ///
    /// `args` follow the app id as `argv[0]`. The app's stdout and stderr are
    /// the host's, with delivered values masked. Credential requests go
    /// through a [`CredentialGate`] that allows exactly the names the manifest
    /// declares. The manifest's `[network]` and `[env]` and the `sandbox`'s
    /// folders are all the app can reach.
    ///
    /// # Errors
    ///
    /// - [`RunError::NotPermitted`]: the component imports an interface the
    ///   manifest does not permit.
    /// - [`RunError::Folder`]: a bound folder cannot be opened.
    /// - [`RunError::Instantiate`]: the component cannot start.
    /// - [`RunError::Stopped`]: the app reached its memory, output, resource
    ///   or host-call limit.
    /// - [`RunError::Trap`]: the app crashed.
    /// - [`RunError::TimedOut`]: the app ran past its time limit.
    pub async fn run(
        &self,
        manifest: &Manifest,
        component: &Component,
        args: &[String],
        access: CredentialAccess,
        limits: Limits,
        sandbox: &Sandbox,
    ) -> Result<RunOutcome, RunError> {
        self.check_imports(component, &manifest.network)?;
        let gate = CredentialGate::new(manifest.app.id.to_string(), manifest.declared_names(), access);
        let mut argv = vec![manifest.app.id.to_string()];
        argv.extend(args.iter().cloned());
        let env: Vec<(&str, &str)> = manifest
            .env
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let network = NetworkPolicy::resolve(&manifest.network).await;
        let state = RunState::new(RunSetup {
            argv: &argv,
            env: &env,
            gate,
            limits,
            network,
            folders: &sandbox.folders,
            capture_stdout: sandbox.capture_stdout.clone(),
        })?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| state.limits());
        store.set_hostcall_fuel(MAX_HOSTCALL_BYTES);
        // Yield to the executor on every tick, so that the deadline below can
        // stop a guest that never returns to the host.
        let ticker = self.epochs.then(|| {
            store.epoch_deadline_async_yield_and_update(1);
            tokio::spawn(tick_epochs(self.engine.clone()))
        });
        let run = async {
            let command = Command::instantiate_async(&mut store, component, &self.linker)
                .await
                .map_err(|err| RunError::Instantiate(format!("{err:#}")))?;
            command
                .wasi_cli_run()
                .call_run(&mut store)
                .await
                .map_err(|err| exit_or_trap(err, limits))
        };
        let result = tokio::time::timeout(limits.timeout, run).await;
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        store.data().finish_output();
        store.data().finish_audit();
        let refusals = store.data().refusals();
        if refusals > state::MAX_LOGGED_REFUSALS {
            tracing::warn!(app = %manifest.app.id, refusals, "credential requests refused in this run");
        }

        match result {
            Err(_elapsed) => Err(RunError::TimedOut(limits.timeout)),
            Ok(Err(ExitOrError::Exit(code))) => Ok(RunOutcome::Exited(code)),
            Ok(Err(ExitOrError::Error(err))) => Err(err),
            Ok(Ok(Ok(()))) => Ok(RunOutcome::Exited(0)),
            Ok(Ok(Err(()))) => Ok(RunOutcome::Exited(1)),
        }
    }

    /// Lists the interfaces `component` imports and exports.
    pub fn interfaces(&self, component: &Component) -> (Vec<String>, Vec<String>) {
        let ty = component.component_type();
        let mut imports: Vec<String> = ty.imports(&self.engine).map(|(name, _)| name.to_owned()).collect();
        let mut exports: Vec<String> = ty.exports(&self.engine).map(|(name, _)| name.to_owned()).collect();
        imports.sort();
        exports.sort();
        (imports, exports)
    }
}

enum ExitOrError {
    Exit(i32),
    Error(RunError),
}

impl From<RunError> for ExitOrError {
    fn from(err: RunError) -> Self {
        Self::Error(err)
    }
}

/// Separates a guest's `exit(code)`, which WASI reports as an error, from a
/// real trap.
fn exit_or_trap(err: wasmtime::Error, limits: Limits) -> ExitOrError {
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return ExitOrError::Exit(exit.0);
    }
    let message = format!("{err:?}");
    let stopped = if message.contains("forcing trap when growing memory") {
        // `StoreLimits` reports a refused `memory.grow` with this wording
        // (wasmtime 48, `trap_on_grow_failure`).
        Some(format!(
            "the app needed more than its memory limit of {} MiB; raise `limits.memory` in its manifest or pass --max-memory if the app is trusted",
            limits.max_memory_bytes / (1024 * 1024)
        ))
    } else if message.contains("fuel allocated for hostcalls has been exhausted") {
        // wasmtime 48's wording when a call exceeds `set_hostcall_fuel`.
        Some(format!(
            "the app passed more than {} MiB to the host in one call",
            MAX_HOSTCALL_BYTES / (1024 * 1024)
        ))
    } else if message.contains("resource table has no free keys") {
        // wasmtime 48's wording when a push exceeds the resource table's
        // maximum capacity.
        Some(format!(
            "the app held more than {} host resources (streams, sockets, requests, open files) at once",
            state::MAX_RESOURCES
        ))
    } else {
        // The output streams' own message, which the trap carries as is.
        err.chain()
            .map(ToString::to_string)
            .find(|cause| cause.contains(output::OUTPUT_LIMIT_MARK))
    };
    match stopped {
        Some(reason) => ExitOrError::Error(RunError::Stopped(reason)),
        None => ExitOrError::Error(RunError::Trap(message)),
    }
}

async fn tick_epochs(engine: Engine) {
    let mut interval = tokio::time::interval(EPOCH_TICK);
    loop {
        interval.tick().await;
        engine.increment_epoch();
    }
}
