//! Exit codes and the error type that carries one.
//!
//! The codes follow BSD `sysexits.h` where one fits, so scripts can tell a
//! bad manifest from an unreachable keychain.

use std::fmt;

/// A process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitCode(pub u8);

impl ExitCode {
    /// Success.
    pub const SUCCESS: Self = Self(0);
    /// A failure with no more specific code.
    pub const FAILURE: Self = Self(1);
    /// Invalid command-line arguments, as clap reports them.
    pub const USAGE: Self = Self(2);
    /// Invalid manifest, component or input value (`EX_DATAERR`).
    pub const DATA_ERROR: Self = Self(65);
    /// A manifest, file or credential was not found (`EX_NOINPUT`).
    pub const NOT_FOUND: Self = Self(66);
    /// The credential store is unavailable, locked or not answering
    /// (`EX_UNAVAILABLE`).
    pub const STORE_UNAVAILABLE: Self = Self(69);
    /// The app crashed or could not start (`EX_SOFTWARE`).
    pub const APP_FAILED: Self = Self(70);
    /// A credential with the requested name already exists (`EX_CANTCREAT`).
    pub const ALREADY_EXISTS: Self = Self(73);
    /// The app is not approved for this component (`EX_NOPERM`).
    pub const NOT_APPROVED: Self = Self(77);
    /// The app ran longer than its time limit, as GNU `timeout` reports it.
    pub const TIMED_OUT: Self = Self(124);

    /// Converts an app's WASI exit status. Statuses outside 0 to 255 cannot
    /// be a process exit code on Unix and become 1, so a failing app never
    /// looks successful.
    pub fn from_app_status(status: i32) -> Self {
        u8::try_from(status).map_or(Self::FAILURE, Self)
    }
}

/// A failure of `lahat` itself, printed once by `main`.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: ExitCode,
    /// The message: what failed, on which value, and what to do.
    pub message: String,
}

impl CliError {
    /// Creates an error with `code` and `message`.
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<lahat_host::store::StoreError> for CliError {
    fn from(err: lahat_host::store::StoreError) -> Self {
        use lahat_host::store::StoreError;
        let code = match err {
            StoreError::Unavailable(_) | StoreError::Locked(_) | StoreError::TimedOut(_) => {
                ExitCode::STORE_UNAVAILABLE
            }
            StoreError::Corrupt(_) | StoreError::Rejected(_) => ExitCode::DATA_ERROR,
        };
        Self::new(code, err.to_string())
    }
}
