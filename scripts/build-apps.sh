#!/usr/bin/env bash
# Builds the sample apps and the test guests for wasm32-wasip2 and copies each
# component beside its lahat.toml.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="$root/target/guests"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    echo "build-apps: adding the wasm32-wasip2 target" >&2
    rustup target add wasm32-wasip2 >&2
fi

build_workspace() {
    local workspace="$1"
    echo "build-apps: building $workspace" >&2
    cargo build --quiet --release --locked --target wasm32-wasip2 \
        --manifest-path "$root/$workspace/Cargo.toml" --target-dir "$target_dir"
    local app
    for app in "$root/$workspace"/*/lahat.toml; do
        app="$(dirname "$app")"
        local name
        name="$(basename "$app")"
        cp "$target_dir/wasm32-wasip2/release/$name.wasm" "$app/$name.wasm"
    done
}

build_workspace sample-apps
build_workspace tests/guests
