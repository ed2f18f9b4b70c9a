//! Per-run store data and the host implementation of
//! `lahat:vault/credentials`.

use secrecy::ExposeSecret;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Limits;
use super::gate::{CredentialGate, Refusal};

// `tracing` stays off: it would record the returned secret in logs.
wasmtime::component::bindgen!({
    path: "../wit",
    world: "lahat:vault/app",
    imports: { default: async },
});

use lahat::vault::credentials::{self, Error as WitError};

/// The maximum number of bytes one `wasi:random` call may return.
const MAX_RANDOM_BYTES: u64 = 1024 * 1024;

/// The data of one run's store.
pub(super) struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    gate: CredentialGate,
    limits: StoreLimits,
    refusals: u64,
}

/// Refused requests logged per run; a guest that retries in a loop would
/// otherwise flood stderr. Later refusals are only counted.
pub(super) const MAX_LOGGED_REFUSALS: u64 = 20;

impl RunState {
    /// Builds a WASI context with `argv`, the manifest's `env` pairs and the
    /// host's stdout and stderr, and nothing else: the host's own
    /// environment is never passed on.
    pub(super) fn new(argv: &[String], env: &[(&str, &str)], gate: CredentialGate, limits: Limits) -> Self {
        let wasi = WasiCtx::builder()
            .args(argv)
            .envs(env)
            // wasi:random requests beyond this fail instead of making the
            // host allocate them.
            .max_random_size(MAX_RANDOM_BYTES)
            .inherit_stdout()
            .inherit_stderr()
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(limits.max_memory_bytes)
            .trap_on_grow_failure(true)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            gate,
            limits,
            refusals: 0,
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

pub(super) fn add_credentials_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    credentials::add_to_linker::<RunState, HasSelf<RunState>>(linker, |state| state)
}

impl credentials::Host for RunState {
    async fn get_credential(&mut self, name: String) -> Result<String, WitError> {
        let app = self.gate.app_id().to_owned();
        match self.gate.resolve(&name).await {
            Ok(value) => {
                tracing::info!(app = %app, credential = %name, "credential delivered");
                // NOTE: bindgen takes the value as a plain `String`, so this copy
                // is freed without being zeroized after it is written into guest
                // memory.
                Ok(value.expose_secret().to_owned())
            }
            Err(refusal) => {
                self.refusals += 1;
                if self.refusals <= MAX_LOGGED_REFUSALS {
                    tracing::warn!(app = %app, outcome = refusal.kind(), reason = %refusal, "credential request refused");
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
