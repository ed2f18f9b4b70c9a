//! The network an app may reach: the HTTP origins and TCP endpoints its
//! manifest declares, and nothing else.
//!
//! HTTP requests are checked by scheme, canonical host name and port before
//! the host opens a connection. A redirect is not followed by the host, so
//! the guest must send a new request, which is checked again. TCP connections are checked
//! by address after resolution: the declared names are resolved when the run
//! starts, and a connection is allowed only to one of those addresses and the
//! declared port. IPv4-mapped IPv6 addresses are compared as the IPv4 address
//! they carry. Listening sockets, explicit binds and UDP are never allowed.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::output::Secrets;
use crate::permissions::{Host, HttpOrigin, HttpScheme, NetworkPermissions};

/// The resolved network permissions of one run.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    http: Vec<HttpOrigin>,
    tcp: Arc<BTreeSet<SocketAddr>>,
    tcp_names: bool,
}

impl NetworkPolicy {
    /// Resolves the declared TCP endpoints. A name that does not resolve
    /// allows nothing and is reported in the log.
    pub async fn resolve(permissions: &NetworkPermissions) -> Self {
        let mut tcp = BTreeSet::new();
        for endpoint in &permissions.tcp {
            match &endpoint.host {
                Host::Ip(ip) => {
                    tcp.insert(SocketAddr::new(ip.to_canonical(), endpoint.port));
                }
                Host::Name(name) => match tokio::net::lookup_host((name.as_str(), endpoint.port)).await {
                    Ok(addresses) => {
                        tcp.extend(addresses.map(|addr| SocketAddr::new(addr.ip().to_canonical(), addr.port())));
                    }
                    Err(err) => {
                        tracing::warn!(%endpoint, error = %err, "a declared TCP endpoint does not resolve; connections to it will be refused");
                    }
                },
            }
        }
        Self {
            http: permissions.http.clone(),
            tcp: Arc::new(tcp),
            tcp_names: permissions.tcp.iter().any(|endpoint| endpoint.host.ip().is_none()),
        }
    }

    /// Returns true when the app may resolve host names, which it needs only
    /// when a declared TCP endpoint is a name.
    ///
    /// NOTE: wasmtime-wasi resolves any name once lookups are on, so an app
    /// that declares a TCP host name can send data in DNS queries for names
    /// of its choosing. Its connections are still limited to the declared
    /// endpoints.
    pub fn allows_name_lookup(&self) -> bool {
        self.tcp_names
    }

    /// Returns true when the app may open a TCP connection to `addr`.
    pub fn allows_tcp(&self, addr: SocketAddr) -> bool {
        self.tcp
            .contains(&SocketAddr::new(addr.ip().to_canonical(), addr.port()))
    }

    /// Returns true when the policy allows any TCP connection.
    pub fn has_tcp(&self) -> bool {
        !self.tcp.is_empty()
    }

    /// Returns the check wasmtime-wasi runs before each socket operation.
    pub fn socket_check(
        &self,
    ) -> impl Fn(SocketAddr, SocketAddrUse) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send + Sync>>
    + Send
    + Sync
    + 'static {
        let policy = self.clone();
        move |addr, usage| {
            let allowed = match usage {
                SocketAddrUse::TcpConnect => policy.allows_tcp(addr),
                // `connect` binds implicitly to the wildcard address and port 0;
                // any other bind would let the app choose its own source.
                SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                _ => false,
            };
            if !allowed {
                tracing::warn!(address = %addr, use = ?usage, "socket operation refused: not declared in the manifest's [network] table");
            }
            Box::pin(std::future::ready(allowed))
        }
    }

    /// Checks the destination of an HTTP request.
    ///
    /// # Errors
    ///
    /// Returns the reason the request is refused.
    pub fn check_http(&self, uri: &http::Uri) -> Result<(), String> {
        let scheme = match uri.scheme_str() {
            Some("http") => HttpScheme::Http,
            Some("https") => HttpScheme::Https,
            _ => return Err("the request has no http or https scheme".to_owned()),
        };
        let authority = uri.authority().ok_or("the request has no host")?;
        if authority.as_str().contains('@') {
            return Err("the request's address carries a user name".to_owned());
        }
        let host = Host::parse(authority.host())?;
        let port = authority.port_u16().unwrap_or(scheme.default_port());
        if self.http.iter().any(|origin| origin.matches(scheme, &host, port)) {
            Ok(())
        } else {
            Err(format!(
                "{}://{host}:{port} is not declared in the manifest's `network.http`",
                scheme.as_str()
            ))
        }
    }
}

/// The `wasi:http` hooks of one run: every request goes through
/// [`NetworkPolicy::check_http`] before the host connects.
pub struct HttpHooks {
    policy: NetworkPolicy,
    app: String,
    delivered: Secrets,
}

impl HttpHooks {
    /// Creates the hooks for `app` under `policy`; log lines quoting a
    /// request mask the `delivered` values.
    pub fn new(policy: NetworkPolicy, app: String, delivered: Secrets) -> Self {
        Self { policy, app, delivered }
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

type ErrorCode = wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;

impl WasiHttpHooks for HttpHooks {
    // The app receives these errors and reports them itself, so the host logs
    // them only at debug level instead of the default hooks' warnings.
    fn p2_error_from_hyper(&mut self, err: &hyper::Error) -> ErrorCode {
        tracing::debug!(app = %self.app, error = %err, "HTTP exchange failed");
        ErrorCode::HttpProtocolError
    }

    fn p2_error_from_connect(&mut self, err: &std::io::Error) -> ErrorCode {
        tracing::debug!(app = %self.app, error = %err, "HTTP connection failed");
        ErrorCode::ConnectionRefused
    }

    fn p2_error_from_tls(&mut self, err: &std::io::Error) -> ErrorCode {
        tracing::debug!(app = %self.app, error = %err, "TLS handshake failed");
        ErrorCode::TlsProtocolError
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        if let Err(reason) = self.policy.check_http(request.uri()) {
            let reason = self.delivered.mask_text(&reason);
            tracing::warn!(app = %self.app, %reason, "HTTP request refused");
            return Box::new(std::future::ready(Err(HttpError::HttpRequestDenied)));
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options)
                .await
                .inspect_err(|err| tracing::debug!(error = ?err, "HTTP request failed"))?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(http: &[&str], tcp: &[&str]) -> NetworkPolicy {
        let permissions = NetworkPermissions {
            http: http.iter().map(|raw| HttpOrigin::try_from((*raw).to_owned()).unwrap()).collect(),
            tcp: tcp
                .iter()
                .map(|raw| crate::permissions::TcpEndpoint::try_from((*raw).to_owned()).unwrap())
                .collect(),
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(NetworkPolicy::resolve(&permissions))
    }

    #[test]
    fn http_requests_match_scheme_host_and_port_exactly() {
        let policy = policy(&["https://api.openai.com", "http://127.0.0.1:9000"], &[]);
        let allowed = |uri: &str| policy.check_http(&uri.parse().unwrap()).is_ok();
        assert!(allowed("https://api.openai.com/v1/models"));
        assert!(allowed("https://API.OPENAI.COM:443/v1/models"));
        assert!(allowed("http://127.0.0.1:9000/bucket"));
        for refused in [
            "http://api.openai.com/v1/models",
            "https://api.openai.com:8443/",
            "https://api.openai.com./",
            "https://api.openai.com.evil.example/",
            "https://evil@api.openai.com/",
            "http://127.0.0.1:9001/",
            "http://localhost:9000/",
            "http://2130706433:9000/",
            "http://0x7f000001:9000/",
            "http://127.1:9000/",
            "http://[::ffff:127.0.0.1]:9000/",
            "http://[::1]:9000/",
        ] {
            assert!(!allowed(refused), "{refused} was allowed");
        }
    }

    #[test]
    fn tcp_is_checked_by_resolved_address() {
        let policy = policy(&[], &["127.0.0.1:5432", "localhost:6000"]);
        let addr = |raw: &str| raw.parse::<SocketAddr>().unwrap();
        assert!(policy.allows_tcp(addr("127.0.0.1:5432")));
        assert!(policy.allows_tcp(addr("[::ffff:127.0.0.1]:5432")));
        assert!(policy.allows_tcp(addr("127.0.0.1:6000")));
        assert!(!policy.allows_tcp(addr("127.0.0.1:5433")));
        assert!(!policy.allows_tcp(addr("127.0.0.2:5432")));
        assert!(!policy.allows_tcp(addr("[::ffff:127.0.0.2]:5432")));
        assert!(!policy.allows_tcp(addr("0.0.0.0:5432")));
    }

    #[test]
    fn binds_listens_and_udp_are_refused() {
        let policy = policy(&[], &["127.0.0.1:5432"]);
        let check = policy.socket_check();
        let run = |addr: &str, usage| {
            block_on(check(addr.parse().unwrap(), usage))
        };
        assert!(run("0.0.0.0:0", SocketAddrUse::TcpBind));
        assert!(!run("127.0.0.1:8080", SocketAddrUse::TcpBind));
        assert!(!run("0.0.0.0:0", SocketAddrUse::TcpListen));
        assert!(!run("127.0.0.1:5432", SocketAddrUse::UdpSend));
        assert!(!run("0.0.0.0:0", SocketAddrUse::UdpBind));
    }

    fn block_on(future: std::pin::Pin<Box<dyn Future<Output = bool> + Send + Sync>>) -> bool {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }
}
