#!/usr/bin/env bash
# Builds the sample apps and the test guests into WebAssembly components and
# puts each component beside its lahat.toml. Rust crates build for
# wasm32-wasip2, and Python apps build with componentize-py.
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
        # Apps in other languages, such as py-greeter, have no Cargo.toml.
        [[ -f "$app/Cargo.toml" ]] || continue
        local name
        name="$(basename "$app")"
        cp "$target_dir/wasm32-wasip2/release/$name.wasm" "$app/$name.wasm"
    done
    # Credential testers sit in testers/NAMESPACE and build as NAMESPACE-tester.
    for app in "$root/$workspace"/testers/*/lahat.toml; do
        app="$(dirname "$app")"
        [[ -f "$app/Cargo.toml" ]] || continue
        local name
        name="$(basename "$app")-tester"
        cp "$target_dir/wasm32-wasip2/release/$name.wasm" "$app/$name.wasm"
    done
}

# Builds the Python app in folder $1, whose module `app` targets the WIT world
# $2, with the componentize-py version pinned in its requirements.txt. The
# tool is installed in a virtual environment under target/ when the pin
# changes. The component is rebuilt only when a source is newer than it,
# because every build gives different bytes and so voids approvals.
build_python_app() {
    local app="$root/$1" world="$2"
    local name venv="$root/target/py-venv"
    name="$(basename "$app")"
    if [[ ! -x "$venv/bin/componentize-py" ]] ||
        ! cmp -s "$app/requirements.txt" "$venv/installed-requirements.txt"; then
        echo "build-apps: installing componentize-py in $venv" >&2
        if ! python3 -m venv "$venv"; then
            echo "build-apps: python3 cannot create a virtual environment; install Python 3.10 or later with venv (Debian: apt-get install python3-venv)" >&2
            exit 1
        fi
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$app/requirements.txt"
        cp "$app/requirements.txt" "$venv/installed-requirements.txt"
    fi

    local component="$app/$name.wasm"
    if [[ -f "$component" ]] && [[ -z "$(find "$app" "$root/wit" -newer "$component" \
        \( -name '*.py' -o -name '*.wit' -o -name requirements.txt \) -print -quit)" ]]; then
        return
    fi
    echo "build-apps: building $1" >&2
    # A build cut short must not leave a component newer than its sources.
    "$venv/bin/componentize-py" --quiet \
        -d "$root/wit" -d "$app/wit" -w "$world" \
        componentize --python-path "$app" app --output "$app/$name.partial.wasm"
    mv "$app/$name.partial.wasm" "$component"
}

build_workspace sample-apps
build_workspace tests/guests
build_python_app sample-apps/py-greeter lahat:py-greeter/app
