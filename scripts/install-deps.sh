#!/usr/bin/env bash
# Installs what building and testing lahat needs on Debian or Ubuntu: the
# wasm32-wasip2 Rust target, libdbus headers for the Secret Service client,
# a D-Bus daemon, gnome-keyring and secret-tool for the keychain tests, and
# PostgreSQL for the pg-query tests.
# Packages already present are left alone; installing the others needs root
# or sudo.
set -euo pipefail

packages=(pkg-config libdbus-1-dev dbus-daemon dbus-bin gnome-keyring libsecret-tools postgresql)
if [[ "${1:-}" == "--with-bench" ]]; then
    packages+=(hyperfine)
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} > 0)); then
    if ! command -v apt-get >/dev/null; then
        echo "install-deps: missing ${missing[*]}, and this system has no apt-get; install them with your package manager" >&2
        exit 1
    fi
    sudo_prefix=()
    if [[ "$(id -u)" != 0 ]]; then
        if ! command -v sudo >/dev/null; then
            echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
            exit 1
        fi
        sudo_prefix=(sudo)
    fi
    echo "install-deps: installing ${missing[*]}" >&2
    "${sudo_prefix[@]}" apt-get update -qq
    "${sudo_prefix[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "install-deps: adding the wasm32-wasip2 Rust target" >&2
    rustup target add wasm32-wasip2 >&2
fi
