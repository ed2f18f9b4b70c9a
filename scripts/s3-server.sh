#!/usr/bin/env bash
# Starts or stops a local S3 and STS server for the tests: moto's server from
# PyPI, on 127.0.0.1, with SigV4 signatures enforced.
#
#   scripts/s3-server.sh start DIR PORT
#   scripts/s3-server.sh stop DIR
#
# `start` installs the versions pinned in scripts/s3-server-requirements.txt
# into a virtual environment under target/ (reused while the pins are
# unchanged), starts the server in the background with its log and process
# id in DIR, and waits until it responds. Then it creates an IAM user with an
# access key and a policy that allows everything, and a bucket, and prints
# shell assignments (quoted where needed, for eval) to stdout:
#
#   LAHAT_TEST_S3_ENDPOINT=http://127.0.0.1:PORT
#   LAHAT_TEST_S3_ACCESS_KEY=...
#   LAHAT_TEST_S3_SECRET_KEY=...
#   LAHAT_TEST_S3_BUCKET=lahat-test
#
# moto checks credentials only after the number of requests in
# INITIAL_NO_AUTH_ACTION_COUNT, so the server starts with exactly as many
# unauthenticated requests as the setup makes. Every later request must be
# signed with the printed key: a wrong secret gets 403 SignatureDoesNotMatch
# and an unknown key id 403 InvalidAccessKeyId (S3) or InvalidClientTokenId
# (STS). moto does not check that x-amz-content-sha256 matches the body.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$root/scripts/s3-server-requirements.txt"
venv="$root/target/s3-server-venv"
bucket="lahat-test"
# CreateUser, PutUserPolicy, CreateAccessKey and CreateBucket.
setup_requests=4

usage() {
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
}

install_server() {
    if cmp -s "$requirements" "$venv/installed-requirements.txt"; then
        return
    fi
    echo "s3-server: installing moto in $venv" >&2
    if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "s3-server: the pinned packages need Python 3.11 or later, and python3 is $(python3 --version 2>&1)" >&2
        exit 1
    fi
    if ! python3 -m venv "$venv"; then
        echo "s3-server: python3 cannot create a virtual environment; install venv (Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/installed-requirements.txt"
}

start() {
    local dir="$1" port="$2"
    if [[ ! "$port" =~ ^[0-9]+$ ]] || (( port < 1 || port > 65535 )); then
        echo "s3-server: invalid port \"$port\"; give a number from 1 to 65535" >&2
        exit 2
    fi
    mkdir -p "$dir"
    if [[ -f "$dir/moto.pid" ]] && kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null; then
        echo "s3-server: a server started from $dir is already running (process $(cat "$dir/moto.pid")); stop it with: $0 stop $dir" >&2
        exit 1
    fi
    install_server
    if "$venv/bin/python" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)' "$port" 2>/dev/null; then
        echo "s3-server: port $port on 127.0.0.1 is already in use; choose another port" >&2
        exit 1
    fi

    INITIAL_NO_AUTH_ACTION_COUNT="$setup_requests" \
        "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/moto.pid"

    local endpoint="http://127.0.0.1:$port"
    if ! "$venv/bin/python" - "$endpoint" "$pid" <<'EOF'
import os, sys, time, urllib.request
endpoint, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        # The dashboard is not an AWS action, so it does not use up one of
        # the unauthenticated requests.
        with urllib.request.urlopen(endpoint + "/moto-api/", timeout=2):
            sys.exit(0)
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("the server exited")
    time.sleep(0.2)
sys.exit("the server did not answer within 60 s")
EOF
    then
        echo "s3-server: moto did not start on port $port; its log, $dir/moto.log, ends with:" >&2
        tail -n 20 "$dir/moto.log" >&2
        kill "$pid" 2>/dev/null || true
        rm -f "$dir/moto.pid"
        exit 1
    fi

    if ! "$venv/bin/python" - "$endpoint" "$bucket" <<'EOF'
import json, shlex, sys
import boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
# Any key works for the unauthenticated setup requests.
options = dict(endpoint_url=endpoint, region_name="us-east-1",
               aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **options)
iam.create_user(UserName="lahat-test")
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
iam.put_user_policy(UserName="lahat-test", PolicyName="allow-all", PolicyDocument=json.dumps(policy))
key = iam.create_access_key(UserName="lahat-test")["AccessKey"]
boto3.client("s3", **options).create_bucket(Bucket=bucket)
print(f"LAHAT_TEST_S3_ENDPOINT={shlex.quote(endpoint)}")
print(f"LAHAT_TEST_S3_ACCESS_KEY={shlex.quote(key['AccessKeyId'])}")
print(f"LAHAT_TEST_S3_SECRET_KEY={shlex.quote(key['SecretAccessKey'])}")
print(f"LAHAT_TEST_S3_BUCKET={shlex.quote(bucket)}")
EOF
    then
        echo "s3-server: creating the test user, key and bucket failed; stopping the server" >&2
        kill "$pid" 2>/dev/null || true
        rm -f "$dir/moto.pid"
        exit 1
    fi
    echo "s3-server: moto is running on $endpoint (process $pid); stop it with: $0 stop $dir" >&2
}

stop() {
    local dir="$1"
    if [[ ! -f "$dir/moto.pid" ]]; then
        echo "s3-server: no server was started from $dir" >&2
        return
    fi
    local pid
    pid="$(cat "$dir/moto.pid")"
    kill "$pid" 2>/dev/null || true
    rm -f "$dir/moto.pid"
    echo "s3-server: stopped process $pid" >&2
}

case "${1:-}" in
    start) [[ $# -eq 3 ]] || usage; start "$2" "$3" ;;
    stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
    *) usage ;;
esac
