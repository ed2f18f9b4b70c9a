#!/usr/bin/env bash
# Quick start: builds lahat and the sample apps, stores a credential in a
# throwaway Secret Service, runs an app that receives it and a hostile app
# that is refused. Nothing outside a temporary folder is changed, and the
# user's own keychain is never touched.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing build dependencies"
scripts/install-deps.sh

step "Building lahat (the first build compiles wasmtime and takes a few minutes)"
cargo build --release --locked --quiet -p lahat-host
lahat="$root/target/release/lahat"

step "Building the sample apps for wasm32-wasip2"
scripts/build-apps.sh

step "Starting a throwaway Secret Service (D-Bus session bus and gnome-keyring)"
# shellcheck source=scripts/secret-service.sh
source "$root/scripts/secret-service.sh"
demo_dir="$(mktemp -d)"
cleanup() {
    stop_secret_service
    rm -rf "$demo_dir"
}
trap cleanup EXIT
start_secret_service "$demo_dir"
export LAHAT_HOME="$demo_dir/lahat"

step "Storing demo.greeting, and demo.secret which no app declares"
printf 'Hello' | "$lahat" credential set demo.greeting
printf 'top-secret-value' | "$lahat" credential set demo.secret
"$lahat" credential list

step "Reviewing and approving the greeter, which declares demo.greeting"
"$lahat" inspect sample-apps/greeter
# On a terminal, `lahat run` asks for this approval itself; --yes approves
# without asking, as a script must.
"$lahat" app approve sample-apps/greeter --yes

step "Running the greeter"
"$lahat" run sample-apps/greeter -- "new Lahat user"

step "Running a hostile app that asks for undeclared and look-alike names"
"$lahat" app approve tests/guests/hostile --yes
LAHAT_LOG=error "$lahat" run tests/guests/hostile

step "The audit log of both runs"
"$lahat" audit

step "Done: the greeter got its credential and the hostile app got nothing else"
