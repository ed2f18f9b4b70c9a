//! The errors of a request that got no response.

use std::fmt;

use wasip2::http::types::ErrorCode;

/// The reason a request failed to produce a response. No variant carries a
/// header value or a body, so messages never repeat a secret sent in them.
/// [`Error::InvalidUrl`] shows the URL, so secrets must not go in URLs.
#[derive(Debug)]
pub enum Error {
    /// The URL is not an absolute `http` or `https` URL.
    InvalidUrl {
        /// The URL, with any `user:password@` part masked.
        url: String,
        /// The problem with it.
        reason: &'static str,
    },
    /// The host rejected a header field.
    InvalidHeader {
        /// The header's name.
        name: String,
        /// The host's reason for rejecting it.
        reason: &'static str,
    },
    /// The host rejected the method name.
    InvalidMethod(String),
    /// The host could not send the request or receive the response.
    Http(ErrorCode),
    /// Reading the request body failed, or it had another length than
    /// announced.
    Body(String),
    /// A stream failed without an HTTP error code.
    Stream(String),
    /// The response body is larger than the cap.
    ResponseTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// A `wasi:http` resource was used out of order, which is a bug in this
    /// crate.
    Internal(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl { url, reason } => write!(f, "invalid URL \"{url}\": {reason}"),
            Self::InvalidHeader { name, reason } => write!(f, "invalid header `{name}`: {reason}"),
            Self::InvalidMethod(method) => write!(f, "invalid HTTP method \"{method}\""),
            Self::Http(code) => f.write_str(&describe(code)),
            Self::Body(message) => write!(f, "cannot send the request body: {message}"),
            Self::Stream(message) => write!(f, "the connection failed: {message}"),
            Self::ResponseTooLarge { limit } => {
                write!(f, "the response body is larger than {limit} bytes")
            }
            Self::Internal(message) => write!(f, "internal error in wasi-fetch: {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// Describes a `wasi:http` error code in words, naming the action to take
/// where there is one.
fn describe(code: &ErrorCode) -> String {
    match code {
        ErrorCode::HttpRequestDenied => {
            "the host denied the request: the app's lahat.toml must list this origin under [network] http".to_owned()
        }
        ErrorCode::DnsTimeout => "the DNS lookup timed out".to_owned(),
        ErrorCode::DnsError(payload) => match &payload.rcode {
            Some(rcode) => format!("the DNS lookup failed ({rcode})"),
            None => "the DNS lookup failed".to_owned(),
        },
        ErrorCode::DestinationNotFound => "the destination host was not found".to_owned(),
        ErrorCode::DestinationUnavailable => "the destination is unavailable".to_owned(),
        ErrorCode::DestinationIpProhibited => "the host prohibits connections to the destination address".to_owned(),
        ErrorCode::DestinationIpUnroutable => "the destination address is unroutable".to_owned(),
        ErrorCode::ConnectionRefused => "the connection was refused; check that the server is running".to_owned(),
        ErrorCode::ConnectionTerminated => "the server closed the connection".to_owned(),
        ErrorCode::ConnectionTimeout => "the connection timed out".to_owned(),
        ErrorCode::ConnectionReadTimeout => "reading from the server timed out".to_owned(),
        ErrorCode::ConnectionWriteTimeout => "writing to the server timed out".to_owned(),
        ErrorCode::ConnectionLimitReached => "the host's connection limit is reached".to_owned(),
        ErrorCode::TlsProtocolError => "the TLS handshake failed".to_owned(),
        ErrorCode::TlsCertificateError => "the server's TLS certificate is not valid for this host".to_owned(),
        ErrorCode::TlsAlertReceived(payload) => match &payload.alert_message {
            Some(message) => format!("the server sent a TLS alert: {message}"),
            None => "the server sent a TLS alert".to_owned(),
        },
        ErrorCode::HttpResponseTimeout => "the server did not respond in time".to_owned(),
        ErrorCode::HttpResponseIncomplete => "the response ended early".to_owned(),
        // wasmtime-wasi-http 48 reports every error of its HTTP client,
        // hyper, with this code.
        ErrorCode::HttpProtocolError => {
            "the HTTP exchange failed: the server closed the connection mid-message or sent invalid HTTP".to_owned()
        }
        ErrorCode::InternalError(Some(message)) => format!("the host's HTTP client failed: {message}"),
        other => format!("the HTTP request failed: {other:?}"),
    }
}
