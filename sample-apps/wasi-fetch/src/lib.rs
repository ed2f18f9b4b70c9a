//! Blocking HTTP requests for `wasm32-wasip2` guests through
//! `wasi:http/outgoing-handler`, built on the `wasip2` crate's bindings.
//!
//! The host makes the connection, including TLS for `https` URLs, and
//! decides which origins the guest may reach. A request is sent whole and
//! its response body read into memory up to a cap:
//!
//! ```no_run
//! let response = wasi_fetch::Request::get("https://api.openai.com/v1/models")?
//!     .header("authorization", "Bearer ...")
//!     .send()?;
//! println!("{} {}", response.status, response.text());
//! # Ok::<(), wasi_fetch::Error>(())
//! ```
//!
//! On targets other than wasm32 the bindings compile but panic when called,
//! so only the URL parsing is usable there.

mod error;
mod url;

use std::io::Read;
use std::time::Duration;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    self, Fields, FutureIncomingResponse, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions,
};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

pub use error::Error;
pub use url::{Scheme, Url};

/// The response body cap unless [`Request::max_response_bytes`] sets one.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
// The first byte of the response comes only after the whole request body is
// sent, so this also bounds the upload time of one request.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(600);
const BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(60);
const READ_CHUNK: u64 = 64 * 1024;
const WRITE_CHUNK: usize = 64 * 1024;

/// An HTTP request to send.
pub struct Request<'a> {
    method: String,
    url: Url,
    headers: Vec<(String, Vec<u8>)>,
    body: Body<'a>,
    max_response_bytes: usize,
}

enum Body<'a> {
    Empty,
    Bytes(Vec<u8>),
    Reader {
        reader: &'a mut dyn Read,
        length: u64,
    },
}

/// An HTTP response with its whole body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code, such as 200.
    pub status: u16,
    /// The header fields in the order received, names in lowercase.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl<'a> Request<'a> {
    /// Returns a request with `method` (such as `GET`) to `url`, with no
    /// headers and an empty body.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidUrl`] when `url` is not an absolute `http`
    /// or `https` URL.
    pub fn new(method: &str, url: &str) -> Result<Self, Error> {
        Ok(Self {
            method: method.to_owned(),
            url: Url::parse(url)?,
            headers: Vec::new(),
            body: Body::Empty,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        })
    }

    /// Returns a `GET` request to `url`; see [`Request::new`].
    ///
    /// # Errors
    ///
    /// As for [`Request::new`].
    pub fn get(url: &str) -> Result<Self, Error> {
        Self::new("GET", url)
    }

    /// Adds a header field. The host sets `host` from the URL and rejects
    /// hop-by-hop fields such as `connection`; [`Request::send`] reports
    /// them as [`Error::InvalidHeader`].
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
        self
    }

    /// Sets the body and its `content-length` header.
    pub fn body(mut self, bytes: Vec<u8>) -> Self {
        self.body = Body::Bytes(bytes);
        self
    }

    /// Streams the body from `reader`, which must yield exactly `length`
    /// bytes, and sets the `content-length` header to `length`.
    pub fn body_reader(mut self, reader: &'a mut dyn Read, length: u64) -> Self {
        self.body = Body::Reader { reader, length };
        self
    }

    /// Sets the largest response body [`Request::send`] reads before it
    /// fails with [`Error::ResponseTooLarge`].
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Returns the URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Sends the request and waits for the whole response.
    ///
    /// Any status is a response, including 4xx and 5xx; only a failure to
    /// get one is an error.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidHeader`] for a header the host rejects.
    /// - [`Error::Http`] when the host cannot send the request or receive the
    ///   response: the destination is not allowed, or DNS, the connection or
    ///   TLS failed, or a timeout expired.
    /// - [`Error::Body`] when the body reader fails or yields another length.
    /// - [`Error::ResponseTooLarge`] when the response body exceeds the cap.
    pub fn send(self) -> Result<Response, Error> {
        let Self {
            method,
            url,
            mut headers,
            mut body,
            max_response_bytes,
        } = self;
        let length = match &body {
            Body::Empty => None,
            Body::Bytes(bytes) => Some(bytes.len() as u64),
            Body::Reader { length, .. } => Some(*length),
        };
        if let Some(length) = length {
            headers.push(("content-length".to_owned(), length.to_string().into_bytes()));
        }

        let request = outgoing_request(&method, &url, &headers)?;
        let outgoing_body = request
            .body()
            .map_err(|()| Error::Internal("the request body was already taken"))?;
        let future =
            outgoing_handler::handle(request, Some(request_options())).map_err(Error::Http)?;

        match write_body(&outgoing_body, &mut body)? {
            BodyEnd::Sent => OutgoingBody::finish(outgoing_body, None).map_err(Error::Http)?,
            // Dropping the body without `finish` aborts it, which changes
            // nothing here because the host's HTTP client no longer reads
            // it. The response future then returns the server's response
            // or the connection error.
            BodyEnd::Closed => drop(outgoing_body),
        }

        let response = wait_for_response(&future)?;
        read_response(&response, max_response_bytes)
    }
}

impl Response {
    /// Returns the first value of header `name` (compared without case) when
    /// it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    /// Returns the body as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Returns true for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn outgoing_request(
    method: &str,
    url: &Url,
    headers: &[(String, Vec<u8>)],
) -> Result<OutgoingRequest, Error> {
    let fields = Fields::from_list(headers).map_err(|err| header_error(headers, err))?;
    let request = OutgoingRequest::new(fields);
    request
        .set_method(&wasi_method(method))
        .map_err(|()| Error::InvalidMethod(method.to_owned()))?;
    let scheme = match url.scheme() {
        Scheme::Http => types::Scheme::Http,
        Scheme::Https => types::Scheme::Https,
    };
    let invalid = |reason| Error::InvalidUrl {
        url: url.to_string(),
        reason,
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("the host rejected the scheme"))?;
    request
        .set_authority(Some(url.authority()))
        .map_err(|()| invalid("the host rejected the authority"))?;
    request
        .set_path_with_query(Some(url.path_and_query()))
        .map_err(|()| invalid("the host rejected the path or query"))?;
    Ok(request)
}

/// Finds which header the host rejected: `from_list` reports only the kind
/// of error, so each field is tried alone.
fn header_error(headers: &[(String, Vec<u8>)], err: types::HeaderError) -> Error {
    let name = headers
        .iter()
        .find(|field| Fields::from_list(std::slice::from_ref(*field)).is_err())
        .map(|(name, _)| name.clone())
        .unwrap_or_default();
    let reason = match err {
        types::HeaderError::InvalidSyntax => "its name or value is not valid in HTTP",
        types::HeaderError::Forbidden => "the host sets or forbids this header",
        types::HeaderError::Immutable => "the headers can no longer be changed",
    };
    Error::InvalidHeader { name, reason }
}

fn wasi_method(method: &str) -> Method {
    match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

fn request_options() -> RequestOptions {
    let options = RequestOptions::new();
    // A host that does not support a timeout keeps its own default, so the
    // results are ignored.
    let _ = options.set_connect_timeout(Some(nanoseconds(CONNECT_TIMEOUT)));
    let _ = options.set_first_byte_timeout(Some(nanoseconds(FIRST_BYTE_TIMEOUT)));
    let _ = options.set_between_bytes_timeout(Some(nanoseconds(BETWEEN_BYTES_TIMEOUT)));
    options
}

fn nanoseconds(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The outcome of writing the request body.
enum BodyEnd {
    /// The whole body went to the host.
    Sent,
    /// The host closed the body stream. Its HTTP client (hyper, under
    /// wasmtime-wasi-http 48) drops the body as soon as it has sent the
    /// `content-length` bytes, so this is the normal end of a body, seen at
    /// the last flush. Before the last byte it means the connection ended
    /// or the server sent its response early.
    Closed,
}

fn write_body(outgoing_body: &OutgoingBody, body: &mut Body<'_>) -> Result<BodyEnd, Error> {
    let stream = outgoing_body
        .write()
        .map_err(|()| Error::Internal("the request body stream was already taken"))?;
    // The stream is a child of the body, so it is dropped when this function
    // returns, before the caller finishes or drops the body.
    let written = match body {
        Body::Empty => Ok(()),
        Body::Bytes(bytes) => write_all(&stream, bytes),
        Body::Reader { reader, length } => write_reader(&stream, &mut **reader, *length)?,
    };
    match written.and_then(|()| stream.blocking_flush()) {
        Ok(()) => Ok(BodyEnd::Sent),
        Err(StreamError::Closed) => Ok(BodyEnd::Closed),
        Err(err) => Err(stream_error(err)),
    }
}

/// Copies exactly `length` bytes from `reader` to `stream`. The outer error
/// is a failure of the reader or a wrong length, and the inner error is a
/// failure of the stream.
fn write_reader(
    stream: &OutputStream,
    reader: &mut dyn Read,
    length: u64,
) -> Result<Result<(), StreamError>, Error> {
    let mut buffer = vec![0u8; WRITE_CHUNK];
    let mut sent: u64 = 0;
    loop {
        let read = reader
            .read(&mut buffer)
            .map_err(|err| Error::Body(err.to_string()))?;
        if read == 0 {
            break;
        }
        sent += read as u64;
        if sent > length {
            return Err(Error::Body(format!(
                "the body is longer than the {length} bytes announced"
            )));
        }
        if let Err(err) = write_all(stream, &buffer[..read]) {
            return Ok(Err(err));
        }
    }
    if sent != length {
        return Err(Error::Body(format!(
            "the body ended after {sent} of the {length} bytes announced"
        )));
    }
    Ok(Ok(()))
}

fn write_all(stream: &OutputStream, mut data: &[u8]) -> Result<(), StreamError> {
    while !data.is_empty() {
        let permitted = stream.check_write()?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let count = data
            .len()
            .min(usize::try_from(permitted).unwrap_or(usize::MAX));
        stream.write(&data[..count])?;
        data = &data[count..];
    }
    Ok(())
}

fn wait_for_response(future: &FutureIncomingResponse) -> Result<IncomingResponse, Error> {
    loop {
        match future.get() {
            None => future.subscribe().block(),
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(code))) => return Err(Error::Http(code)),
            Some(Err(())) => return Err(Error::Internal("the response was already taken")),
        }
    }
}

fn read_response(
    response: &IncomingResponse,
    max_response_bytes: usize,
) -> Result<Response, Error> {
    let status = response.status();
    let headers = response.headers().entries();
    let incoming_body = response
        .consume()
        .map_err(|()| Error::Internal("the response body was already taken"))?;
    let stream = incoming_body
        .stream()
        .map_err(|()| Error::Internal("the response body stream was already taken"))?;
    let body = read_all(&stream, max_response_bytes)?;
    // Children go before their parents: the stream, then the body.
    drop(stream);
    drop(types::IncomingBody::finish(incoming_body));
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn read_all(stream: &InputStream, limit: usize) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => {
                if body.len() + chunk.len() > limit {
                    return Err(Error::ResponseTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(body),
            Err(other) => return Err(stream_error(other)),
        }
    }
}

fn stream_error(err: StreamError) -> Error {
    match err {
        StreamError::Closed => Error::Http(types::ErrorCode::ConnectionTerminated),
        StreamError::LastOperationFailed(io_error) => match types::http_error_code(&io_error) {
            Some(code) => Error::Http(code),
            None => Error::Stream(io_error.to_debug_string()),
        },
    }
}
