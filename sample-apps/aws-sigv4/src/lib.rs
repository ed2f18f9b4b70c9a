//! AWS Signature Version 4 (SigV4) for requests authenticated through the
//! `Authorization` header, as S3 and STS accept them, the JSON format of
//! Lahat's `aws.*` credentials, and the reading of AWS XML responses
//! ([`xml`]).
//!
//! The signer builds the canonical request, the string to sign and the
//! signature as AWS's SigV4 documentation describes them, with HMAC-SHA256
//! from the `hmac` and `sha2` crates and no AWS SDK. It compiles natively and
//! for `wasm32-wasip2`; it does no I/O, so the caller sends the request with
//! whatever HTTP client it has.
//!
//! Paths follow S3's rule: the path is URI-encoded once, with `/` kept, and
//! never normalised. Services other than S3 encode the path a second time,
//! which gives the same text for paths of unreserved characters only, such
//! as STS's `/`.

mod credentials;
mod time;
pub mod xml;

use std::collections::BTreeMap;
use std::io::Read;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub use credentials::{CredentialError, Credentials};
pub use time::AmzDate;

/// The algorithm name that starts the string to sign and the
/// `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The SHA-256 of an empty payload, in lowercase hex.
pub const EMPTY_PAYLOAD_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A request to sign.
///
/// `path` and `query` are unencoded; [`sign`] encodes them, and the caller
/// sends [`uri_encode_path`] of the path and [`canonical_query`] of the pairs
/// so that the server receives exactly the signed text. `headers` must contain
/// `host` with the authority the request is sent to. Header names are
/// compared without case.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method, such as `GET`.
    pub method: &'a str,
    /// The path, starting with `/`.
    pub path: &'a str,
    /// The query parameters as name and value pairs.
    pub query: &'a [(&'a str, &'a str)],
    /// The headers to sign, `host` among them.
    pub headers: &'a [(&'a str, &'a str)],
    /// The SHA-256 of the payload in lowercase hex, or `UNSIGNED-PAYLOAD`.
    pub payload_sha256: &'a str,
}

/// The scope of a signature: the region and the service name, such as
/// `us-east-1` and `s3`.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The region, such as `us-east-1`.
    pub region: &'a str,
    /// The signing name of the service, such as `s3` or `sts`.
    pub service: &'a str,
}

/// The outcome of signing a request.
///
/// It has no `Debug` implementation because the canonical request contains
/// the session token when the credentials have one.
pub struct Signed {
    /// Headers the caller must add to the request: `x-amz-date`,
    /// `x-amz-security-token` when the credentials have a session token, and
    /// `authorization`.
    pub headers: Vec<(&'static str, String)>,
    /// The canonical request, for comparing with a server's error message.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The signature in lowercase hex.
    pub signature: String,
}

/// Signs `request` with `credentials` for `scope` at `time`.
///
/// The signature covers every header in `request.headers` plus the
/// `x-amz-date` and, with a session token, `x-amz-security-token` headers
/// that it adds.
pub fn sign(request: &Request<'_>, credentials: &Credentials, scope: Scope<'_>, time: &AmzDate) -> Signed {
    let mut added: Vec<(&'static str, String)> = vec![("x-amz-date", time.as_str().to_owned())];
    if let Some(token) = credentials.session_token() {
        added.push(("x-amz-security-token", token.to_owned()));
    }

    let mut all_headers: Vec<(&str, &str)> = request.headers.to_vec();
    all_headers.extend(added.iter().map(|(name, value)| (*name, value.as_str())));
    let (canonical_headers, signed_headers) = canonical_headers(&all_headers);

    let canonical_request = [
        request.method,
        &uri_encode_path(request.path),
        &canonical_query(request.query),
        &canonical_headers,
        &signed_headers,
        request.payload_sha256,
    ]
    .join("\n");

    let credential_scope = format!("{}/{}/{}/aws4_request", time.date(), scope.region, scope.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{credential_scope}\n{}",
        time.as_str(),
        sha256_hex(canonical_request.as_bytes())
    );

    let key = signing_key(credentials.secret_access_key(), time.date(), scope);
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));

    added.push((
        "authorization",
        format!(
            "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id()
        ),
    ));
    Signed {
        headers: added,
        canonical_request,
        string_to_sign,
        signature,
    }
}

/// Returns the SHA-256 of `data` in lowercase hex, the form SigV4 uses for
/// payload hashes.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Reads `reader` to its end and returns the SHA-256 of what it read, in
/// lowercase hex, and the number of bytes, so that a file's payload hash can
/// be computed without holding the file in memory.
///
/// # Errors
///
/// Returns the first read error.
pub fn sha256_hex_from_reader(reader: &mut impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut length: u64 = 0;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(&buffer[..read]);
        length += read as u64;
    }
    Ok((hex::encode(hasher.finalize()), length))
}

/// URI-encodes `input` as SigV4 requires: every byte except the unreserved
/// characters `A-Z a-z 0-9 - . _ ~` becomes `%XX` with uppercase hex, and
/// `/` is encoded too unless `keep_slash` is true.
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut encoded = String::with_capacity(input.len());
    for byte in input.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && byte == b'/') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Returns the canonical URI of `path`: the path URI-encoded with `/` kept,
/// or `/` for an empty path. It is also the path to send.
pub fn uri_encode_path(path: &str) -> String {
    if path.is_empty() {
        "/".to_owned()
    } else {
        uri_encode(path, true)
    }
}

/// Returns the canonical query string of `pairs`: each name and value
/// URI-encoded, sorted by encoded name and then value, joined with `&`. It is
/// also the query string to send.
pub fn canonical_query(pairs: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| (uri_encode(name, false), uri_encode(value, false)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Returns the canonical headers block (each `name:value` line ending in a
/// newline) and the signed headers list. Names are lowercased and sorted.
/// Values are trimmed with inner runs of spaces collapsed. The values of a
/// repeated name are joined with `,` in the order given.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        by_name.entry(name.to_ascii_lowercase()).or_default().push(value);
    }
    let block: String = by_name
        .iter()
        .map(|(name, values)| format!("{name}:{}\n", values.join(",")))
        .collect();
    let signed = by_name.keys().map(String::as_str).collect::<Vec<_>>().join(";");
    (block, signed)
}

/// Derives the signing key: HMAC chained over the date, region, service and
/// the text `aws4_request`, starting from `AWS4` followed by the secret.
fn signing_key(secret_access_key: &str, date: &str, scope: Scope<'_>) -> Vec<u8> {
    let date_key = hmac_sha256(format!("AWS4{secret_access_key}").as_bytes(), date.as_bytes());
    let region_key = hmac_sha256(&date_key, scope.region.as_bytes());
    let service_key = hmac_sha256(&region_key, scope.service.as_bytes());
    hmac_sha256(&service_key, b"aws4_request")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encode_keeps_unreserved() {
        let unreserved = "AZaz09-._~";
        assert_eq!(uri_encode(unreserved, false), unreserved);
    }

    #[test]
    fn uri_encode_escapes_reserved_and_utf8() {
        let cases = [
            ("a b", false, "a%20b"),
            ("a+b", false, "a%2Bb"),
            ("100%", false, "100%25"),
            ("a/b", false, "a%2Fb"),
            ("a/b", true, "a/b"),
            ("=&?#$", true, "%3D%26%3F%23%24"),
            ("\u{1234}", true, "%E1%88%B4"),
        ];
        for (input, keep_slash, expected) in cases {
            assert_eq!(
                uri_encode(input, keep_slash),
                expected,
                "input {input:?}, keep_slash {keep_slash}"
            );
        }
    }

    #[test]
    fn reader_hash_matches_slice_hash() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (hash, length) = sha256_hex_from_reader(&mut data.as_slice()).unwrap();
        assert_eq!(hash, sha256_hex(&data));
        assert_eq!(length, 200_000);
        assert_eq!(
            sha256_hex_from_reader(&mut std::io::empty()).unwrap().0,
            EMPTY_PAYLOAD_SHA256
        );
    }

    #[test]
    fn empty_path_is_slash() {
        assert_eq!(uri_encode_path(""), "/");
    }

    #[test]
    fn query_sorted_by_encoded_name_then_value() {
        let pairs = [("b", "2"), ("a", "x y"), ("a", "+"), ("A", "0"), ("c", "")];
        assert_eq!(canonical_query(&pairs), "A=0&a=%2B&a=x%20y&b=2&c=");
    }

    #[test]
    fn headers_lowercased_trimmed_and_joined() {
        let headers = [
            ("Host", "example.amazonaws.com"),
            ("My-Header1", "  a   b  "),
            ("my-header1", "c"),
        ];
        let (block, signed) = canonical_headers(&headers);
        assert_eq!(block, "host:example.amazonaws.com\nmy-header1:a b,c\n");
        assert_eq!(signed, "host;my-header1");
    }

    #[test]
    fn session_token_is_signed_and_returned() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", Some("token-value"), None);
        let request = Request {
            method: "GET",
            path: "/",
            query: &[],
            headers: &[("host", "example.amazonaws.com")],
            payload_sha256: EMPTY_PAYLOAD_SHA256,
        };
        let scope = Scope {
            region: "us-east-1",
            service: "sts",
        };
        let signed = sign(
            &request,
            &credentials,
            scope,
            &AmzDate::from_unix_seconds(1_440_938_160),
        );

        let names: Vec<&str> = signed.headers.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["x-amz-date", "x-amz-security-token", "authorization"]);
        assert_eq!(signed.headers[1].1, "token-value");
        assert!(
            signed.headers[2]
                .1
                .contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"),
            "{}",
            signed.headers[2].1
        );
    }
}
