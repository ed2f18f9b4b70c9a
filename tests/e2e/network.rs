//! HTTP requests through `wasi:http`: an app reaches only the origins its
//! manifest declares, however the destination is spelled, and an app that
//! imports `wasi:http` without declaring any origin does not start.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{Lahat, app, assert_exit, assert_success, stderr, stdout};

/// A loopback HTTP server that responds 200 to every request and counts
/// the connections it accepts.
struct CountingServer {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl CountingServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        Self { port, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Copies the HTTP probe into a temporary folder with `network` appended to
/// its manifest, and approves the copy.
fn approved_probe(lahat: &Lahat, network: &str) -> tempfile::TempDir {
    let source = app("tests/guests/http-probe");
    let folder = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(source.join("lahat.toml")).unwrap();
    std::fs::write(folder.path().join("lahat.toml"), format!("{manifest}\n{network}\n")).unwrap();
    std::fs::copy(source.join("http-probe.wasm"), folder.path().join("http-probe.wasm")).unwrap();
    let output = lahat.run(&["app", "approve", folder.path().to_str().unwrap(), "--yes"]);
    assert_success(&output, "app approve of the probe copy");
    folder
}

fn probe(lahat: &Lahat, folder: &Path, requests: &[String]) -> std::process::Output {
    let mut args = vec!["run".to_owned(), folder.display().to_string(), "--".to_owned()];
    args.extend(requests.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lahat.run(&args)
}

#[test]
fn http_import_without_network_does_not_start() {
    let lahat = Lahat::new();
    let probe_app = app("tests/guests/http-probe");
    let server = CountingServer::start();

    let output = lahat.run(&[
        "run",
        probe_app.to_str().unwrap(),
        "--",
        &format!("http 127.0.0.1:{}", server.port),
    ]);
    assert_exit(&output, 77, "a wasi:http app without network.http");
    assert!(stderr(&output).contains("it imports wasi:http/"), "{}", stderr(&output));
    assert!(stderr(&output).contains("`network.http`"), "{}", stderr(&output));
    assert_eq!(stdout(&output), "", "the app must not have run");
    assert_eq!(server.accepted(), 0, "the server was contacted");
}

#[test]
fn http_reaches_only_the_declared_origin() {
    let declared = CountingServer::start();
    let other = CountingServer::start();
    let lahat = Lahat::new();
    let folder = approved_probe(&lahat, &format!("[network]\nhttp = [\"http://127.0.0.1:{}\"]", declared.port));
    let port = declared.port;

    let allowed = format!("http 127.0.0.1:{port}");
    let refused = [
        format!("http 127.0.0.1:{}", other.port),
        format!("https 127.0.0.1:{port}"),
        format!("http localhost:{port}"),
        format!("http 2130706433:{port}"),
        format!("http 0x7f000001:{port}"),
        format!("http 127.1:{port}"),
        format!("http 0177.0.0.1:{port}"),
        format!("http 127.0.0.1.:{port}"),
        format!("http [::ffff:127.0.0.1]:{port}"),
        format!("http [::1]:{port}"),
        format!("http user@127.0.0.1:{port}"),
        format!("http 127.0.0.1:{port}@evil.example"),
    ];
    let mut requests = vec![allowed.clone()];
    requests.extend(refused.iter().cloned());

    let output = probe(&lahat, folder.path(), &requests);
    assert_success(&output, "http probe");
    let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), requests.len(), "one line per request:\n{}", stdout(&output));
    assert_eq!(lines[0], format!("127.0.0.1:{port}: status 200"));
    for (request, line) in refused.iter().zip(&lines[1..]) {
        let refused_here = line.ends_with(": error ErrorCode::HttpRequestDenied") || line.ends_with(": invalid");
        assert!(refused_here, "{request:?} was not refused: {line}");
    }
    assert_eq!(declared.accepted(), 1, "only the one allowed request may reach the declared server");
    assert_eq!(other.accepted(), 0, "the undeclared server was contacted");
}

#[test]
fn changed_network_asks_for_approval_again() {
    let server = CountingServer::start();
    let lahat = Lahat::new();
    let folder = approved_probe(&lahat, &format!("[network]\nhttp = [\"http://127.0.0.1:{}\"]", server.port));
    let manifest = folder.path().join("lahat.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let widened = text.replace("http = [", "http = [\"https://api.example.com\", ");
    std::fs::write(&manifest, widened).unwrap();

    let output = probe(&lahat, folder.path(), &[format!("http 127.0.0.1:{}", server.port)]);
    assert_exit(&output, 77, "a probe whose manifest asks for another origin");
    assert!(stderr(&output).contains("network access to https://api.example.com"), "{}", stderr(&output));
    assert_eq!(server.accepted(), 0, "the server was contacted");
}

#[test]
fn leaking_handles_stops_at_the_resource_cap() {
    let lahat = Lahat::new();
    let folder = approved_probe(&lahat, "[network]\nhttp = [\"http://127.0.0.1:9\"]");

    let output = probe(&lahat, folder.path(), &["leak-handles".to_owned()]);
    assert_exit(&output, 70, "a probe that never drops its header resources");
    assert!(
        stderr(&output).contains("the app held more than 10000 host resources"),
        "{}",
        stderr(&output)
    );
}
