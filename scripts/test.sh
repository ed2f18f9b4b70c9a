#!/usr/bin/env bash
# Installs what the tests need, builds the wasm guests and runs every test.
# The keychain tests start their own D-Bus session and gnome-keyring-daemon
# in temporary folders, so no desktop session is needed and the user's own
# keychain is never touched.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/install-deps.sh
scripts/build-apps.sh
cargo test --workspace --locked "$@"
