//! A cache of precompiled components.
//!
//! Compiling a component with Cranelift takes from tens of milliseconds to
//! seconds, so each component is compiled once and its machine code kept in a
//! file named by the SHA-256 of the component's bytes and a hash of the
//! engine's configuration. Precompiled code only loads into an engine built
//! with the same configuration and wasmtime version, and both are part of
//! the key.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::fsutil::write_private_atomically;

/// The source of a loaded component's machine code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Machine code was read from the cache.
    Hit,
    /// The component was compiled and the result stored in the cache.
    Compiled,
    /// The component was compiled and caching was off or failed.
    Uncached,
}

/// A folder of precompiled components.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// Uses `dir`, which is created with mode 0700 on first write.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Returns the cache file for `wasm` under `engine`'s configuration.
    pub fn entry_path(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        let mut engine_hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut engine_hasher);
        let content = hex::encode(Sha256::digest(wasm));
        self.dir
            .join(format!("{content}-{:016x}.cwasm", engine_hasher.finish()))
    }

    /// Loads `wasm` as a component, from the cache when possible.
    ///
    /// A cache file that cannot be read or loaded is replaced, and a cache
    /// folder that cannot be written only costs the next run a compilation.
    ///
    /// # Errors
    ///
    /// Returns an error when `wasm` is not a valid component.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.entry_path(engine, wasm);
        if path.is_file() {
            // SAFETY: `deserialize_file` trusts that the file holds machine code
            // that this wasmtime produced. The file is in the user's own cache
            // folder (created 0700), is named by the hash of the component and
            // engine configuration, and wasmtime checks its header and version
            // before use. Anyone who can write that folder can already run code
            // as this user.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "discarding unreadable cached component");
                }
            }
        }

        let compiled = engine.precompile_component(wasm)?;
        let outcome = match write_private_atomically(&path, &compiled) {
            Ok(()) => CacheOutcome::Compiled,
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "cannot store compiled component in cache");
                CacheOutcome::Uncached
            }
        };
        // SAFETY: the bytes were produced by `precompile_component` on this
        // engine just above.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        Ok((component, outcome))
    }
}
