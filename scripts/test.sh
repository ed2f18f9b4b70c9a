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

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?

# One closing line with the totals of every test binary.
awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
     END { printf "%d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$log"
exit "$status"
