//! Tests an `openai.*` API key with one read-only request, `GET
//! {ENDPOINT}/v1/models` with `Authorization: Bearer KEY`, and reports how
//! many models the key can see.
//!
//! `lahat credential test openai.NAME [--endpoint URL]` runs it with the
//! arguments `openai.NAME ENDPOINT`.

use std::process::ExitCode;

use serde_json::Value;
use tester_kit::{Invocation, Outcome};

fn main() -> ExitCode {
    tester_kit::run("openai", check)
}

fn check(invocation: &Invocation, key: &str) -> Outcome {
    if let Err(outcome) = tester_kit::check_header_safe(&invocation.name, key) {
        return outcome;
    }
    let bearer = format!("Bearer {key}");
    let (status, body) = match tester_kit::get_json(invocation, "/v1/models", &[("authorization", &bearer)]) {
        Ok(response) => response,
        Err(outcome) => return outcome,
    };

    if !(200..300).contains(&status) {
        // OpenAI's errors are {"error": {"message", "type", "param", "code"}};
        // the message can quote part of the key, so only the code or type is
        // shown.
        let error = body.as_ref().and_then(|body| body.get("error"));
        let code = error
            .and_then(|error| error.get("code").and_then(Value::as_str))
            .or_else(|| error.and_then(|error| error.get("type").and_then(Value::as_str)));
        return tester_kit::status_outcome(status, code, key, &invocation.endpoint);
    }

    match body
        .as_ref()
        .and_then(|body| body.get("data"))
        .and_then(Value::as_array)
    {
        Some(models) => Outcome::Accepted(format!(
            "key accepted, {} models visible at {}",
            models.len(),
            invocation.endpoint
        )),
        None => Outcome::Failed(format!(
            "{} answered {} but not with a model list; check the endpoint",
            invocation.endpoint, status
        )),
    }
}
