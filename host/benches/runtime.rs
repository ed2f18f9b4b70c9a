//! Costs of the run pipeline: compiling a component, loading it from the
//! cache, and one run with 0, 1 or 100 `get-credential` calls against an
//! in-memory store. The per-call cost is (run_100 - run_0) / 100.
//!
//! Needs the guests built: `scripts/build-apps.sh`, then
//! `cargo bench -p lahat-host --bench runtime`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lahat_host::SecretString;
use lahat_host::manifest::Manifest;
use lahat_host::name::CredentialName;
use lahat_host::runtime::{
    CacheOutcome, ComponentCache, CredentialAccess, Limits, RunOutcome, Runtime, Sandbox, VaultSource,
};
use lahat_host::store::{CredentialStore, MemoryStore, Vault};

fn fetcher_manifest() -> Manifest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/guests/fetcher/lahat.toml");
    Manifest::load(&path).unwrap_or_else(|err| panic!("{err}; run scripts/build-apps.sh first"))
}

fn read_wasm(manifest: &Manifest) -> Vec<u8> {
    std::fs::read(manifest.component_path()).expect("the fetcher component is missing; run scripts/build-apps.sh")
}

/// Returns an in-memory vault that contains `demo.greeting`.
fn vault_with_greeting() -> Vault {
    let store = Arc::new(MemoryStore::new());
    store
        .set(&CredentialName::parse("demo.greeting").unwrap(), &SecretString::from("Hello"))
        .unwrap();
    Vault::new(store, Duration::from_secs(10))
}

fn compile(c: &mut Criterion) {
    let manifest = fetcher_manifest();
    let wasm = read_wasm(&manifest);
    let uncached = Runtime::new(None).unwrap();
    c.bench_function("compile/fetcher", |b| b.iter(|| uncached.compile(&wasm).unwrap()));

    let cache_dir = tempfile::tempdir().unwrap();
    let cached = Runtime::new(Some(ComponentCache::new(PathBuf::from(cache_dir.path())))).unwrap();
    cached.compile(&wasm).unwrap();
    c.bench_function("load_cached/fetcher", |b| {
        b.iter(|| {
            let (component, outcome) = cached.compile(&wasm).unwrap();
            assert_eq!(outcome, CacheOutcome::Hit);
            component
        })
    });
}

fn run(c: &mut Criterion) {
    let manifest = fetcher_manifest();
    let wasm = read_wasm(&manifest);
    let runtime = Runtime::new(None).unwrap();
    let (component, _) = runtime.compile(&wasm).unwrap();
    let vault = vault_with_greeting();
    let executor = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    for reads in [0u32, 1, 100] {
        let args = vec![reads.to_string()];
        c.bench_function(&format!("run/fetcher_{reads}_reads"), |b| {
            b.iter(|| {
                let outcome = executor
                    .block_on(runtime.run(
                        &manifest,
                        &component,
                        &args,
                        CredentialAccess {
                            source: VaultSource::Ready(vault.clone()),
                            metadata: None,
                            notice: Arc::new(|_| {}),
                            audit: None,
                        },
                        Limits::default(),
                        &Sandbox::default(),
                    ))
                    .unwrap();
                assert_eq!(outcome, RunOutcome::Exited(0));
            })
        });
    }
}

/// Measures a run of 20 million loop rounds with and without epoch
/// interruption, which the wall-clock deadline relies on.
fn epoch_cost(c: &mut Criterion) {
    let manifest = fetcher_manifest();
    let wasm = read_wasm(&manifest);
    let vault = vault_with_greeting();
    let executor = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let args = vec!["0".to_owned(), "0".to_owned(), "20000000".to_owned()];
    let sandbox = Sandbox::default();

    for (label, runtime) in [
        ("with_epochs", Runtime::new(None).unwrap()),
        ("without_epochs", Runtime::without_epoch_interruption(None).unwrap()),
    ] {
        let (component, _) = runtime.compile(&wasm).unwrap();
        c.bench_function(&format!("compute_20m/{label}"), |b| {
            b.iter(|| {
                let access = CredentialAccess {
                    source: VaultSource::Ready(vault.clone()),
                    metadata: None,
                    notice: Arc::new(|_| {}),
                    audit: None,
                };
                let run = runtime.run(&manifest, &component, &args, access, Limits::default(), &sandbox);
                assert_eq!(executor.block_on(run).unwrap(), RunOutcome::Exited(0));
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = compile, run, epoch_cost
}
criterion_main!(benches);
