//! The hostile guest under granted permissions: folders, output masking, the
//! output cap, the network and the manifest's limits.
//!
//! Each test writes its own manifest beside a copy of `hostile.wasm`, so the
//! app declares exactly what the case needs. The vault file always stores a
//! canary under `demo.secret`, which no manifest here declares. The canary
//! must not appear in any output, error or audit record.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{TcpListener, ToSocketAddrs, UdpSocket};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};

use crate::support::{Lahat, assert_exit, assert_success, stderr, stdout};

const CANARY_SECRET: &str = "canary-secret-corpus-7d1f0c2a";

/// A delivered value whose base64 has `+` or `/` at every alignment, so the
/// URL-safe forms differ from the standard ones.
const GREETING: &str = "s3cr3t-greeting?>~value";

const AWS_JSON: &str = r#"{"access_key_id":"AKIDEXAMPLE1","secret_access_key":"wJalrXUtnFEMIK7MDENG"}"#;

const MASK: &str = "[masked]";

const MIB: usize = 1024 * 1024;

/// A `lahat` home whose vault file contains the canary, and an app folder with
/// a copy of the hostile guest and a manifest written by the test.
struct Corpus {
    lahat: Lahat,
    app: tempfile::TempDir,
}

impl Corpus {
    /// Creates the vault and the app folder, with `permissions` appended to
    /// the manifest after its `[app]` table.
    fn new(permissions: &str) -> Self {
        let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "corpus test passphrase");
        lahat.set("file", "demo.secret", CANARY_SECRET);
        let app = tempfile::tempdir().unwrap();
        std::fs::copy(
            crate::support::app("tests/guests/hostile").join("hostile.wasm"),
            app.path().join("hostile.wasm"),
        )
        .unwrap();
        let corpus = Self { lahat, app };
        corpus.write_manifest(permissions);
        corpus
    }

    fn write_manifest(&self, permissions: &str) {
        let manifest = format!(
            "[app]\nid = \"hostile\"\nname = \"Hostile probe\"\nversion = \"0.1.0\"\ncomponent = \"hostile.wasm\"\n\n{permissions}"
        );
        std::fs::write(self.app.path().join("lahat.toml"), manifest).unwrap();
    }

    fn path(&self) -> &str {
        self.app.path().to_str().unwrap()
    }

    /// Approves the app with `options` (such as `--folder` bindings).
    fn approve(&self, options: &[&str]) {
        let mut args = vec!["app", "approve", self.path(), "--yes"];
        args.extend_from_slice(options);
        assert_success(&self.lahat.run(&args), "app approve");
    }

    /// Runs `lahat --store file run APP OPTIONS -- GUEST_ARGS` and checks
    /// that the canary is in neither stream.
    fn run(&self, options: &[&str], guest_args: &[&str]) -> Output {
        let mut args = vec!["--store", "file", "run", self.path()];
        args.extend_from_slice(options);
        args.push("--");
        args.extend_from_slice(guest_args);
        let output = self.lahat.run(&args);
        assert_no_canary(&stdout(&output), "stdout");
        assert_no_canary(&stderr(&output), "stderr");
        output
    }

    /// Returns the audit records as `lahat audit --json` prints them, after
    /// checking that neither they nor the log file hold the canary.
    fn audit(&self) -> Vec<serde_json::Value> {
        let output = self.lahat.run(&["audit", "--json"]);
        assert_success(&output, "audit --json");
        assert_no_canary(&stdout(&output), "lahat audit --json");
        assert_no_canary(&stderr(&output), "lahat audit stderr");
        let log = self.lahat.home.path().join("state/audit.jsonl");
        if let Ok(text) = std::fs::read_to_string(log) {
            assert_no_canary(&text, "the audit log file");
        }
        stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

fn assert_no_canary(text: &str, place: &str) {
    assert!(!text.contains(CANARY_SECRET), "the canary secret appears in {place}:\n{text}");
}

/// Compares `out` line by line with `LABEL: OUTCOME` pairs, in order.
fn assert_probe_lines(out: &str, expected: &[(&str, &str)], what: &str) {
    let lines: Vec<&str> = out.lines().collect();
    for (index, (label, outcome)) in expected.iter().enumerate() {
        let line = lines.get(index).copied().unwrap_or("<missing>");
        assert_eq!(line, format!("{label}: {outcome}"), "{what}: probe `{label}` in:\n{out}");
    }
    assert_eq!(lines.len(), expected.len(), "{what}: extra lines in:\n{out}");
}

// Folders.

/// The probes of `hostile folders` whose outcome is the same whatever the
/// access to `/data`: reads, escapes and listings.
const FOLDER_READS: &[(&str, &str)] = &[
    ("read", "ok inside-content"),
    ("dotdot-etc", "denied"),
    ("dotdot-sibling", "denied"),
    ("dotdot-nested", "denied"),
    ("absolute", "not-found"),
    ("symlink-file", "denied"),
    ("symlink-relative", "denied"),
    ("symlink-dir-file", "denied"),
    ("trailing-slash-file", "not-a-directory"),
    ("trailing-slash-symlink", "denied"),
    ("trailing-slash-dotdot", "denied"),
    // A hard link is the file itself, so the folder cannot tell it from its
    // own files. Creating the link inside the folder granted the file.
    ("hard-link", "ok outside-content"),
    ("list", "ok hard,inside.txt,link-dir,link-file,link-rel,sub,victim.txt"),
    ("list-symlink-dir", "denied"),
    ("list-symlink-dir-slash", "denied"),
    ("list-root", "not-found"),
];

/// Creates `data/`, `outside/` and `scratch/` as `hostile folders` expects
/// them (see `tests/guests/hostile/src/folders.rs`).
fn folder_layout() -> tempfile::TempDir {
    let base = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(base.path()).unwrap();
    let (data, outside, scratch) = (root.join("data"), root.join("outside"), root.join("scratch"));
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::create_dir(&scratch).unwrap();
    std::fs::write(data.join("inside.txt"), "inside-content").unwrap();
    std::fs::write(data.join("victim.txt"), "victim-content").unwrap();
    std::fs::write(outside.join("outside.txt"), "outside-content").unwrap();
    std::fs::write(scratch.join("incoming.txt"), "incoming-content").unwrap();
    std::os::unix::fs::symlink(outside.join("outside.txt"), data.join("link-file")).unwrap();
    std::os::unix::fs::symlink("../outside/outside.txt", data.join("link-rel")).unwrap();
    std::os::unix::fs::symlink(&outside, data.join("link-dir")).unwrap();
    std::fs::hard_link(outside.join("outside.txt"), data.join("hard")).unwrap();
    base
}

/// Describes every entry under `root`: `dir`, `file CONTENT` or
/// `link TARGET`, by relative path. Links are not followed.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut entries = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
            let description = if kind.is_symlink() {
                format!("link {}", std::fs::read_link(&path).unwrap().display())
            } else if kind.is_dir() {
                pending.push(path.clone());
                "dir".to_owned()
            } else {
                format!("file {}", std::fs::read_to_string(&path).unwrap())
            };
            entries.insert(relative, description);
        }
    }
    entries
}

fn folder_options(base: &Path) -> (String, String) {
    let root = std::fs::canonicalize(base).unwrap();
    (
        format!("/data={}", root.join("data").display()),
        format!("/scratch={}", root.join("scratch").display()),
    )
}

const FOLDER_MANIFEST: &str = r#"
[[folders]]
path = "/data"
access = "ACCESS"
purpose = "The folder the probes read and try to change"

[[folders]]
path = "/scratch"
access = "read-write"
purpose = "A writable folder to rename files from and into"
"#;

#[test]
fn read_only_folder_refuses_changes_and_escapes() {
    let corpus = Corpus::new(&FOLDER_MANIFEST.replace("ACCESS", "read"));
    let base = folder_layout();
    let (data, scratch) = folder_options(base.path());
    let options = ["--folder", data.as_str(), "--folder", scratch.as_str()];
    corpus.approve(&options);
    let before = snapshot(base.path());

    let output = corpus.run(&options, &["folders"]);
    assert_success(&output, "hostile folders, read-only /data");
    let mut expected = FOLDER_READS.to_vec();
    expected.extend_from_slice(&[
        ("truncate", "denied"),
        ("write", "denied"),
        ("append", "denied"),
        ("create", "denied"),
        ("mkdir", "denied"),
        ("rename", "denied"),
        ("rename-into", "denied"),
        ("rename-out", "denied"),
        ("remove", "denied"),
        ("rmdir", "denied"),
        ("remove-symlink", "denied"),
        ("write-dotdot", "denied"),
        ("write-symlink-dir", "denied"),
        ("write-symlink-file", "denied"),
        ("write-trailing-slash", "denied"),
        ("plant-symlink-absolute", "denied"),
        ("read-planted-absolute", "not-found"),
        ("plant-symlink-relative", "denied"),
        ("read-planted-relative", "not-found"),
        ("plant-hard-link-to-symlink", "denied"),
        ("read-planted-hard-link", "not-found"),
        ("write-hard-link", "denied"),
    ]);
    assert_probe_lines(&stdout(&output), &expected, "read-only /data");

    // Nothing changed anywhere: not in /data, not outside it, and not in
    // /scratch, which the rename into /data would have emptied.
    assert_eq!(snapshot(base.path()), before);
    assert!(corpus.audit().is_empty(), "the app asked for no credential");
}

#[test]
fn read_write_folder_keeps_writes_inside() {
    let corpus = Corpus::new(&FOLDER_MANIFEST.replace("ACCESS", "read-write"));
    let base = folder_layout();
    let root = std::fs::canonicalize(base.path()).unwrap();
    let (data, scratch) = folder_options(base.path());
    let options = ["--folder", data.as_str(), "--folder", scratch.as_str()];
    corpus.approve(&options);

    let output = corpus.run(&options, &["folders"]);
    assert_success(&output, "hostile folders, read-write /data");
    let mut expected = FOLDER_READS.to_vec();
    expected.extend_from_slice(&[
        ("truncate", "ok"),
        ("write", "ok"),
        ("append", "ok"),
        ("create", "ok"),
        ("mkdir", "ok"),
        ("rename", "ok"),
        ("rename-into", "ok"),
        ("rename-out", "ok"),
        ("remove", "ok"),
        ("rmdir", "ok"),
        ("remove-symlink", "ok"),
        ("write-dotdot", "denied"),
        ("write-symlink-dir", "denied"),
        ("write-symlink-file", "denied"),
        ("write-trailing-slash", "is-a-directory"),
        ("plant-symlink-absolute", "denied"),
        ("read-planted-absolute", "not-found"),
        // The guest may create a relative link that points outside, but
        // cannot follow it.
        ("plant-symlink-relative", "ok"),
        ("read-planted-relative", "denied"),
        // Linking a symbolic link copies the link, not its target.
        ("plant-hard-link-to-symlink", "ok"),
        ("read-planted-hard-link", "denied"),
        ("write-hard-link", "ok"),
    ]);
    assert_probe_lines(&stdout(&output), &expected, "read-write /data");

    let outside = root.join("outside").display().to_string();
    let after = snapshot(base.path());
    let expected_tree: BTreeMap<String, String> = [
        ("data", "dir".to_owned()),
        ("data/sub", "dir".to_owned()),
        ("data/inside.txt", "file changed-by-guest+appended".to_owned()),
        ("data/incoming.txt", "file incoming-content".to_owned()),
        // The write through the hard link changed the file outside.
        ("data/hard", "file written-through-hard-link".to_owned()),
        ("data/link-file", format!("link {outside}/outside.txt")),
        ("data/link-dir", format!("link {outside}")),
        ("data/planted-rel", "link ../outside/outside.txt".to_owned()),
        ("data/planted-hard", format!("link {outside}/outside.txt")),
        ("outside", "dir".to_owned()),
        ("outside/outside.txt", "file written-through-hard-link".to_owned()),
        ("scratch", "dir".to_owned()),
        ("scratch/renamed.txt", "file victim-content".to_owned()),
    ]
    .into_iter()
    .map(|(path, description)| (path.to_owned(), description))
    .collect();
    for (path, description) in &expected_tree {
        assert_eq!(after.get(path), Some(description), "{path} after the run");
    }
    for path in after.keys() {
        assert!(expected_tree.contains_key(path), "the guest left {path} behind");
    }
    assert!(corpus.audit().is_empty(), "the app asked for no credential");
}

#[test]
fn unbound_or_rebound_folder_gives_nothing() {
    let corpus = Corpus::new(&FOLDER_MANIFEST.replace("ACCESS", "read"));
    let base = folder_layout();
    let (data, scratch) = folder_options(base.path());
    let options = ["--folder", data.as_str(), "--folder", scratch.as_str()];
    corpus.approve(&options);
    let before = snapshot(base.path());

    // A declared folder left unbound is not given to the app at all.
    let unbound = corpus.run(&["--folder", scratch.as_str()], &["folders"]);
    assert_success(&unbound, "run without binding /data");
    assert!(
        stderr(&unbound).contains("hostile is not given the folder /data"),
        "{}",
        stderr(&unbound)
    );
    let out = stdout(&unbound);
    assert_eq!(out.lines().next(), Some("read: not-found"), "{out}");
    assert!(out.lines().any(|line| line == "list: not-found"), "{out}");
    assert!(out.lines().any(|line| line == "rename-into: not-found"), "{out}");
    assert_eq!(snapshot(base.path()), before);

    // An approval covers the host folder it was given, not another one.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = format!("/data={}", elsewhere.path().display());
    let rebound = corpus.run(&["--folder", other.as_str(), "--folder", scratch.as_str()], &["folders"]);
    assert_exit(&rebound, 77, "run with /data bound to an unapproved folder");
    assert!(
        stderr(&rebound).contains("needs approval because it now asks for read access to"),
        "{}",
        stderr(&rebound)
    );
    assert!(stdout(&rebound).is_empty(), "the guest ran: {}", stdout(&rebound));
}

// Output masking.

const MASK_MANIFEST: &str = r#"
[[credentials]]
name = "demo.greeting"
purpose = "Printed in every form that masking must catch"

[[credentials]]
name = "demo.aws"
purpose = "A JSON object whose fields are printed one by one"
"#;

/// Returns `encoded` with the part that encodes the value replaced by the
/// mask: base64 characters that mix in bits of the `prefix_len` bytes before
/// the value or of the padding after it stay as they are.
fn masked_base64(encoded: &str, prefix_len: usize, value_len: usize) -> String {
    let first = (prefix_len * 8).div_ceil(6);
    let last = (prefix_len + value_len) * 8 / 6;
    format!("{}{MASK}{}", &encoded[..first], &encoded[last..])
}

#[test]
fn delivered_value_is_masked_in_output() {
    let corpus = Corpus::new(MASK_MANIFEST);
    corpus.lahat.set("file", "demo.greeting", GREETING);
    corpus.approve(&[]);

    let output = corpus.run(&[], &["mask", "demo.greeting"]);
    assert_success(&output, "hostile mask demo.greeting");
    let out = stdout(&output);
    let err = stderr(&output);
    let mut expected: Vec<(String, String)> = ["raw", "split", "hex", "hex-upper"]
        .iter()
        .map(|label| ((*label).to_owned(), MASK.to_owned()))
        .collect();
    for (prefix_len, prefix) in ["", "x", "xy"].iter().enumerate() {
        let shifted = format!("{prefix}{GREETING}");
        let standard = Base64::encode_string(shifted.as_bytes());
        let url_safe = Base64UrlUnpadded::encode_string(shifted.as_bytes());
        assert_ne!(standard.trim_end_matches('='), url_safe, "the URL-safe form must differ");
        expected.push((format!("base64-{prefix_len}"), masked_base64(&standard, prefix_len, GREETING.len())));
        expected.push((format!("base64url-{prefix_len}"), masked_base64(&url_safe, prefix_len, GREETING.len())));
    }
    expected.push(("json".to_owned(), format!("{{\"token\":\"{MASK}\"}}")));
    // Masking cannot recognize a transformed value: the reversed value goes
    // out as it is.
    let reversed: String = GREETING.chars().rev().collect();
    expected.push(("reversed".to_owned(), reversed.clone()));
    let pairs: Vec<(&str, &str)> = expected.iter().map(|(label, line)| (label.as_str(), line.as_str())).collect();
    assert_probe_lines(&out, &pairs, "masked stdout");

    assert!(err.lines().any(|line| line == format!("stderr: {MASK}")), "stderr:\n{err}");
    for (text, stream) in [(&out, "stdout"), (&err, "stderr")] {
        assert!(!text.contains(GREETING), "the delivered value appears raw on {stream}:\n{text}");
    }

    let records = corpus.audit();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["credential"], "demo.greeting");
    assert_eq!(records[0]["outcome"], "delivered");
    assert!(!records[0].to_string().contains(GREETING), "{}", records[0]);
}

#[test]
fn json_credential_fields_are_masked() {
    let corpus = Corpus::new(MASK_MANIFEST);
    corpus.lahat.set("file", "demo.aws", AWS_JSON);
    corpus.approve(&[]);

    let fields = corpus.run(&[], &["mask-fields", "demo.aws"]);
    assert_success(&fields, "hostile mask-fields demo.aws");
    assert_probe_lines(
        &stdout(&fields),
        &[("field access_key_id", MASK), ("field secret_access_key", MASK)],
        "JSON fields printed alone",
    );

    let whole = corpus.run(&[], &["mask", "demo.aws"]);
    assert_success(&whole, "hostile mask demo.aws");
    let out = stdout(&whole);
    assert!(out.lines().any(|line| line == format!("raw: {MASK}")), "{out}");
    assert!(out.lines().any(|line| line == format!("json: {{\"token\":\"{MASK}\"}}")), "{out}");
    let all = format!("{out}{}", stderr(&whole));
    for field in ["AKIDEXAMPLE1", "wJalrXUtnFEMIK7MDENG"] {
        assert!(!all.contains(field), "the field {field} appears raw:\n{all}");
    }
    assert!(corpus.audit().iter().all(|record| !record.to_string().contains("wJalrXUtnFEMIK7MDENG")));
}

/// A guest that received a value and then requests a credential named after
/// it finds the value masked in the host's warning and in the audit log.
#[test]
fn value_requested_as_name_is_not_logged() {
    let corpus = Corpus::new(MASK_MANIFEST);
    corpus.lahat.set("file", "demo.greeting", GREETING);
    corpus.approve(&[]);

    let output = corpus.run(&[], &["request-named-by", "demo.greeting"]);
    assert_success(&output, "hostile request-named-by demo.greeting");
    assert!(!stderr(&output).contains(GREETING), "stderr:\n{}", stderr(&output));
    let records = corpus.audit();
    for record in &records {
        assert!(!record.to_string().contains(GREETING), "{record}");
    }
}

// The output cap.

#[test]
fn output_cap_stops_flood() {
    let corpus = Corpus::new("");
    let output = corpus.run(&["--max-output", "1"], &["flood"]);
    assert_exit(&output, 70, "2 MiB to stdout with a 1 MiB cap");
    let err = stderr(&output);
    assert!(err.contains("the app was stopped"), "{err}");
    assert!(err.contains("the app wrote more than 1 MiB to stdout"), "{err}");
    assert!(err.contains("raise `limits.output` in its manifest"), "{err}");
    assert!(output.stdout.len() <= MIB, "{} bytes passed the 1 MiB cap", output.stdout.len());

    let flood_stderr = corpus.run(&["--max-output", "1"], &["flood", "stderr"]);
    assert_exit(&flood_stderr, 70, "2 MiB to stderr with a 1 MiB cap");
    assert!(stderr(&flood_stderr).contains("the app wrote more than 1 MiB to stderr"));
}

#[test]
fn manifest_output_limit_lets_flood_finish() {
    let corpus = Corpus::new("[limits]\noutput = \"4 MiB\"\n");
    corpus.approve(&[]);
    let output = corpus.run(&[], &["flood"]);
    assert_success(&output, "2 MiB to stdout with a 4 MiB limit");
    assert_eq!(output.stdout.len(), 2 * MIB);

    // The command line still wins over the manifest.
    let capped = corpus.run(&["--max-output", "1"], &["flood"]);
    assert_exit(&capped, 70, "2 MiB with --max-output 1 over a 4 MiB manifest limit");
}

// The network.

/// TCP listeners on two loopback ports and a UDP socket, all owned by the
/// test, that record what reached them.
struct Listeners {
    main: TcpListener,
    other: TcpListener,
    udp: UdpSocket,
}

impl Listeners {
    fn start() -> Self {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_nonblocking(true).unwrap();
        Self {
            main: TcpListener::bind("127.0.0.1:0").unwrap(),
            other: TcpListener::bind("127.0.0.1:0").unwrap(),
            udp,
        }
    }

    fn ports(&self) -> [String; 3] {
        [
            self.main.local_addr().unwrap().port().to_string(),
            self.other.local_addr().unwrap().port().to_string(),
            self.udp.local_addr().unwrap().port().to_string(),
        ]
    }

    /// Accepts every connection waiting on `listener` and returns what each
    /// one sent. The guest has exited, so every connection it opened is
    /// already queued.
    fn accepted(listener: &TcpListener) -> Vec<String> {
        listener.set_nonblocking(true).unwrap();
        let mut received = Vec::new();
        while let Ok((mut stream, _)) = listener.accept() {
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut text = String::new();
            stream.read_to_string(&mut text).unwrap();
            received.push(text);
        }
        received
    }

    fn udp_received(&self) -> bool {
        let mut buffer = [0u8; 64];
        self.udp.recv(&mut buffer).is_ok()
    }
}

/// Runs `hostile net` against fresh listeners under `network` and returns
/// the guest's stdout and what each listener received.
fn run_network_probe(network: &str) -> (String, Vec<String>, Vec<String>, bool) {
    let listeners = Listeners::start();
    let [port, other_port, udp_port] = listeners.ports();
    let corpus = Corpus::new(&network.replace("PORT", &port));
    if !network.is_empty() {
        corpus.approve(&[]);
    }
    let output = corpus.run(&[], &["net", &port, &other_port, &udp_port]);
    assert_success(&output, "hostile net");
    let main = Listeners::accepted(&listeners.main);
    let other = Listeners::accepted(&listeners.other);
    for text in main.iter().chain(&other) {
        assert_no_canary(text, "what a listener received");
    }
    assert!(corpus.audit().iter().all(|record| record["outcome"] == "not-declared"));
    (stdout(&output), main, other, listeners.udp_received())
}

/// The probes after the connections: listening and UDP, never allowed.
const LISTEN_AND_UDP: &[(&str, &str)] = &[
    ("listen-any", "denied"),
    ("listen-loopback", "denied"),
    ("listen-declared", "denied"),
    ("udp-send", "denied"),
];

#[test]
fn undeclared_network_reaches_no_listener() {
    let (out, main, other, udp) = run_network_probe("");
    let mut expected = vec![
        ("ip", "denied"),
        // Without a declared host name the app cannot resolve names, and
        // these spellings go through the resolver.
        ("short-ipv4", "unresolved"),
        ("decimal-ipv4", "unresolved"),
        ("hex-ipv4", "unresolved"),
        ("mapped-ipv6", "denied"),
        ("localhost", "unresolved"),
        ("unspecified", "denied"),
        ("ipv6-loopback", "denied"),
        ("other-address", "denied"),
        ("other-port", "denied"),
    ];
    expected.extend_from_slice(LISTEN_AND_UDP);
    assert_probe_lines(&out, &expected, "no [network]");
    assert_eq!(main.len(), 0, "connections to the listener: {main:?}");
    assert_eq!(other.len(), 0, "connections to the other port: {other:?}");
    assert!(!udp, "a UDP datagram arrived");
}

#[test]
fn declared_address_is_the_only_destination() {
    let (out, main, other, udp) = run_network_probe("[network]\ntcp = [\"127.0.0.1:PORT\"]\n");
    let mut expected = vec![
        ("ip", "ok"),
        ("short-ipv4", "unresolved"),
        ("decimal-ipv4", "unresolved"),
        ("hex-ipv4", "unresolved"),
        // wasmtime-wasi 48 rejects an IPv4-mapped address on an IPv6 socket
        // as invalid before the host's check runs.
        ("mapped-ipv6", "invalid"),
        ("localhost", "unresolved"),
        // wasmtime-wasi 48 rejects the unspecified address as a destination.
        // Linux would otherwise connect it to the loopback listener.
        ("unspecified", "invalid"),
        ("ipv6-loopback", "denied"),
        ("other-address", "denied"),
        ("other-port", "denied"),
    ];
    expected.extend_from_slice(LISTEN_AND_UDP);
    assert_probe_lines(&out, &expected, "tcp = 127.0.0.1:PORT");
    assert_eq!(main, vec!["ip Error::NotDeclared\n".to_owned()], "one connection, from the `ip` probe");
    assert_eq!(other.len(), 0, "connections to the other port: {other:?}");
    assert!(!udp, "a UDP datagram arrived");
}

#[test]
fn declared_name_allows_its_addresses_only() {
    let (out, main, other, udp) = run_network_probe("[network]\ntcp = [\"localhost:PORT\"]\n");
    // The host resolves `localhost` when the run starts and allows the
    // addresses it gets. Where that includes ::1, the connection to [::1] is
    // allowed and refused by the kernel, because nothing listens there.
    let localhost_has_ipv6 = ("localhost", 1)
        .to_socket_addrs()
        .unwrap()
        .any(|address| address.is_ipv6());
    let ipv6_loopback = if localhost_has_ipv6 { "refused" } else { "denied" };
    let mut expected = vec![
        ("ip", "ok"),
        // With lookups on, the resolver reads these spellings as 127.0.0.1,
        // which the declared name resolved to: the same destination.
        ("short-ipv4", "ok"),
        ("decimal-ipv4", "ok"),
        ("hex-ipv4", "ok"),
        ("mapped-ipv6", "invalid"),
        ("localhost", "ok"),
        ("unspecified", "invalid"),
        ("ipv6-loopback", ipv6_loopback),
        ("other-address", "denied"),
        ("other-port", "denied"),
    ];
    expected.extend_from_slice(LISTEN_AND_UDP);
    assert_probe_lines(&out, &expected, "tcp = localhost:PORT");
    let labels: Vec<&str> = main.iter().map(|text| text.split(' ').next().unwrap_or_default()).collect();
    assert_eq!(labels, ["ip", "short-ipv4", "decimal-ipv4", "hex-ipv4", "localhost"]);
    assert_eq!(other.len(), 0, "connections to the other port: {other:?}");
    assert!(!udp, "a UDP datagram arrived");
}

// Limits from the manifest.

#[test]
fn manifest_memory_limit_stops_growth() {
    let corpus = Corpus::new("[limits]\nmemory = \"16 MiB\"\n");
    corpus.approve(&[]);
    let output = corpus.run(&[], &["grow"]);
    assert_exit(&output, 70, "grow with a 16 MiB manifest limit");
    assert!(stderr(&output).contains("the app was stopped"), "{}", stderr(&output));
    assert!(stderr(&output).contains("memory limit of 16 MiB"), "{}", stderr(&output));
}

#[test]
fn manifest_timeout_stops_spin() {
    let corpus = Corpus::new("[limits]\ntimeout = \"1s\"\n");
    corpus.approve(&[]);
    let output = corpus.run(&[], &["spin"]);
    assert_exit(&output, 124, "spin with a 1 s manifest limit");
    assert!(stderr(&output).contains("ran longer than its limit of 1 s"), "{}", stderr(&output));
}

#[test]
fn changed_limit_voids_approval() {
    let corpus = Corpus::new("[limits]\nmemory = \"16 MiB\"\n");
    corpus.approve(&[]);
    corpus.write_manifest("[limits]\nmemory = \"32 MiB\"\n");

    let refused = corpus.run(&[], &["grow"]);
    assert_exit(&refused, 77, "run after the memory limit changed");
    assert!(
        stderr(&refused).contains("hostile needs approval because it now asks for other limits"),
        "{}",
        stderr(&refused)
    );
    assert!(stdout(&refused).is_empty());

    corpus.approve(&[]);
    let output = corpus.run(&[], &["grow"]);
    assert_exit(&output, 70, "grow with the approved 32 MiB limit");
    assert!(stderr(&output).contains("memory limit of 32 MiB"), "{}", stderr(&output));
}
