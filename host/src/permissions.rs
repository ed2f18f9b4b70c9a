//! Manifest permissions beyond credentials: network destinations, folders,
//! limits, and the tester role.
//!
//! Every permission is off unless the manifest declares it, and each value is
//! validated while deserializing so that `toml` reports the line and column
//! of a bad one. Host names are kept in one canonical spelling so that the
//! runtime can compare them exactly.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::manifest::Text;

/// The minimum memory limit a manifest may ask for.
pub const MIN_MEMORY_BYTES: u64 = 1024 * 1024;
/// The maximum memory limit a manifest may ask for.
pub const MAX_MEMORY_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// The maximum time limit a manifest may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// The maximum output limit a manifest may ask for.
pub const MAX_OUTPUT_BYTES: u64 = 1024 * 1024 * 1024;

const MAX_HOST_LEN: usize = 253;
const MAX_GUEST_PATH_LEN: usize = 256;

/// The `[network]` table: where the app may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkPermissions {
    /// Origins the app may send HTTP requests to through `wasi:http`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpOrigin>,
    /// Endpoints the app may open TCP connections to through `wasi:sockets`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tcp: Vec<TcpEndpoint>,
}

impl NetworkPermissions {
    /// Returns true when the app may not use the network at all.
    pub fn is_empty(&self) -> bool {
        self.http.is_empty() && self.tcp.is_empty()
    }
}

/// A host in canonical form: a lowercase DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    /// A DNS name, lowercase, without a trailing dot.
    Name(String),
    /// An IP address.
    Ip(IpAddr),
}

impl Host {
    /// Parses a host as a manifest or a request names it.
    ///
    /// DNS names are lowercased (DNS compares names without case). IPv4
    /// addresses must be four decimal numbers and IPv6 addresses must be in
    /// brackets. Names that a resolver would read as a number
    /// (`2130706433`, `0x7f000001`, `127.1`), trailing dots, empty labels
    /// and characters outside letters, digits and `-` are refused, so that
    /// one destination has one spelling.
    ///
    /// # Errors
    ///
    /// Returns the reason the host is not acceptable.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if let Some(inner) = raw.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| "an IPv6 address must be closed with `]`".to_owned())?;
            let ip: Ipv6Addr = inner
                .parse()
                .map_err(|_| format!("\"{}\" is not an IPv6 address", escape(inner)))?;
            if let Some(v4) = ip.to_ipv4_mapped() {
                return Err(format!("\"{}\" carries an IPv4 address; write it as {v4}", escape(raw)));
            }
            if ip.is_unspecified() {
                return Err("[::] is not a destination; write the address of the server".to_owned());
            }
            return Ok(Self::Ip(IpAddr::V6(ip)));
        }
        if let Ok(ip) = raw.parse::<Ipv4Addr>() {
            if ip.is_unspecified() || ip.is_broadcast() {
                return Err(format!("{ip} is not a destination; write the address of the server"));
            }
            return Ok(Self::Ip(IpAddr::V4(ip)));
        }
        if raw.is_empty() || raw.len() > MAX_HOST_LEN {
            return Err(format!("a host name has 1 to {MAX_HOST_LEN} characters"));
        }
        if raw.ends_with('.') {
            return Err(format!(
                "\"{}\" ends with a dot; write the name without it",
                escape(raw)
            ));
        }
        let lower = raw.to_ascii_lowercase();
        for label in lower.split('.') {
            let valid = !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !valid {
                return Err(format!(
                    "\"{}\" is not a host name: each dot-separated part has 1 to 63 ASCII letters, digits or `-`, not at either end (write internationalized names in their xn-- form)",
                    escape(raw)
                ));
            }
        }
        let last = lower.rsplit('.').next().unwrap_or_default();
        let numeric = last.bytes().all(|b| b.is_ascii_digit())
            || (last.starts_with("0x") && last[2..].bytes().all(|b| b.is_ascii_hexdigit()));
        if numeric {
            return Err(format!(
                "\"{}\" would be read as a number by a resolver; write an IPv4 address as four decimal numbers such as 127.0.0.1",
                escape(raw)
            ));
        }
        Ok(Self::Name(lower))
    }

    /// Returns the address when the host is an IP address.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Ip(ip) => Some(*ip),
            Self::Name(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// The scheme of an HTTP origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HttpScheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS, with the certificate checked by the host.
    Https,
}

impl HttpScheme {
    /// Returns the scheme's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// Returns the scheme's default port.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// An HTTP origin such as `https://api.openai.com` or
/// `http://127.0.0.1:9000`: a scheme, a host and a port, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpOrigin {
    /// The scheme.
    pub scheme: HttpScheme,
    /// The host.
    pub host: Host,
    /// The port, the scheme's default when the origin has none.
    pub port: u16,
}

impl HttpOrigin {
    /// Returns true when a request to `scheme://host:port` goes to this
    /// origin. `host` must already be in canonical form.
    pub fn matches(&self, scheme: HttpScheme, host: &Host, port: u16) -> bool {
        self.scheme == scheme && &self.host == host && self.port == port
    }
}

impl TryFrom<String> for HttpOrigin {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let bad = |why: String| {
            format!(
                "invalid HTTP origin \"{}\": {why}; write scheme://host[:port] such as \"https://api.openai.com\"",
                escape(&raw)
            )
        };
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| bad("it has no scheme".to_owned()))?;
        let scheme = match scheme {
            "http" => HttpScheme::Http,
            "https" => HttpScheme::Https,
            other => return Err(bad(format!("the scheme \"{}\" is not http or https", escape(other)))),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad("an origin has no path, query, fragment or user name".to_owned()));
        }
        let (host, port) = split_host_port(rest).map_err(bad)?;
        let port = match port {
            Some(port) => port,
            None => scheme.default_port(),
        };
        Ok(Self { scheme, host, port })
    }
}

impl From<HttpOrigin> for String {
    fn from(origin: HttpOrigin) -> Self {
        origin.to_string()
    }
}

impl fmt::Display for HttpOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// A TCP endpoint such as `db.example.com:5432`: a host and a port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TcpEndpoint {
    /// The host.
    pub host: Host,
    /// The port.
    pub port: u16,
}

impl TryFrom<String> for TcpEndpoint {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let bad = |why: String| {
            format!(
                "invalid TCP endpoint \"{}\": {why}; write host:port such as \"127.0.0.1:5432\"",
                escape(&raw)
            )
        };
        let (host, port) = split_host_port(&raw).map_err(bad)?;
        let port = port.ok_or_else(|| bad("it has no port".to_owned()))?;
        Ok(Self { host, port })
    }
}

impl From<TcpEndpoint> for String {
    fn from(endpoint: TcpEndpoint) -> Self {
        endpoint.to_string()
    }
}

impl fmt::Display for TcpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Splits `host[:port]`, with IPv6 hosts in brackets.
fn split_host_port(raw: &str) -> Result<(Host, Option<u16>), String> {
    let (host, port) = if raw.starts_with('[') {
        match raw.split_once(']') {
            Some((inside, "")) => (format!("{inside}]"), None),
            Some((inside, rest)) => {
                let port = rest
                    .strip_prefix(':')
                    .ok_or_else(|| "text follows the IPv6 address".to_owned())?;
                (format!("{inside}]"), Some(port))
            }
            None => return Err("an IPv6 address must be closed with `]`".to_owned()),
        }
    } else {
        match raw.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (raw.to_owned(), None),
        }
    };
    let port = port
        .map(|port| match port.parse::<u16>() {
            Ok(number) if number != 0 && !port.starts_with('0') => Ok(number),
            _ => Err(format!("the port \"{}\" is not a number from 1 to 65535", escape(port))),
        })
        .transpose()?;
    Ok((Host::parse(&host)?, port))
}

/// The destination of a tester's one request: an HTTP origin for `wasi:http`, or
/// `tcp://host:port` for `wasi:sockets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Endpoint {
    /// An HTTP origin.
    Http(HttpOrigin),
    /// A TCP endpoint.
    Tcp(TcpEndpoint),
}

impl TryFrom<String> for Endpoint {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        match raw.strip_prefix("tcp://") {
            Some(rest) => TcpEndpoint::try_from(rest.to_owned()).map(Self::Tcp),
            None => HttpOrigin::try_from(raw).map(Self::Http),
        }
    }
}

impl From<Endpoint> for String {
    fn from(endpoint: Endpoint) -> Self {
        endpoint.to_string()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(origin) => write!(f, "{origin}"),
            Self::Tcp(endpoint) => write!(f, "tcp://{endpoint}"),
        }
    }
}

impl Endpoint {
    /// Returns the network permission that allows exactly this endpoint.
    pub fn permission(&self) -> NetworkPermissions {
        match self {
            Self::Http(origin) => NetworkPermissions {
                http: vec![origin.clone()],
                tcp: Vec::new(),
            },
            Self::Tcp(endpoint) => NetworkPermissions {
                http: Vec::new(),
                tcp: vec![endpoint.clone()],
            },
        }
    }
}

/// Whether the app may change a folder's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FolderAccess {
    /// List and read files.
    Read,
    /// Also create, write, rename and remove files and folders.
    ReadWrite,
}

impl FolderAccess {
    /// Returns the access as the manifest spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReadWrite => "read-write",
        }
    }
}

/// One `[[folders]]` entry: a folder the app opens at `path`, which the user
/// binds to a host folder when running the app.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderRequest {
    /// The folder's path inside the app.
    pub path: GuestPath,
    /// The app's access to the folder.
    pub access: FolderAccess,
    /// The reason the app needs it, shown to the user.
    pub purpose: Text,
}

/// A folder path inside the app: absolute, with plain segments of letters,
/// digits, `-`, `_` and `.`, such as `/backup`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GuestPath(String);

impl GuestPath {
    /// Returns the path as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for GuestPath {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let segments_ok = raw.strip_prefix('/').is_some_and(|rest| {
            rest.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            })
        });
        if !segments_ok || raw.len() > MAX_GUEST_PATH_LEN {
            return Err(format!(
                "invalid folder path \"{}\": write an absolute path of plain segments (letters, digits, `-`, `_`, `.`) such as \"/backup\"",
                escape(&raw)
            ));
        }
        Ok(Self(raw))
    }
}

impl From<GuestPath> for String {
    fn from(path: GuestPath) -> Self {
        path.0
    }
}

impl fmt::Display for GuestPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `[limits]` table: limits the app needs beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRequest {
    /// The maximum size of each linear memory, such as `"512 MiB"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    /// The maximum wall-clock time of a run, such as `"10m"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    /// The maximum bytes the app may write to stdout and to stderr, each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<ByteSize>,
}

impl LimitRequest {
    /// Returns true when the manifest requests no limit of its own.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A size in bytes, written as a number with an optional `KiB`, `MiB` or
/// `GiB` unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ByteSize(pub u64);

impl TryFrom<String> for ByteSize {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let trimmed = raw.trim();
        let split = trimmed
            .find(|ch: char| !ch.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let multiplier: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1024,
            "MiB" => 1024 * 1024,
            "GiB" => 1024 * 1024 * 1024,
            _ => 0,
        };
        let bytes = number
            .parse::<u64>()
            .ok()
            .and_then(|number| number.checked_mul(multiplier))
            .filter(|&bytes| bytes > 0);
        bytes.map(Self).ok_or_else(|| {
            format!(
                "invalid size \"{}\": write a positive number with an optional unit KiB, MiB or GiB, such as \"512 MiB\"",
                escape(&raw)
            )
        })
    }
}

impl From<ByteSize> for String {
    fn from(size: ByteSize) -> Self {
        size.to_string()
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        for (size, unit) in UNITS {
            if self.0.is_multiple_of(size) {
                return write!(f, "{} {unit}", self.0 / size);
            }
        }
        write!(f, "{} B", self.0)
    }
}

/// A time limit, written in humantime form such as `"90s"` or `"10m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timeout(pub Duration);

impl TryFrom<String> for Timeout {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        match humantime::parse_duration(raw.trim()) {
            Ok(duration) if !duration.is_zero() => Ok(Self(duration)),
            _ => Err(format!(
                "invalid time limit \"{}\": write a duration such as \"90s\" or \"10m\"",
                escape(&raw)
            )),
        }
    }
}

impl From<Timeout> for String {
    fn from(timeout: Timeout) -> Self {
        humantime::format_duration(timeout.0).to_string()
    }
}

/// The `[tester]` table: the app tests credentials of one namespace for
/// `lahat credential test`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TesterInfo {
    /// The namespace whose credentials the app tests, such as `openai`.
    pub namespace: Namespace,
    /// The endpoint the tester sends its request to unless the user names
    /// another one.
    pub endpoint: Endpoint,
}

/// The first segment of a credential name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Namespace(String);

impl Namespace {
    /// Returns the namespace as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Namespace {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid {
            return Err(format!(
                "invalid namespace \"{}\": use the first segment of a credential name, such as \"openai\"",
                escape(&raw)
            ));
        }
        Ok(Self(raw))
    }
}

fn escape(raw: &str) -> String {
    raw.chars().take(64).collect::<String>().escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(raw: &str) -> Result<HttpOrigin, String> {
        HttpOrigin::try_from(raw.to_owned())
    }

    fn tcp(raw: &str) -> Result<TcpEndpoint, String> {
        TcpEndpoint::try_from(raw.to_owned())
    }

    #[test]
    fn origins_take_default_ports_and_lowercase_names() {
        let openai = origin("https://API.OpenAI.com").unwrap();
        assert_eq!(openai.to_string(), "https://api.openai.com");
        assert_eq!(openai.port, 443);
        let local = origin("http://127.0.0.1:9000/").unwrap();
        assert_eq!(local.to_string(), "http://127.0.0.1:9000");
        assert_eq!(origin("http://[::1]:8080").unwrap().host, Host::Ip("::1".parse().unwrap()));
    }

    #[test]
    fn numeric_and_disguised_hosts_are_refused() {
        for raw in [
            "http://2130706433",
            "http://0x7f000001",
            "http://127.1",
            "http://0177.0.0.1",
            "http://127.0.0.1.",
            "http://api.openai.com.",
            "http://api..openai.com",
            "http://аpi.openai.com",
            "http://api.openai.com\u{0}",
            "http://api openai.com",
            "http://*.openai.com",
            "http://user@api.openai.com",
            "http://api.openai.com/v1",
            "http://[::1",
            "http://[::ffff:127.0.0.1]",
            "http://0.0.0.0",
            "http://[::]",
            "http://255.255.255.255",
            "http://api.openai.com:0",
            "http://api.openai.com:080",
            "http://api.openai.com:65536",
            "ftp://api.openai.com",
            "api.openai.com",
        ] {
            assert!(origin(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn tcp_endpoints_need_a_port() {
        assert_eq!(tcp("DB.example.com:5432").unwrap().to_string(), "db.example.com:5432");
        assert!(tcp("db.example.com").is_err());
        assert!(tcp("[::1]:5432").is_ok());
        assert!(tcp("[::ffff:127.0.0.1]:5432").is_err());
    }

    #[test]
    fn sizes_and_timeouts_parse_with_units() {
        assert_eq!(ByteSize::try_from("512 MiB".to_owned()).unwrap().0, 512 << 20);
        assert_eq!(ByteSize::try_from("1GiB".to_owned()).unwrap().to_string(), "1 GiB");
        assert!(ByteSize::try_from("0".to_owned()).is_err());
        assert!(ByteSize::try_from("-1 MiB".to_owned()).is_err());
        assert!(ByteSize::try_from("99999999999999 GiB".to_owned()).is_err());
        assert_eq!(Timeout::try_from("90s".to_owned()).unwrap().0, Duration::from_secs(90));
    }

    #[test]
    fn guest_paths_are_absolute_plain_segments() {
        assert!(GuestPath::try_from("/backup/photos".to_owned()).is_ok());
        for raw in ["backup", "/", "/../etc", "/a//b", "/a/", "/a/./b", "/a b"] {
            assert!(GuestPath::try_from(raw.to_owned()).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn endpoints_are_http_or_tcp() {
        let tcp = Endpoint::try_from("tcp://127.0.0.1:5432".to_owned()).unwrap();
        assert_eq!(tcp.to_string(), "tcp://127.0.0.1:5432");
        assert_eq!(tcp.permission().tcp.len(), 1);
        let http = Endpoint::try_from("https://api.anthropic.com".to_owned()).unwrap();
        assert_eq!(http.permission().http.len(), 1);
    }
}
