//! Crash safety: `lahat` processes killed with SIGKILL at many points of
//! `set`, `delete` and `import` leave either the old state or the new one,
//! and `doctor` brings the metadata back in line.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Lahat, assert_success, stdout};

const ROUNDS: u64 = 45;

/// Reads the current value of `name`, or `None` when it is absent.
fn current(lahat: &Lahat, name: &str) -> Option<String> {
    let output = lahat.run(&["--store", "file", "credential", "get", name, "--reveal"]);
    match output.status.code() {
        Some(0) => Some(stdout(&output)),
        Some(66) => None,
        other => panic!(
            "reading {name} after a kill failed with {other:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

#[test]
fn killed_writes_leave_old_or_new_state() {
    let lahat = Lahat::new()
        .env("LAHAT_PASSPHRASE", "crash passphrase")
        .env("OPENAI_API_KEY", "sk-imported");
    // Calibrate: the kill points spread over the time one whole `set` takes
    // on this machine, so they land before, during and after the writes.
    let started = std::time::Instant::now();
    lahat.set("file", "crash.target", "value-0");
    let full_run = started.elapsed().as_millis() as u64;
    let mut outcomes: BTreeMap<String, u32> = BTreeMap::new();

    for round in 1..=ROUNDS {
        let (operation, name) = match round % 3 {
            0 => ("import", "openai.default"),
            1 => ("set", "crash.target"),
            _ => ("delete", "crash.target"),
        };
        let before = current(&lahat, name);
        let new_value = format!("value-{round}");
        let args: Vec<&str> = match operation {
            "set" => vec!["--store", "file", "credential", "set", name],
            "delete" => vec!["--store", "file", "credential", "delete", name, "--yes"],
            _ => vec!["--store", "file", "credential", "import", "--from-env"],
        };
        let mut child = lahat
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(new_value.as_bytes());
        // Spread the kills over start-up, key derivation and the writes.
        let kill_after = (round * 37) % (ROUNDS + 1) * full_run * 5 / (4 * ROUNDS);
        std::thread::sleep(Duration::from_millis(kill_after));
        let _ = child.kill();
        let status = child.wait().unwrap();

        let after = current(&lahat, name);
        let expected_new = match operation {
            "set" => Some(new_value.clone()),
            "delete" => None,
            _ => before.clone().or_else(|| Some("sk-imported".to_owned())),
        };
        let state = if after == expected_new && after != before {
            "new"
        } else if after == before {
            "old"
        } else {
            panic!("round {round} ({operation}): {name} went from {before:?} to {after:?}, expected either or {expected_new:?}");
        };
        let finished = if status.success() { "finished" } else { "killed" };
        *outcomes.entry(format!("{operation} {finished} -> {state}")).or_default() += 1;

        // Every state a kill leaves must be readable and repairable.
        let doctor = lahat.run(&["--store", "file", "credential", "doctor", "--json"]);
        assert_success(&doctor, &format!("doctor after round {round}"));
        let listed = lahat.run(&["--store", "file", "credential", "list", "--json"]);
        let document: Value = serde_json::from_str(&stdout(&listed)).unwrap();
        for entry in document["credentials"].as_array().unwrap() {
            assert_eq!(entry["metadata"], true, "round {round}: metadata missing after doctor: {entry}");
        }
    }
    eprintln!("crash-safety outcomes over {ROUNDS} kills (one set takes {full_run} ms): {outcomes:?}");
    assert!(outcomes.keys().any(|key| key.contains("killed")), "no process was killed mid-way: {outcomes:?}");
}
