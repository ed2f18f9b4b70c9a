//! Runs one SQL query against the PostgreSQL server named by a
//! `postgres.*` credential and prints the rows as tab-separated text.
//!
//! The credential contains a connection URL,
//! `postgres://USER:PASSWORD@HOST:PORT/DATABASE`. Neither the password nor
//! the URL with the password is ever printed.

mod output;

wit_bindgen::generate!({
    path: "../../wit",
    world: "lahat:vault/app",
});

use std::io::{self, ErrorKind};
use std::process::ExitCode;

use lahat::vault::credentials::{Error as CredentialError, get_credential};
use pg_wire::{Connection, ConnectionUrl, Error, QueryEvent, ServerNotice, printable};

use crate::output::TsvWriter;

const DEFAULT_CREDENTIAL: &str = "postgres.default";

const USAGE: &str = "usage: pg-query [--credential postgres.NAME] QUERY

Runs QUERY on the PostgreSQL server whose connection URL the credential holds
(default postgres.default) and prints the rows as tab-separated text with a
header line; NULL prints as NULL. The manifest must declare the credential and
list the server's HOST:PORT under [network] tcp.";

/// The parsed command line.
struct Arguments {
    credential: String,
    query: String,
}

/// The lines of an error message, which `main` prints with the
/// `pg-query: ` prefix.
#[derive(Debug)]
struct Failure(Vec<String>);

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Self(vec![message.into()])
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(lines)) => {
            for line in lines {
                eprintln!("pg-query: {line}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Failure> {
    let Some(arguments) = parse_arguments(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(());
    };
    let url = read_url(&arguments.credential)?;

    let credential = arguments.credential.as_str();
    let mut connection = Connection::connect(&url, "pg-query").map_err(|error| describe(&error, credential))?;
    for notice in connection.take_notices() {
        print_notice(&notice);
    }

    let mut writer = TsvWriter::new(io::BufWriter::new(io::stdout().lock()));
    let result = connection.simple_query(&arguments.query, &mut |event| match event {
        QueryEvent::Notice(notice) => {
            print_notice(notice);
            Ok(())
        }
        other => writer.write_event(other),
    });
    // Rows written before a failure are flushed before the error is shown.
    let flushed = writer.finish();
    result.map_err(|error| describe(&error, credential))?;
    flushed.map_err(|error| Failure::new(format!("cannot write the result: {error}")))?;
    Ok(())
}

/// Returns `None` for `--help`.
fn parse_arguments(mut arguments: impl Iterator<Item = String>) -> Result<Option<Arguments>, Failure> {
    let mut credential = None;
    let mut queries = Vec::new();
    let mut options_ended = false;
    while let Some(argument) = arguments.next() {
        if options_ended {
            queries.push(argument);
            continue;
        }
        match argument.as_str() {
            "-h" | "--help" => return Ok(None),
            "--" => options_ended = true,
            "--credential" => {
                let name = arguments
                    .next()
                    .ok_or_else(|| Failure::new("--credential needs a credential name, such as postgres.default"))?;
                credential = Some(name);
            }
            other => {
                if let Some(name) = other.strip_prefix("--credential=") {
                    credential = Some(name.to_owned());
                } else if other.starts_with("--") {
                    return Err(Failure(vec![format!("unknown option `{}`", printable(other)), USAGE.to_owned()]));
                } else {
                    queries.push(argument);
                }
            }
        }
    }

    let query = match <[String; 1]>::try_from(queries) {
        Ok([query]) => query,
        Err(queries) if queries.is_empty() => return Err(Failure(vec!["missing QUERY".to_owned(), USAGE.to_owned()])),
        Err(queries) => {
            return Err(Failure::new(format!(
                "expected one QUERY argument but got {}; put the whole query in one quoted argument",
                queries.len()
            )));
        }
    };
    let credential = credential.unwrap_or_else(|| DEFAULT_CREDENTIAL.to_owned());
    if !credential.starts_with("postgres.") {
        return Err(Failure::new(format!(
            "invalid credential `{}`: give a postgres.* name, such as postgres.default",
            printable(&credential)
        )));
    }
    Ok(Some(Arguments { credential, query }))
}

/// Reads the credential and parses the URL it holds.
fn read_url(name: &str) -> Result<ConnectionUrl, Failure> {
    let value = get_credential(name).map_err(|error| {
        Failure::new(format!("cannot read {name}: {}", describe_credential_error(name, &error)))
    })?;
    // `echo URL | lahat credential set` stores a trailing newline.
    ConnectionUrl::parse(value.trim()).map_err(|error| {
        Failure::new(format!(
            "{name} does not hold a valid connection URL: {error}; store one with `lahat credential set {name}`"
        ))
    })
}

fn describe_credential_error(name: &str, error: &CredentialError) -> String {
    match error {
        CredentialError::InvalidName(reason) => format!("invalid name ({reason})"),
        CredentialError::NotDeclared => format!("not declared in lahat.toml; add a [[credentials]] entry for {name}"),
        CredentialError::NotGranted => "not granted to this app".to_owned(),
        CredentialError::NotFound => format!("not set; store the connection URL with `lahat credential set {name}`"),
        CredentialError::Expired => "expired".to_owned(),
        CredentialError::Unavailable(message) => format!("vault unavailable: {message}"),
    }
}

/// Turns a client error into message lines, with advice for the errors a
/// user can fix in the manifest or the credential.
fn describe(error: &Error, credential: &str) -> Failure {
    match error {
        Error::Connect { address, source } if source.kind() == ErrorKind::PermissionDenied => Failure::new(format!(
            "cannot connect to {address}: the connection is not permitted; list \"{address}\" under [network] tcp in lahat.toml"
        )),
        Error::Server(notice) => {
            let mut lines = vec![printable(&notice.to_string())];
            if let Some(detail) = &notice.detail {
                lines.push(format!("DETAIL: {}", printable(detail)));
            }
            if let Some(hint) = &notice.hint {
                lines.push(format!("HINT: {}", printable(hint)));
            }
            if notice.code == "28P01" {
                lines.push(format!(
                    "the server rejected the password in {credential}; store the right URL with `lahat credential set {credential}`"
                ));
            }
            Failure(lines)
        }
        other => Failure::new(printable(&other.to_string())),
    }
}

fn print_notice(notice: &ServerNotice) {
    eprintln!("pg-query: {}", printable(&notice.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Option<Arguments>, Failure> {
        parse_arguments(arguments.iter().map(|argument| (*argument).to_owned()))
    }

    fn error_of(arguments: &[&str]) -> String {
        match parse(arguments) {
            Ok(_) => panic!("{arguments:?} was accepted"),
            Err(Failure(lines)) => lines.join("\n"),
        }
    }

    #[test]
    fn query_uses_default_credential() {
        let arguments = parse(&["SELECT 1"]).unwrap().unwrap();
        assert_eq!(arguments.credential, "postgres.default");
        assert_eq!(arguments.query, "SELECT 1");
    }

    #[test]
    fn credential_option_forms() {
        for form in [&["--credential", "postgres.prod", "SELECT 1"][..], &["--credential=postgres.prod", "SELECT 1"]] {
            let arguments = parse(form).unwrap().unwrap();
            assert_eq!(arguments.credential, "postgres.prod", "{form:?}");
        }
    }

    #[test]
    fn double_dash_ends_options() {
        let arguments = parse(&["--", "--not-an-option"]).unwrap().unwrap();
        assert_eq!(arguments.query, "--not-an-option");
    }

    #[test]
    fn help_prints_usage() {
        assert!(parse(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn bad_arguments_are_rejected() {
        assert!(error_of(&[]).contains("missing QUERY"));
        assert!(error_of(&["SELECT", "1"]).contains("one quoted argument"));
        assert!(error_of(&["--credential"]).contains("needs a credential name"));
        assert!(error_of(&["--verbose", "SELECT 1"]).contains("unknown option `--verbose`"));
        assert!(error_of(&["--credential", "aws.default", "SELECT 1"]).contains("postgres.* name"));
    }
}
