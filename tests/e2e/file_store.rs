//! The encrypted vault file store through the real binary.

use crate::support::{Lahat, assert_exit, assert_success, stderr, stdout};

#[test]
fn declared_credential_is_delivered_from_file() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "file test passphrase");
    lahat.set("file", "demo.greeting", "Hello");
    let output = lahat.run(&["--store", "file", "run", lahat.approved("sample-apps/greeter").to_str().unwrap(), "--", "Ada"]);
    assert_success(&output, "greeter");
    assert_eq!(stdout(&output), "Hello, Ada!\n");

    let vault = lahat.home.path().join("data/vault.lahat");
    let bytes = std::fs::read(&vault).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("Hello"), "vault file holds plaintext");
}

#[test]
fn no_keychain_falls_back_to_file_with_notice() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "fallback passphrase");
    let output = lahat.run_with_input(&["credential", "set", "demo.greeting"], b"Hello\n");
    assert_success(&output, "credential set without a keychain");
    let notice = stderr(&output);
    assert!(notice.contains("no OS keychain is reachable"), "{notice}");
    assert!(notice.contains("so lahat uses the encrypted vault file"), "{notice}");

    let run = lahat.run(&["run", lahat.approved("sample-apps/greeter").to_str().unwrap()]);
    assert_success(&run, "greeter through the fallback");
    assert_eq!(stdout(&run), "Hello, world!\n");
}

#[test]
fn wrong_passphrase_is_reported() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "right passphrase");
    lahat.set("file", "demo.greeting", "Hello");
    let greeter = lahat.approved("sample-apps/greeter");
    let wrong = Lahat {
        home: lahat.home,
        bus: None,
        env: vec![("LAHAT_PASSPHRASE".to_owned(), "wrong passphrase".to_owned())],
    };

    let list = wrong.run(&["--store", "file", "credential", "list"]);
    assert_exit(&list, 69, "list with a wrong passphrase");
    assert!(stderr(&list).contains("the passphrase is wrong"), "{}", stderr(&list));

    let run = wrong.run(&["--store", "file", "run", greeter.to_str().unwrap()]);
    assert_exit(&run, 1, "greeter with a wrong passphrase");
    let guest_line = stderr(&run)
        .lines()
        .find(|line| line.starts_with("greeter:"))
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        guest_line,
        "greeter: cannot read demo.greeting: vault unavailable: the credential store is locked; the user must unlock it",
        "the guest must get a summary without host paths"
    );
    assert!(stderr(&run).contains("the passphrase is wrong"), "the log must give the detail: {}", stderr(&run));
    assert!(!stdout(&run).contains("Hello"), "{}", stdout(&run));
}

#[test]
fn missing_passphrase_without_terminal_is_reported() {
    let lahat = Lahat::new();
    let output = lahat.run_with_input(&["--store", "file", "credential", "set", "demo.greeting"], b"x");
    assert_exit(&output, 69, "set without a passphrase or terminal");
    assert!(stderr(&output).contains("set LAHAT_PASSPHRASE"), "{}", stderr(&output));
}
