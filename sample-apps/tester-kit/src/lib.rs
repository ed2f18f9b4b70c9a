//! Shared code of the HTTP credential testers: their arguments, reading the
//! one credential they are granted, and the one line they print.
//!
//! `lahat credential test NAME [--endpoint URL]` runs a tester with the
//! arguments `NAME ENDPOINT`. The tester makes one read-only request, prints
//! one line on stdout that starts with `ok:`, `rejected:` or `error:`, and
//! exits with status 0 only for `ok:`. The line never contains the
//! credential: provider error codes are shown only when they look like
//! identifiers and do not contain it.

wit_bindgen::generate!({
    path: "../../wit",
    world: "lahat:vault/app",
});

use std::process::ExitCode;

use lahat::vault::credentials::{Error as VaultError, get_credential};

/// The maximum length of a provider error code that a report shows.
const MAX_IDENTIFIER_LEN: usize = 64;

/// The maximum size of a provider's response that a tester reads.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The arguments `lahat credential test` passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The credential to test, such as `openai.default`.
    pub name: String,
    /// The origin to send the request to, without a trailing `/`.
    pub endpoint: String,
}

/// The result of a test, reported as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted the credential. The text describes what the
    /// provider returned.
    Accepted(String),
    /// The provider rejected the credential.
    Rejected(String),
    /// The test could not tell: the credential is missing or malformed,
    /// the provider could not be reached, or it returned something else.
    Failed(String),
}

impl Outcome {
    /// Prints the report line and returns the exit status: success only for
    /// [`Outcome::Accepted`].
    pub fn report(self) -> ExitCode {
        match self {
            Self::Accepted(text) => {
                println!("ok: {text}");
                ExitCode::SUCCESS
            }
            Self::Rejected(text) => {
                println!("rejected: {text}");
                ExitCode::FAILURE
            }
            Self::Failed(text) => {
                println!("error: {text}");
                ExitCode::FAILURE
            }
        }
    }
}

/// Runs a tester for `namespace`: reads the arguments and the credential,
/// calls `check` with them, and reports its outcome.
pub fn run(namespace: &str, check: impl FnOnce(&Invocation, &str) -> Outcome) -> ExitCode {
    let outcome = match invocation(namespace, std::env::args().skip(1)) {
        Ok(invocation) => match read_credential(&invocation.name) {
            Ok(secret) => check(&invocation, &secret),
            Err(outcome) => outcome,
        },
        Err(outcome) => outcome,
    };
    outcome.report()
}

/// Parses the arguments `NAME ENDPOINT`, checking that `NAME` is in
/// `namespace` and `ENDPOINT` is an `http` or `https` origin.
///
/// # Errors
///
/// Returns [`Outcome::Failed`] with a usage message.
pub fn invocation(namespace: &str, args: impl IntoIterator<Item = String>) -> Result<Invocation, Outcome> {
    let usage = || {
        Outcome::Failed(format!(
            "usage: {namespace}-tester {namespace}.PROFILE ENDPOINT (lahat credential test passes these)"
        ))
    };
    let mut args = args.into_iter();
    let (Some(name), Some(endpoint), None) = (args.next(), args.next(), args.next()) else {
        return Err(usage());
    };
    if !name.starts_with(&format!("{namespace}.")) {
        return Err(Outcome::Failed(format!(
            "this tester checks {namespace}.* credentials, not \"{}\"",
            name.escape_debug()
        )));
    }
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(Outcome::Failed(format!(
            "the endpoint \"{}\" is not an http:// or https:// origin",
            endpoint.escape_debug()
        )));
    }
    Ok(Invocation {
        name,
        endpoint: endpoint.trim_end_matches('/').to_owned(),
    })
}

/// Reads credential `name` from the vault.
///
/// # Errors
///
/// Returns [`Outcome::Failed`] naming why the vault gave no value.
pub fn read_credential(name: &str) -> Result<String, Outcome> {
    get_credential(name).map_err(|err| {
        let reason = match err {
            VaultError::InvalidName(reason) => format!("invalid name ({reason})"),
            VaultError::NotDeclared | VaultError::NotGranted => "not granted to the tester".to_owned(),
            VaultError::NotFound => format!("not set; store it with `lahat credential set {name}`"),
            VaultError::Expired => "expired".to_owned(),
            VaultError::Unavailable(message) => format!("vault unavailable: {message}"),
        };
        Outcome::Failed(format!("cannot read {name}: {reason}"))
    })
}

/// Checks that an API key can go in an HTTP header: non-empty visible ASCII
/// without spaces.
///
/// # Errors
///
/// Returns [`Outcome::Failed`] describing the problem without the key.
pub fn check_header_safe(name: &str, key: &str) -> Result<(), Outcome> {
    if key.is_empty() {
        return Err(Outcome::Failed(format!("{name} is empty; store the key again")));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Outcome::Failed(format!(
            "{name} contains spaces, line breaks or non-ASCII characters, which an API key cannot; store the key again"
        )));
    }
    Ok(())
}

/// Returns the outcome of a non-2xx response: 401 and 403 reject the
/// credential, and any other status leaves it unchecked. `code` is the
/// provider's error code, shown only when [`identifier`] accepts it.
pub fn status_outcome(status: u16, code: Option<&str>, secret: &str, endpoint: &str) -> Outcome {
    let detail = match identifier(code, secret) {
        Some(code) => format!("{status} {code} from {endpoint}"),
        None => format!("{status} from {endpoint}"),
    };
    match status {
        401 | 403 => Outcome::Rejected(detail),
        _ => Outcome::Failed(format!("{detail}; the credential was not checked")),
    }
}

/// Returns `candidate` when it looks like an error code (1 to 64 ASCII
/// letters, digits, `_`, `-` and `.`) and does not contain `secret` or any
/// 8-character piece of it. A provider that repeats the credential in its
/// error therefore cannot make the report show it.
pub fn identifier(candidate: Option<&str>, secret: &str) -> Option<String> {
    let candidate = candidate?;
    let looks_like_code = !candidate.is_empty()
        && candidate.len() <= MAX_IDENTIFIER_LEN
        && candidate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    let shares_secret = !secret.is_empty()
        && (candidate.contains(secret)
            || secret
                .as_bytes()
                .windows(8)
                .any(|piece| candidate.as_bytes().windows(8).any(|window| window == piece)));
    (looks_like_code && !shares_secret).then(|| candidate.to_owned())
}

/// Sends `GET {endpoint}{path}` with `headers` and returns the status and
/// the body parsed as JSON, or `None` when the body is not JSON.
///
/// # Errors
///
/// Returns a failed [`Outcome`] naming the endpoint when the request cannot
/// be sent or its response read.
pub fn get_json(
    invocation: &Invocation,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, Option<serde_json::Value>), Outcome> {
    let url = format!("{}{path}", invocation.endpoint);
    let response = wasi_fetch::Request::get(&url).and_then(|request| {
        headers
            .iter()
            .fold(request, |request, (name, value)| request.header(name, value))
            .max_response_bytes(MAX_RESPONSE_BYTES)
            .send()
    });
    match response {
        Ok(response) => Ok((response.status, serde_json::from_slice(&response.body).ok())),
        Err(err) => Err(Outcome::Failed(format!("cannot reach {}: {err}", invocation.endpoint))),
    }
}

/// Returns `text` with control characters escaped, for text a provider
/// sends that the report shows, so that it cannot change the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|ch| {
            if ch.is_control() {
                ch.escape_unicode().to_string()
            } else {
                ch.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn invocation_parses_and_trims_endpoint() {
        let parsed = invocation("openai", strings(&["openai.default", "http://127.0.0.1:8080/"])).unwrap();
        assert_eq!(parsed.name, "openai.default");
        assert_eq!(parsed.endpoint, "http://127.0.0.1:8080");
    }

    #[test]
    fn bad_invocations_are_failures() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "usage:"),
            (&["openai.default"], "usage:"),
            (&["openai.default", "https://x", "extra"], "usage:"),
            (&["claude.default", "https://x"], "checks openai.* credentials"),
            (&["openai.default", "ftp://x"], "not an http:// or https:// origin"),
        ];
        for (args, expected) in cases {
            let Err(Outcome::Failed(message)) = invocation("openai", strings(args)) else {
                panic!("{args:?} parsed");
            };
            assert!(message.contains(expected), "{args:?}: {message}");
        }
    }

    #[test]
    fn status_maps_to_outcome() {
        assert_eq!(
            status_outcome(401, Some("invalid_api_key"), "sk-secret-key", "https://api.openai.com"),
            Outcome::Rejected("401 invalid_api_key from https://api.openai.com".to_owned())
        );
        assert_eq!(
            status_outcome(403, None, "k", "http://h"),
            Outcome::Rejected("403 from http://h".to_owned())
        );
        assert_eq!(
            status_outcome(429, Some("rate_limit_exceeded"), "k", "http://h"),
            Outcome::Failed("429 rate_limit_exceeded from http://h; the credential was not checked".to_owned())
        );
    }

    #[test]
    fn identifier_rejects_text_and_secrets() {
        let secret = "sk-test-0123456789abcdef";
        assert_eq!(
            identifier(Some("invalid_api_key"), secret).as_deref(),
            Some("invalid_api_key")
        );
        assert_eq!(identifier(None, secret), None);
        assert_eq!(identifier(Some(""), secret), None);
        assert_eq!(identifier(Some("Incorrect API key provided"), secret), None);
        assert_eq!(identifier(Some(secret), secret), None);
        assert_eq!(
            identifier(Some("key_0123456789ab"), secret),
            None,
            "an 8-character piece of the secret"
        );
        assert_eq!(identifier(Some(&"x".repeat(65)), secret), None);
    }

    #[test]
    fn printable_escapes_control_characters() {
        assert_eq!(
            printable("arn:aws:iam::1:user/a\u{1b}[2J\n"),
            "arn:aws:iam::1:user/a\\u{1b}[2J\\u{a}"
        );
    }

    #[test]
    fn header_safety_is_checked() {
        assert!(check_header_safe("openai.default", "sk-abc").is_ok());
        for bad in ["", "sk abc", "sk-abc\n", "sk-äbc"] {
            let Err(Outcome::Failed(message)) = check_header_safe("openai.default", bad) else {
                panic!("{bad:?} accepted");
            };
            assert!(message.starts_with("openai.default "), "{bad:?}: {message}");
        }
    }
}
