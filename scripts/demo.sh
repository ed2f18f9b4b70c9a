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
demo_dir="$(mktemp -d)"
cleanup() {
    [[ -n "${keyring_pid:-}" ]] && kill "$keyring_pid" 2>/dev/null
    [[ -n "${bus_pid:-}" ]] && kill "$bus_pid" 2>/dev/null
    rm -rf "$demo_dir"
}
trap cleanup EXIT
mkdir -p "$demo_dir/home/.local/share" "$demo_dir/runtime"
chmod 700 "$demo_dir/runtime"
# No service directories in this bus, so D-Bus activation cannot start a
# keyring daemon with the real home folder.
cat >"$demo_dir/bus.conf" <<CONF
<busconfig>
  <type>session</type>
  <listen>unix:path=$demo_dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --nofork --print-address=1 --config-file="$demo_dir/bus.conf" >"$demo_dir/address" 2>"$demo_dir/bus.log" &
bus_pid=$!
for _ in $(seq 100); do [[ -s "$demo_dir/address" ]] && break; sleep 0.05; done
DBUS_SESSION_BUS_ADDRESS="$(head -n1 "$demo_dir/address")"
export DBUS_SESSION_BUS_ADDRESS
printf 'demo-login-password' | env HOME="$demo_dir/home" XDG_DATA_HOME="$demo_dir/home/.local/share" \
    XDG_RUNTIME_DIR="$demo_dir/runtime" gnome-keyring-daemon --foreground --components=secrets --unlock \
    >/dev/null 2>&1 &
keyring_pid=$!
for _ in $(seq 200); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
        break
    fi
    sleep 0.05
done
export LAHAT_HOME="$demo_dir/lahat"

step "Storing demo.greeting, and demo.secret which no app declares"
printf 'Hello' | "$lahat" credential set demo.greeting
printf 'top-secret-value' | "$lahat" credential set demo.secret
"$lahat" credential list

step "Running the greeter, which declares demo.greeting"
"$lahat" run sample-apps/greeter -- "new Lahat user"

step "Running a hostile app that asks for undeclared and look-alike names"
LAHAT_LOG=error "$lahat" run tests/guests/hostile

step "Done: the greeter got its credential and the hostile app got nothing else"
