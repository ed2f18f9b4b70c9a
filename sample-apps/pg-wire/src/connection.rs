//! A session with a PostgreSQL server: startup, login and simple queries.

use std::io::{self, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::Error;
use crate::message::{self, Authentication, BackendMessage, ProtocolError, ServerNotice};
use crate::scram::{self, ClientFirst, ScramError};
use crate::url::ConnectionUrl;

/// How long opening the TCP connection to one address may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One step of a query's result, passed to the handler of
/// [`Connection::simple_query`] in the order the server sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryEvent<'a> {
    /// A statement returns rows with these column names.
    Columns(&'a [String]),
    /// One row in text format; `None` is SQL NULL. Bytes that are not valid
    /// UTF-8 are replaced with U+FFFD.
    Row(&'a [Option<String>]),
    /// A statement finished with this command tag, such as `SELECT 3` or
    /// `INSERT 0 1`.
    Complete(&'a str),
    /// The query string held no statement.
    Empty,
    /// The server sent a warning or notice.
    Notice(&'a ServerNotice),
}

/// The rows and command tag of one statement, as [`Connection::query`]
/// collects them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryResult {
    /// Column names; empty for a statement that returns no rows.
    pub columns: Vec<String>,
    /// Rows in text format; `None` is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
    /// The command tag, such as `SELECT 3`.
    pub tag: String,
}

/// A logged-in session. Dropping it sends Terminate.
pub struct Connection<S: Read + Write> {
    reader: BufReader<S>,
    notices: Vec<ServerNotice>,
    server_version: Option<String>,
}

impl Connection<TcpStream> {
    /// Opens a TCP connection to the URL's host and port, logs in and waits
    /// until the server is ready for a query. `application_name` is shown in
    /// the server's `pg_stat_activity`.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Connect`] when no address of the host accepts the
    /// connection within [`CONNECT_TIMEOUT`], and the errors of
    /// [`Connection::start`].
    pub fn connect(url: &ConnectionUrl, application_name: &str) -> Result<Self, Error> {
        let stream = open_tcp(url)?;
        let nonce = scram::random_nonce()
            .map_err(|error| Error::Auth(format!("cannot generate a random SCRAM nonce: {error}")))?;
        Self::start(stream, url, application_name, &nonce)
    }
}

fn open_tcp(url: &ConnectionUrl) -> Result<TcpStream, Error> {
    let connect_error = |source| Error::Connect {
        address: url.address(),
        source,
    };
    let addresses = (url.host.as_str(), url.port).to_socket_addrs().map_err(connect_error)?;
    let mut last_error = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = Some(error),
        }
    }
    Err(connect_error(last_error.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "the host name has no address")
    })))
}

impl<S: Read + Write> Connection<S> {
    /// Logs in over an open `stream` and waits until the server is ready
    /// for a query. [`Connection::connect`] calls it with a TCP stream and a
    /// random nonce; tests pass a scripted stream and a fixed nonce.
    ///
    /// Only SCRAM-SHA-256 logins, and servers that need no password, are
    /// accepted. Cleartext and MD5 password requests are rejected because
    /// there is no TLS, so a cleartext password would cross the network
    /// readable. Either request would also let an impostor server skip the
    /// SCRAM signature that proves it has the password's verifier.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Server`] when the server rejects the login, with
    /// SQLSTATE 28P01 for a wrong password and 3D000 for an unknown database.
    /// Returns [`Error::Auth`] for a method this client rejects or when the
    /// URL has no password, and [`Error::Scram`] when the server's SCRAM
    /// messages are invalid or its signature is wrong. Returns [`Error::Io`],
    /// [`Error::Closed`] or [`Error::Protocol`] when the connection fails.
    pub fn start(stream: S, url: &ConnectionUrl, application_name: &str, client_nonce: &str) -> Result<Self, Error> {
        let mut connection = Self {
            reader: BufReader::new(stream),
            notices: Vec::new(),
            server_version: None,
        };
        let application_name: String = application_name.chars().filter(|&c| c != '\0').collect();
        connection.send(&message::startup(&[
            ("user", &url.user),
            ("database", &url.database),
            ("client_encoding", "UTF8"),
            ("application_name", &application_name),
        ]))?;
        connection.authenticate(url, client_nonce)?;
        connection.wait_until_ready()?;
        Ok(connection)
    }

    /// Returns the `server_version` the server reported, such as `15.18`.
    pub fn server_version(&self) -> Option<&str> {
        self.server_version.as_deref()
    }

    /// Removes and returns the notices the server sent during login.
    pub fn take_notices(&mut self) -> Vec<ServerNotice> {
        std::mem::take(&mut self.notices)
    }

    /// Runs `sql` with the simple query protocol and passes each column
    /// list, row, command tag and notice to `handler` as it arrives, so rows
    /// are not collected in memory. `sql` may hold several statements, which
    /// the server runs in one implicit transaction.
    ///
    /// `COPY FROM STDIN` is aborted and `COPY TO STDOUT` output discarded,
    /// with an error in both cases.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Server`] when a statement fails, after the handler
    /// has seen the results that came before the failure. Returns
    /// [`Error::InvalidQuery`] when `sql` contains NUL or is a
    /// `COPY TO STDOUT` or replication command, [`Error::Output`] when the
    /// handler fails, and the connection errors of [`Connection::start`].
    /// The connection can run further queries after [`Error::Server`] and
    /// after a `COPY`.
    pub fn simple_query(
        &mut self,
        sql: &str,
        handler: &mut dyn FnMut(QueryEvent<'_>) -> io::Result<()>,
    ) -> Result<(), Error> {
        if sql.contains('\0') {
            return Err(Error::InvalidQuery(
                "the query contains a NUL character, which the protocol cannot carry".to_owned(),
            ));
        }
        self.send(&message::query(sql))?;

        let mut columns: Option<Vec<String>> = None;
        let mut failure: Option<Error> = None;
        loop {
            let message = match self.receive() {
                Ok(message) => message,
                // A FATAL error, such as a server shutdown, is followed by the
                // end of the connection, and the error is the better report.
                Err(Error::Closed) => return Err(failure.unwrap_or(Error::Closed)),
                Err(error) => return Err(error),
            };
            match message {
                BackendMessage::RowDescription(names) => {
                    handler(QueryEvent::Columns(&names)).map_err(Error::Output)?;
                    columns = Some(names);
                }
                BackendMessage::DataRow(values) => {
                    let row = decode_row(columns.as_deref(), values)?;
                    handler(QueryEvent::Row(&row)).map_err(Error::Output)?;
                }
                BackendMessage::CommandComplete(tag) => {
                    handler(QueryEvent::Complete(&tag)).map_err(Error::Output)?;
                    columns = None;
                }
                BackendMessage::EmptyQueryResponse => handler(QueryEvent::Empty).map_err(Error::Output)?,
                BackendMessage::NoticeResponse(notice) => handler(QueryEvent::Notice(&notice)).map_err(Error::Output)?,
                BackendMessage::ErrorResponse(notice) => {
                    failure.get_or_insert(Error::Server(notice));
                }
                BackendMessage::CopyInResponse => {
                    // The server replies to CopyFail with an ErrorResponse
                    // that quotes this reason.
                    self.send(&message::copy_fail("this client does not support COPY FROM STDIN"))?;
                }
                BackendMessage::CopyOutResponse => {
                    failure.get_or_insert(Error::InvalidQuery(
                        "this client does not support COPY TO STDOUT; use SELECT".to_owned(),
                    ));
                }
                BackendMessage::CopyData | BackendMessage::CopyDone => {}
                BackendMessage::CopyBothResponse => {
                    return Err(Error::InvalidQuery(
                        "this client does not support replication commands".to_owned(),
                    ));
                }
                BackendMessage::ParameterStatus { .. }
                | BackendMessage::NotificationResponse
                | BackendMessage::BackendKeyData => {}
                BackendMessage::ReadyForQuery => return failure.map_or(Ok(()), Err),
                other => return Err(unexpected(&other, "while running a query")),
            }
        }
    }

    /// Runs `sql` like [`Connection::simple_query`] and collects the results
    /// of its statements. Notices are dropped.
    ///
    /// # Errors
    ///
    /// The errors of [`Connection::simple_query`].
    pub fn query(&mut self, sql: &str) -> Result<Vec<QueryResult>, Error> {
        let mut results = Vec::new();
        let mut current = QueryResult::default();
        self.simple_query(sql, &mut |event| {
            match event {
                QueryEvent::Columns(names) => current.columns = names.to_vec(),
                QueryEvent::Row(row) => current.rows.push(row.to_vec()),
                QueryEvent::Complete(tag) => {
                    current.tag = tag.to_owned();
                    results.push(std::mem::take(&mut current));
                }
                QueryEvent::Empty | QueryEvent::Notice(_) => {}
            }
            Ok(())
        })?;
        Ok(results)
    }

    fn authenticate(&mut self, url: &ConnectionUrl, client_nonce: &str) -> Result<(), Error> {
        match self.next_authentication()? {
            Authentication::Ok => Ok(()),
            Authentication::Sasl(mechanisms) => self.scram_login(url, client_nonce, &mechanisms),
            Authentication::CleartextPassword => Err(Error::Auth(
                "the server asks for the password in cleartext over an unencrypted connection, which this client rejects; use scram-sha-256 for this user in pg_hba.conf".to_owned(),
            )),
            Authentication::Md5Password => Err(Error::Auth(
                "the server asks for an MD5 password hash, which this client rejects because MD5 is weak; use scram-sha-256 for this user in pg_hba.conf, with password_encryption = scram-sha-256, and set the password again".to_owned(),
            )),
            Authentication::Other(code) => Err(Error::Auth(format!(
                "the server asks for authentication method {code} ({}), which this client does not support; use scram-sha-256 for this user in pg_hba.conf",
                method_name(code)
            ))),
            Authentication::SaslContinue(_) | Authentication::SaslFinal(_) => Err(Error::Protocol(ProtocolError(
                "the server sent a SASL message before offering SASL".to_owned(),
            ))),
        }
    }

    /// Runs the SCRAM-SHA-256 exchange and checks the server's signature
    /// before accepting the server's AuthenticationOk.
    fn scram_login(&mut self, url: &ConnectionUrl, client_nonce: &str, mechanisms: &[String]) -> Result<(), Error> {
        if !mechanisms.iter().any(|mechanism| mechanism == scram::MECHANISM) {
            return Err(Error::Auth(format!(
                "the server offers the SASL mechanisms {} but not SCRAM-SHA-256, the only one this client supports",
                mechanisms.join(", ")
            )));
        }
        let password = url.password().ok_or_else(|| {
            Error::Auth(format!(
                "the server requires a password for user \"{}\" but the URL has none; write postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                url.user
            ))
        })?;

        // PostgreSQL takes the user name from the startup message, so the
        // SCRAM user name stays empty, as libpq sends it.
        let client = ClientFirst::new("", password.expose(), client_nonce);
        self.send(&message::sasl_initial_response(scram::MECHANISM, client.message().as_bytes()))?;

        let server_first = match self.next_authentication()? {
            Authentication::SaslContinue(data) => scram_text(data)?,
            other => return Err(unexpected_authentication(&other, "the server's first SCRAM message")),
        };
        let client = client.server_first(&server_first)?;
        self.send(&message::sasl_response(client.message().as_bytes()))?;

        let server_final = match self.next_authentication()? {
            Authentication::SaslFinal(data) => scram_text(data)?,
            Authentication::Ok => return Err(Error::Scram(ScramError::MissingServerSignature)),
            other => return Err(unexpected_authentication(&other, "the server's final SCRAM message")),
        };
        client.verify_server_final(&server_final)?;

        match self.next_authentication()? {
            Authentication::Ok => Ok(()),
            other => Err(unexpected_authentication(&other, "AuthenticationOk")),
        }
    }

    /// Returns the next authentication message, collecting notices and
    /// turning an ErrorResponse into [`Error::Server`].
    fn next_authentication(&mut self) -> Result<Authentication, Error> {
        loop {
            match self.receive()? {
                BackendMessage::Authentication(authentication) => return Ok(authentication),
                BackendMessage::ErrorResponse(notice) => return Err(Error::Server(notice)),
                BackendMessage::NoticeResponse(notice) => self.notices.push(notice),
                other => return Err(unexpected(&other, "during login")),
            }
        }
    }

    /// Reads the session parameters and key data sent after login, up to
    /// the first ReadyForQuery.
    fn wait_until_ready(&mut self) -> Result<(), Error> {
        loop {
            match self.receive()? {
                BackendMessage::ParameterStatus { name, value } => {
                    if name == "server_version" {
                        self.server_version = Some(value);
                    }
                }
                BackendMessage::BackendKeyData => {}
                BackendMessage::NoticeResponse(notice) => self.notices.push(notice),
                BackendMessage::ErrorResponse(notice) => return Err(Error::Server(notice)),
                BackendMessage::ReadyForQuery => return Ok(()),
                other => return Err(unexpected(&other, "after login")),
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let stream = self.reader.get_mut();
        stream.write_all(bytes)?;
        stream.flush()?;
        Ok(())
    }

    fn receive(&mut self) -> Result<BackendMessage, Error> {
        let raw = message::read_message(&mut self.reader)?;
        Ok(BackendMessage::decode(&raw)?)
    }
}

impl<S: Read + Write> Drop for Connection<S> {
    fn drop(&mut self) {
        // The session is over either way, so a failure to say goodbye is
        // not reported.
        let _ = self.reader.get_mut().write_all(&message::terminate());
    }
}

/// Converts a DataRow to text after checking it against the columns.
fn decode_row(columns: Option<&[String]>, values: Vec<Option<Vec<u8>>>) -> Result<Vec<Option<String>>, Error> {
    let Some(columns) = columns else {
        return Err(Error::Protocol(ProtocolError("the server sent a row before its column list".to_owned())));
    };
    if values.len() != columns.len() {
        return Err(Error::Protocol(ProtocolError(format!(
            "the server sent a row of {} values for {} columns",
            values.len(),
            columns.len()
        ))));
    }
    Ok(values
        .into_iter()
        .map(|value| value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
        .collect())
}

fn scram_text(data: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(data)
        .map_err(|_| Error::Scram(ScramError::Malformed("the message is not valid UTF-8".to_owned())))
}

fn unexpected(message: &BackendMessage, when: &str) -> Error {
    Error::Protocol(ProtocolError(format!("unexpected {} {when}", message.name())))
}

fn unexpected_authentication(authentication: &Authentication, expected: &str) -> Error {
    let received = match authentication {
        Authentication::Ok => "AuthenticationOk".to_owned(),
        Authentication::CleartextPassword => "a cleartext password request".to_owned(),
        Authentication::Md5Password => "an MD5 password request".to_owned(),
        Authentication::Sasl(_) => "a second SASL offer".to_owned(),
        Authentication::SaslContinue(_) => "a SASL continue message".to_owned(),
        Authentication::SaslFinal(_) => "a SASL final message".to_owned(),
        Authentication::Other(code) => format!("authentication request {code}"),
    };
    Error::Protocol(ProtocolError(format!("expected {expected} but the server sent {received}")))
}

fn method_name(code: i32) -> &'static str {
    match code {
        2 => "Kerberos V5",
        6 => "SCM credentials",
        7 | 8 => "GSSAPI",
        9 => "SSPI",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "clientnonce";

    /// A stream that replays scripted server bytes and records what the
    /// client writes.
    struct Scripted {
        input: io::Cursor<Vec<u8>>,
        output: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    }

    impl Read for Scripted {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            self.input.read(buffer)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
            self.output.borrow_mut().extend_from_slice(buffer);
            Ok(buffer.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    fn auth(code: i32, data: &[u8]) -> Vec<u8> {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(data);
        frame(b'R', &body)
    }

    fn error(code: &str, message: &str) -> Vec<u8> {
        frame(b'E', format!("SFATAL\0C{code}\0M{message}\0\0").as_bytes())
    }

    fn ready() -> Vec<u8> {
        [frame(b'S', b"server_version\x0015.18\0"), frame(b'K', &[0; 8]), frame(b'Z', b"I")].concat()
    }

    fn row_description(names: &[&str]) -> Vec<u8> {
        let mut body = (names.len() as u16).to_be_bytes().to_vec();
        for name in names {
            body.extend_from_slice(name.as_bytes());
            body.push(0);
            body.extend_from_slice(&[0; 18]);
        }
        frame(b'T', &body)
    }

    fn data_row(values: &[Option<&str>]) -> Vec<u8> {
        let mut body = (values.len() as u16).to_be_bytes().to_vec();
        for value in values {
            match value {
                Some(text) => {
                    body.extend_from_slice(&(text.len() as i32).to_be_bytes());
                    body.extend_from_slice(text.as_bytes());
                }
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        frame(b'D', &body)
    }

    fn server_first() -> Vec<u8> {
        auth(11, format!("r={NONCE}server,s=c2FsdA==,i=4096").as_bytes())
    }

    /// Runs a login against `script` and returns the result and what the
    /// client sent.
    fn login(url: &str, script: &[Vec<u8>]) -> (Result<Connection<Scripted>, Error>, Vec<u8>) {
        let output = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let stream = Scripted {
            input: io::Cursor::new(script.concat()),
            output: output.clone(),
        };
        let url = ConnectionUrl::parse(url).unwrap();
        let result = Connection::start(stream, &url, "test", NONCE);
        let sent = output.borrow().clone();
        (result, sent)
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|window| window == needle)
    }

    const URL: &str = "postgres://ada:hunter2@127.0.0.1/db";

    #[test]
    fn login_without_password_request_succeeds() {
        let (result, sent) = login(URL, &[auth(0, b""), ready()]);
        let connection = result.unwrap();
        assert_eq!(connection.server_version(), Some("15.18"));
        assert!(contains(&sent, b"user\0ada\0database\0db\0"));
        assert!(!contains(&sent, b"hunter2"), "the password was sent");
    }

    #[test]
    fn startup_sends_scram_first_message() {
        let (result, sent) = login(URL, &[auth(10, b"SCRAM-SHA-256\0\0")]);
        assert!(matches!(result, Err(Error::Closed)), "{:?}", result.err());
        assert!(contains(&sent, format!("SCRAM-SHA-256\0\0\0\0\x13n,,n=,r={NONCE}").as_bytes()));
    }

    #[test]
    fn cleartext_request_is_rejected() {
        let (result, sent) = login(URL, &[auth(3, b"")]);
        let message = result.err().unwrap().to_string();
        assert!(message.contains("cleartext"), "{message}");
        assert!(!contains(&sent, b"hunter2"), "the password was sent");
    }

    #[test]
    fn md5_request_is_rejected() {
        let (result, sent) = login(URL, &[auth(5, b"salt")]);
        let message = result.err().unwrap().to_string();
        assert!(message.contains("MD5"), "{message}");
        assert!(message.contains("scram-sha-256"), "{message}");
        let startup = message::startup(&[
            ("user", "ada"),
            ("database", "db"),
            ("client_encoding", "UTF8"),
            ("application_name", "test"),
        ]);
        assert_eq!(sent, [startup, message::terminate()].concat(), "only startup and Terminate may be sent");
    }

    #[test]
    fn unsupported_methods_are_named() {
        let (result, _) = login(URL, &[auth(7, b"")]);
        let message = result.err().unwrap().to_string();
        assert!(message.contains("method 7 (GSSAPI)"), "{message}");
    }

    #[test]
    fn sasl_without_scram_sha_256_is_rejected() {
        let (result, _) = login(URL, &[auth(10, b"SCRAM-SHA-256-PLUS\0\0")]);
        let message = result.err().unwrap().to_string();
        assert!(message.contains("SCRAM-SHA-256-PLUS but not SCRAM-SHA-256"), "{message}");
    }

    #[test]
    fn scram_without_password_in_url_is_rejected() {
        let (result, _) = login("postgres://ada@127.0.0.1/db", &[auth(10, b"SCRAM-SHA-256\0\0")]);
        let message = result.err().unwrap().to_string();
        assert!(message.contains("the URL has none"), "{message}");
    }

    #[test]
    fn success_without_server_signature_is_rejected() {
        let (result, _) = login(URL, &[auth(10, b"SCRAM-SHA-256\0\0"), server_first(), auth(0, b""), ready()]);
        assert!(
            matches!(result, Err(Error::Scram(ScramError::MissingServerSignature))),
            "{:?}",
            result.err()
        );
    }

    #[test]
    fn wrong_server_signature_is_rejected() {
        let forged = auth(12, b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        let (result, sent) = login(URL, &[auth(10, b"SCRAM-SHA-256\0\0"), server_first(), forged, auth(0, b""), ready()]);
        assert!(
            matches!(result, Err(Error::Scram(ScramError::BadServerSignature))),
            "{:?}",
            result.err()
        );
        assert!(contains(&sent, format!("c=biws,r={NONCE}server,p=").as_bytes()));
        assert!(!contains(&sent, b"hunter2"), "the password was sent");
    }

    #[test]
    fn server_nonce_mismatch_is_rejected() {
        let other = auth(11, b"r=othernonce,s=c2FsdA==,i=4096");
        let (result, _) = login(URL, &[auth(10, b"SCRAM-SHA-256\0\0"), other]);
        assert!(matches!(result, Err(Error::Scram(ScramError::NonceMismatch))), "{:?}", result.err());
    }

    #[test]
    fn wrong_password_reports_server_error() {
        let (result, _) = login(URL, &[
            auth(10, b"SCRAM-SHA-256\0\0"),
            server_first(),
            error("28P01", "password authentication failed for user \"ada\""),
        ]);
        let Err(Error::Server(notice)) = result else {
            panic!("expected a server error");
        };
        assert_eq!(notice.code, "28P01");
        assert_eq!(
            notice.to_string(),
            "FATAL: password authentication failed for user \"ada\" (SQLSTATE 28P01)"
        );
    }

    #[test]
    fn unknown_database_reports_server_error() {
        let (result, _) = login(URL, &[auth(0, b""), error("3D000", "database \"db\" does not exist")]);
        assert!(matches!(result, Err(Error::Server(notice)) if notice.code == "3D000"));
    }

    #[test]
    fn closed_connection_is_reported() {
        let (result, _) = login(URL, &[]);
        assert!(matches!(result, Err(Error::Closed)), "{:?}", result.err());
    }

    #[test]
    fn unexpected_message_during_login_is_protocol_error() {
        let (result, _) = login(URL, &[frame(b'Z', b"I")]);
        let message = result.err().unwrap().to_string();
        assert_eq!(message, "protocol error: unexpected ReadyForQuery during login");
    }

    #[test]
    fn query_returns_rows_and_tags() {
        let (result, _) = login(URL, &[
            auth(0, b""),
            ready(),
            row_description(&["id", "color"]),
            data_row(&[Some("1"), Some("red")]),
            data_row(&[Some("3"), None]),
            frame(b'C', b"SELECT 2\0"),
            frame(b'C', b"UPDATE 0\0"),
            frame(b'Z', b"I"),
        ]);
        let mut connection = result.unwrap();
        let results = connection.query("SELECT ...; UPDATE ...").unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].columns, ["id", "color"]);
        assert_eq!(
            results[0].rows,
            [vec![Some("1".to_owned()), Some("red".to_owned())], vec![Some("3".to_owned()), None]]
        );
        assert_eq!(results[0].tag, "SELECT 2");
        assert!(results[1].columns.is_empty());
        assert_eq!(results[1].tag, "UPDATE 0");
    }

    #[test]
    fn query_error_is_returned_after_ready() {
        let (result, _) = login(URL, &[
            auth(0, b""),
            ready(),
            frame(b'E', b"SERROR\0C42P01\0Mrelation \"nope\" does not exist\0\0"),
            frame(b'Z', b"I"),
            row_description(&["n"]),
            data_row(&[Some("1")]),
            frame(b'C', b"SELECT 1\0"),
            frame(b'Z', b"I"),
        ]);
        let mut connection = result.unwrap();
        let error = connection.query("SELECT * FROM nope").unwrap_err();
        assert_eq!(error.to_string(), "ERROR: relation \"nope\" does not exist (SQLSTATE 42P01)");
        let results = connection.query("SELECT 1").unwrap();
        assert_eq!(results[0].rows, [vec![Some("1".to_owned())]]);
    }

    #[test]
    fn fatal_error_before_close_is_reported() {
        let (result, _) = login(URL, &[
            auth(0, b""),
            ready(),
            frame(b'E', b"SFATAL\0C57P01\0Mterminating connection due to administrator command\0\0"),
        ]);
        let error = result.unwrap().query("SELECT pg_sleep(10)").unwrap_err();
        assert!(matches!(&error, Error::Server(notice) if notice.code == "57P01"), "{error}");
    }

    #[test]
    fn row_with_wrong_column_count_is_protocol_error() {
        let (result, _) = login(URL, &[
            auth(0, b""),
            ready(),
            row_description(&["a", "b"]),
            data_row(&[Some("1")]),
        ]);
        let error = result.unwrap().query("SELECT 1, 2").unwrap_err();
        assert!(matches!(error, Error::Protocol(_)), "{error}");
    }

    #[test]
    fn row_without_columns_is_protocol_error() {
        let (result, _) = login(URL, &[auth(0, b""), ready(), data_row(&[Some("1")])]);
        let error = result.unwrap().query("SELECT 1").unwrap_err();
        assert!(matches!(error, Error::Protocol(_)), "{error}");
    }

    #[test]
    fn nul_in_query_is_rejected_before_sending() {
        let (result, _) = login(URL, &[auth(0, b""), ready()]);
        let error = result.unwrap().query("SELECT '\0'").unwrap_err();
        assert!(matches!(error, Error::InvalidQuery(_)), "{error}");
    }

    #[test]
    fn copy_from_stdin_is_aborted() {
        let (result, _) = login(URL, &[
            auth(0, b""),
            ready(),
            frame(b'G', b"\0\0\0"),
            frame(b'E', b"SERROR\0C57014\0MCOPY from stdin failed: this client does not support COPY FROM STDIN\0\0"),
            frame(b'Z', b"I"),
        ]);
        let mut connection = result.unwrap();
        let error = connection.query("COPY t FROM STDIN").unwrap_err();
        assert!(error.to_string().contains("does not support COPY FROM STDIN"), "{error}");
    }

    #[test]
    fn handler_failure_stops_query() {
        let (result, _) = login(URL, &[
            auth(0, b""),
            ready(),
            row_description(&["n"]),
            data_row(&[Some("1")]),
            frame(b'C', b"SELECT 1\0"),
            frame(b'Z', b"I"),
        ]);
        let mut connection = result.unwrap();
        let error = connection
            .simple_query("SELECT 1", &mut |_| Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed")))
            .unwrap_err();
        assert!(matches!(error, Error::Output(_)), "{error}");
    }
}
