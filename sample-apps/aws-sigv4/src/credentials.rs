//! AWS credentials and the JSON form Lahat stores them in.
//!
//! An `aws.<profile>` credential is one JSON object:
//!
//! ```json
//! {"access_key_id": "AKIA...", "secret_access_key": "...",
//!  "session_token": "...", "region": "eu-west-1"}
//! ```
//!
//! `session_token` and `region` are optional; the region defaults to
//! `us-east-1`. Errors about the text never contain any value from it,
//! because a malformed paste may put the secret anywhere.

use std::fmt;

use serde_json::{Map, Value};

/// The region used when the credential names none.
pub const DEFAULT_REGION: &str = "us-east-1";

const FIELDS: &str = "access_key_id, secret_access_key, session_token and region";

/// An access key pair, an optional session token and the region to sign for.
///
/// `Debug` shows neither the secret nor the session token.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    region: String,
}

impl Credentials {
    /// Returns credentials from their parts, with `region` defaulting to
    /// `us-east-1`. Nothing is validated.
    pub fn new(
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
        region: Option<&str>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: session_token.map(str::to_owned),
            region: region.unwrap_or(DEFAULT_REGION).to_owned(),
        }
    }

    /// Parses the JSON form described in the module documentation.
    ///
    /// # Errors
    ///
    /// Returns a [`CredentialError`] when:
    /// - the text is not a JSON object,
    /// - a required field is missing or empty,
    /// - a field has the wrong type or is unknown,
    /// - the access key id or the region contain characters that cannot
    ///   appear in a SigV4 credential scope.
    pub fn from_json(text: &str) -> Result<Self, CredentialError> {
        let value: Value = serde_json::from_str(text).map_err(|err| CredentialError::NotJson {
            line: err.line(),
            column: err.column(),
        })?;
        let Value::Object(object) = value else {
            return Err(CredentialError::NotAnObject);
        };
        if let Some(unknown) = object.keys().find(|key| {
            !matches!(
                key.as_str(),
                "access_key_id" | "secret_access_key" | "session_token" | "region"
            )
        }) {
            return Err(CredentialError::UnknownField(displayable_field_name(unknown)));
        }

        let access_key_id = required_string(&object, "access_key_id")?;
        let secret_access_key = required_string(&object, "secret_access_key")?;
        let session_token = optional_string(&object, "session_token")?;
        let region = optional_string(&object, "region")?;

        let id_valid = access_key_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !id_valid {
            return Err(CredentialError::InvalidAccessKeyId);
        }
        if let Some(region) = region {
            let region_valid = !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !region_valid {
                return Err(CredentialError::InvalidRegion);
            }
        }
        Ok(Self::new(access_key_id, secret_access_key, session_token, region))
    }

    /// Returns the access key id, such as `AKIAIOSFODNN7EXAMPLE`.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// Returns the session token of temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// Returns the region to sign for.
    pub fn region(&self) -> &str {
        &self.region
    }

    pub(crate) fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("region", &self.region)
            .finish()
    }
}

/// The reason a credential's text is not usable. No variant carries a value
/// from the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialError {
    /// The text is not valid JSON; the position is where parsing stopped.
    NotJson {
        /// The line, counting from 1.
        line: usize,
        /// The column, counting from 1.
        column: usize,
    },
    /// The text is JSON but not an object.
    NotAnObject,
    /// A required field is missing.
    MissingField(&'static str),
    /// A required field is an empty string.
    EmptyField(&'static str),
    /// A field is neither a string nor, for optional fields, `null`.
    NotAString(&'static str),
    /// The object has a field this format does not define. The payload is
    /// its name when the name is short snake case, and a placeholder
    /// otherwise, because a mangled paste could put a secret in a name.
    UnknownField(String),
    /// The access key id has characters other than ASCII letters, digits,
    /// `-`, `_` and `.`.
    InvalidAccessKeyId,
    /// The region has characters other than lowercase ASCII letters, digits
    /// and `-`.
    InvalidRegion,
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJson { line, column } => write!(
                f,
                "the value is not valid JSON (parsing stopped at line {line}, column {column}); store an object such as {{\"access_key_id\": \"...\", \"secret_access_key\": \"...\"}}"
            ),
            Self::NotAnObject => f.write_str(
                "the value is JSON but not an object; store an object such as {\"access_key_id\": \"...\", \"secret_access_key\": \"...\"}",
            ),
            Self::MissingField(field) => write!(f, "the field `{field}` is missing"),
            Self::EmptyField(field) => write!(f, "the field `{field}` is empty"),
            Self::NotAString(field) => write!(f, "the field `{field}` is not a string"),
            Self::UnknownField(field) => write!(f, "unknown field {field}; the fields are {FIELDS}"),
            Self::InvalidAccessKeyId => f.write_str(
                "the field `access_key_id` has characters other than ASCII letters, digits, `-`, `_` and `.`; check that the key id and the secret are not swapped",
            ),
            Self::InvalidRegion => {
                f.write_str("the field `region` must be a region name such as `eu-west-1`: lowercase letters, digits and `-`")
            }
        }
    }
}

impl std::error::Error for CredentialError {}

fn required_string<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, CredentialError> {
    match object.get(field) {
        None | Some(Value::Null) => Err(CredentialError::MissingField(field)),
        Some(Value::String(text)) if text.is_empty() => Err(CredentialError::EmptyField(field)),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(CredentialError::NotAString(field)),
    }
}

fn optional_string<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, CredentialError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(CredentialError::NotAString(field)),
    }
}

fn displayable_field_name(name: &str) -> String {
    let snake_case = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if snake_case {
        format!("`{name}`")
    } else {
        "(name not shown because it is not short snake case)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn full_object_parses() {
        let text = format!(
            r#"{{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "{SECRET}", "session_token": "tok", "region": "eu-west-1"}}"#
        );
        let credentials = Credentials::from_json(&text).unwrap();
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.secret_access_key(), SECRET);
        assert_eq!(credentials.session_token(), Some("tok"));
        assert_eq!(credentials.region(), "eu-west-1");
    }

    #[test]
    fn optional_fields_default() {
        let text =
            format!(r#"{{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "{SECRET}", "session_token": null}}"#);
        let credentials = Credentials::from_json(&text).unwrap();
        assert_eq!(credentials.session_token(), None);
        assert_eq!(credentials.region(), "us-east-1");
    }

    #[test]
    fn bad_texts_give_errors_without_values() {
        let cases = [
            (SECRET.to_owned(), "not valid JSON"),
            (format!(r#"["{SECRET}"]"#), "not an object"),
            (
                format!(r#"{{"secret_access_key": "{SECRET}"}}"#),
                "`access_key_id` is missing",
            ),
            (
                format!(r#"{{"access_key_id": "", "secret_access_key": "{SECRET}"}}"#),
                "`access_key_id` is empty",
            ),
            (
                r#"{"access_key_id": "AKID"}"#.to_owned(),
                "`secret_access_key` is missing",
            ),
            (
                r#"{"access_key_id": "AKID", "secret_access_key": 5}"#.to_owned(),
                "`secret_access_key` is not a string",
            ),
            (
                format!(r#"{{"access_key_id": "AKID", "secret_access_key": "x", "{SECRET}": 1}}"#),
                "name not shown",
            ),
            (
                format!(r#"{{"access_key_id": "AKID", "secret_access_key": "{SECRET}", "profile": "x"}}"#),
                "unknown field `profile`",
            ),
            (
                format!(r#"{{"access_key_id": "{SECRET}", "secret_access_key": "AKID"}}"#),
                "not swapped",
            ),
            (
                format!(r#"{{"access_key_id": "AKID", "secret_access_key": "{SECRET}", "region": "EU West"}}"#),
                "`region` must be a region name",
            ),
        ];
        for (text, expected) in cases {
            let message = Credentials::from_json(&text).unwrap_err().to_string();
            assert!(message.contains(expected), "{text}: {message}");
            assert!(
                !message.contains(SECRET),
                "{text}: the message shows the secret: {message}"
            );
        }
    }

    #[test]
    fn debug_hides_secret_and_token() {
        let credentials = Credentials::new("AKIDEXAMPLE", SECRET, Some("token-value"), None);
        let shown = format!("{credentials:?}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!shown.contains("token-value"), "{shown}");
    }
}
