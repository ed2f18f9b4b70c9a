#!/usr/bin/env bash
# Measures lahat: the criterion benchmark of the run pipeline, then whole
# `lahat run` commands with hyperfine against a private Secret Service and
# the vault file. Paste the results into docs/benchmarks.md with the machine
# they ran on.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/install-deps.sh --with-bench
scripts/build-apps.sh
cargo build --release --locked --quiet -p lahat-host
lahat="$root/target/release/lahat"

cargo bench --locked -p lahat-host --bench runtime

# shellcheck source=scripts/secret-service.sh
source "$root/scripts/secret-service.sh"
bench_dir="$(mktemp -d)"
cleanup() {
    stop_secret_service
    rm -rf "$bench_dir"
}
trap cleanup EXIT
start_secret_service "$bench_dir"
export LAHAT_HOME="$bench_dir/lahat"
export LAHAT_PASSPHRASE="benchmark passphrase"
printf 'Hello' | "$lahat" --store os credential set demo.greeting
printf 'Hello' | "$lahat" --store file credential set demo.greeting
"$lahat" app approve sample-apps/greeter --yes
"$lahat" app approve tests/guests/fetcher --yes

greeter="sample-apps/greeter"
hyperfine --warmup 3 --runs 30 --export-markdown "$bench_dir/run.md" \
    -n "cold: compile, keychain read" "$lahat --store os run --no-cache $greeter" \
    -n "warm: cached, keychain read" "$lahat --store os run $greeter" \
    -n "warm: cached, vault file read" "$lahat --store file run $greeter" \
    -n "warm: cached, no credential read" "$lahat --store os run tests/guests/fetcher -- 0" \
    >&2
cat "$bench_dir/run.md"
