//! Connection URLs of the form `postgres://USER:PASSWORD@HOST:PORT/DATABASE`.
//!
//! The parser accepts the subset of libpq's URL syntax that a single plain
//! TCP connection needs. Error messages never contain the URL or the
//! password, because the URL usually carries the password.

use std::fmt;
use std::net::Ipv6Addr;

use zeroize::Zeroize;

/// The port PostgreSQL listens on unless the URL names another.
pub const DEFAULT_PORT: u16 = 5432;

/// A parsed connection URL.
pub struct ConnectionUrl {
    /// Host name or IP address, with the brackets of an IPv6 address removed.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Role name to log in as, percent-decoded.
    pub user: String,
    /// Database name, percent-decoded; the user name when the URL has none.
    pub database: String,
    password: Option<Password>,
}

/// A password that is zeroed when dropped and never printed.
///
/// It has no `Display`, and its `Debug` prints a placeholder; the value is
/// reached only through [`Password::expose`].
pub struct Password(String);

impl Password {
    /// Returns the password itself, for the login exchange.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Password(<redacted>)")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The reason a connection URL was rejected. The message names the part of
/// the URL that is wrong but never contains the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(String);

impl fmt::Display for UrlError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

fn invalid(message: impl Into<String>) -> UrlError {
    UrlError(message.into())
}

impl ConnectionUrl {
    /// Parses `postgres://USER[:PASSWORD]@HOST[:PORT][/DATABASE][?sslmode=MODE]`.
    ///
    /// The scheme may also be `postgresql://`. The user, password and
    /// database are percent-decoded. An IPv6 host is written in brackets.
    ///
    /// # Errors
    ///
    /// Returns a [`UrlError`] naming the wrong part when the scheme, user,
    /// host, port, database or a parameter is missing or invalid, when the URL
    /// lists several hosts, and when `sslmode` requires TLS, which this
    /// client does not implement.
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let rest = strip_scheme(text).ok_or_else(|| {
            invalid("the URL must start with postgres:// or postgresql://, as in postgres://USER:PASSWORD@HOST:5432/DATABASE")
        })?;
        if rest.contains('#') {
            return Err(invalid("the URL contains a `#` fragment; percent-encode a `#` in the password as %23"));
        }
        let (rest, query) = match rest.split_once('?') {
            Some((before, query)) => (before, Some(query)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((authority, path)) => (authority, path),
            None => (rest, ""),
        };

        // The last `@` ends the user information, so an unencoded `@` in the
        // password still parses.
        let (user_info, host_port) = authority.rsplit_once('@').ok_or_else(|| {
            invalid(
                "the URL names no user; write postgres://USER:PASSWORD@HOST:PORT/DATABASE and percent-encode any `/` or `?` in the password as %2F or %3F",
            )
        })?;
        let (user, password) = match user_info.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (user_info, None),
        };
        let user = percent_decode(user, "user name")?;
        if user.is_empty() {
            return Err(invalid("the URL names no user; write postgres://USER:PASSWORD@HOST:PORT/DATABASE"));
        }
        let password = match password {
            Some(encoded) => Some(Password(percent_decode(encoded, "password")?)),
            None => None,
        };

        let (host, port) = parse_host_port(host_port)?;
        let database = if path.is_empty() {
            user.clone()
        } else {
            percent_decode(path, "database name")?
        };
        for (what, value) in [("user name", &user), ("database name", &database)] {
            if value.contains('\0') {
                return Err(invalid(format!("the {what} contains a NUL character (%00), which PostgreSQL does not allow")));
            }
        }
        if database.contains('/') {
            return Err(invalid(format!("invalid database name `{database}`: it contains `/`; percent-encode it as %2F")));
        }
        if let Some(query) = query {
            check_parameters(query)?;
        }

        Ok(Self {
            host,
            port,
            user,
            database,
            password,
        })
    }

    /// Returns the password, when the URL has one.
    pub fn password(&self) -> Option<&Password> {
        self.password.as_ref()
    }

    /// Returns `HOST:PORT`, with an IPv6 host in brackets.
    pub fn address(&self) -> String {
        format_address(&self.host, self.port)
    }

    /// Returns the URL without the password, safe to print.
    pub fn redacted(&self) -> String {
        format!("postgres://{}@{}/{}", self.user, self.address(), self.database)
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ConnectionUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("database", &self.database)
            .field("password", &self.password)
            .finish()
    }
}

/// Formats `host:port`, putting an IPv6 address in brackets.
pub fn format_address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn strip_scheme(text: &str) -> Option<&str> {
    ["postgresql://", "postgres://"].iter().find_map(|scheme| {
        let head = text.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme).then(|| &text[scheme.len()..])
    })
}

/// Parses `HOST[:PORT]` or `[IPV6][:PORT]`.
pub fn parse_host_port(text: &str) -> Result<(String, u16), UrlError> {
    if text.contains(',') {
        return Err(invalid(format!(
            "the URL lists several hosts (`{text}`); give exactly one HOST:PORT"
        )));
    }
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        let (address, after) = bracketed
            .split_once(']')
            .ok_or_else(|| invalid(format!("invalid host `{text}`: the `[` of an IPv6 address has no closing `]`")))?;
        if address.parse::<Ipv6Addr>().is_err() {
            return Err(invalid(format!("invalid IPv6 address `{address}`")));
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| {
                invalid(format!("invalid host `{text}`: expected `:PORT` after the `]`"))
            })?),
        };
        (address.to_owned(), port)
    } else {
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        check_host_name(host)?;
        (host.to_owned(), port)
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => parse_port(port)?,
    };
    Ok((host, port))
}

fn check_host_name(host: &str) -> Result<(), UrlError> {
    if host.is_empty() {
        return Err(invalid(
            "the URL names no host; write postgres://USER:PASSWORD@HOST:PORT/DATABASE (Unix sockets are not supported)",
        ));
    }
    if let Some(bad) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(invalid(format!(
            "invalid host `{}`: it contains {bad:?}; a host is a name of ASCII letters, digits, `.`, `-` and `_`, an IPv4 address, or an IPv6 address in brackets",
            host.escape_debug()
        )));
    }
    Ok(())
}

fn parse_port(text: &str) -> Result<u16, UrlError> {
    match text.parse::<u16>() {
        Ok(port) if port != 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(invalid(format!(
            "invalid port `{}`; give a number from 1 to 65535",
            text.escape_debug()
        ))),
    }
}

/// Accepts only `sslmode` values that allow a connection without TLS.
fn check_parameters(query: &str) -> Result<(), UrlError> {
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key, "URL parameter name")?;
        match key.as_str() {
            "sslmode" => {
                let value = percent_decode(value, "sslmode value")?;
                match value.as_str() {
                    "disable" | "allow" | "prefer" => {}
                    "require" | "verify-ca" | "verify-full" => {
                        return Err(invalid(format!(
                            "sslmode={value} asks for TLS, which this client does not support; use a server reachable without TLS and sslmode=disable"
                        )));
                    }
                    _ => {
                        return Err(invalid(format!(
                            "invalid sslmode `{}`; use disable",
                            value.escape_debug()
                        )));
                    }
                }
            }
            // The value is not shown because parameters such as `password`
            // carry secrets.
            _ => {
                return Err(invalid(format!(
                    "unsupported URL parameter `{}`; the only parameter accepted is sslmode",
                    key.escape_debug()
                )));
            }
        }
    }
    Ok(())
}

/// Decodes `%XX` escapes; `what` names the part in the error message, which
/// never includes the text itself.
fn percent_decode(text: &str, what: &str) -> Result<String, UrlError> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes
                .get(index + 1..index + 3)
                .and_then(|pair| std::str::from_utf8(pair).ok())
                .and_then(|pair| u8::from_str_radix(pair, 16).ok());
            match hex {
                Some(byte) => decoded.push(byte),
                None => {
                    decoded.zeroize();
                    return Err(invalid(format!(
                        "invalid percent-encoding in the {what}: `%` must be followed by two hex digits; write a literal `%` as %25"
                    )));
                }
            }
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).map_err(|error| {
        error.into_bytes().zeroize();
        invalid(format!("the {what} is not valid UTF-8 after percent-decoding"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url_is_parsed() {
        let url = ConnectionUrl::parse("postgres://lahat:s3cret@127.0.0.1:5433/app").unwrap();
        assert_eq!(url.host, "127.0.0.1");
        assert_eq!(url.port, 5433);
        assert_eq!(url.user, "lahat");
        assert_eq!(url.database, "app");
        assert_eq!(url.password().unwrap().expose(), "s3cret");
        assert_eq!(url.redacted(), "postgres://lahat@127.0.0.1:5433/app");
    }

    #[test]
    fn defaults_fill_port_and_database() {
        let url = ConnectionUrl::parse("postgresql://ada@db.example").unwrap();
        assert_eq!(url.port, DEFAULT_PORT);
        assert_eq!(url.database, "ada");
        assert!(url.password().is_none());
    }

    #[test]
    fn scheme_is_case_insensitive() {
        let url = ConnectionUrl::parse("PostgreSQL://ada:pw@localhost/db").unwrap();
        assert_eq!(url.host, "localhost");
    }

    #[test]
    fn user_and_password_are_percent_decoded() {
        let url = ConnectionUrl::parse("postgres://us%40er:p%3Aw%2F%25%23d@h:1/d%20b").unwrap();
        assert_eq!(url.user, "us@er");
        assert_eq!(url.password().unwrap().expose(), "p:w/%#d");
        assert_eq!(url.database, "d b");
    }

    #[test]
    fn unencoded_at_in_password_is_kept() {
        let url = ConnectionUrl::parse("postgres://ada:p@ss@h/db").unwrap();
        assert_eq!(url.password().unwrap().expose(), "p@ss");
        assert_eq!(url.host, "h");
    }

    #[test]
    fn ipv6_host_keeps_brackets_in_address() {
        let url = ConnectionUrl::parse("postgres://ada:pw@[::1]:6000/db").unwrap();
        assert_eq!(url.host, "::1");
        assert_eq!(url.port, 6000);
        assert_eq!(url.address(), "[::1]:6000");
    }

    #[test]
    fn sslmode_without_tls_is_accepted() {
        for mode in ["disable", "allow", "prefer"] {
            let text = format!("postgres://ada:pw@h/db?sslmode={mode}");
            assert!(ConnectionUrl::parse(&text).is_ok(), "sslmode={mode} was rejected");
        }
    }

    #[test]
    fn invalid_urls_are_rejected_with_reason() {
        let cases = [
            ("mysql://ada:pw@h/db", "must start with postgres://"),
            ("postgres://h/db", "names no user"),
            ("postgres://:pw@h/db", "names no user"),
            ("postgres://ada:pw@/db", "names no host"),
            ("postgres://ada:pw@h:0/db", "invalid port `0`"),
            ("postgres://ada:pw@h:99999/db", "invalid port `99999`"),
            ("postgres://ada:pw@h:+5/db", "invalid port `+5`"),
            ("postgres://ada:pw@h:x/db", "invalid port `x`"),
            ("postgres://ada:pw@h1,h2/db", "several hosts"),
            ("postgres://ada:pw@[::1/db", "no closing `]`"),
            ("postgres://ada:pw@[zz]/db", "invalid IPv6 address `zz`"),
            ("postgres://ada:pw@h%20x/db", "invalid host"),
            ("postgres://ada:pw@h/db?sslmode=require", "asks for TLS"),
            ("postgres://ada:pw@h/db?sslmode=verify-full", "asks for TLS"),
            ("postgres://ada:pw@h/db?sslmode=sometimes", "invalid sslmode"),
            ("postgres://ada:pw@h/db?connect_timeout=5", "unsupported URL parameter `connect_timeout`"),
            ("postgres://ada:pw@h/db#frag", "fragment"),
            ("postgres://ada:pw@h/a%2Fb", "contains `/`"),
            ("postgres://a%00:pw@h/db", "user name contains a NUL"),
            ("postgres://ada:pw@h/d%00", "database name contains a NUL"),
        ];
        for (text, expected) in cases {
            let error = ConnectionUrl::parse(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: expected {expected:?} in {error:?}");
        }
    }

    #[test]
    fn errors_never_contain_password() {
        let cases = [
            "postgres://ada:hunter2%zz@h/db",
            "postgres://ada:hunter2%ff@h/db",
            "postgres://ada:hunter2@h:bad/db",
            "postgres://ada:hunter2@h/db?password=hunter2",
            "postgres://ada:hunter2@h/db?sslmode=require",
            "mysql://ada:hunter2@h/db",
        ];
        for text in cases {
            let error = ConnectionUrl::parse(text).expect_err(text).to_string();
            assert!(!error.contains("hunter2"), "{text}: the error shows the password: {error}");
        }
    }

    #[test]
    fn debug_hides_password() {
        let url = ConnectionUrl::parse("postgres://ada:hunter2@h/db").unwrap();
        let printed = format!("{url:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }
}
