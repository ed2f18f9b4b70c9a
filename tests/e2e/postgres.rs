//! `pg-query` and the PostgreSQL credential tester against a real PostgreSQL
//! server. scripts/test.sh starts the server with scripts/postgres.sh and
//! sets LAHAT_TEST_POSTGRES_URL (without the password) and
//! LAHAT_TEST_POSTGRES_PASSWORD.

use std::path::Path;
use std::process::Output;

use crate::support::{Lahat, app, assert_exit, assert_success, stderr, stdout};

const PASSPHRASE: &str = "postgres test passphrase";

/// The test server, from the environment scripts/test.sh sets.
struct Server {
    /// `postgres://lahat@127.0.0.1:PORT/lahat`.
    url: String,
    password: String,
    port: u16,
}

impl Server {
    fn from_env() -> Self {
        let url = std::env::var("LAHAT_TEST_POSTGRES_URL").unwrap_or_else(|_| {
            panic!("LAHAT_TEST_POSTGRES_URL is not set; run the tests with scripts/test.sh, which starts PostgreSQL")
        });
        let password = std::env::var("LAHAT_TEST_POSTGRES_PASSWORD").unwrap_or_else(|_| {
            panic!("LAHAT_TEST_POSTGRES_PASSWORD is not set; run the tests with scripts/test.sh, which starts PostgreSQL")
        });
        let port = url
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("LAHAT_TEST_POSTGRES_URL `{url}` has no port"));
        Self { url, password, port }
    }

    /// Returns the server's URL with `password`, percent-encoded, after the
    /// user name.
    fn url_with_password(&self, password: &str) -> String {
        let encoded: String = password
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
            .collect();
        self.url.replacen("@", &format!(":{encoded}@"), 1)
    }
}

/// Creates a `lahat` whose encrypted vault file stores `url` as
/// `postgres.default`.
fn lahat_with_url(url: &str) -> Lahat {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", PASSPHRASE);
    lahat.set("file", "postgres.default", url);
    lahat
}

/// Copies the built app at `relative` into a temporary folder, with its
/// manifest's `tcp` list replaced by `["127.0.0.1:PORT"]`, and approves the
/// copy.
fn approved_copy(lahat: &Lahat, relative: &str, port: u16) -> tempfile::TempDir {
    let source = app(relative);
    let folder = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(source.join("lahat.toml")).unwrap();
    let declared = "tcp = [\"127.0.0.1:5432\"]";
    assert!(manifest.contains(declared), "{relative}/lahat.toml no longer declares {declared}");
    let manifest = manifest.replace(declared, &format!("tcp = [\"127.0.0.1:{port}\"]"));
    std::fs::write(folder.path().join("lahat.toml"), manifest).unwrap();
    let component = format!("{}.wasm", source.file_name().unwrap().to_str().unwrap());
    std::fs::copy(source.join(&component), folder.path().join(&component)).unwrap();

    let output = lahat.run(&["app", "approve", folder.path().to_str().unwrap(), "--yes"]);
    assert_success(&output, &format!("app approve {relative} copy"));
    folder
}

fn query(lahat: &Lahat, folder: &Path, sql: &str) -> Output {
    lahat.run(&["--store", "file", "run", folder.to_str().unwrap(), "--", sql])
}

fn assert_no_secret(output: &Output, secret: &str, what: &str) {
    assert!(!stdout(output).contains(secret), "{what}: stdout shows the password:\n{}", stdout(output));
    assert!(!stderr(output).contains(secret), "{what}: stderr shows the password:\n{}", stderr(output));
}

#[test]
fn pg_query_prints_rows_with_right_password() {
    let server = Server::from_env();
    let lahat = lahat_with_url(&server.url_with_password(&server.password));
    let folder = approved_copy(&lahat, "sample-apps/pg-query", server.port);

    let output = query(&lahat, folder.path(), "SELECT id, name, color FROM fruits ORDER BY id");
    assert_success(&output, "pg-query with the right password");
    assert_eq!(
        stdout(&output),
        "id\tname\tcolor\n1\tapple\tred\n2\tbanana\tyellow\n3\tcherry\tNULL\n"
    );
    assert_no_secret(&output, &server.password, "pg-query with the right password");
}

#[test]
fn pg_query_wrong_password_is_28p01() {
    let server = Server::from_env();
    let wrong = "wrong-password-7Qx2";
    let lahat = lahat_with_url(&server.url_with_password(wrong));
    let folder = approved_copy(&lahat, "sample-apps/pg-query", server.port);

    let output = query(&lahat, folder.path(), "SELECT 1");
    assert_exit(&output, 1, "pg-query with a wrong password");
    assert_eq!(stdout(&output), "", "no rows may be printed");
    let error_line = stderr(&output)
        .lines()
        .find(|line| line.starts_with("pg-query: "))
        .unwrap_or_default()
        .to_owned();
    assert!(
        error_line.contains("authentication failed for user \"lahat\" (SQLSTATE 28P01)"),
        "unexpected error line {error_line:?} in:\n{}",
        stderr(&output)
    );
    assert_no_secret(&output, wrong, "pg-query with a wrong password");
    assert_no_secret(&output, &server.password, "pg-query with a wrong password");
}

#[test]
fn pg_query_undeclared_port_is_refused() {
    let server = Server::from_env();
    let lahat = lahat_with_url(&server.url_with_password(&server.password));
    // The manifest allows another port than the one the URL names.
    let other_port = server.port.checked_add(1).unwrap_or(server.port - 1);
    let folder = approved_copy(&lahat, "sample-apps/pg-query", other_port);

    let output = query(&lahat, folder.path(), "SELECT 1");
    assert_exit(&output, 1, "pg-query to an undeclared port");
    assert_eq!(stdout(&output), "", "no rows may be printed");
    let expected = format!("pg-query: cannot connect to 127.0.0.1:{}: the connection is not permitted", server.port);
    assert!(stderr(&output).contains(&expected), "expected {expected:?} in:\n{}", stderr(&output));
    assert_no_secret(&output, &server.password, "pg-query to an undeclared port");
}

#[test]
fn tester_accepts_right_credential() {
    let server = Server::from_env();
    app("sample-apps/testers/postgres");
    let lahat = lahat_with_url(&server.url_with_password(&server.password));

    let endpoint = format!("tcp://127.0.0.1:{}", server.port);
    let output = lahat.run(&["--store", "file", "credential", "test", "--yes", "postgres.default", "--endpoint", &endpoint]);
    assert_success(&output, "credential test postgres.default");
    let expected = format!("ok: connected to 127.0.0.1:{}/lahat as lahat", server.port);
    assert!(stdout(&output).contains(&expected), "expected {expected:?} in:\n{}", stdout(&output));
    assert_no_secret(&output, &server.password, "credential test postgres.default");

    let shown = lahat.run(&["--store", "file", "credential", "show", "postgres.default", "--json"]);
    assert_success(&shown, "credential show after a test");
    let shown: serde_json::Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(shown["last_test"]["passed"], serde_json::json!(true), "{shown}");
    assert!(shown["last_test"]["message"].as_str().unwrap().starts_with("ok: connected"), "{shown}");
}

#[test]
fn tester_rejects_wrong_password() {
    let server = Server::from_env();
    app("sample-apps/testers/postgres");
    let wrong = "wrong-password-7Qx2";
    let lahat = lahat_with_url(&server.url_with_password(wrong));

    let endpoint = format!("tcp://127.0.0.1:{}", server.port);
    let output = lahat.run(&["--store", "file", "credential", "test", "--yes", "postgres.default", "--endpoint", &endpoint]);
    assert!(!output.status.success(), "a wrong password passed the test:\n{}", stdout(&output));
    assert!(stdout(&output).contains("rejected: "), "{}", stdout(&output));
    assert!(stdout(&output).contains("SQLSTATE 28P01"), "{}", stdout(&output));
    assert_no_secret(&output, wrong, "credential test with a wrong password");
}

#[test]
fn tester_names_endpoint_the_url_needs() {
    let server = Server::from_env();
    assert_ne!(server.port, 5432, "this test needs the server on a port other than the tester's default, 5432");
    app("sample-apps/testers/postgres");
    let lahat = lahat_with_url(&server.url_with_password(&server.password));

    // The default endpoint is 127.0.0.1:5432, which the URL does not name.
    let output = lahat.run(&["--store", "file", "credential", "test", "--yes", "postgres.default"]);
    assert!(!output.status.success(), "a mismatched endpoint passed the test:\n{}", stdout(&output));
    let expected = format!("--endpoint tcp://127.0.0.1:{}", server.port);
    assert!(stdout(&output).contains(&expected), "expected {expected:?} in:\n{}", stdout(&output));
    assert_no_secret(&output, &server.password, "credential test with the default endpoint");
}
