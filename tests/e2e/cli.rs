//! Command-line behaviour: value input, names, listings and exit codes.

use crate::support::{Lahat, app, assert_exit, assert_success, stderr, stdout};

fn file_lahat() -> Lahat {
    Lahat::new().env("LAHAT_PASSPHRASE", "cli test passphrase")
}

#[test]
fn set_removes_one_trailing_newline() {
    let lahat = file_lahat();
    lahat.run_with_input(&["--store", "file", "credential", "set", "demo.greeting"], b"Hi\n\n");
    let output = lahat.run(&["--store", "file", "run", lahat.approved("sample-apps/greeter").to_str().unwrap()]);
    assert_success(&output, "greeter");
    assert_eq!(stdout(&output), "Hi\n, world!\n");
}

#[test]
fn set_rejects_value_argument() {
    let lahat = file_lahat();
    let output = lahat.run(&["--store", "file", "credential", "set", "demo.greeting", "secret-value"]);
    assert_exit(&output, 2, "set with a value argument");
    assert!(!stderr(&output).contains("secret-value") || stderr(&output).contains("unexpected argument"));
}

#[test]
fn set_rejects_empty_value() {
    let lahat = file_lahat();
    let output = lahat.run_with_input(&["--store", "file", "credential", "set", "demo.greeting"], b"\n");
    assert_exit(&output, 65, "set with an empty value");
    assert!(stderr(&output).contains("is empty; nothing was stored"), "{}", stderr(&output));
}

#[test]
fn set_rejects_invalid_utf8() {
    let lahat = file_lahat();
    let output = lahat.run_with_input(&["--store", "file", "credential", "set", "demo.greeting"], b"ab\xffcd");
    assert_exit(&output, 65, "set with invalid UTF-8");
    assert!(stderr(&output).contains("not valid UTF-8"), "{}", stderr(&output));
}

#[test]
fn invalid_names_are_usage_errors() {
    let lahat = file_lahat();
    for name in ["AWS.default", "aws", "aws.default ", "aws.*", "аws.default"] {
        let output = lahat.run_with_input(&["--store", "file", "credential", "set", name], b"value");
        assert_exit(&output, 2, &format!("set {name:?}"));
        assert!(stderr(&output).contains("invalid credential name"), "{name:?}: {}", stderr(&output));
    }
}

#[test]
fn list_json_has_names_only() {
    let lahat = file_lahat();
    lahat.set("file", "openai.default", "sk-openai-value");
    lahat.set("file", "aws.default", "aws-value");
    let output = lahat.run(&["--store", "file", "credential", "list", "--json"]);
    assert_success(&output, "list --json");
    let document: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let names: Vec<&str> = document["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["aws.default", "openai.default"]);
    assert_eq!(document["store"]["kind"], "file");
    assert!(!stdout(&output).contains("value"), "{}", stdout(&output));
}

#[test]
fn app_failure_status_passes_through() {
    let lahat = file_lahat();
    // The signer calls `exit(2)` without a payload. WASI 0.2's `exit` carries
    // only success or failure, so lahat sees and returns status 1.
    let output = lahat.run(&["--store", "file", "run", lahat.approved("sample-apps/webhook-signer").to_str().unwrap()]);
    assert_exit(&output, 1, "signer without a payload");
    assert!(stderr(&output).contains("expected one argument"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("lahat: error"), "{}", stderr(&output));
}

#[test]
fn webhook_signer_signs_payload() {
    use hmac::{Hmac, Mac};
    let lahat = file_lahat();
    lahat.set("file", "webhook.default", "whsec-test-key");
    let payload = r#"{"event":"backup.finished"}"#;
    let output = lahat.run(&[
        "--store",
        "file",
        "run",
        lahat.approved("sample-apps/webhook-signer").to_str().unwrap(),
        "--",
        payload,
    ]);
    assert_success(&output, "webhook-signer");

    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"whsec-test-key").unwrap();
    mac.update(payload.as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    assert_eq!(stdout(&output), format!("sha256={expected}\n"));
}

#[test]
fn missing_app_is_not_found() {
    let lahat = file_lahat();
    let output = lahat.run(&["run", "/nonexistent/app"]);
    assert_exit(&output, 66, "run of a missing app");
    assert!(stderr(&output).contains("cannot find the app"), "{}", stderr(&output));
}

#[test]
fn inspect_lists_credentials_and_imports() {
    let lahat = file_lahat();
    let output = lahat.run(&["inspect", "--json", app("sample-apps/greeter").to_str().unwrap()]);
    assert_success(&output, "inspect --json");
    let document: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(document["id"], "greeter");
    assert_eq!(document["credentials"][0]["name"], "demo.greeting");
    let imports = document["imports"].as_array().unwrap();
    assert!(imports.iter().any(|i| i == "lahat:vault/credentials@0.1.0"), "{imports:?}");
    assert_eq!(document["exports"], serde_json::json!(["wasi:cli/run@0.2.0"]));
    assert_eq!(document["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn second_run_uses_compilation_cache() {
    let lahat = file_lahat();
    let greeter = lahat.approved("sample-apps/greeter");
    lahat.run(&["--store", "file", "run", greeter.to_str().unwrap()]);
    let cache = lahat.home.path().join("cache/components");
    let entries: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1, "one compiled component in {}", cache.display());
    let name = entries[0].file_name().into_string().unwrap();
    assert!(name.ends_with(".cwasm"), "{name}");

    let output = lahat
        .env("LAHAT_LOG", "debug")
        .run(&["--store", "file", "run", greeter.to_str().unwrap()]);
    assert!(stderr(&output).contains("cache=Hit"), "{}", stderr(&output));
}

#[test]
fn component_symlink_outside_folder_is_rejected() {
    let folder = tempfile::tempdir().unwrap();
    let outside = folder.path().join("outside.wasm");
    std::fs::copy(app("sample-apps/greeter").join("greeter.wasm"), &outside).unwrap();
    let app_folder = folder.path().join("app");
    std::fs::create_dir(&app_folder).unwrap();
    std::os::unix::fs::symlink(&outside, app_folder.join("app.wasm")).unwrap();
    std::fs::write(
        app_folder.join("lahat.toml"),
        "[app]\nid = \"linked\"\nname = \"Linked\"\nversion = \"0.1.0\"\ncomponent = \"app.wasm\"\n",
    )
    .unwrap();

    let output = file_lahat().run(&["inspect", app_folder.to_str().unwrap()]);
    assert_exit(&output, 65, "inspect of a component linked from outside");
    assert!(stderr(&output).contains("resolves outside the app's folder"), "{}", stderr(&output));
}

#[test]
fn escapes_in_arguments_are_not_printed_raw() {
    let lahat = file_lahat();
    let output = lahat.run(&["credential", "delete", "aws.\u{1b}]0;owned\u{7}\u{202e}x"]);
    assert_exit(&output, 2, "delete with escape sequences in the name");
    let err = stderr(&output);
    assert!(!err.contains('\u{1b}'), "raw escape in {err:?}");
    assert!(!err.contains('\u{202e}'), "raw bidi override in {err:?}");
    assert!(err.contains("\\u{1b}"), "{err}");
}

#[test]
fn huge_argument_error_is_short() {
    let lahat = file_lahat();
    let huge = "a".repeat(100_000);
    let output = lahat.run(&["credential", "delete", &huge]);
    assert_exit(&output, 2, "delete with a huge name");
    assert!(output.stderr.len() < 10_000, "stderr is {} bytes", output.stderr.len());
}

#[test]
fn bare_vault_file_name_works() {
    let lahat = file_lahat();
    let output = lahat
        .command(&["--store", "file", "--vault-file", "vault", "credential", "set", "demo.greeting"])
        .current_dir(lahat.home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"Hello")?;
            child.wait_with_output()
        })
        .unwrap();
    assert_success(&output, "set with --vault-file vault");
    assert!(lahat.home.path().join("vault").is_file());
}

#[test]
fn unapproved_app_is_refused_without_terminal() {
    let lahat = file_lahat();
    lahat.set("file", "demo.greeting", "Hello");
    let greeter = app("sample-apps/greeter");
    let output = lahat.run(&["--store", "file", "run", greeter.to_str().unwrap()]);
    assert_exit(&output, 77, "run of an unapproved app");
    assert!(!stdout(&output).contains("Hello"), "{}", stdout(&output));
    let err = stderr(&output);
    assert!(err.contains("greeter needs approval because it has not been approved"), "{err}");
    assert!(err.contains("lahat app approve"), "the error must say how to approve: {err}");

    let approve = lahat.run(&["app", "approve", greeter.to_str().unwrap()]);
    assert_exit(&approve, 2, "approve without a terminal or --yes");
}

#[test]
fn approval_is_bound_to_component_bytes() {
    let lahat = file_lahat();
    lahat.set("file", "demo.greeting", "Hello");
    let folder = tempfile::tempdir().unwrap();
    let source = app("sample-apps/greeter");
    std::fs::copy(source.join("greeter.wasm"), folder.path().join("greeter.wasm")).unwrap();
    std::fs::copy(source.join("lahat.toml"), folder.path().join("lahat.toml")).unwrap();
    let path = folder.path().to_str().unwrap();

    assert_success(&lahat.run(&["app", "approve", path, "--yes"]), "approve");
    assert_success(&lahat.run(&["--store", "file", "run", path]), "approved run");

    // Append one byte: a custom section would keep the component valid, but
    // any change of the bytes must void the approval before it is parsed.
    let mut bytes = std::fs::read(folder.path().join("greeter.wasm")).unwrap();
    bytes.extend_from_slice(&[0x00, 0x02, 0x01, b'x']);
    std::fs::write(folder.path().join("greeter.wasm"), &bytes).unwrap();
    let changed = lahat.run(&["--store", "file", "run", path]);
    assert_exit(&changed, 77, "run after the component changed");
    assert!(stderr(&changed).contains("its component changed since it was approved"), "{}", stderr(&changed));

    assert_success(&lahat.run(&["app", "approve", path, "--yes"]), "approve again");
    let manifest = std::fs::read_to_string(folder.path().join("lahat.toml")).unwrap();
    std::fs::write(
        folder.path().join("lahat.toml"),
        format!("{manifest}\n[[credentials]]\nname = \"aws.default\"\npurpose = \"More\"\n"),
    )
    .unwrap();
    let more = lahat.run(&["--store", "file", "run", path]);
    assert_exit(&more, 77, "run after the manifest asked for more");
    assert!(stderr(&more).contains("now also asks for aws.default"), "{}", stderr(&more));

    let listed = lahat.run(&["app", "list", "--json"]);
    let document: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(document["apps"][0]["id"], "greeter");
    assert_success(&lahat.run(&["app", "revoke", "greeter"]), "revoke");
    assert_exit(&lahat.run(&["app", "revoke", "greeter"]), 66, "revoke twice");
}

#[test]
fn typed_ahead_input_is_not_consent() {
    let lahat = file_lahat();
    lahat.set("file", "demo.greeting", "Hello");
    let greeter = app("sample-apps/greeter");
    // `script` gives lahat a terminal, so `run` asks for approval. The "y"
    // reaches the terminal before the question is drawn and must be thrown
    // away; closing the input later then reads as no answer.
    let command = format!(
        "{} --store file run {}",
        env!("CARGO_BIN_EXE_lahat"),
        greeter.to_str().unwrap()
    );
    let template = lahat.command(&[]);
    let mut script = std::process::Command::new("script");
    script.env_clear();
    for (key, value) in template.get_envs() {
        if let Some(value) = value {
            script.env(key, value);
        }
    }
    let mut child = script
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot run script from util-linux");
    let mut input = child.stdin.take().unwrap();
    use std::io::{Read, Write};
    input.write_all(b"y\n").unwrap();

    // Close the input only once the question is on the screen, however
    // slowly lahat starts; a missing question fails instead of hanging.
    let mut stdout = child.stdout.take().unwrap();
    let mut screen = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&screen).contains("[y/N]") {
        let count = stdout.read(&mut chunk).unwrap();
        assert!(count > 0, "no approval question: {}", String::from_utf8_lossy(&screen));
        screen.extend_from_slice(&chunk[..count]);
    }
    drop(input);
    stdout.read_to_end(&mut screen).unwrap();
    let output = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&screen).into_owned();
    assert!(screen.contains("Allow greeter to run with these permissions?"), "{screen}");
    assert!(!screen.contains("Hello, world!"), "typed-ahead input approved the app: {screen}");
    assert_eq!(output.status.code(), Some(77), "{screen}");
}
