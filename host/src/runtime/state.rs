//! Per-run store data and the host implementation of
//! `lahat:vault/credentials`.

use secrecy::ExposeSecret;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::gate::{CredentialGate, Refusal};
use super::network::{HttpHooks, NetworkPolicy};
use super::output::{MaskedOutput, Secrets, Target};
use super::{BoundFolder, Limits, RunError};
use crate::permissions::FolderAccess;

// `tracing` stays off: it would record the returned secret in logs.
wasmtime::component::bindgen!({
    path: "../wit",
    world: "lahat:vault/app",
    imports: { default: async },
});

use lahat::vault::credentials::{self, Error as WitError};

/// The maximum number of bytes one `wasi:random` call may return.
const MAX_RANDOM_BYTES: u64 = 1024 * 1024;

/// The maximum number of resources (streams, sockets, requests, open files)
/// an app may hold at once.
pub(super) const MAX_RESOURCES: usize = 10_000;

/// The data of one run's store.
pub(super) struct RunState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: HttpHooks,
    table: ResourceTable,
    gate: CredentialGate,
    limits: StoreLimits,
    refusals: u64,
    secrets: Secrets,
    outputs: [MaskedOutput; 2],
}

/// The inputs that build a run's store.
pub(super) struct RunSetup<'a> {
    pub argv: &'a [String],
    pub env: &'a [(&'a str, &'a str)],
    pub gate: CredentialGate,
    pub limits: Limits,
    pub network: NetworkPolicy,
    pub folders: &'a [BoundFolder],
    pub capture_stdout: Option<std::sync::Arc<std::sync::Mutex<Vec<u8>>>>,
}

/// Refused requests logged per run; a guest that retries in a loop would
/// otherwise flood stderr. Later refusals are only counted.
pub(super) const MAX_LOGGED_REFUSALS: u64 = 20;

impl RunState {
    /// Builds a WASI context with `argv`, the manifest's `env` pairs, the
    /// bound folders, the network the policy allows and masked stdout and
    /// stderr, and nothing else: the host's own environment is never passed
    /// on.
    ///
    /// # Errors
    ///
    /// Returns [`RunError::Folder`] when a bound folder cannot be opened.
    pub(super) fn new(mut setup: RunSetup<'_>) -> Result<Self, RunError> {
        let secrets = Secrets::default();
        setup.gate.mask_delivered(secrets.clone());
        let output = |name, target| MaskedOutput::new(name, target, secrets.clone(), setup.limits.max_output_bytes);
        let stdout = match setup.capture_stdout {
            Some(buffer) => Target::Buffer(buffer),
            None => Target::Stdout,
        };
        let outputs = [output("stdout", stdout), output("stderr", Target::Stderr)];
        let mut builder = WasiCtx::builder();
        builder
            .args(setup.argv)
            .envs(setup.env)
            // wasi:random requests beyond this fail instead of making the
            // host allocate them.
            .max_random_size(MAX_RANDOM_BYTES)
            .stdout(outputs[0].clone())
            .stderr(outputs[1].clone())
            .allow_tcp(setup.network.has_tcp())
            .allow_udp(false)
            .allow_ip_name_lookup(setup.network.allows_name_lookup())
            .socket_addr_check(setup.network.socket_check());
        for folder in setup.folders {
            let perms = match folder.access {
                FolderAccess::Read => FsPerms::ReadOnly,
                FolderAccess::ReadWrite => FsPerms::ReadWrite,
            };
            builder
                .preopened_dir(&folder.host, folder.guest.as_str(), perms)
                .map_err(|err| RunError::Folder {
                    guest: folder.guest.to_string(),
                    host: folder.host.display().to_string(),
                    message: format!("{err:#}"),
                })?;
        }
        let limits = StoreLimitsBuilder::new()
            .memory_size(setup.limits.max_memory_bytes)
            .trap_on_grow_failure(true)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let app = setup.gate.app_id().to_owned();
        Ok(Self {
            wasi: builder.build(),
            http: WasiHttpCtx::new(),
            hooks: HttpHooks::new(setup.network, app, secrets.clone()),
            table,
            gate: setup.gate,
            limits,
            refusals: 0,
            secrets,
            outputs,
        })
    }

    /// Writes the output held back for masking.
    pub(super) fn finish_output(&self) {
        for output in &self.outputs {
            output.finish();
        }
    }

    /// Writes the audit summary of refusals past the per-run limit.
    pub(super) fn finish_audit(&self) {
        self.gate.finish_audit();
    }

    /// Returns how many credential requests this run refused.
    pub(super) fn refusals(&self) -> u64 {
        self.refusals
    }

    pub(super) fn limits(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RunState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

pub(super) fn add_credentials_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    credentials::add_to_linker::<RunState, HasSelf<RunState>>(linker, |state| state)
}

impl credentials::Host for RunState {
    async fn get_credential(&mut self, name: String) -> Result<String, WitError> {
        let app = self.gate.app_id().to_owned();
        match self.gate.resolve(&name).await {
            Ok(value) => {
                tracing::info!(app = %app, credential = %name, "credential delivered");
                self.secrets.add(value.expose_secret());
                // NOTE: bindgen takes the value as a plain `String`, so this copy
                // is freed without being zeroized after it is written into guest
                // memory.
                Ok(value.expose_secret().to_owned())
            }
            Err(refusal) => {
                self.refusals += 1;
                if self.refusals <= MAX_LOGGED_REFUSALS {
                    let reason = self.secrets.mask_text(&refusal.to_string());
                    tracing::warn!(app = %app, outcome = refusal.kind(), %reason, "credential request refused");
                }
                if self.refusals == MAX_LOGGED_REFUSALS {
                    tracing::warn!(app = %app, "further refused requests of this run are counted, not logged");
                }
                Err(to_wit_error(refusal))
            }
        }
    }
}

/// Maps a refusal to the error variant returned to the guest.
fn to_wit_error(refusal: Refusal) -> WitError {
    match refusal {
        Refusal::InvalidName(err) => WitError::InvalidName(err.reason().to_owned()),
        Refusal::NotDeclared(_) => WitError::NotDeclared,
        Refusal::NotFound(_) => WitError::NotFound,
        Refusal::Expired(..) => WitError::Expired,
        Refusal::Unavailable { summary, .. } => WitError::Unavailable(summary.to_owned()),
    }
}
