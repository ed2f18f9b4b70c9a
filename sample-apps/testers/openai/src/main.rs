//! Tests an `openai.*` API key with one read-only request, `GET
//! {ENDPOINT}/v1/models` with `Authorization: Bearer KEY`, and reports how
//! many models the key can see.
//!
//! `lahat credential test openai.NAME [--endpoint URL]` runs it with the
//! arguments `openai.NAME ENDPOINT`.

use std::process::ExitCode;

use serde_json::Value;
use tester_kit::{Invocation, Outcome};

const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

fn main() -> ExitCode {
    tester_kit::run("openai", check)
}

fn check(invocation: &Invocation, key: &str) -> Outcome {
    if let Err(outcome) = tester_kit::check_header_safe(&invocation.name, key) {
        return outcome;
    }
    let url = format!("{}/v1/models", invocation.endpoint);
    let response = wasi_fetch::Request::get(&url).and_then(|request| {
        request
            .header("authorization", &format!("Bearer {key}"))
            .max_response_bytes(MAX_RESPONSE_BYTES)
            .send()
    });
    let response = match response {
        Ok(response) => response,
        Err(err) => return Outcome::Failed(format!("cannot reach {}: {err}", invocation.endpoint)),
    };
    let body: Option<Value> = serde_json::from_slice(&response.body).ok();

    if !response.is_success() {
        // OpenAI's errors are {"error": {"message", "type", "param", "code"}};
        // the message can quote part of the key, so only the code or type is
        // shown.
        let error = body.as_ref().and_then(|body| body.get("error"));
        let code = error
            .and_then(|error| error.get("code").and_then(Value::as_str))
            .or_else(|| error.and_then(|error| error.get("type").and_then(Value::as_str)));
        return tester_kit::status_outcome(response.status, code, key, &invocation.endpoint);
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
            invocation.endpoint, response.status
        )),
    }
}
