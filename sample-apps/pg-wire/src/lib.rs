//! A small PostgreSQL client for Lahat mini apps: connection URLs,
//! SCRAM-SHA-256 login and the simple query protocol over `std::net`.
//!
//! It builds for `wasm32-wasip2`, where `std::net::TcpStream` runs on
//! `wasi:sockets`, and for the host, where its tests run. There is no TLS,
//! so it suits servers on loopback or a trusted network.
//!
//! ```no_run
//! let url = pg_wire::ConnectionUrl::parse("postgres://ada:secret@127.0.0.1:5432/app")?;
//! let mut connection = pg_wire::Connection::connect(&url, "example")?;
//! for result in connection.query("SELECT 1")? {
//!     println!("{:?}", result.rows);
//! }
//! # Ok::<(), pg_wire::Error>(())
//! ```

mod connection;
mod error;
pub mod message;
pub mod scram;
mod url;

pub use connection::{CONNECT_TIMEOUT, Connection, QueryEvent, QueryResult};
pub use error::Error;
pub use message::ServerNotice;
pub use url::{ConnectionUrl, DEFAULT_PORT, Password, UrlError, format_address, parse_host_port};

/// Replaces control characters with U+FFFD. Server messages may quote table
/// data, so applications pass them through this before printing them, and
/// escape sequences in the data cannot move the cursor or restyle the
/// terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn printable_replaces_control_characters() {
        assert_eq!(super::printable("bad \u{1b}[2J value\n"), "bad \u{fffd}[2J value\u{fffd}");
    }
}
