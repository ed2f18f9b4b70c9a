//! The OS keychain store against a real Secret Service.

use std::io::Read;
use std::os::unix::net::UnixListener;

use crate::support::{Lahat, SecretService, assert_exit, assert_success, stderr, stdout};

#[test]
fn declared_credential_is_delivered() {
    let service = SecretService::start();
    let lahat = Lahat::with_bus(&service.bus_address);
    lahat.set("os", "demo.greeting", "Hello");
    assert_eq!(service.lookup("demo.greeting").as_deref(), Some("Hello"), "item not in the Secret Service");

    let output = lahat.run(&["--store", "os", "run", lahat.approved("sample-apps/greeter").to_str().unwrap(), "--", "Ada"]);
    assert_success(&output, "greeter");
    assert_eq!(stdout(&output), "Hello, Ada!\n");
}

#[test]
fn automatic_choice_uses_keychain() {
    let service = SecretService::start();
    let lahat = Lahat::with_bus(&service.bus_address);
    let output = lahat.run_with_input(&["credential", "set", "demo.greeting"], b"Hi\n");
    assert_success(&output, "credential set");
    assert!(!stderr(&output).contains("vault file"), "{}", stderr(&output));
    assert_eq!(service.lookup("demo.greeting").as_deref(), Some("Hi"));
}

#[test]
fn item_written_by_another_program_is_read() {
    let service = SecretService::start();
    service.store_foreign("demo.greeting", "Salut");
    let lahat = Lahat::with_bus(&service.bus_address);
    let output = lahat.run(&["--store", "os", "run", lahat.approved("sample-apps/greeter").to_str().unwrap()]);
    assert_success(&output, "greeter");
    assert_eq!(stdout(&output), "Salut, world!\n");
}

#[test]
fn declared_but_unset_is_not_found() {
    let service = SecretService::start();
    let lahat = Lahat::with_bus(&service.bus_address);
    let output = lahat.run(&["--store", "os", "run", lahat.approved("sample-apps/greeter").to_str().unwrap()]);
    assert_exit(&output, 1, "greeter without its credential");
    assert!(stderr(&output).contains("not set; store it with"), "{}", stderr(&output));
}

#[test]
fn list_and_delete_in_keychain() {
    let service = SecretService::start();
    let lahat = Lahat::with_bus(&service.bus_address);
    lahat.set("os", "aws.default", "AKIA-example");
    lahat.set("os", "claude.production", "sk-ant-example");

    let listed = lahat.run(&["--store", "os", "credential", "list"]);
    assert_success(&listed, "credential list");
    assert_eq!(stdout(&listed), "aws\n  aws.default\nclaude\n  claude.production\n");
    assert!(!stdout(&listed).contains("example"), "list printed a value");

    let deleted = lahat.run(&["--store", "os", "credential", "delete", "aws.default"]);
    assert_success(&deleted, "credential delete");
    assert_eq!(service.lookup("aws.default"), None);
    let again = lahat.run(&["--store", "os", "credential", "delete", "aws.default"]);
    assert_exit(&again, 66, "deleting a missing credential");
}

#[test]
fn no_keychain_gives_clear_error() {
    // No bus at the address: nothing answers.
    let lahat = Lahat::new();
    let output = lahat.run(&["--store", "os", "credential", "list"]);
    assert_exit(&output, 69, "list without a keychain");
    let err = stderr(&output);
    assert!(err.starts_with("lahat: error: no OS keychain is reachable"), "{err}");
    assert!(err.contains("--store file"), "the error must say what to do: {err}");

    let run = lahat.run(&["--store", "os", "run", lahat.approved("sample-apps/greeter").to_str().unwrap()]);
    assert_exit(&run, 1, "greeter without a keychain");
    assert!(stderr(&run).contains("vault unavailable: the credential store is not reachable"), "{}", stderr(&run));
    assert!(stderr(&run).contains("no OS keychain is reachable"), "the log must give the detail: {}", stderr(&run));
}

#[test]
fn locked_keychain_is_reported() {
    let service = SecretService::start();
    let lahat = Lahat::with_bus(&service.bus_address);
    lahat.set("os", "demo.greeting", "Hello");
    service.lock();

    let run = lahat.run(&["--store", "os", "run", lahat.approved("sample-apps/greeter").to_str().unwrap()]);
    assert_exit(&run, 1, "greeter with a locked keychain");
    assert!(stderr(&run).contains("vault unavailable: the credential store is locked"), "{}", stderr(&run));
    assert!(stderr(&run).contains("the OS keychain is locked"), "{}", stderr(&run));
    assert!(!stdout(&run).contains("Hello"), "{}", stdout(&run));

    let list = lahat.run(&["--store", "os", "credential", "list"]);
    assert_exit(&list, 69, "list with a locked keychain");
    assert!(stderr(&list).contains("unlock it and try again"), "{}", stderr(&list));
}

#[test]
fn bus_without_secret_service_is_unavailable() {
    let mut service = SecretService::start();
    service.stop_keyring();
    let lahat = Lahat::with_bus(&service.bus_address);
    let output = lahat.run(&["--store", "os", "credential", "list"]);
    assert_exit(&output, 69, "list with the keyring daemon stopped");
    assert!(stderr(&output).contains("no OS keychain is reachable"), "{}", stderr(&output));
}

/// Starts a socket that accepts connections and never replies, like a hung
/// daemon, and returns its D-Bus address.
fn silent_bus(folder: &tempfile::TempDir) -> String {
    let socket = folder.path().join("silent-bus");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut connection in listener.incoming().flatten() {
            let mut buffer = [0u8; 256];
            let _ = connection.read(&mut buffer);
            held.push(connection);
        }
    });
    format!("unix:path={}", socket.display())
}

#[test]
fn silent_bus_times_out() {
    let folder = tempfile::tempdir().unwrap();
    let lahat = Lahat::with_bus(&silent_bus(&folder));

    let output = lahat.run(&["--store", "os", "--store-timeout", "1", "credential", "list"]);
    assert_exit(&output, 69, "list against a silent bus");
    assert!(stderr(&output).contains("did not answer within 1 s"), "{}", stderr(&output));

    let run = lahat.run(&[
        "--store",
        "os",
        "--store-timeout",
        "1",
        "run",
        lahat.approved("sample-apps/greeter").to_str().unwrap(),
    ]);
    assert_exit(&run, 1, "greeter against a silent bus");
    assert!(stderr(&run).contains("vault unavailable: the credential store did not answer in time"), "{}", stderr(&run));
    assert!(stderr(&run).contains("did not answer within 1 s"), "{}", stderr(&run));
}

#[test]
fn silent_keychain_is_not_replaced_by_file() {
    let folder = tempfile::tempdir().unwrap();
    // Without `--store`, a keychain that exists but does not reply is an
    // error: falling back to the vault file would split the credentials.
    let lahat = Lahat::with_bus(&silent_bus(&folder)).env("LAHAT_PASSPHRASE", "fallback passphrase");
    let output = lahat.run_with_input(&["--store-timeout", "1", "credential", "set", "demo.greeting"], b"x");
    assert_exit(&output, 69, "automatic choice against a silent bus");
    assert!(!lahat.home.path().join("data/vault.lahat").exists(), "a vault file was created");
}

#[test]
fn duplicate_items_are_reported_and_resolvable() {
    let service = SecretService::start();
    // Two items for one name, as older keyring versions could leave them.
    service.store_with_attributes(&["service", "lahat", "username", "dup.name", "copy", "1"], "first");
    service.store_with_attributes(&["service", "lahat", "username", "dup.name", "copy", "2"], "second");
    let lahat = Lahat::with_bus(&service.bus_address);

    let get = lahat.run(&["--store", "os", "credential", "get", "dup.name", "--reveal"]);
    assert_exit(&get, 65, "get of a duplicated item");
    assert!(stderr(&get).contains("holds 2 items for dup.name"), "{}", stderr(&get));
    assert!(!stdout(&get).contains("first"), "{}", stdout(&get));
    assert!(!stdout(&get).contains("second"), "{}", stdout(&get));

    let doctor = lahat.run(&["--store", "os", "credential", "doctor"]);
    assert_exit(&doctor, 65, "doctor with a duplicated item");
    assert!(stdout(&doctor).contains("cannot read dup.name"), "{}", stdout(&doctor));

    let delete = lahat.run(&["--store", "os", "credential", "delete", "dup.name", "--yes"]);
    assert_success(&delete, "delete of a duplicated item");
    assert_eq!(service.lookup("dup.name"), None);
    lahat.set("os", "dup.name", "clean");
    assert_eq!(service.lookup("dup.name").as_deref(), Some("clean"));
}

#[test]
fn keyring_killed_during_run_is_reported() {
    let mut service = SecretService::start();
    let lahat = Lahat::with_bus(&service.bus_address);
    lahat.set("os", "demo.greeting", "Hello");
    let fetcher = lahat.approved("tests/guests/fetcher");
    // Two reads 1.5 s apart; the daemon dies between them.
    let child = lahat
        .command(&["--store", "os", "--store-timeout", "5", "run", fetcher.to_str().unwrap(), "--", "2", "1500"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    service.stop_keyring();
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 1, "fetcher whose keychain died");
    let err = stderr(&output);
    assert!(err.contains("fetcher: read 1 failed"), "the first read must succeed and the second fail: {err}");
    assert!(err.contains("Unavailable"), "{err}");
}
