//! Encoding of frontend messages and decoding of backend messages of the
//! PostgreSQL frontend/backend protocol, version 3.0.
//!
//! Every message after the startup message is a type byte, a big-endian
//! 32-bit length that counts itself, and a body. Only the messages of the
//! startup, authentication and simple query flows are modelled.

use std::fmt;
use std::io::{self, Read};

/// Protocol version 3.0 as the startup message carries it.
const PROTOCOL_VERSION: i32 = 3 << 16;

/// The largest backend message accepted, body included. A bigger length is
/// treated as a protocol error instead of being allocated, which bounds the
/// memory a faulty or hostile server can make the client use. A single row
/// larger than this cannot be read.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024 * 1024;

/// A protocol violation by the server: a malformed or unexpected message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Encodes the startup message with the given parameters (`user`,
/// `database` and so on). The caller ensures no name or value contains NUL.
pub fn startup(parameters: &[(&str, &str)]) -> Vec<u8> {
    let mut body = PROTOCOL_VERSION.to_be_bytes().to_vec();
    for (name, value) in parameters {
        push_cstr(&mut body, name);
        push_cstr(&mut body, value);
    }
    body.push(0);
    let mut message = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    message
}

/// Encodes SASLInitialResponse: the chosen mechanism and its first message.
pub fn sasl_initial_response(mechanism: &str, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(mechanism.len() + data.len() + 5);
    push_cstr(&mut body, mechanism);
    body.extend_from_slice(&(data.len() as i32).to_be_bytes());
    body.extend_from_slice(data);
    frame(b'p', &body)
}

/// Encodes SASLResponse: a further message of the SASL exchange.
pub fn sasl_response(data: &[u8]) -> Vec<u8> {
    frame(b'p', data)
}

/// Encodes Query, the simple query protocol's only message. The caller
/// ensures `sql` contains no NUL.
pub fn query(sql: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(sql.len() + 1);
    push_cstr(&mut body, sql);
    frame(b'Q', &body)
}

/// Encodes CopyFail, which aborts a `COPY FROM STDIN` with `reason`.
pub fn copy_fail(reason: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(reason.len() + 1);
    push_cstr(&mut body, reason);
    frame(b'f', &body)
}

/// Encodes Terminate, which ends the session.
pub fn terminate() -> Vec<u8> {
    frame(b'X', &[])
}

fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(body.len() + 5);
    message.push(tag);
    message.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    message.extend_from_slice(body);
    message
}

fn push_cstr(buffer: &mut Vec<u8>, text: &str) {
    buffer.extend_from_slice(text.as_bytes());
    buffer.push(0);
}

/// One message from the server, before decoding its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The type byte, such as `b'R'` or `b'D'`.
    pub tag: u8,
    /// The body, without the type byte and length.
    pub body: Vec<u8>,
}

/// Reads one backend message.
///
/// # Errors
///
/// Returns [`io::ErrorKind::UnexpectedEof`] when the server closes the
/// connection, [`io::ErrorKind::InvalidData`] with a [`ProtocolError`] when the
/// length is below 4 or above [`MAX_MESSAGE_LEN`], and any read error.
pub fn read_message(reader: &mut impl Read) -> io::Result<RawMessage> {
    let mut header = [0u8; 5];
    reader.read_exact(&mut header)?;
    let tag = header[0];
    let length = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    let body_len = usize::try_from(length)
        .ok()
        .and_then(|length| length.checked_sub(4))
        .ok_or_else(|| invalid_data(format!("message `{}` has invalid length {length}", tag_name(tag))))?;
    if body_len > MAX_MESSAGE_LEN {
        return Err(invalid_data(format!(
            "message `{}` is {body_len} bytes, more than the maximum of {MAX_MESSAGE_LEN}",
            tag_name(tag)
        )));
    }
    let mut body = vec![0u8; body_len];
    reader.read_exact(&mut body)?;
    Ok(RawMessage { tag, body })
}

fn invalid_data(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, ProtocolError(message))
}

/// Returns the type byte as a character when printable, for messages.
pub fn tag_name(tag: u8) -> String {
    if tag.is_ascii_graphic() {
        char::from(tag).to_string()
    } else {
        format!("\\x{tag:02x}")
    }
}

/// A decoded backend message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendMessage {
    /// `R`: an authentication request or result.
    Authentication(Authentication),
    /// `S`: the current value of a server parameter.
    ParameterStatus {
        /// Parameter name, such as `server_version`.
        name: String,
        /// Its value.
        value: String,
    },
    /// `K`: the key for cancelling queries, which this client does not use.
    BackendKeyData,
    /// `Z`: the server waits for the next query.
    ReadyForQuery,
    /// `T`: the column names of the rows that follow.
    RowDescription(Vec<String>),
    /// `D`: one row in text format; `None` is SQL NULL.
    DataRow(Vec<Option<Vec<u8>>>),
    /// `C`: a statement finished; the command tag, such as `SELECT 3`.
    CommandComplete(String),
    /// `I`: the query string was empty.
    EmptyQueryResponse,
    /// `E`: the statement or the session failed.
    ErrorResponse(ServerNotice),
    /// `N`: a warning or notice.
    NoticeResponse(ServerNotice),
    /// `A`: a `NOTIFY` from another session.
    NotificationResponse,
    /// `G`: the server waits for `COPY FROM STDIN` data.
    CopyInResponse,
    /// `H`: `COPY TO STDOUT` data follows.
    CopyOutResponse,
    /// `W`: streaming replication data follows.
    CopyBothResponse,
    /// `d`: a chunk of `COPY` data.
    CopyData,
    /// `c`: the end of `COPY` data.
    CopyDone,
    /// `v`: the server supports an older protocol minor version.
    NegotiateProtocolVersion,
    /// Any other type byte; it is unexpected in the flows this client uses.
    Other(u8),
}

/// The authentication message variants, by their 32-bit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// 0: the login succeeded.
    Ok,
    /// 3: send the password in cleartext.
    CleartextPassword,
    /// 5: send an MD5 hash of the password with this salt.
    Md5Password,
    /// 10: start SASL with one of these mechanisms.
    Sasl(Vec<String>),
    /// 11: the next server message of the SASL exchange.
    SaslContinue(Vec<u8>),
    /// 12: the server's last SASL message.
    SaslFinal(Vec<u8>),
    /// Another method, such as 2 (Kerberos V5), 7 (GSSAPI) or 9 (SSPI).
    Other(i32),
}

/// The fields of an ErrorResponse or NoticeResponse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerNotice {
    /// `S`: ERROR, FATAL, PANIC, WARNING, NOTICE and so on, possibly localised.
    pub severity: String,
    /// `C`: the five-character SQLSTATE code.
    pub code: String,
    /// `M`: the primary message.
    pub message: String,
    /// `D`: an optional detail message.
    pub detail: Option<String>,
    /// `H`: an optional hint.
    pub hint: Option<String>,
}

impl fmt::Display for ServerNotice {
    /// Formats `SEVERITY: MESSAGE (SQLSTATE CODE)` on one line.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.severity, self.message)?;
        if !self.code.is_empty() {
            write!(formatter, " (SQLSTATE {})", self.code)?;
        }
        Ok(())
    }
}

impl BackendMessage {
    /// Returns the protocol's name for the message type, for error messages.
    pub fn name(&self) -> String {
        let name = match self {
            Self::Authentication(_) => "Authentication",
            Self::ParameterStatus { .. } => "ParameterStatus",
            Self::BackendKeyData => "BackendKeyData",
            Self::ReadyForQuery => "ReadyForQuery",
            Self::RowDescription(_) => "RowDescription",
            Self::DataRow(_) => "DataRow",
            Self::CommandComplete(_) => "CommandComplete",
            Self::EmptyQueryResponse => "EmptyQueryResponse",
            Self::ErrorResponse(_) => "ErrorResponse",
            Self::NoticeResponse(_) => "NoticeResponse",
            Self::NotificationResponse => "NotificationResponse",
            Self::CopyInResponse => "CopyInResponse",
            Self::CopyOutResponse => "CopyOutResponse",
            Self::CopyBothResponse => "CopyBothResponse",
            Self::CopyData => "CopyData",
            Self::CopyDone => "CopyDone",
            Self::NegotiateProtocolVersion => "NegotiateProtocolVersion",
            Self::Other(tag) => return format!("message `{}`", tag_name(*tag)),
        };
        name.to_owned()
    }

    /// Decodes a raw message.
    ///
    /// # Errors
    ///
    /// Returns a [`ProtocolError`] when the body is shorter than its fields,
    /// has bytes left over, or contains text that is not valid UTF-8 where
    /// the protocol requires it.
    pub fn decode(raw: &RawMessage) -> Result<Self, ProtocolError> {
        let mut body = Body::new(raw.tag, &raw.body);
        let message = match raw.tag {
            b'R' => Self::Authentication(decode_authentication(&mut body)?),
            b'S' => Self::ParameterStatus {
                name: body.cstr()?,
                value: body.cstr()?,
            },
            b'K' => {
                body.skip_rest();
                Self::BackendKeyData
            }
            b'Z' => {
                body.bytes(1)?;
                Self::ReadyForQuery
            }
            b'T' => Self::RowDescription(decode_row_description(&mut body)?),
            b'D' => Self::DataRow(decode_data_row(&mut body)?),
            b'C' => Self::CommandComplete(body.cstr()?),
            b'I' => Self::EmptyQueryResponse,
            b'E' => Self::ErrorResponse(decode_notice(&mut body)?),
            b'N' => Self::NoticeResponse(decode_notice(&mut body)?),
            tag => {
                body.skip_rest();
                match tag {
                    b'A' => Self::NotificationResponse,
                    b'G' => Self::CopyInResponse,
                    b'H' => Self::CopyOutResponse,
                    b'W' => Self::CopyBothResponse,
                    b'd' => Self::CopyData,
                    b'c' => Self::CopyDone,
                    b'v' => Self::NegotiateProtocolVersion,
                    other => Self::Other(other),
                }
            }
        };
        body.finish()?;
        Ok(message)
    }
}

fn decode_authentication(body: &mut Body<'_>) -> Result<Authentication, ProtocolError> {
    let code = body.i32()?;
    Ok(match code {
        0 => Authentication::Ok,
        3 => Authentication::CleartextPassword,
        5 => {
            body.bytes(4)?;
            Authentication::Md5Password
        }
        10 => {
            let mut mechanisms = Vec::new();
            loop {
                let mechanism = body.cstr()?;
                if mechanism.is_empty() {
                    break;
                }
                mechanisms.push(mechanism);
            }
            Authentication::Sasl(mechanisms)
        }
        11 => Authentication::SaslContinue(body.rest().to_vec()),
        12 => Authentication::SaslFinal(body.rest().to_vec()),
        other => {
            body.skip_rest();
            Authentication::Other(other)
        }
    })
}

fn decode_row_description(body: &mut Body<'_>) -> Result<Vec<String>, ProtocolError> {
    let count = body.u16()?;
    let mut names = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        names.push(body.cstr()?);
        // Table OID, column number, type OID, type size, type modifier and
        // format code: 4 + 2 + 4 + 2 + 4 + 2 bytes.
        body.bytes(18)?;
    }
    Ok(names)
}

fn decode_data_row(body: &mut Body<'_>) -> Result<Vec<Option<Vec<u8>>>, ProtocolError> {
    let count = body.u16()?;
    let mut values = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let length = body.i32()?;
        let value = match length {
            -1 => None,
            length if length >= 0 => Some(body.bytes(length as usize)?.to_vec()),
            length => return Err(body.error(format!("has a column of length {length}"))),
        };
        values.push(value);
    }
    Ok(values)
}

fn decode_notice(body: &mut Body<'_>) -> Result<ServerNotice, ProtocolError> {
    let mut notice = ServerNotice::default();
    loop {
        let field = body.bytes(1)?[0];
        if field == 0 {
            break;
        }
        let value = body.cstr_lossy()?;
        match field {
            b'S' => notice.severity = value,
            b'C' => notice.code = value,
            b'M' => notice.message = value,
            b'D' => notice.detail = Some(value),
            b'H' => notice.hint = Some(value),
            _ => {}
        }
    }
    Ok(notice)
}

/// A cursor over a message body that reports truncation as a
/// [`ProtocolError`] naming the message type.
struct Body<'a> {
    tag: u8,
    bytes: &'a [u8],
}

impl<'a> Body<'a> {
    fn new(tag: u8, bytes: &'a [u8]) -> Self {
        Self { tag, bytes }
    }

    fn error(&self, what: String) -> ProtocolError {
        ProtocolError(format!("message `{}` {what}", tag_name(self.tag)))
    }

    fn bytes(&mut self, count: usize) -> Result<&'a [u8], ProtocolError> {
        if self.bytes.len() < count {
            return Err(self.error("ends early".to_owned()));
        }
        let (head, tail) = self.bytes.split_at(count);
        self.bytes = tail;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, ProtocolError> {
        let bytes = self.bytes(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn i32(&mut self) -> Result<i32, ProtocolError> {
        let bytes = self.bytes(4)?;
        Ok(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn raw_cstr(&mut self) -> Result<&'a [u8], ProtocolError> {
        let end = self
            .bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.error("has a string without its terminating NUL".to_owned()))?;
        let text = &self.bytes[..end];
        self.bytes = &self.bytes[end + 1..];
        Ok(text)
    }

    fn cstr(&mut self) -> Result<String, ProtocolError> {
        let raw = self.raw_cstr()?;
        String::from_utf8(raw.to_vec()).map_err(|_| self.error("has text that is not valid UTF-8".to_owned()))
    }

    /// Reads a string that may arrive in the server's encoding, as error
    /// messages sent before `client_encoding` applies do.
    fn cstr_lossy(&mut self) -> Result<String, ProtocolError> {
        Ok(String::from_utf8_lossy(self.raw_cstr()?).into_owned())
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    fn skip_rest(&mut self) {
        self.bytes = &[];
    }

    fn finish(&self) -> Result<(), ProtocolError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("has {} bytes left over", self.bytes.len())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(tag: u8, body: &[u8]) -> Result<BackendMessage, ProtocolError> {
        BackendMessage::decode(&RawMessage { tag, body: body.to_vec() })
    }

    #[test]
    fn startup_message_layout() {
        let message = startup(&[("user", "ada"), ("database", "db")]);
        let mut expected = vec![0, 0, 0, 0, 0, 3, 0, 0];
        expected.extend_from_slice(b"user\0ada\0database\0db\0\0");
        let length = expected.len() as i32;
        expected[..4].copy_from_slice(&length.to_be_bytes());
        assert_eq!(message, expected);
    }

    #[test]
    fn query_message_layout() {
        assert_eq!(query("SELECT 1"), b"Q\0\0\0\x0dSELECT 1\0".to_vec());
    }

    #[test]
    fn sasl_initial_response_layout() {
        let message = sasl_initial_response("SCRAM-SHA-256", b"n,,n=,r=abc");
        assert_eq!(message, b"p\0\0\0\x21SCRAM-SHA-256\0\0\0\0\x0bn,,n=,r=abc".to_vec());
    }

    #[test]
    fn terminate_message_layout() {
        assert_eq!(terminate(), b"X\0\0\0\x04".to_vec());
    }

    #[test]
    fn read_message_splits_frames() {
        let mut input: &[u8] = b"Z\0\0\0\x05IC\0\0\0\x0dSELECT 1\0";
        assert_eq!(
            read_message(&mut input).unwrap(),
            RawMessage { tag: b'Z', body: b"I".to_vec() }
        );
        assert_eq!(
            read_message(&mut input).unwrap(),
            RawMessage { tag: b'C', body: b"SELECT 1\0".to_vec() }
        );
        assert_eq!(read_message(&mut input).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn read_message_rejects_bad_lengths() {
        for header in [&b"Z\0\0\0\x03"[..], b"Z\xff\xff\xff\xff", b"D\x7f\xff\xff\xff"] {
            let mut input = header;
            let error = read_message(&mut input).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{header:?}");
        }
    }

    #[test]
    fn truncated_body_is_eof() {
        let mut input: &[u8] = b"C\0\0\0\x0dSELE";
        assert_eq!(read_message(&mut input).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn authentication_requests_decode() {
        assert_eq!(decode(b'R', &[0, 0, 0, 0]), Ok(BackendMessage::Authentication(Authentication::Ok)));
        assert_eq!(
            decode(b'R', &[0, 0, 0, 3]),
            Ok(BackendMessage::Authentication(Authentication::CleartextPassword))
        );
        assert_eq!(
            decode(b'R', &[0, 0, 0, 5, 1, 2, 3, 4]),
            Ok(BackendMessage::Authentication(Authentication::Md5Password))
        );
        assert_eq!(
            decode(b'R', b"\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"),
            Ok(BackendMessage::Authentication(Authentication::Sasl(vec![
                "SCRAM-SHA-256-PLUS".to_owned(),
                "SCRAM-SHA-256".to_owned()
            ])))
        );
        assert_eq!(
            decode(b'R', b"\0\0\0\x0br=abc"),
            Ok(BackendMessage::Authentication(Authentication::SaslContinue(b"r=abc".to_vec())))
        );
        assert_eq!(
            decode(b'R', b"\0\0\0\x0cv=xyz"),
            Ok(BackendMessage::Authentication(Authentication::SaslFinal(b"v=xyz".to_vec())))
        );
        assert_eq!(
            decode(b'R', &[0, 0, 0, 7]),
            Ok(BackendMessage::Authentication(Authentication::Other(7)))
        );
    }

    #[test]
    fn row_description_and_data_row_decode() {
        let mut description = vec![0, 2];
        description.extend_from_slice(b"id\0");
        description.extend_from_slice(&[0; 18]);
        description.extend_from_slice(b"name\0");
        description.extend_from_slice(&[0; 18]);
        assert_eq!(
            decode(b'T', &description),
            Ok(BackendMessage::RowDescription(vec!["id".to_owned(), "name".to_owned()]))
        );

        let row = b"\0\x02\0\0\0\x011\xff\xff\xff\xff";
        assert_eq!(
            decode(b'D', row),
            Ok(BackendMessage::DataRow(vec![Some(b"1".to_vec()), None]))
        );
    }

    #[test]
    fn error_response_decodes_fields() {
        let body = b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"lahat\"\0Fauth.c\0\0";
        let BackendMessage::ErrorResponse(notice) = decode(b'E', body).unwrap() else {
            panic!("not an ErrorResponse");
        };
        assert_eq!(notice.severity, "FATAL");
        assert_eq!(notice.code, "28P01");
        assert_eq!(
            notice.to_string(),
            "FATAL: password authentication failed for user \"lahat\" (SQLSTATE 28P01)"
        );
    }

    #[test]
    fn malformed_bodies_are_protocol_errors() {
        let cases: [(u8, &[u8]); 8] = [
            (b'R', &[0, 0]),
            (b'R', &[0, 0, 0, 5, 1]),
            (b'R', b"\0\0\0\x0aSCRAM-SHA-256"),
            (b'D', b"\0\x01\0\0\0\x05ab"),
            (b'D', b"\0\x01\xff\xff\xff\xfe"),
            (b'T', b"\0\x01id\0"),
            (b'E', b"SERROR"),
            (b'Z', b"II"),
        ];
        for (tag, body) in cases {
            assert!(decode(tag, body).is_err(), "{} {body:?} was accepted", tag_name(tag));
        }
    }

    #[test]
    fn unknown_tag_is_kept() {
        assert_eq!(decode(b'1', b""), Ok(BackendMessage::Other(b'1')));
    }
}
