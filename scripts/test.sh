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
# A private PostgreSQL for tests/e2e/postgres.rs, with a throwaway password.
# Its port is not 5432, the PostgreSQL tester's default endpoint, because one
# test checks the tester's message when the endpoint does not match.
pg_dir="$(mktemp -d)"
# A local S3 and STS server (moto) for tests/e2e/s3.rs and tests/e2e/testers.rs.
s3_dir="$(mktemp -d)"
trap 'scripts/postgres.sh stop "$pg_dir" || true; scripts/s3-server.sh stop "$s3_dir" || true; rm -rf "$pg_dir" "$s3_dir" "$log"' EXIT
pg_password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
LAHAT_TEST_POSTGRES_URL="$(scripts/postgres.sh start "$pg_dir" "${LAHAT_TEST_POSTGRES_PORT:-55432}" "$pg_password")"
export LAHAT_TEST_POSTGRES_URL
export LAHAT_TEST_POSTGRES_PASSWORD="$pg_password"
s3_variables="$(scripts/s3-server.sh start "$s3_dir" "${LAHAT_TEST_S3_PORT:-59000}")"
set -a
eval "$s3_variables"
set +a
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?

# One closing line with the totals of every test binary.
awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
     END { printf "%d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$log"
exit "$status"
