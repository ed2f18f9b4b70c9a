//! The hostile guest against both stores: every bypass attempt is refused
//! and no byte of a canary secret reaches any output.

use crate::support::{Lahat, SecretService, assert_success, stderr, stdout};

const CANARY_SECRET: &str = "canary-secret-5f2b9d1e";
const CANARY_ENV: &str = "canary-env-8c41a7f0";

/// Each probe of the hostile guest and the outcome it must print.
const EXPECTED: &[(&str, &str)] = &[
    ("declared", "delivered Hello"),
    ("declared-unset", "not-found"),
    ("undeclared", "not-declared"),
    ("uppercase", "invalid-name"),
    ("mixed-case", "invalid-name"),
    ("trailing-space", "invalid-name"),
    ("leading-space", "invalid-name"),
    ("trailing-newline", "invalid-name"),
    ("tab", "invalid-name"),
    ("nul-suffix", "invalid-name"),
    ("nul-inside", "invalid-name"),
    ("nul-then-undeclared", "invalid-name"),
    ("cyrillic-e", "invalid-name"),
    ("fullwidth-dot", "invalid-name"),
    ("one-dot-leader", "invalid-name"),
    ("zero-width-space", "invalid-name"),
    ("wildcard-profile", "invalid-name"),
    ("wildcard-all", "invalid-name"),
    ("glob-question", "invalid-name"),
    ("percent", "invalid-name"),
    ("path-traversal", "invalid-name"),
    ("namespace-only", "invalid-name"),
    ("empty", "invalid-name"),
    ("over-limit", "invalid-name"),
    ("huge", "invalid-name"),
    ("env-vars", "0"),
    ("args", "1"),
    ("read-root", "denied"),
    ("read-etc-passwd", "denied"),
    ("read-cwd", "denied"),
    ("write-tmp", "denied"),
    ("tcp-connect", "denied"),
    ("stdin-bytes", "0"),
];

fn check_probe_output(lahat: &Lahat, store: &str) {
    let output = lahat.run(&["--store", store, "run", lahat.approved("tests/guests/hostile").to_str().unwrap()]);
    assert_success(&output, "hostile probe");
    let out = stdout(&output);
    let err = stderr(&output);

    for (label, expected) in EXPECTED {
        let line = out
            .lines()
            .find(|line| line.split(": ").next() == Some(label))
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{out}"));
        assert_eq!(line, format!("{label}: {expected}"), "probe `{label}` with the {store} store");
    }
    for text in [&out, &err] {
        assert!(!text.contains(CANARY_SECRET), "canary secret leaked:\n{text}");
        assert!(!text.contains(CANARY_ENV), "host environment leaked:\n{text}");
    }
    assert!(
        !std::path::Path::new("/tmp/lahat-hostile-probe").exists(),
        "the guest wrote a host file"
    );
}

#[test]
fn hostile_guest_gets_nothing_from_keychain() {
    let service = SecretService::start();
    let lahat = Lahat::with_bus(&service.bus_address).env("LAHAT_TEST_CANARY", CANARY_ENV);
    lahat.set("os", "demo.greeting", "Hello");
    lahat.set("os", "demo.secret", CANARY_SECRET);
    check_probe_output(&lahat, "os");
}

#[test]
fn hostile_guest_gets_nothing_from_file() {
    let lahat = Lahat::new()
        .env("LAHAT_PASSPHRASE", "hostile test passphrase")
        .env("LAHAT_TEST_CANARY", CANARY_ENV);
    lahat.set("file", "demo.greeting", "Hello");
    lahat.set("file", "demo.secret", CANARY_SECRET);
    check_probe_output(&lahat, "file");
}

#[test]
fn refusal_logging_is_bounded() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "storm passphrase");
    lahat.set("file", "demo.secret", CANARY_SECRET);
    let hostile = lahat.approved("tests/guests/hostile");
    let output = lahat.run(&["--store", "file", "run", hostile.to_str().unwrap(), "--", "storm"]);
    assert_success(&output, "hostile storm");
    assert!(stdout(&output).contains("storm-refused: 100000"), "{}", stdout(&output));
    let logged = stderr(&output).lines().filter(|line| line.contains("credential request refused")).count();
    assert_eq!(logged, 20, "stderr:\n{}", stderr(&output));
    assert!(stderr(&output).contains("refusals=100000"), "{}", stderr(&output));

    // The audit log keeps 1000 refusals one by one and counts the rest.
    let log = std::fs::read_to_string(lahat.home.path().join("state/audit.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 1001, "1000 records and one summary");
    assert_eq!(lines[1000]["outcome"], "refusals-not-recorded");
    assert_eq!(lines[1000]["count"], 99000);
}

#[test]
fn only_manifest_environment_is_visible() {
    let lahat = Lahat::new().env("LAHAT_TEST_CANARY", CANARY_ENV);
    let source = lahat.approved("tests/guests/hostile");
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(source.join("hostile.wasm"), folder.path().join("hostile.wasm")).unwrap();
    let manifest = std::fs::read_to_string(source.join("lahat.toml")).unwrap();
    std::fs::write(
        folder.path().join("lahat.toml"),
        format!("{manifest}\n[env]\nLOG_LEVEL = \"debug\"\nREGION = \"eu-west-1\"\n"),
    )
    .unwrap();
    let path = folder.path().to_str().unwrap();

    // The approval of the same component without [env] does not cover it.
    let refused = lahat.run(&["run", path, "--", "env"]);
    assert_eq!(refused.status.code(), Some(77), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("environment variables changed"), "{}", stderr(&refused));

    assert_success(&lahat.run(&["app", "approve", path, "--yes"]), "approve with [env]");
    let output = lahat.run(&["run", path, "--", "env"]);
    assert_success(&output, "hostile env");
    assert_eq!(stdout(&output), "LOG_LEVEL=debug\nREGION=eu-west-1\n");
    assert!(!stdout(&output).contains(CANARY_ENV));
}
