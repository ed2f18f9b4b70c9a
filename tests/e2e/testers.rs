//! `lahat credential test` with the HTTP credential testers in
//! `sample-apps/testers/`.
//!
//! The openai and claude testers run against `tests/fake-providers.py`,
//! which checks the headers as each API documents them. The aws tester runs
//! against the moto server that `scripts/s3-server.sh` starts, whose address
//! and key come from `LAHAT_TEST_S3_ENDPOINT`, `LAHAT_TEST_S3_ACCESS_KEY` and
//! `LAHAT_TEST_S3_SECRET_KEY`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use crate::support::{Lahat, assert_exit, assert_success, guests_built, repo_root, stderr, stdout};

/// A running `tests/fake-providers.py`, stopped on drop.
struct FakeProvider {
    child: Child,
    endpoint: String,
}

impl FakeProvider {
    /// Starts the fake of `provider` (`openai` or `anthropic`) accepting only
    /// `key`, and waits for the port it prints.
    fn start(provider: &str, key: &str) -> Self {
        let mut child = Command::new("python3")
            .arg(repo_root().join("tests/fake-providers.py"))
            .args(["--provider", provider, "--key", key])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start python3 tests/fake-providers.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("fake-providers.py printed {line:?} instead of a port"));
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn file_lahat(passphrase: &str) -> Lahat {
    guests_built();
    Lahat::new().env("LAHAT_PASSPHRASE", passphrase)
}

fn credential_test(lahat: &Lahat, name: &str, endpoint: &str) -> Output {
    lahat.run(&["--store", "file", "credential", "test", "--yes", name, "--endpoint", endpoint])
}

fn combined(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

/// Asserts that neither stdout nor stderr contains `secret` or any
/// 8-character piece of it.
fn assert_no_secret(output: &Output, secret: &str, what: &str) {
    let text = combined(output);
    for piece in secret.as_bytes().windows(8) {
        let piece = String::from_utf8_lossy(piece);
        assert!(
            !text.contains(piece.as_ref()),
            "{what}: the output contains part of the secret:\n{text}"
        );
    }
}

fn assert_rejected(output: &Output, what: &str) {
    assert!(!output.status.success(), "{what} succeeded:\n{}", combined(output));
    assert!(
        combined(output).contains("rejected"),
        "{what}: the output does not say rejected:\n{}",
        combined(output)
    );
}

#[test]
fn openai_key_accepted_by_fake() {
    let key = "sk-proj-lahat-e2e-good-0123456789";
    let provider = FakeProvider::start("openai", key);
    let lahat = file_lahat("openai tester passphrase");
    lahat.set("file", "openai.e2e", key);

    let output = credential_test(&lahat, "openai.e2e", &provider.endpoint);
    assert_success(&output, "credential test openai.e2e");
    assert!(stdout(&output).contains("ok"), "{}", combined(&output));
    assert!(stdout(&output).contains("3 models visible"), "{}", combined(&output));
    assert_no_secret(&output, key, "openai good key");
}

#[test]
fn openai_wrong_key_is_rejected() {
    let provider = FakeProvider::start("openai", "sk-proj-lahat-e2e-good-0123456789");
    let wrong = "sk-proj-lahat-e2e-WRONG-9876543210";
    let lahat = file_lahat("openai wrong key passphrase");
    lahat.set("file", "openai.e2e", wrong);

    let output = credential_test(&lahat, "openai.e2e", &provider.endpoint);
    assert_rejected(&output, "credential test with a wrong OpenAI key");
    assert!(combined(&output).contains("401"), "{}", combined(&output));
    // The fake, like OpenAI, quotes a masked form of the key in its message;
    // the tester shows only the error code.
    assert!(
        !combined(&output).contains("Incorrect API key"),
        "{}",
        combined(&output)
    );
    assert_no_secret(&output, wrong, "openai wrong key");
}

#[test]
fn claude_key_accepted_by_fake() {
    let key = "sk-ant-api03-lahat-e2e-good-0123456789";
    let provider = FakeProvider::start("anthropic", key);
    let lahat = file_lahat("claude tester passphrase");
    lahat.set("file", "claude.e2e", key);

    let output = credential_test(&lahat, "claude.e2e", &provider.endpoint);
    assert_success(&output, "credential test claude.e2e");
    assert!(stdout(&output).contains("ok"), "{}", combined(&output));
    assert!(stdout(&output).contains("2 models visible"), "{}", combined(&output));
    assert_no_secret(&output, key, "claude good key");
}

#[test]
fn claude_wrong_key_is_rejected() {
    let provider = FakeProvider::start("anthropic", "sk-ant-api03-lahat-e2e-good-0123456789");
    let wrong = "sk-ant-api03-lahat-e2e-WRONG-987654321";
    let lahat = file_lahat("claude wrong key passphrase");
    lahat.set("file", "claude.e2e", wrong);

    let output = credential_test(&lahat, "claude.e2e", &provider.endpoint);
    assert_rejected(&output, "credential test with a wrong Anthropic key");
    assert!(
        combined(&output).contains("401 authentication_error"),
        "{}",
        combined(&output)
    );
    assert_no_secret(&output, wrong, "claude wrong key");
}

#[test]
fn bearer_key_rejected_by_anthropic_fake() {
    // The Anthropic fake expects x-api-key, so a Bearer header carries no key for it.
    let key = "sk-lahat-e2e-shared-0123456789";
    let provider = FakeProvider::start("anthropic", key);
    let lahat = file_lahat("cross provider passphrase");
    lahat.set("file", "openai.e2e", key);

    let output = credential_test(&lahat, "openai.e2e", &provider.endpoint);
    assert_rejected(&output, "an OpenAI-style request to the Anthropic fake");
    assert_no_secret(&output, key, "cross provider");
}

fn s3_server_variable(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set; start the test S3 server with scripts/s3-server.sh, as scripts/test.sh does")
    })
}

fn aws_credential(access_key: &str, secret_key: &str) -> String {
    format!(r#"{{"access_key_id": "{access_key}", "secret_access_key": "{secret_key}"}}"#)
}

#[test]
fn aws_key_accepted_by_sts() {
    let endpoint = s3_server_variable("LAHAT_TEST_S3_ENDPOINT");
    let access_key = s3_server_variable("LAHAT_TEST_S3_ACCESS_KEY");
    let secret_key = s3_server_variable("LAHAT_TEST_S3_SECRET_KEY");
    let lahat = file_lahat("aws tester passphrase");
    lahat.set("file", "aws.e2e", &aws_credential(&access_key, &secret_key));

    let output = credential_test(&lahat, "aws.e2e", &endpoint);
    assert_success(&output, "credential test aws.e2e");
    let printed = stdout(&output);
    assert!(printed.contains("ok"), "{}", combined(&output));
    // moto's default account and the user scripts/s3-server.sh creates.
    assert!(printed.contains("account 123456789012"), "{}", combined(&output));
    assert!(
        printed.contains("arn:aws:iam::123456789012:user/lahat-test"),
        "{}",
        combined(&output)
    );
    assert_no_secret(&output, &secret_key, "aws good key");
}

#[test]
fn aws_wrong_secret_is_rejected_by_sts() {
    let endpoint = s3_server_variable("LAHAT_TEST_S3_ENDPOINT");
    let access_key = s3_server_variable("LAHAT_TEST_S3_ACCESS_KEY");
    let secret_key = s3_server_variable("LAHAT_TEST_S3_SECRET_KEY");
    let wrong = "wrongSecretKeyFor/LahatTests+0123456789abcd";
    let lahat = file_lahat("aws wrong secret passphrase");
    lahat.set("file", "aws.e2e", &aws_credential(&access_key, wrong));

    let output = credential_test(&lahat, "aws.e2e", &endpoint);
    assert_rejected(&output, "credential test with a wrong AWS secret");
    assert!(
        combined(&output).contains("403 SignatureDoesNotMatch"),
        "{}",
        combined(&output)
    );
    assert_no_secret(&output, wrong, "aws wrong secret");
    assert_no_secret(&output, &secret_key, "aws wrong secret");
}

#[test]
fn tester_needs_approval_and_a_stored_credential() {
    let lahat = file_lahat("tester approval passphrase");
    lahat.set("file", "openai.e2e", "sk-proj-lahat-e2e-approval-0123456789");

    let refused = lahat.run(&["--store", "file", "credential", "test", "openai.e2e", "--endpoint", "http://127.0.0.1:9"]);
    assert_exit(&refused, 77, "credential test without --yes and without a terminal");
    assert!(
        stderr(&refused).contains("lahat credential test openai.e2e --yes --endpoint http://127.0.0.1:9"),
        "{}",
        stderr(&refused)
    );

    let missing = lahat.run(&["--store", "file", "credential", "test", "--yes", "openai.missing"]);
    assert_exit(&missing, 66, "credential test of a name that is not stored");
    assert!(stderr(&missing).contains("no credential named openai.missing"), "{}", stderr(&missing));
}
