//! The client against a real PostgreSQL server started by
//! `scripts/postgres.sh`. The tests are ignored by default; run them with
//!
//! ```sh
//! scripts/postgres.sh start /tmp/pg 55432 test-password
//! LAHAT_TEST_POSTGRES_URL=postgres://lahat@127.0.0.1:55432/lahat \
//! LAHAT_TEST_POSTGRES_PASSWORD=test-password \
//!     cargo test -p pg-wire -- --ignored
//! ```

use pg_wire::{Connection, ConnectionUrl, Error};

/// Returns the server's URL with `password` inserted after the user name.
fn url_with_password(password: &str) -> ConnectionUrl {
    let base = std::env::var("LAHAT_TEST_POSTGRES_URL")
        .expect("set LAHAT_TEST_POSTGRES_URL to the URL that scripts/postgres.sh prints");
    let (scheme, rest) = base.split_once("://").expect("LAHAT_TEST_POSTGRES_URL has no ://");
    let (user, host) = rest.split_once('@').expect("LAHAT_TEST_POSTGRES_URL has no user@");
    let encoded: String = password
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect();
    ConnectionUrl::parse(&format!("{scheme}://{user}:{encoded}@{host}")).unwrap()
}

fn right_password() -> String {
    std::env::var("LAHAT_TEST_POSTGRES_PASSWORD")
        .expect("set LAHAT_TEST_POSTGRES_PASSWORD to the password given to scripts/postgres.sh")
}

#[test]
#[ignore = "needs a server from scripts/postgres.sh and LAHAT_TEST_POSTGRES_URL/PASSWORD"]
fn right_password_returns_rows() {
    let url = url_with_password(&right_password());
    let mut connection = Connection::connect(&url, "pg-wire-test").unwrap();
    assert!(connection.server_version().is_some());

    let results = connection.query("SELECT id, name, color FROM fruits ORDER BY id").unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].columns, ["id", "name", "color"]);
    assert_eq!(results[0].tag, "SELECT 3");
    assert_eq!(results[0].rows[2], [Some("3".to_owned()), Some("cherry".to_owned()), None]);
}

#[test]
#[ignore = "needs a server from scripts/postgres.sh and LAHAT_TEST_POSTGRES_URL/PASSWORD"]
fn wrong_password_is_28p01() {
    let url = url_with_password("not the password");
    let error = Connection::connect(&url, "pg-wire-test").err().expect("the login succeeded");
    let Error::Server(notice) = &error else {
        panic!("expected a server error, got {error}");
    };
    assert_eq!(notice.code, "28P01");
    assert!(error.to_string().contains("authentication failed for user \"lahat\""), "{error}");
}

#[test]
#[ignore = "needs a server from scripts/postgres.sh and LAHAT_TEST_POSTGRES_URL/PASSWORD"]
fn query_error_keeps_connection_usable() {
    let url = url_with_password(&right_password());
    let mut connection = Connection::connect(&url, "pg-wire-test").unwrap();

    let Err(Error::Server(notice)) = connection.query("SELECT * FROM no_such_table") else {
        panic!("the query of a missing table succeeded");
    };
    assert_eq!(notice.code, "42P01");

    let results = connection.query("SELECT 1 AS one; SELECT NULL AS nothing, 'a\tb' AS tab").unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].rows, [vec![Some("1".to_owned())]]);
    assert_eq!(results[1].rows, [vec![None, Some("a\tb".to_owned())]]);
}

#[test]
#[ignore = "needs a server from scripts/postgres.sh and LAHAT_TEST_POSTGRES_URL/PASSWORD"]
fn unknown_database_is_3d000() {
    let mut url = url_with_password(&right_password());
    url.database = "no_such_database".to_owned();
    let Err(Error::Server(notice)) = Connection::connect(&url, "pg-wire-test") else {
        panic!("the connection to a missing database succeeded");
    };
    assert_eq!(notice.code, "3D000");
}

#[test]
#[ignore = "needs a server from scripts/postgres.sh and LAHAT_TEST_POSTGRES_URL/PASSWORD"]
fn copy_commands_are_rejected() {
    let url = url_with_password(&right_password());
    let mut connection = Connection::connect(&url, "pg-wire-test").unwrap();
    let error = connection.query("COPY fruits TO STDOUT").unwrap_err();
    assert!(error.to_string().contains("COPY TO STDOUT"), "{error}");
    let error = connection.query("CREATE TEMP TABLE t (x int); COPY t FROM STDIN").unwrap_err();
    assert!(error.to_string().contains("COPY FROM STDIN"), "{error}");
    assert_eq!(connection.query("SELECT 2").unwrap()[0].rows, [vec![Some("2".to_owned())]]);
}
