//! The audit log: every credential request is recorded without its value,
//! and a delivery that cannot be recorded does not happen.

use serde_json::Value;

use crate::support::{Lahat, assert_exit, assert_success, stderr, stdout};

const CANARY: &str = "canary-audit-3e8a1c";

fn records(lahat: &Lahat, filters: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "--json"];
    args.extend_from_slice(filters);
    let output = lahat.run(&args);
    assert_success(&output, "audit --json");
    stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn requests_are_recorded_without_values() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "audit passphrase");
    lahat.set("file", "demo.greeting", "Hello");
    lahat.set("file", "demo.secret", CANARY);
    let greeter = lahat.approved("sample-apps/greeter");
    assert_success(&lahat.run(&["--store", "file", "run", greeter.to_str().unwrap()]), "greeter");
    assert_success(
        &lahat.run(&["--store", "file", "run", lahat.approved("tests/guests/hostile").to_str().unwrap()]),
        "hostile",
    );

    let inspect = lahat.run(&["inspect", "--json", greeter.to_str().unwrap()]);
    let greeter_sha: Value = serde_json::from_str(&stdout(&inspect)).unwrap();
    let greeter_records = records(&lahat, &["--app", "greeter"]);
    assert_eq!(greeter_records.len(), 1, "{greeter_records:?}");
    assert_eq!(greeter_records[0]["credential"], "demo.greeting");
    assert_eq!(greeter_records[0]["outcome"], "delivered");
    assert_eq!(greeter_records[0]["component_sha256"], greeter_sha["sha256"]);

    let undeclared = records(&lahat, &["--credential", "demo.secret"]);
    assert_eq!(undeclared.len(), 1, "{undeclared:?}");
    assert_eq!(undeclared[0]["app"], "hostile");
    assert_eq!(undeclared[0]["outcome"], "not-declared");

    let hostile = records(&lahat, &["--app", "hostile"]);
    assert_eq!(hostile.len(), 25, "one record per probe");
    let invalid = hostile.iter().filter(|record| record["outcome"] == "invalid-name").count();
    assert_eq!(invalid, 22);
    assert!(
        hostile.iter().all(|record| record["credential"].as_str().unwrap().len() < 200),
        "huge names must be shortened in the log"
    );

    let log = std::fs::read_to_string(lahat.home.path().join("state/audit.jsonl")).unwrap();
    assert!(!log.contains(CANARY), "the audit log holds a secret");
    assert!(!log.contains("\"Hello\""), "the audit log holds a delivered value");

    assert!(records(&lahat, &["--since", "2999-01-01"]).is_empty());
    assert_eq!(records(&lahat, &["--since", "1h"]).len(), 26);
}

#[test]
fn unrecordable_delivery_is_withheld() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "fail closed passphrase");
    lahat.set("file", "demo.greeting", "Hello");
    // A folder where the log file should be makes every append fail.
    std::fs::create_dir_all(lahat.home.path().join("state/audit.jsonl")).unwrap();

    let run = lahat.run(&["--store", "file", "run", lahat.approved("sample-apps/greeter").to_str().unwrap()]);
    assert_exit(&run, 1, "greeter without a writable audit log");
    assert!(!stdout(&run).contains("Hello"), "{}", stdout(&run));
    assert!(
        stderr(&run).contains("the host cannot record the access, so it withheld the credential"),
        "{}",
        stderr(&run)
    );
    assert!(stderr(&run).contains("cannot write the audit log"), "{}", stderr(&run));
}

#[test]
fn closed_pipe_ends_quietly() {
    let lahat = Lahat::new();
    let state = lahat.home.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let line = r#"{"time":"2026-12-04T20:00:00Z","app":"greeter","component_sha256":"ab","credential":"demo.greeting","outcome":"delivered"}"#;
    std::fs::write(state.join("audit.jsonl"), format!("{line}\n").repeat(5000)).unwrap();

    let mut child = lahat
        .command(&["audit"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    use std::io::Read;
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // Dropping the reader closes the pipe, like `lahat audit | head -1`.
    let output = child.wait_with_output().unwrap();
    assert_ne!(output.status.code(), Some(101), "lahat panicked: {}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}
