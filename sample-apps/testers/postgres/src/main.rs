//! Checks a `postgres.*` credential for `lahat credential test NAME`.
//!
//! The host runs it with the arguments `NAME ENDPOINT`, where ENDPOINT is
//! `tcp://HOST:PORT` and is the only address the tester may reach. It reads
//! the connection URL from the credential, logs in to the URL's server, runs
//! `SELECT 1`, prints one line without any secret and exits 0 when the server
//! accepted the login.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "lahat:vault/app",
});

use std::io::ErrorKind;
use std::net::IpAddr;
use std::process::ExitCode;

use lahat::vault::credentials::{Error as CredentialError, get_credential};
use pg_wire::{Connection, ConnectionUrl, Error, format_address, parse_host_port, printable};

/// The result of the check, printed as `ok: ...`, `rejected: ...` or
/// `error: ...`.
enum Outcome {
    /// The server accepted the credential.
    Accepted(String),
    /// The server rejected the login or the query.
    Rejected(String),
    /// The check could not reach a verdict.
    Failed(String),
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match <[String; 2]>::try_from(arguments) {
        Ok([name, endpoint]) => check(&name, &endpoint),
        Err(_) => Outcome::Failed("usage: postgres-tester NAME tcp://HOST:PORT".to_owned()),
    };
    // The line must stay one line, whatever the server's messages contain.
    match outcome {
        Outcome::Accepted(message) => {
            println!("ok: {}", printable(&message));
            ExitCode::SUCCESS
        }
        Outcome::Rejected(message) => {
            println!("rejected: {}", printable(&message));
            ExitCode::FAILURE
        }
        Outcome::Failed(message) => {
            println!("error: {}", printable(&message));
            ExitCode::FAILURE
        }
    }
}

fn check(name: &str, endpoint: &str) -> Outcome {
    let Some((endpoint_host, endpoint_port)) = endpoint.strip_prefix("tcp://").and_then(|rest| parse_host_port(rest).ok())
    else {
        return Outcome::Failed(format!("invalid endpoint `{endpoint}`; expected tcp://HOST:PORT"));
    };
    let value = match get_credential(name) {
        Ok(value) => value,
        Err(error) => return Outcome::Failed(format!("cannot read {name}: {}", describe_credential_error(name, &error))),
    };
    let url = match ConnectionUrl::parse(value.trim()) {
        Ok(url) => url,
        Err(error) => return Outcome::Failed(format!("{name} does not hold a valid connection URL: {error}")),
    };

    if let Err(message) = check_endpoint(name, &url, &endpoint_host, endpoint_port) {
        return Outcome::Failed(message);
    }
    let address = url.address();

    let mut connection = match Connection::connect(&url, "postgres-tester") {
        Ok(connection) => connection,
        Err(error) => return failure_outcome(&error, &address),
    };
    match connection.query("SELECT 1") {
        Ok(results) if is_one(&results) => Outcome::Accepted(format!(
            "connected to {address}/{} as {}",
            url.database, url.user
        )),
        Ok(_) => Outcome::Failed(format!("SELECT 1 on {address} returned an unexpected result")),
        Err(error) => failure_outcome(&error, &address),
    }
}

/// Checks that the URL names the endpoint, the only address the host lets
/// the tester reach.
fn check_endpoint(name: &str, url: &ConnectionUrl, endpoint_host: &str, endpoint_port: u16) -> Result<(), String> {
    if url.port == endpoint_port && same_host(&url.host, endpoint_host) {
        return Ok(());
    }
    let address = url.address();
    Err(format!(
        "{name} names the server {address}, but this test may connect only to {}; run `lahat credential test {name} --endpoint tcp://{address}`",
        format_address(endpoint_host, endpoint_port)
    ))
}

/// Classifies a client error: an ErrorResponse from the server is a
/// rejection, anything else means the check failed.
fn failure_outcome(error: &Error, address: &str) -> Outcome {
    match error {
        Error::Server(notice) => Outcome::Rejected(format!("{notice} from {address}")),
        Error::Connect { source, .. } if source.kind() == ErrorKind::PermissionDenied => Outcome::Failed(format!(
            "cannot connect to {address}: the host did not permit the connection"
        )),
        other => Outcome::Failed(other.to_string()),
    }
}

fn is_one(results: &[pg_wire::QueryResult]) -> bool {
    matches!(results, [result] if result.rows == [vec![Some("1".to_owned())]])
}

/// Compares IP addresses by value, so `::ffff:127.0.0.1` matches
/// `127.0.0.1`, and host names without regard to ASCII case.
fn same_host(left: &str, right: &str) -> bool {
    match (left.parse::<IpAddr>(), right.parse::<IpAddr>()) {
        (Ok(left), Ok(right)) => left.to_canonical() == right.to_canonical(),
        _ => left.eq_ignore_ascii_case(right),
    }
}

fn describe_credential_error(name: &str, error: &CredentialError) -> String {
    match error {
        CredentialError::InvalidName(reason) => format!("invalid name ({reason})"),
        CredentialError::NotDeclared => "not granted to the tester by the host".to_owned(),
        CredentialError::NotGranted => "not granted to this app".to_owned(),
        CredentialError::NotFound => format!("not set; store the connection URL with `lahat credential set {name}`"),
        CredentialError::Expired => "expired".to_owned(),
        CredentialError::Unavailable(message) => format!("vault unavailable: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_compare_by_address_or_name() {
        assert!(same_host("127.0.0.1", "127.0.0.1"));
        assert!(same_host("::ffff:127.0.0.1", "127.0.0.1"));
        assert!(same_host("DB.example", "db.example"));
        assert!(!same_host("localhost", "127.0.0.1"));
        assert!(!same_host("127.0.0.2", "127.0.0.1"));
    }

    #[test]
    fn endpoint_mismatch_names_the_needed_endpoint() {
        let url = ConnectionUrl::parse("postgres://ada:hunter2@10.0.0.5:6432/db").unwrap();
        let message = check_endpoint("postgres.prod", &url, "127.0.0.1", 5432).unwrap_err();
        assert_eq!(
            message,
            "postgres.prod names the server 10.0.0.5:6432, but this test may connect only to 127.0.0.1:5432; run `lahat credential test postgres.prod --endpoint tcp://10.0.0.5:6432`"
        );
        assert!(check_endpoint("postgres.prod", &url, "10.0.0.5", 6432).is_ok());
        assert!(check_endpoint("postgres.prod", &url, "10.0.0.5", 5432).is_err());
    }

    #[test]
    fn non_tcp_endpoint_is_rejected() {
        // The endpoint is checked before the credential is read, so this runs
        // without the host.
        let Outcome::Failed(message) = check("postgres.default", "http://127.0.0.1:5432") else {
            panic!("an http endpoint was accepted");
        };
        assert!(message.contains("expected tcp://HOST:PORT"), "{message}");
    }
}
