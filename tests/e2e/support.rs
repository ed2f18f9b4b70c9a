//! Fixtures for the end-to-end tests: the built guests, a private Secret
//! Service, and a `lahat` command with a clean environment.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Returns the repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// Builds the sample apps and test guests once per test binary.
pub fn guests_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("bash")
            .arg(repo_root().join("scripts/build-apps.sh"))
            .status()
            .expect("cannot run scripts/build-apps.sh");
        assert!(status.success(), "scripts/build-apps.sh failed: {status}");
    });
}

/// Builds the guests if needed and returns the folder of one app.
pub fn app(relative: &str) -> PathBuf {
    guests_built();
    repo_root().join(relative)
}

/// A `lahat` invocation with no inherited environment except `PATH`, its
/// own `LAHAT_HOME`, and a D-Bus address only when a test sets one.
pub struct Lahat {
    pub home: tempfile::TempDir,
    pub bus: Option<String>,
    pub env: Vec<(String, String)>,
}

impl Lahat {
    pub fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            bus: None,
            env: Vec::new(),
        }
    }

    pub fn with_bus(bus: &str) -> Self {
        let mut lahat = Self::new();
        lahat.bus = Some(bus.to_owned());
        lahat
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lahat"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("LAHAT_HOME", self.home.path())
            .stdin(Stdio::null());
        // Without a bus address libdbus would try to autolaunch one.
        command.env(
            "DBUS_SESSION_BUS_ADDRESS",
            self.bus.as_deref().unwrap_or("unix:path=/nonexistent/lahat-test-bus"),
        );
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Runs `lahat ARGS` with `stdin` as its input.
    pub fn run_with_input(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start lahat");
        // lahat may exit before reading stdin, on a usage error for example;
        // its exit status is what the caller checks.
        let _ = child.stdin.take().unwrap().write_all(stdin);
        wait_with_guard(child, args)
    }

    /// Runs `lahat ARGS` with empty stdin.
    pub fn run(&self, args: &[&str]) -> Output {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start lahat");
        wait_with_guard(child, args)
    }

    /// Starts `lahat ARGS` with `input` written to its stdin and closed,
    /// without waiting for it; stdout is discarded and stderr captured.
    pub fn spawn_with_input(&self, args: &[&str], input: &[u8]) -> Child {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start lahat");
        // A lahat that exits early closes stdin; its exit status tells why.
        let _ = child.stdin.take().unwrap().write_all(input);
        child
    }

    /// Builds the guests if needed, approves the app at `relative` (a folder
    /// under the repository root) with `lahat app approve --yes`, and
    /// returns its folder.
    pub fn approved(&self, relative: &str) -> PathBuf {
        let folder = app(relative);
        let output = self.run(&["app", "approve", folder.to_str().unwrap(), "--yes"]);
        assert_success(&output, &format!("app approve {relative}"));
        folder
    }

    /// Stores `value` under `name` through `lahat credential set`.
    pub fn set(&self, store: &str, name: &str, value: &str) {
        let output = self.run_with_input(&["--store", store, "credential", "set", name], value.as_bytes());
        assert_success(&output, &format!("credential set {name}"));
    }
}

/// Waits for `child`, killing it if it runs for two minutes: a hang is a
/// failure of its own, reported as such instead of stalling the suite.
fn wait_with_guard(child: Child, args: &[&str]) -> Output {
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("lahat {args:?} hung for 120 s and was killed");
        }
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

pub fn assert_exit(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: unexpected exit status\nstdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// A private Secret Service: a D-Bus session bus and gnome-keyring-daemon
/// with a freshly created, unlocked login collection, all inside a temporary
/// folder, so tests never touch the developer's own keychain.
pub struct SecretService {
    pub bus_address: String,
    // Deleted on drop, after the daemons stop.
    _folder: tempfile::TempDir,
    bus: Child,
    keyring: Child,
}

impl SecretService {
    pub fn start() -> Self {
        let folder = tempfile::tempdir().unwrap();
        let home = folder.path().join("home");
        let runtime = folder.path().join("runtime");
        std::fs::create_dir_all(home.join(".local/share")).unwrap();
        std::fs::create_dir_all(&runtime).unwrap();
        set_mode(&runtime, 0o700);

        // A bus with no service directories: D-Bus activation could otherwise
        // start the system's gnome-keyring with the developer's home folder.
        let socket = folder.path().join("bus");
        let config = folder.path().join("bus.conf");
        std::fs::write(&config, bus_config(&socket)).unwrap();
        let mut bus = Command::new("dbus-daemon")
            .args(["--nofork", "--print-address=1"])
            .arg(format!("--config-file={}", config.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start dbus-daemon; install the `dbus` package");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let bus_address = address.trim().to_owned();
        assert!(!bus_address.is_empty(), "dbus-daemon printed no address");

        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets", "--unlock"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start gnome-keyring-daemon; install the `gnome-keyring` package");
        // The daemon reads the login password from stdin until it closes.
        keyring.stdin.take().unwrap().write_all(b"test-login-password").unwrap();

        let service = Self {
            bus_address,
            _folder: folder,
            bus,
            keyring,
        };
        service.wait_until_ready();
        service
    }

    fn wait_until_ready(&self) {
        let started = Instant::now();
        loop {
            let output = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
                .output()
                .expect("cannot run dbus-send");
            if String::from_utf8_lossy(&output.stdout).contains("boolean true") {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "gnome-keyring-daemon did not register org.freedesktop.secrets"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Looks an item up with libsecret's `secret-tool`, independently of lahat.
    pub fn lookup(&self, name: &str) -> Option<String> {
        let output = Command::new("secret-tool")
            .args(["lookup", "service", "lahat", "username", name])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .output()
            .expect("cannot run secret-tool; install the `libsecret-tools` package");
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Stores an item with `secret-tool`, as another program would.
    pub fn store_foreign(&self, name: &str, value: &str) {
        self.store_with_attributes(&["service", "lahat", "username", name], value);
    }

    /// Stores an item with the given attribute pairs through `secret-tool`.
    pub fn store_with_attributes(&self, attributes: &[&str], value: &str) {
        let mut child = Command::new("secret-tool")
            .args(["store", "--label", "foreign"])
            .args(attributes)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(value.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
    }

    /// Deletes items with `secret-tool`, as another program would.
    pub fn delete(&self, name: &str) {
        self.clear(&["service", "lahat", "username", name]);
    }

    /// Returns whether any item has the given attribute pairs.
    pub fn has_item(&self, attributes: &[&str]) -> bool {
        let output = Command::new("secret-tool")
            .arg("search")
            .args(attributes)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .output()
            .expect("cannot run secret-tool");
        !output.stdout.is_empty() || String::from_utf8_lossy(&output.stderr).contains("secret =")
    }

    /// Deletes every item with the given attribute pairs.
    pub fn clear(&self, attributes: &[&str]) {
        let status = Command::new("secret-tool")
            .arg("clear")
            .args(attributes)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .status()
            .expect("cannot run secret-tool");
        assert!(status.success());
    }

    /// Locks the login collection, as a screen lock or a timeout would.
    pub fn lock(&self) {
        let output = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                "array:objpath:/org/freedesktop/secrets/collection/login",
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .output()
            .expect("cannot run dbus-send");
        assert!(output.status.success(), "locking failed: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// Stops gnome-keyring-daemon, leaving the bus running.
    pub fn stop_keyring(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.bus.kill();
        let _ = self.keyring.wait();
        let _ = self.bus.wait();
    }
}

fn bus_config(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
