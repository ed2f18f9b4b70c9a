# Sourced by demo.sh and bench.sh. `start_secret_service DIR` starts a private
# D-Bus session bus and gnome-keyring-daemon with an unlocked login
# collection under DIR, exports DBUS_SESSION_BUS_ADDRESS, and registers their
# process ids in SECRET_SERVICE_PIDS for `stop_secret_service`.

start_secret_service() {
    local dir="$1"
    mkdir -p "$dir/home/.local/share" "$dir/runtime"
    chmod 700 "$dir/runtime"
    # No service directories in this bus, so D-Bus activation cannot start a
    # keyring daemon with the real home folder.
    cat >"$dir/bus.conf" <<CONF
<busconfig>
  <type>session</type>
  <listen>unix:path=$dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
    dbus-daemon --nofork --print-address=1 --config-file="$dir/bus.conf" >"$dir/address" 2>"$dir/bus.log" &
    SECRET_SERVICE_PIDS="$!"
    local _
    for _ in $(seq 100); do [[ -s "$dir/address" ]] && break; sleep 0.05; done
    DBUS_SESSION_BUS_ADDRESS="$(head -n1 "$dir/address")"
    export DBUS_SESSION_BUS_ADDRESS

    printf 'private-login-password' | env HOME="$dir/home" XDG_DATA_HOME="$dir/home/.local/share" \
        XDG_RUNTIME_DIR="$dir/runtime" gnome-keyring-daemon --foreground --components=secrets --unlock \
        >"$dir/keyring.log" 2>&1 &
    SECRET_SERVICE_PIDS="$SECRET_SERVICE_PIDS $!"
    for _ in $(seq 200); do
        if dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
            org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
            return 0
        fi
        sleep 0.05
    done
    echo "secret-service: gnome-keyring-daemon did not start; see $dir/keyring.log" >&2
    return 1
}

stop_secret_service() {
    local pid
    for pid in ${SECRET_SERVICE_PIDS:-}; do
        kill "$pid" 2>/dev/null || true
    done
}
