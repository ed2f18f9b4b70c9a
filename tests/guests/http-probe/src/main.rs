//! Sends one GET request through `wasi:http/outgoing-handler` per argument,
//! each written `SCHEME AUTHORITY` (for example `http 127.0.0.1:8080`), and
//! prints one line per request: `AUTHORITY: status CODE`, `AUTHORITY: error
//! CODE` with the host's error code, or `AUTHORITY: invalid` when the host
//! rejects the authority before sending. The authority is passed to the host
//! as written, so the tests can try spellings a URL parser would refuse.
//!
//! With the single argument `leak-handles` it instead creates header
//! resources without ever dropping them, until the host stops it.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, FutureIncomingResponse, IncomingResponse, Method, OutgoingBody, OutgoingRequest, Scheme};

fn main() {
    if std::env::args().nth(1).as_deref() == Some("leak-handles") {
        for created in 0u64.. {
            std::mem::forget(Fields::new());
            if created % 100_000 == 0 {
                eprintln!("created {created} header resources");
            }
        }
    }
    for arg in std::env::args().skip(1) {
        let (scheme, authority) = arg.split_once(' ').unwrap_or(("http", arg.as_str()));
        println!("{authority}: {}", probe(scheme, authority));
    }
}

fn probe(scheme: &str, authority: &str) -> String {
    let request = OutgoingRequest::new(Fields::new());
    let scheme = match scheme {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        other => Scheme::Other(other.to_owned()),
    };
    let accepted = request.set_method(&Method::Get).is_ok()
        && request.set_scheme(Some(&scheme)).is_ok()
        && request.set_authority(Some(authority)).is_ok()
        && request.set_path_with_query(Some("/probe")).is_ok();
    if !accepted {
        return "invalid".to_owned();
    }
    let Ok(body) = request.body() else {
        return "invalid".to_owned();
    };
    let future = match outgoing_handler::handle(request, None) {
        Ok(future) => future,
        Err(code) => return format!("error {code:?}"),
    };
    if OutgoingBody::finish(body, None).is_err() {
        return "error finishing the body".to_owned();
    }
    match wait(&future) {
        Ok(response) => format!("status {}", response.status()),
        Err(message) => message,
    }
}

fn wait(future: &FutureIncomingResponse) -> Result<IncomingResponse, String> {
    loop {
        match future.get() {
            None => future.subscribe().block(),
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(code))) => return Err(format!("error {code:?}")),
            Some(Err(())) => return Err("error the response was taken twice".to_owned()),
        }
    }
}
