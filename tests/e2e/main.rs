//! End-to-end tests: the real `lahat` binary, real wasm guests built from
//! `sample-apps/` and `tests/guests/`, a real Secret Service
//! (gnome-keyring-daemon on a private D-Bus session) and the encrypted vault
//! file.

mod audit;
mod cli;
mod corpus;
mod crash;
mod file_store;
mod hostile;
mod import;
mod keychain;
mod limits;
mod manifests;
mod network;
mod postgres;
mod python;
mod s3;
mod support;
mod testers;
mod vault;
