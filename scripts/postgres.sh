#!/usr/bin/env bash
# Starts and stops a private PostgreSQL server for the tests, built from
# Debian's postgresql packages.
#
#   scripts/postgres.sh start DIR PORT PASSWORD
#   scripts/postgres.sh stop DIR
#
# `start` creates a cluster in DIR/data on its first run, listens on
# 127.0.0.1:PORT only, and prints the connection URL without the password,
# postgres://lahat@127.0.0.1:PORT/lahat. The role `lahat` logs in with
# PASSWORD through SCRAM-SHA-256, the only method pg_hba.conf allows, and owns
# the database `lahat` with a table `fruits` of three rows. Running `start`
# again on a running server checks the port and password and returns at once.
# `stop` stops the server and leaves DIR in place; the caller deletes it.
#
# PostgreSQL refuses to run as root, so when run as root the script gives DIR
# to the `postgres` user (or `nobody` when there is none) and runs the server
# as that user. DIR's parent folders must let that user through.
set -euo pipefail

usage() {
    echo "usage: scripts/postgres.sh start DIR PORT PASSWORD | stop DIR" >&2
    exit 2
}

fail() {
    echo "postgres.sh: $*" >&2
    exit 1
}

find_bin_dir() {
    local dir
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
    if [[ -z "$dir" || ! -x "$dir/pg_ctl" ]]; then
        fail "no PostgreSQL server under /usr/lib/postgresql/*/bin; install the postgresql package (scripts/install-deps.sh)"
    fi
    echo "$dir"
}

# The account the server runs as: the current one, or an unprivileged one
# when running as root.
server_user() {
    if [[ "$(id -u)" != 0 ]]; then
        id -un
    elif id -u postgres >/dev/null 2>&1; then
        echo postgres
    else
        echo nobody
    fi
}

# Runs a command as the server's account, from a folder it can read.
as_server_user() {
    if [[ "$(id -u)" == 0 ]]; then
        (cd / && runuser -u "$(server_user)" -- "$@")
    else
        (cd / && "$@")
    fi
}

# Prints PASSWORD as an SQL string literal.
sql_literal() {
    printf "'%s'" "${1//\'/\'\'}"
}

is_running() {
    as_server_user "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1
}

# Runs SQL from stdin in single-user mode, which needs neither a listening
# server nor a login, against database $1.
run_single_user() {
    as_server_user "$bin/postgres" --single -D "$data" -j "$1" >>"$dir/single-user.log" 2>&1 \
        || fail "setting up the database failed; see $dir/single-user.log"
}

create_cluster() {
    local password="$1"
    mkdir -p "$dir"
    if [[ "$(id -u)" == 0 ]]; then
        chown "$(server_user):" "$dir"
    fi
    chmod 700 "$dir"

    as_server_user "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C \
        --auth=reject --no-sync --no-instructions >"$dir/initdb.log" 2>&1 \
        || fail "initdb failed; see $dir/initdb.log"

    # Only password logins from 127.0.0.1, through SCRAM-SHA-256.
    printf 'host all all 127.0.0.1/32 scram-sha-256\n' >"$data/pg_hba.conf"
    cat >>"$data/postgresql.conf" <<EOF

# Settings of scripts/postgres.sh: a throwaway test server.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
password_encryption = scram-sha-256
max_connections = 20
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    # With -j, a statement ends at a semicolon followed by an empty line.
    run_single_user postgres <<EOF
CREATE ROLE lahat LOGIN PASSWORD $(sql_literal "$password");

CREATE DATABASE lahat OWNER lahat;

EOF
    run_single_user lahat <<'EOF'
CREATE TABLE fruits (id integer PRIMARY KEY, name text NOT NULL, color text);

INSERT INTO fruits VALUES (1, 'apple', 'red'), (2, 'banana', 'yellow'), (3, 'cherry', NULL);

ALTER TABLE fruits OWNER TO lahat;

EOF
    touch "$dir/ready"
}

# Sets the role's password while the server is stopped.
set_password() {
    run_single_user postgres <<EOF
ALTER ROLE lahat PASSWORD $(sql_literal "$1");

EOF
}

# Checks that the running server listens on $1 and accepts $2 as the
# password of `lahat`.
check_running() {
    local port="$1" password="$2"
    local running_port
    running_port="$(sed -n 4p "$data/postmaster.pid")"
    if [[ "$running_port" != "$port" ]]; then
        fail "the server in $dir already runs on port $running_port; stop it first with scripts/postgres.sh stop $dir"
    fi
    if ! PGPASSWORD="$password" PGCONNECT_TIMEOUT=5 "$bin/psql" -X -q -At -h 127.0.0.1 -p "$port" -U lahat -d lahat \
        -c 'SELECT 1' >/dev/null 2>&1; then
        fail "the server in $dir runs on port $port but rejects this password for lahat; stop it first with scripts/postgres.sh stop $dir"
    fi
}

start() {
    local port="$1" password="$2"
    if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        fail "invalid port \`$port\`; give a number from 1 to 65535"
    fi
    if [[ -z "$password" || "$password" == *[[:cntrl:]]* ]]; then
        fail "invalid password: give a non-empty password without control characters"
    fi

    if [[ -f "$dir/ready" ]] && is_running; then
        check_running "$port" "$password"
    else
        if [[ ! -f "$dir/ready" ]]; then
            # A cluster whose setup was interrupted is made again from scratch.
            rm -rf "$data"
            create_cluster "$password"
        else
            set_password "$password"
        fi
        as_server_user "$bin/pg_ctl" start -D "$data" -w -t 30 -s -l "$dir/server.log" -o "-p $port" \
            || fail "the server did not start; see $dir/server.log"
    fi
    echo "postgres://lahat@127.0.0.1:$port/lahat"
}

stop() {
    if [[ -f "$data/postmaster.pid" ]] && is_running; then
        as_server_user "$bin/pg_ctl" stop -D "$data" -m fast -w -s \
            || fail "the server in $dir did not stop; see $dir/server.log"
    fi
}

command="${1:-}"
case "$command" in
    start) (($# == 4)) || usage ;;
    stop) (($# == 2)) || usage ;;
    *) usage ;;
esac

dir="$(realpath -m "$2")"
data="$dir/data"
bin="$(find_bin_dir)"

if [[ "$command" == start ]]; then
    start "$3" "$4"
else
    stop
fi
