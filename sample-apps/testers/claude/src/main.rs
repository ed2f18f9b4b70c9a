//! Tests a `claude.*` Anthropic API key with one read-only request, `GET
//! {ENDPOINT}/v1/models` with the `x-api-key` and `anthropic-version`
//! headers, and reports how many models the key can see.
//!
//! `lahat credential test claude.NAME [--endpoint URL]` runs it with the
//! arguments `claude.NAME ENDPOINT`.

use std::process::ExitCode;

use serde_json::Value;
use tester_kit::{Invocation, Outcome};

/// The API version; Anthropic rejects requests without an
/// `anthropic-version` header.
const ANTHROPIC_VERSION: &str = "2023-06-01";

fn main() -> ExitCode {
    tester_kit::run("claude", check)
}

fn check(invocation: &Invocation, key: &str) -> Outcome {
    if let Err(outcome) = tester_kit::check_header_safe(&invocation.name, key) {
        return outcome;
    }
    let headers = [("x-api-key", key), ("anthropic-version", ANTHROPIC_VERSION)];
    let (status, body) = match tester_kit::get_json(invocation, "/v1/models", &headers) {
        Ok(response) => response,
        Err(outcome) => return outcome,
    };

    if !(200..300).contains(&status) {
        // Anthropic's errors are {"type": "error", "error": {"type", "message"}};
        // only the error type is shown.
        let kind = body
            .as_ref()
            .and_then(|body| body.pointer("/error/type"))
            .and_then(Value::as_str);
        return tester_kit::status_outcome(status, kind, key, &invocation.endpoint);
    }

    let Some(body) = body else {
        return not_a_model_list(invocation, status);
    };
    let Some(models) = body.get("data").and_then(Value::as_array) else {
        return not_a_model_list(invocation, status);
    };
    // The list is paged; one page is enough to know that the key works.
    let more = body.get("has_more").and_then(Value::as_bool).unwrap_or(false);
    let count = if more {
        format!("at least {}", models.len())
    } else {
        models.len().to_string()
    };
    Outcome::Accepted(format!(
        "key accepted, {count} models visible at {}",
        invocation.endpoint
    ))
}

fn not_a_model_list(invocation: &Invocation, status: u16) -> Outcome {
    Outcome::Failed(format!(
        "{} answered {status} but not with a model list; check the endpoint",
        invocation.endpoint
    ))
}
