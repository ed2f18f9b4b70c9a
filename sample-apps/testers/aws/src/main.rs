//! Tests an `aws.*` credential with STS GetCallerIdentity, which needs no
//! permission and changes nothing, and reports the account and ARN it
//! belongs to.
//!
//! `lahat credential test aws.NAME [--endpoint URL]` runs it with the
//! arguments `aws.NAME ENDPOINT`. The credential is the JSON object that
//! `sample-apps/s3-backup/README.md` describes.

use std::process::ExitCode;

use aws_sigv4::xml::{ServiceError, text_elements};
use aws_sigv4::{AmzDate, Credentials, Request as SigningRequest, Scope};
use tester_kit::{Invocation, Outcome};
use wasi_fetch::{Request, Url};

const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

fn main() -> ExitCode {
    tester_kit::run("aws", check)
}

fn check(invocation: &Invocation, text: &str) -> Outcome {
    let credentials = match Credentials::from_json(text) {
        Ok(credentials) => credentials,
        Err(err) => {
            return Outcome::Failed(format!("{} is not in the expected form: {err}", invocation.name));
        }
    };
    let url = match Url::parse(&format!("{}/", invocation.endpoint)) {
        Ok(url) => url,
        Err(err) => return Outcome::Failed(err.to_string()),
    };
    let region = signing_region(url.authority(), credentials.region());

    let payload_sha256 = aws_sigv4::sha256_hex(BODY.as_bytes());
    let headers = [("content-type", CONTENT_TYPE), ("host", url.authority())];
    let signing_request = SigningRequest {
        method: "POST",
        path: "/",
        query: &[],
        headers: &headers,
        payload_sha256: &payload_sha256,
    };
    let scope = Scope { region, service: "sts" };
    let signed = aws_sigv4::sign(&signing_request, &credentials, scope, &AmzDate::now());

    let mut request = match Request::new("POST", &url.to_string()) {
        Ok(request) => request.header("content-type", CONTENT_TYPE),
        Err(err) => return Outcome::Failed(err.to_string()),
    };
    for (name, value) in &signed.headers {
        request = request.header(name, value);
    }
    let response = match request
        .body(BODY.as_bytes().to_vec())
        .max_response_bytes(MAX_RESPONSE_BYTES)
        .send()
    {
        Ok(response) => response,
        Err(err) => return Outcome::Failed(format!("cannot reach {}: {err}", invocation.endpoint)),
    };
    let body = response.text();

    if !response.is_success() {
        let code = ServiceError::from_xml(&body).map(|error| error.code);
        let token = credentials.session_token().unwrap_or_default();
        return tester_kit::status_outcome(response.status, code.as_deref(), token, &invocation.endpoint);
    }
    match caller_identity(&body) {
        Some((account, arn)) => Outcome::Accepted(format!(
            "credential accepted, account {}, {}",
            tester_kit::printable(&account),
            tester_kit::printable(&arn)
        )),
        None => Outcome::Failed(format!(
            "{} answered {} but not with a GetCallerIdentity result; check the endpoint",
            invocation.endpoint, response.status
        )),
    }
}

/// Returns the region to sign for. Regional STS endpoints
/// (`sts.REGION.amazonaws.com`) require their own region and the global
/// one (`sts.amazonaws.com`) requires `us-east-1`, whatever region the
/// credential names. Any other endpoint gets the credential's region.
fn signing_region<'a>(authority: &'a str, credential_region: &'a str) -> &'a str {
    let host = authority.split(':').next().unwrap_or(authority);
    if host == "sts.amazonaws.com" {
        return "us-east-1";
    }
    host.strip_prefix("sts.")
        .and_then(|rest| rest.strip_suffix(".amazonaws.com"))
        .filter(|region| !region.is_empty() && !region.contains('.'))
        .unwrap_or(credential_region)
}

/// Returns the account and ARN from a GetCallerIdentity response.
fn caller_identity(xml: &str) -> Option<(String, String)> {
    let elements = text_elements(xml).ok()?;
    let field = |name: &str| {
        elements
            .iter()
            .find(|element| element.path == format!("GetCallerIdentityResponse/GetCallerIdentityResult/{name}"))
            .map(|element| element.text.clone())
    };
    Some((field("Account")?, field("Arn")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_region_follows_sts_endpoint() {
        let cases = [
            ("sts.amazonaws.com", "eu-west-1", "us-east-1"),
            ("sts.eu-central-1.amazonaws.com", "us-east-1", "eu-central-1"),
            ("sts.eu-central-1.amazonaws.com:443", "us-east-1", "eu-central-1"),
            ("127.0.0.1:9000", "eu-west-1", "eu-west-1"),
            ("sts.example.com", "ap-south-1", "ap-south-1"),
        ];
        for (authority, credential_region, expected) in cases {
            assert_eq!(signing_region(authority, credential_region), expected, "{authority}");
        }
    }

    #[test]
    fn caller_identity_is_read() {
        let xml = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><UserId>AIDA</UserId><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/backup</Arn></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#;
        assert_eq!(
            caller_identity(xml),
            Some((
                "123456789012".to_owned(),
                "arn:aws:iam::123456789012:user/backup".to_owned()
            ))
        );
        assert_eq!(caller_identity("<Other/>"), None);
    }
}
