//! The Lahat host: runs WebAssembly mini apps and hands each one only the
//! credentials its manifest declares.
//!
//! The pieces, in the order a run uses them:
//!
//! - [`manifest`] reads and validates an app's `lahat.toml`.
//! - [`runtime`] compiles the app's component (once, through a cache) and runs
//!   it in a sandboxed wasmtime store.
//! - The runtime's [`CredentialGate`](runtime::CredentialGate) handles the
//!   guest's `get-credential` calls: it validates the [`name`], checks the
//!   manifest, and only then reads the [`store`].
//!
//! Secret values are held as [`SecretString`], which zeroizes its memory on
//! drop and prints `[REDACTED]` in `Debug` output.

#![deny(missing_docs)]

pub mod audit;
mod fsutil;
pub mod grants;
pub mod import;
pub mod manager;
pub mod manifest;
pub mod metadata;
pub mod name;
pub mod paths;
pub mod permissions;
pub mod runtime;
pub mod store;

pub use secrecy::{ExposeSecret, SecretString};
