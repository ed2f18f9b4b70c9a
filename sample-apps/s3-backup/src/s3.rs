//! The two S3 operations the app uses, PutObject and ListObjectsV2, with
//! path-style addressing and SigV4 signatures.

use std::fmt;
use std::fs::File;
use std::path::Path;

use aws_sigv4::xml::{ServiceError, text_elements};
use aws_sigv4::{AmzDate, Credentials, EMPTY_PAYLOAD_SHA256, Request as SigningRequest, Scope};
use wasi_fetch::{Request, Response, Url};

/// One page of ListObjectsV2 contains at most this many keys.
const LIST_PAGE_SIZE: &str = "1000";

/// A bucket at an endpoint, and the credentials that sign requests to it.
pub struct Bucket<'a> {
    origin: String,
    authority: String,
    name: String,
    credentials: &'a Credentials,
}

/// An object in a listing.
#[derive(Debug, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
}

/// The reason an operation failed.
#[derive(Debug)]
pub enum S3Error {
    /// S3 returned an error document.
    Service {
        operation: String,
        status: u16,
        code: String,
        message: String,
    },
    /// S3 returned an error status and no error document.
    Status { operation: String, status: u16 },
    /// No response: the connection, TLS or the host's network policy failed.
    Transport {
        operation: String,
        error: wasi_fetch::Error,
    },
    /// A success response that could not be read.
    BadResponse { operation: String, reason: String },
    /// A local file could not be read.
    Local(String),
}

/// The endpoint is not a bare origin.
#[derive(Debug)]
pub struct EndpointError(String);

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'a> Bucket<'a> {
    /// Returns the bucket `name` at `endpoint`, which must be
    /// `http(s)://host[:port]` with at most a `/` after it.
    ///
    /// # Errors
    ///
    /// Returns [`EndpointError`] when `endpoint` is not such an origin.
    pub fn new(endpoint: &str, name: &str, credentials: &'a Credentials) -> Result<Self, EndpointError> {
        let url = Url::parse(endpoint).map_err(|err| EndpointError(format!("--endpoint: {err}")))?;
        if url.path_and_query() != "/" {
            return Err(EndpointError(format!(
                "--endpoint \"{endpoint}\" has a path or query; give only scheme://host[:port], the app adds /BUCKET/KEY"
            )));
        }
        Ok(Self {
            origin: url.origin(),
            authority: url.authority().to_owned(),
            name: name.to_owned(),
            credentials,
        })
    }

    /// Returns `s3://bucket/key` for messages, with control characters in
    /// the key escaped.
    pub fn describe_key(&self, key: &str) -> String {
        crate::printable(&format!("s3://{}/{key}", self.name))
    }

    /// Uploads the file at `path` as object `key` and returns its size.
    ///
    /// The file is read twice, once for the payload hash the signature
    /// covers and once to send it, so it is never held in memory whole.
    ///
    /// # Errors
    ///
    /// Returns [`S3Error::Local`] when the file cannot be read or changes
    /// length between the two reads, and the other variants when S3 rejects
    /// the upload or cannot be reached.
    pub fn put_file(&self, key: &str, path: &Path) -> Result<u64, S3Error> {
        let cannot_read = |err: std::io::Error| S3Error::Local(format!("cannot read the file: {err}"));
        let mut file = File::open(path).map_err(cannot_read)?;
        let (payload_sha256, length) = aws_sigv4::sha256_hex_from_reader(&mut file).map_err(cannot_read)?;
        let mut file = File::open(path).map_err(cannot_read)?;

        let operation = format!("PUT {}", self.describe_key(key));
        let object_path = format!("/{}/{key}", self.name);
        let request = self
            .signed_request(
                "PUT",
                &object_path,
                &[],
                &payload_sha256,
                &[("content-type", "application/octet-stream")],
            )?
            .body_reader(&mut file, length);
        let response = request.send().map_err(|error| match error {
            wasi_fetch::Error::Body(message) => S3Error::Local(message),
            error => S3Error::Transport {
                operation: operation.clone(),
                error,
            },
        })?;
        self.check(&operation, &response)?;
        Ok(length)
    }

    /// Returns every object whose key starts with `prefix`, following
    /// continuation tokens until the listing ends.
    ///
    /// # Errors
    ///
    /// Returns an [`S3Error`] when S3 rejects a request, cannot be reached,
    /// or sends a page that cannot be read.
    pub fn list(&self, prefix: &str) -> Result<Vec<Object>, S3Error> {
        let operation = format!("ListObjectsV2 {}", self.describe_key(prefix));
        let bucket_path = format!("/{}", self.name);
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2"), ("max-keys", LIST_PAGE_SIZE), ("prefix", prefix)];
            if let Some(token) = &token {
                query.push(("continuation-token", token));
            }
            let response = self
                .signed_request("GET", &bucket_path, &query, EMPTY_PAYLOAD_SHA256, &[])?
                .send()
                .map_err(|error| S3Error::Transport {
                    operation: operation.clone(),
                    error,
                })?;
            self.check(&operation, &response)?;
            let page = parse_list_page(&response.text()).map_err(|reason| S3Error::BadResponse {
                operation: operation.clone(),
                reason,
            })?;
            objects.extend(page.objects);
            match page.next_token {
                None => return Ok(objects),
                Some(next) if token.as_ref() == Some(&next) => {
                    return Err(S3Error::BadResponse {
                        operation,
                        reason: "the server sent the same continuation token twice".to_owned(),
                    });
                }
                Some(next) => token = Some(next),
            }
        }
    }

    /// Builds a request to `path` (unencoded, starting with the bucket)
    /// with the `host`, `x-amz-content-sha256` and `extra_headers` signed.
    fn signed_request<'r>(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        payload_sha256: &str,
        extra_headers: &[(&str, &str)],
    ) -> Result<Request<'r>, S3Error> {
        let mut headers = vec![
            ("host", self.authority.as_str()),
            ("x-amz-content-sha256", payload_sha256),
        ];
        headers.extend_from_slice(extra_headers);
        let signing_request = SigningRequest {
            method,
            path,
            query,
            headers: &headers,
            payload_sha256,
        };
        let scope = Scope {
            region: self.credentials.region(),
            service: "s3",
        };
        let signed = aws_sigv4::sign(&signing_request, self.credentials, scope, &AmzDate::now());

        let mut url = format!("{}{}", self.origin, aws_sigv4::uri_encode_path(path));
        let query_string = aws_sigv4::canonical_query(query);
        if !query_string.is_empty() {
            url.push('?');
            url.push_str(&query_string);
        }
        let mut request = Request::new(method, &url).map_err(|error| S3Error::Transport {
            operation: format!("{method} {url}"),
            error,
        })?;
        // wasi:http sets `host` from the URL's authority, which is the value signed.
        for (name, value) in headers.iter().filter(|(name, _)| *name != "host") {
            request = request.header(name, value);
        }
        for (name, value) in &signed.headers {
            request = request.header(name, value);
        }
        Ok(request)
    }

    /// Returns an error for any status other than 2xx, with S3's error code
    /// when the body has one.
    fn check(&self, operation: &str, response: &Response) -> Result<(), S3Error> {
        if response.is_success() {
            return Ok(());
        }
        match ServiceError::from_xml(&response.text()) {
            Some(error) => Err(S3Error::Service {
                operation: operation.to_owned(),
                status: response.status,
                code: error.code,
                message: self.without_session_token(error.message),
            }),
            None => Err(S3Error::Status {
                operation: operation.to_owned(),
                status: response.status,
            }),
        }
    }

    /// Drops a server message that repeats the session token, which the
    /// request carried in a header. The secret key is never sent, so a
    /// server cannot repeat it.
    fn without_session_token(&self, message: String) -> String {
        match self.credentials.session_token() {
            Some(token) if message.contains(token) => {
                "(the server's message is not shown because it contains the session token)".to_owned()
            }
            _ => message,
        }
    }
}

struct ListPage {
    objects: Vec<Object>,
    next_token: Option<String>,
}

/// Reads one ListObjectsV2 page. `next_token` is set only when the page is
/// truncated.
fn parse_list_page(xml: &str) -> Result<ListPage, String> {
    let mut objects: Vec<Object> = Vec::new();
    let mut truncated = false;
    let mut next_token = None;
    for element in text_elements(xml).map_err(|err| err.to_string())? {
        match element.path.as_str() {
            "ListBucketResult/Contents/Key" => objects.push(Object {
                key: element.text,
                size: 0,
            }),
            "ListBucketResult/Contents/Size" => {
                let size = element
                    .text
                    .parse()
                    .map_err(|_| format!("the object size \"{}\" is not a number", element.text.escape_debug()))?;
                let object = objects.last_mut().ok_or("a <Size> comes before any <Key>")?;
                object.size = size;
            }
            "ListBucketResult/IsTruncated" => truncated = element.text == "true",
            "ListBucketResult/NextContinuationToken" => next_token = Some(element.text),
            _ => {}
        }
    }
    if !truncated {
        return Ok(ListPage {
            objects,
            next_token: None,
        });
    }
    match next_token {
        Some(token) if !token.is_empty() => Ok(ListPage {
            objects,
            next_token: Some(token),
        }),
        _ => Err("the listing is truncated but has no continuation token".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_page_is_read() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
<Contents><Key>p/a &amp; b.txt</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>"x"</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>p/sub/c.bin</Key><Size>0</Size></Contents><NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>"#;
        let page = parse_list_page(xml).unwrap();
        assert_eq!(
            page.objects,
            [
                Object {
                    key: "p/a & b.txt".to_owned(),
                    size: 12
                },
                Object {
                    key: "p/sub/c.bin".to_owned(),
                    size: 0
                },
            ]
        );
        assert_eq!(page.next_token.as_deref(), Some("tok+/="));
    }

    #[test]
    fn last_page_has_no_token() {
        let xml = "<ListBucketResult><IsTruncated>false</IsTruncated><NextContinuationToken>x</NextContinuationToken></ListBucketResult>";
        assert_eq!(parse_list_page(xml).unwrap().next_token, None);
    }

    #[test]
    fn bad_pages_are_rejected() {
        let cases = [
            (
                "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
                "no continuation token",
            ),
            (
                "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
                "not a number",
            ),
            (
                "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
                "before any <Key>",
            ),
            ("<ListBucketResult><Contents>", "not well-formed"),
        ];
        for (xml, expected) in cases {
            let message = parse_list_page(xml).err().unwrap_or_default();
            assert!(message.contains(expected), "{xml}: {message}");
        }
    }

    #[test]
    fn endpoint_must_be_an_origin() {
        let credentials = Credentials::new("AKID", "secret", None, None);
        assert!(Bucket::new("http://127.0.0.1:9000", "b", &credentials).is_ok());
        assert!(Bucket::new("https://s3.eu-west-1.amazonaws.com/", "b", &credentials).is_ok());
        let message = Bucket::new("http://h/bucket", "b", &credentials)
            .err()
            .unwrap()
            .to_string();
        assert!(message.contains("has a path"), "{message}");
        let message = Bucket::new("s3.amazonaws.com", "b", &credentials)
            .err()
            .unwrap()
            .to_string();
        assert!(message.contains("--endpoint"), "{message}");
    }
}
