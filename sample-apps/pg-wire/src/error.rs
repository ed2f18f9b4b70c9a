//! The error type of the client.

use std::fmt;
use std::io;

use crate::message::{ProtocolError, ServerNotice};
use crate::scram::ScramError;
use crate::url::UrlError;

/// A failed connection, login or query. No variant carries the password.
#[derive(Debug)]
pub enum Error {
    /// The connection URL is invalid.
    Url(UrlError),
    /// Opening the TCP connection to `address` failed.
    Connect {
        /// `HOST:PORT` as written in the URL.
        address: String,
        /// The error of the last address tried.
        source: io::Error,
    },
    /// Reading from or writing to the server failed.
    Io(io::Error),
    /// The server closed the connection without an error message.
    Closed,
    /// The server broke the protocol.
    Protocol(ProtocolError),
    /// The login could not proceed because the server requested a method
    /// this client rejects or lacks, or because the URL has no password. The
    /// message names what to change.
    Auth(String),
    /// The SCRAM exchange failed on the client's side.
    Scram(ScramError),
    /// The server sent an ErrorResponse.
    Server(ServerNotice),
    /// The query cannot be sent, for example because it contains NUL.
    InvalidQuery(String),
    /// The query handler failed to write a result, for example to a closed
    /// pipe.
    Output(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(error) => write!(formatter, "invalid connection URL: {error}"),
            Self::Connect { address, source } => write!(formatter, "cannot connect to {address}: {source}"),
            Self::Io(error) => write!(formatter, "connection error: {error}"),
            Self::Closed => formatter.write_str("the server closed the connection unexpectedly"),
            Self::Protocol(error) => write!(formatter, "{error}"),
            Self::Auth(message) => formatter.write_str(message),
            Self::Scram(error) => write!(formatter, "SCRAM authentication failed: {error}"),
            Self::Server(notice) => write!(formatter, "{notice}"),
            Self::InvalidQuery(message) => write!(formatter, "invalid query: {message}"),
            Self::Output(error) => write!(formatter, "cannot write the result: {error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Url(error) => Some(error),
            Self::Connect { source, .. } => Some(source),
            Self::Io(error) | Self::Output(error) => Some(error),
            Self::Protocol(error) => Some(error),
            Self::Scram(error) => Some(error),
            _ => None,
        }
    }
}

impl From<UrlError> for Error {
    fn from(error: UrlError) -> Self {
        Self::Url(error)
    }
}

impl From<ProtocolError> for Error {
    fn from(error: ProtocolError) -> Self {
        Self::Protocol(error)
    }
}

impl From<ScramError> for Error {
    fn from(error: ScramError) -> Self {
        Self::Scram(error)
    }
}

impl From<io::Error> for Error {
    /// Maps end of file to [`Error::Closed`] and a [`ProtocolError`] carried
    /// by [`crate::message::read_message`] back to [`Error::Protocol`].
    fn from(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            return Self::Closed;
        }
        if let Some(protocol) = error.get_ref().and_then(|inner| inner.downcast_ref::<ProtocolError>()) {
            return Self::Protocol(protocol.clone());
        }
        Self::Io(error)
    }
}
