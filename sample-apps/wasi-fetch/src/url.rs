//! The part of URL parsing `wasi:http` needs: a scheme, an authority and a
//! path with its query.

use std::fmt;

use crate::Error;

/// The scheme of a URL: plain HTTP or HTTP over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http`.
    Http,
    /// `https`. The host makes the TLS connection and checks the
    /// certificate.
    Https,
}

impl Scheme {
    /// Returns the scheme's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// An absolute `http` or `https` URL split the way `wasi:http` takes it.
///
/// The parser checks the shape only: the scheme, a non-empty authority
/// without user information, and no spaces or control characters. It does
/// not percent-encode; callers pass paths and queries already encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    scheme: Scheme,
    authority: String,
    path_and_query: String,
}

impl Url {
    /// Parses an absolute URL such as `https://api.openai.com/v1/models`.
    /// A fragment (`#...`) is dropped, because it is never sent, and an
    /// empty path becomes `/`.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidUrl`] when the scheme is not `http` or
    /// `https`, the authority is empty or has user information (`user@`), or
    /// the URL contains whitespace or control characters.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let invalid = |reason: &'static str| Error::InvalidUrl {
            url: without_user_information(text),
            reason,
        };
        if text.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
            return Err(invalid("it contains whitespace or control characters"));
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| invalid("it does not start with http:// or https://"))?;
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(invalid("the scheme is not http or https"));
        };

        let rest = rest
            .split_once('#')
            .map_or(rest, |(before, _fragment)| before);
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        if authority.is_empty() {
            return Err(invalid("the host is missing"));
        }
        if authority.contains('@') {
            return Err(invalid(
                "user information (user@host) is not supported; pass credentials in headers",
            ));
        }
        let path_and_query = if path_and_query.starts_with('/') {
            path_and_query.to_owned()
        } else {
            format!("/{path_and_query}")
        };
        Ok(Self {
            scheme,
            authority: authority.to_owned(),
            path_and_query,
        })
    }

    /// Returns the scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Returns the authority, `host[:port]`, as the `Host` header carries it.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Returns the path and query, such as `/v1/models?limit=10`.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// Returns the path without the query.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(path, _query)| path)
    }

    /// Returns `scheme://authority`, the origin a manifest's `[network]`
    /// table lists.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority)
    }
}

/// Returns `text` with any `user:password@` before the host replaced by
/// `***@`, so that an error message never repeats a password.
fn without_user_information(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => text.to_owned(),
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority,
            self.path_and_query
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_parts() {
        let cases = [
            (
                "https://api.openai.com",
                Scheme::Https,
                "api.openai.com",
                "/",
            ),
            (
                "http://127.0.0.1:9000/",
                Scheme::Http,
                "127.0.0.1:9000",
                "/",
            ),
            (
                "HTTPS://h/v1/models?x=1#frag",
                Scheme::Https,
                "h",
                "/v1/models?x=1",
            ),
            ("http://[::1]:8080?a=b", Scheme::Http, "[::1]:8080", "/?a=b"),
        ];
        for (text, scheme, authority, path_and_query) in cases {
            let url = Url::parse(text).unwrap();
            assert_eq!(url.scheme(), scheme, "{text}");
            assert_eq!(url.authority(), authority, "{text}");
            assert_eq!(url.path_and_query(), path_and_query, "{text}");
        }
    }

    #[test]
    fn path_excludes_query() {
        let url = Url::parse("http://h/bucket?list-type=2").unwrap();
        assert_eq!(url.path(), "/bucket");
        assert_eq!(url.origin(), "http://h");
        assert_eq!(url.to_string(), "http://h/bucket?list-type=2");
    }

    #[test]
    fn bad_urls_are_rejected() {
        let cases = [
            ("ftp://h/", "not http or https"),
            ("api.openai.com", "does not start with"),
            ("https:///path", "host is missing"),
            ("https://user:pw@h/", "user information"),
            ("https://h/a b", "whitespace"),
        ];
        for (text, expected) in cases {
            let message = Url::parse(text).unwrap_err().to_string();
            assert!(message.contains(expected), "{text}: {message}");
        }
    }

    #[test]
    fn error_hides_password() {
        let message = Url::parse("https://user:hunter2@h/")
            .unwrap_err()
            .to_string();
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("https://***@h/"), "{message}");
    }
}
