//! Credential management through the CLI: metadata, expiry, editing,
//! renaming, revealing, deleting and repairing, against the real Secret
//! Service and the vault file.

use serde_json::Value;

use crate::support::{Lahat, SecretService, assert_exit, assert_success, stderr, stdout};

fn show_json(lahat: &Lahat, store: &str, name: &str) -> Value {
    let output = lahat.run(&["--store", store, "credential", "show", name, "--json"]);
    assert_success(&output, &format!("show {name}"));
    serde_json::from_str(&stdout(&output)).unwrap()
}

fn lahat_with_keychain(service: &SecretService) -> Lahat {
    Lahat::with_bus(&service.bus_address)
}

#[test]
fn add_keeps_metadata_without_secret() {
    let service = SecretService::start();
    let lahat = lahat_with_keychain(&service);
    let output = lahat.run_with_input(
        &[
            "--store",
            "os",
            "credential",
            "add",
            "claude.production",
            "--description",
            "Team key for production",
            "--expires",
            "2099-01-31",
        ],
        b"sk-ant-canary-1234\n",
    );
    assert_success(&output, "credential add");

    let shown = show_json(&lahat, "os", "claude.production");
    assert_eq!(shown["description"], "Team key for production");
    assert_eq!(shown["expires"], "2099-01-31T00:00:00Z");
    assert_eq!(shown["expired"], false);
    assert_eq!(shown["kind"], "secret");
    assert!(shown["created"].as_str().unwrap().ends_with('Z'), "{shown}");

    let metadata = std::fs::read_to_string(lahat.home.path().join("data/keychain-metadata.json")).unwrap();
    assert!(metadata.contains("Team key for production"), "{metadata}");
    assert!(!metadata.contains("sk-ant-canary-1234"), "the metadata file holds the secret");

    let again = lahat.run_with_input(&["--store", "os", "credential", "add", "claude.production"], b"other");
    assert_exit(&again, 73, "adding a taken name");
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));
    assert_eq!(service.lookup("claude.production").as_deref(), Some("sk-ant-canary-1234"));
}

#[test]
fn edit_changes_only_given_fields() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "edit passphrase");
    let added = lahat.run_with_input(
        &["--store", "file", "credential", "add", "aws.default", "--description", "Backups"],
        b"first",
    );
    assert_success(&added, "add");
    let before = show_json(&lahat, "file", "aws.default");

    let edited = lahat.run(&["--store", "file", "credential", "edit", "aws.default", "--expires", "90days"]);
    assert_success(&edited, "edit --expires");
    let after = show_json(&lahat, "file", "aws.default");
    assert_eq!(after["description"], "Backups", "the description must stay");
    assert!(after["expires"].is_string(), "{after}");
    assert_eq!(after["created"], before["created"]);

    let value = lahat.run_with_input(&["--store", "file", "credential", "edit", "aws.default", "--value"], b"second\n");
    assert_success(&value, "edit --value");
    let revealed = lahat.run(&["--store", "file", "credential", "get", "aws.default", "--reveal"]);
    assert_eq!(stdout(&revealed), "second", "no newline when stdout is not a terminal");

    let cleared = lahat.run(&[
        "--store",
        "file",
        "credential",
        "edit",
        "aws.default",
        "--clear-description",
        "--no-expiry",
    ]);
    assert_success(&cleared, "edit --clear-description --no-expiry");
    let last = show_json(&lahat, "file", "aws.default");
    assert!(last["description"].is_null(), "{last}");
    assert!(last["expires"].is_null(), "{last}");

    let missing = lahat.run(&["--store", "file", "credential", "edit", "aws.missing", "--no-expiry"]);
    assert_exit(&missing, 66, "editing a missing credential");
}

#[test]
fn get_requires_reveal() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "reveal passphrase");
    lahat.set("file", "openai.default", "sk-openai-canary");
    let output = lahat.run(&["--store", "file", "credential", "get", "openai.default"]);
    assert_exit(&output, 2, "get without --reveal");
    assert!(!stdout(&output).contains("sk-openai-canary"));
    assert!(stderr(&output).contains("--reveal"), "{}", stderr(&output));
}

#[test]
fn multiline_value_round_trips() {
    let service = SecretService::start();
    let lahat = lahat_with_keychain(&service);
    let value = "-----BEGIN KEY-----\nline two\n\tindented \"quoted\" ünïcode\n-----END KEY-----";
    let output = lahat.run_with_input(&["--store", "os", "credential", "set", "tls.client"], format!("{value}\n").as_bytes());
    assert_success(&output, "set a multi-line value");
    let revealed = lahat.run(&["--store", "os", "credential", "get", "tls.client", "--reveal"]);
    assert_success(&revealed, "get --reveal");
    assert_eq!(stdout(&revealed), value);
}

#[test]
fn value_sources_env_and_file() {
    let lahat = Lahat::new()
        .env("LAHAT_PASSPHRASE", "source passphrase")
        .env("SOURCE_KEY", "from-environment");
    let from_env = lahat.run(&["--store", "file", "credential", "set", "svc.env", "--from-env", "SOURCE_KEY"]);
    assert_success(&from_env, "set --from-env");

    let file = lahat.home.path().join("value.txt");
    std::fs::write(&file, "from-file\n").unwrap();
    let from_file = lahat.run(&["--store", "file", "credential", "set", "svc.file", "--from-file", file.to_str().unwrap()]);
    assert_success(&from_file, "set --from-file");

    for (name, expected) in [("svc.env", "from-environment"), ("svc.file", "from-file")] {
        let revealed = lahat.run(&["--store", "file", "credential", "get", name, "--reveal"]);
        assert_eq!(stdout(&revealed), expected, "{name}");
    }

    let unset = lahat.run(&["--store", "file", "credential", "set", "svc.none", "--from-env", "NOT_SET_ANYWHERE"]);
    assert_exit(&unset, 66, "set from an unset variable");
}

#[test]
fn rename_moves_value_and_metadata() {
    let service = SecretService::start();
    let lahat = lahat_with_keychain(&service);
    let added = lahat.run_with_input(
        &["--store", "os", "credential", "add", "claude.dev", "--description", "Dev key"],
        b"sk-dev",
    );
    assert_success(&added, "add");
    let renamed = lahat.run(&["--store", "os", "credential", "rename", "claude.dev", "claude.development"]);
    assert_success(&renamed, "rename");

    assert_eq!(service.lookup("claude.dev"), None, "the old item must be gone");
    assert_eq!(service.lookup("claude.development").as_deref(), Some("sk-dev"));
    assert_eq!(show_json(&lahat, "os", "claude.development")["description"], "Dev key");
    let old = lahat.run(&["--store", "os", "credential", "show", "claude.dev"]);
    assert_exit(&old, 66, "show of the old name");

    lahat.set("os", "claude.other", "x");
    let taken = lahat.run(&["--store", "os", "credential", "rename", "claude.development", "claude.other"]);
    assert_exit(&taken, 73, "rename onto a taken name");
}

#[test]
fn list_groups_by_namespace() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "list passphrase");
    for (name, description) in [("openai.default", "Chat"), ("aws.backup", "S3"), ("aws.default", "Main")] {
        let output = lahat.run_with_input(
            &["--store", "file", "credential", "add", name, "--description", description],
            b"value",
        );
        assert_success(&output, name);
    }
    let output = lahat.run(&["--store", "file", "credential", "list"]);
    assert_success(&output, "list");
    assert_eq!(
        stdout(&output),
        "aws\n  aws.backup  S3\n  aws.default  Main\nopenai\n  openai.default  Chat\n"
    );
}

#[test]
fn expired_credential_is_refused_to_apps() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "expiry passphrase");
    let output = lahat.run_with_input(
        &["--store", "file", "credential", "add", "demo.greeting", "--expires", "2001-01-01"],
        b"Hello",
    );
    assert_success(&output, "add with a past expiry");
    let run = lahat.run(&["--store", "file", "run", lahat.approved("sample-apps/greeter").to_str().unwrap()]);
    assert_exit(&run, 1, "greeter with an expired credential");
    assert!(stderr(&run).contains("greeter: cannot read demo.greeting: expired"), "{}", stderr(&run));
    assert!(!stdout(&run).contains("Hello"), "{}", stdout(&run));
    assert!(show_json(&lahat, "file", "demo.greeting")["expired"].as_bool().unwrap());

    let renewed = lahat.run(&["--store", "file", "credential", "edit", "demo.greeting", "--no-expiry"]);
    assert_success(&renewed, "edit --no-expiry");
    let again = lahat.run(&["--store", "file", "run", lahat.approved("sample-apps/greeter").to_str().unwrap()]);
    assert_success(&again, "greeter after renewal");
}

#[test]
fn delivery_records_last_use() {
    let service = SecretService::start();
    let lahat = lahat_with_keychain(&service);
    lahat.set("os", "demo.greeting", "Hello");
    let before = show_json(&lahat, "os", "demo.greeting");
    assert!(before.get("last_used").is_none_or(|used| used.as_object().is_none_or(|map| map.is_empty())));

    let run = lahat.run(&["--store", "os", "run", lahat.approved("sample-apps/greeter").to_str().unwrap()]);
    assert_success(&run, "greeter");
    let after = show_json(&lahat, "os", "demo.greeting");
    assert!(after["last_used"]["greeter"].is_string(), "{after}");
}

#[test]
fn delete_asks_only_on_terminal() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "delete passphrase");
    lahat.set("file", "demo.greeting", "Hello");
    // stdin is not a terminal here, so no question is asked.
    let output = lahat.run(&["--store", "file", "credential", "delete", "demo.greeting"]);
    assert_success(&output, "delete without a terminal");
    let metadata = std::fs::read_to_string(lahat.home.path().join("data/vault.lahat.metadata.json")).unwrap();
    assert!(!metadata.contains("demo.greeting"), "metadata left behind: {metadata}");
}

#[test]
fn doctor_repairs_orphans() {
    let service = SecretService::start();
    let lahat = lahat_with_keychain(&service);
    lahat.set("os", "aws.default", "key");
    lahat.set("os", "demo.gone", "value");
    // A secret with no metadata, as another program or an interrupted
    // write leaves it, and metadata whose secret was deleted elsewhere.
    service.store_foreign("openai.default", "sk-foreign");
    service.delete("demo.gone");

    let listed = lahat.run(&["--store", "os", "credential", "list"]);
    assert!(stdout(&listed).contains("openai.default (no metadata)"), "{}", stdout(&listed));

    let output = lahat.run(&["--store", "os", "credential", "doctor", "--json"]);
    assert_success(&output, "doctor");
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["adopted"], serde_json::json!(["openai.default"]));
    assert_eq!(report["removed"], serde_json::json!(["demo.gone"]));

    let second = lahat.run(&["--store", "os", "credential", "doctor"]);
    assert!(stdout(&second).contains("nothing to repair"), "{}", stdout(&second));
}

#[test]
fn concurrent_writers_lose_nothing() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "concurrency passphrase");
    let children: Vec<_> = (0..8)
        .map(|index| {
            let name = format!("load.key{index}");
            lahat.spawn_with_input(&["--store", "file", "credential", "set", &name], format!("value-{index}").as_bytes())
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let listed = lahat.run(&["--store", "file", "credential", "list", "--json"]);
    let document: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    let entries = document["credentials"].as_array().unwrap();
    assert_eq!(entries.len(), 8, "{document}");
    assert!(entries.iter().all(|entry| entry["metadata"] == true), "{document}");
    for index in 0..8 {
        let revealed = lahat.run(&["--store", "file", "credential", "get", &format!("load.key{index}"), "--reveal"]);
        assert_eq!(stdout(&revealed), format!("value-{index}"));
    }
}

#[test]
fn binary_value_round_trips() {
    let service = SecretService::start();
    let lahat = lahat_with_keychain(&service);
    let bytes: Vec<u8> = (0..=255u8).chain([0, 10, 13, 10]).collect();
    let file = lahat.home.path().join("key.bin");
    std::fs::write(&file, &bytes).unwrap();
    let output = lahat.run(&["--store", "os", "credential", "set", "tls.binary", "--binary", "--from-file", file.to_str().unwrap()]);
    assert_success(&output, "set --binary");
    assert_eq!(show_json(&lahat, "os", "tls.binary")["kind"], "binary");

    let revealed = lahat.run(&["--store", "os", "credential", "get", "tls.binary", "--reveal"]);
    assert_success(&revealed, "get --reveal of a binary value");
    assert_eq!(revealed.stdout, bytes, "the bytes must round-trip exactly, trailing newline included");

    let from_stdin = lahat.run_with_input(&["--store", "os", "credential", "edit", "tls.binary", "--binary"], b"\x00\xff\n");
    assert_success(&from_stdin, "edit --binary from stdin");
    let again = lahat.run(&["--store", "os", "credential", "get", "tls.binary", "--reveal"]);
    assert_eq!(again.stdout, b"\x00\xff\n");
}

#[test]
fn concurrent_adds_of_one_name_conflict() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "conflict passphrase");
    let children: Vec<_> = (0..6)
        .map(|index| {
            lahat.spawn_with_input(&["--store", "file", "credential", "add", "race.key"], format!("value-{index}").as_bytes())
        })
        .collect();
    let codes: Vec<Option<i32>> = children.into_iter().map(|child| child.wait_with_output().unwrap().status.code()).collect();
    assert_eq!(codes.iter().filter(|code| **code == Some(0)).count(), 1, "exactly one add wins: {codes:?}");
    assert_eq!(codes.iter().filter(|code| **code == Some(73)).count(), 5, "the others report the conflict: {codes:?}");
}

#[test]
fn concurrent_sets_keep_value_and_kind_together() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "kind passphrase");
    let children: Vec<_> = (0..6)
        .map(|index| {
            let mut args = vec!["--store", "file", "credential", "set", "mixed.key"];
            if index % 2 == 0 {
                args.push("--binary");
            }
            lahat.spawn_with_input(&args, format!("value-{index}").as_bytes())
        })
        .collect();
    for child in children {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    // A text value marked binary, or the reverse, cannot be revealed.
    let revealed = lahat.run(&["--store", "file", "credential", "get", "mixed.key", "--reveal"]);
    assert_success(&revealed, "get after concurrent sets");
    assert!(stdout(&revealed).starts_with("value-"), "{}", stdout(&revealed));
}

#[test]
fn pointless_edits_and_renames_are_rejected() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "pointless passphrase");
    lahat.set("file", "aws.default", "key");
    let edit = lahat.run(&["--store", "file", "credential", "edit", "aws.default"]);
    assert_exit(&edit, 2, "edit with nothing to change");
    assert!(stderr(&edit).contains("nothing to change"), "{}", stderr(&edit));
    let rename = lahat.run(&["--store", "file", "credential", "rename", "aws.default", "aws.default"]);
    assert_exit(&rename, 2, "rename onto itself");
    let description = lahat.run(&["--store", "file", "credential", "edit", "aws.default", "--description", "two\nlines"]);
    assert_exit(&description, 2, "a description with a newline");
}

#[test]
fn doctor_removes_stale_temporary_files() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "temporary passphrase");
    lahat.set("file", "aws.default", "key");
    let stale = lahat.home.path().join("data/.lahat-tmp-killed");
    let fresh = lahat.home.path().join("data/.lahat-tmp-writing");
    std::fs::write(&stale, b"encrypted leftovers").unwrap();
    std::fs::write(&fresh, b"a write in progress").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options().write(true).open(&stale).unwrap().set_modified(two_hours_ago).unwrap();

    let output = lahat.run(&["--store", "file", "credential", "doctor", "--json"]);
    assert_success(&output, "doctor");
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["temporary_files_removed"], 1);
    assert!(!stale.exists(), "the stale file must be gone");
    assert!(fresh.exists(), "a recent file may belong to a running write");
}
