//! The `net` mode: TCP connections to a port the test listens on, under
//! other spellings of its address, to other ports and addresses, plus
//! listening sockets and UDP.
//!
//! Arguments: `net PORT OTHER_PORT UDP_PORT`. The test listens for TCP on
//! `127.0.0.1:PORT` and `127.0.0.1:OTHER_PORT` and for UDP on
//! `127.0.0.1:UDP_PORT`. Each connection that opens sends `LABEL OUTCOME\n`,
//! where OUTCOME is the result of a request for the undeclared `demo.secret`,
//! so the test can tell which probe reached it and check that no secret
//! travels with it.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};

use crate::error_kind;
use crate::lahat::vault::credentials::get_credential;

pub fn probe(port: &str, other_port: &str, udp_port: &str) {
    let targets = [
        ("ip", format!("127.0.0.1:{port}")),
        ("short-ipv4", format!("127.1:{port}")),
        ("decimal-ipv4", format!("2130706433:{port}")),
        ("hex-ipv4", format!("0x7f000001:{port}")),
        ("mapped-ipv6", format!("[::ffff:127.0.0.1]:{port}")),
        ("localhost", format!("localhost:{port}")),
        ("unspecified", format!("0.0.0.0:{port}")),
        ("ipv6-loopback", format!("[::1]:{port}")),
        ("other-address", format!("127.0.0.2:{port}")),
        ("other-port", format!("127.0.0.1:{other_port}")),
    ];
    for (label, target) in &targets {
        println!("{label}: {}", connect(label, target));
    }
    println!("listen-any: {}", listen("0.0.0.0:0"));
    println!("listen-loopback: {}", listen("127.0.0.1:0"));
    println!("listen-declared: {}", listen(&format!("127.0.0.1:{port}")));
    let udp = UdpSocket::bind("0.0.0.0:0").and_then(|socket| {
        socket
            .send_to(b"udp\n", format!("127.0.0.1:{udp_port}"))
            .map(drop)
    });
    println!(
        "udp-send: {}",
        match udp {
            Ok(()) => "ok".to_owned(),
            Err(err) => error_kind(&err),
        }
    );
}

/// Resolves `target`, connects to the first address that accepts, and sends
/// `LABEL OUTCOME\n` with the outcome of a request for `demo.secret`. Returns
/// `ok`, `unresolved` or the error kind of the last address tried.
fn connect(label: &str, target: &str) -> String {
    let addresses: Vec<SocketAddr> = match target.to_socket_addrs() {
        Ok(addresses) => addresses.collect(),
        Err(_) => return "unresolved".to_owned(),
    };
    let mut last = "no-address".to_owned();
    for address in addresses {
        match TcpStream::connect(address) {
            Ok(mut stream) => {
                let secret = match get_credential("demo.secret") {
                    Ok(value) => value,
                    Err(err) => format!("{err:?}"),
                };
                let _ = writeln!(stream, "{label} {secret}");
                return "ok".to_owned();
            }
            Err(err) => last = error_kind(&err),
        }
    }
    last
}

fn listen(address: &str) -> String {
    match TcpListener::bind(address) {
        Ok(_) => "ok".to_owned(),
        Err(err) => error_kind(&err),
    }
}
