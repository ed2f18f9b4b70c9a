//! Credential names and their validation.
//!
//! Every name that reaches the vault, whether it comes from a manifest, the
//! command line or a guest, passes through [`CredentialName::parse`]. Names are
//! compared byte for byte after validation: nothing is folded, trimmed or
//! normalised, so a look-alike name is rejected instead of matched.

use std::fmt;

use serde::Serialize;

/// The maximum length of a credential name, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// The maximum number of characters of a rejected value that error messages
/// repeat.
const MAX_ECHO_CHARS: usize = 64;

/// A validated credential name such as `aws.default` or `claude.production`.
///
/// A name is two or more segments separated by `.`. Each segment is one or
/// more lowercase ASCII letters, digits, `-` or `_`. The whole name is at
/// most [`MAX_NAME_LEN`] bytes. The first segment is the namespace (the
/// service, such as `aws`) and the rest is the profile.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct CredentialName(String);

/// The reason a string is not a valid credential name.
///
/// `Display` quotes the rejected value escaped and shortened, so a hostile
/// name can neither flood a terminal nor inject control sequences into it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid credential name {value}: {reason}")]
pub struct InvalidName {
    value: String,
    reason: String,
}

impl InvalidName {
    fn new(raw: &str, reason: impl Into<String>) -> Self {
        Self {
            value: quote_for_display(raw),
            reason: reason.into(),
        }
    }

    /// Returns the rejected name, escaped, quoted and shortened.
    pub fn quoted_value(&self) -> &str {
        &self.value
    }

    /// Returns the rule the name breaks, without the name itself.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl CredentialName {
    /// Validates `raw` as a credential name.
    ///
    /// # Errors
    ///
    /// Returns [`InvalidName`] when `raw` is empty, longer than
    /// [`MAX_NAME_LEN`] bytes, has fewer than two segments, has an empty
    /// segment, or contains any byte other than lowercase ASCII letters,
    /// digits, `-`, `_` and the `.` separator. The error names the first
    /// offending character and its byte offset.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        if raw.is_empty() {
            return Err(InvalidName::new(raw, "the name is empty"));
        }
        if raw.len() > MAX_NAME_LEN {
            return Err(InvalidName::new(
                raw,
                format!(
                    "the name is {} bytes long, and the maximum is {MAX_NAME_LEN}",
                    raw.len()
                ),
            ));
        }
        if let Some((offset, ch)) = raw.char_indices().find(|&(_, ch)| !is_name_char(ch)) {
            return Err(InvalidName::new(raw, describe_bad_char(ch, offset)));
        }
        if !raw.contains('.') {
            return Err(InvalidName::new(
                raw,
                "a name needs at least two segments, `namespace.profile` (for example `aws.default`)",
            ));
        }
        if raw.split('.').any(str::is_empty) {
            return Err(InvalidName::new(
                raw,
                "a segment is empty; names cannot start or end with `.` or contain `..`",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Returns the name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the namespace, the segment before the first `.`.
    pub fn namespace(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }
}

fn is_name_char(ch: char) -> bool {
    matches!(ch, 'a'..='z' | '0'..='9' | '-' | '_' | '.')
}

fn describe_bad_char(ch: char, offset: usize) -> String {
    let allowed = "names use only lowercase ASCII letters, digits, `-`, `_` and `.`";
    match ch {
        'A'..='Z' => format!(
            "the name contains uppercase letter `{ch}` at byte {offset}; names are lowercase, so use `{}`",
            ch.to_ascii_lowercase()
        ),
        '\0' => format!("the name contains a NUL character at byte {offset}; {allowed}"),
        c if c.is_whitespace() => format!("the name contains whitespace {} at byte {offset}; {allowed}", c.escape_unicode()),
        c if c.is_control() => format!("the name contains control character {} at byte {offset}; {allowed}", c.escape_unicode()),
        c if !c.is_ascii() => format!(
            "the name contains non-ASCII character {} ({}) at byte {offset}; {allowed}",
            c.escape_unicode(),
            c.escape_debug()
        ),
        c => format!("the name contains character `{c}` at byte {offset}; {allowed}"),
    }
}

/// Quotes `raw` for an error message: escaped, and cut after
/// [`MAX_ECHO_CHARS`] characters with the total length noted. Every
/// non-ASCII character is escaped too, so a look-alike such as a Cyrillic `е`
/// cannot pass for the name it imitates in logs and the audit log.
fn quote_for_display(raw: &str) -> String {
    let shown: String = raw.chars().take(MAX_ECHO_CHARS).collect();
    let escaped: String = shown
        .chars()
        .map(|ch| {
            if ch.is_ascii() {
                ch.escape_debug().to_string()
            } else {
                ch.escape_unicode().to_string()
            }
        })
        .collect();
    let mut quoted = format!("\"{escaped}\"");
    if shown.len() < raw.len() {
        quoted.push_str(&format!(" (first {MAX_ECHO_CHARS} characters of {} bytes)", raw.len()));
    }
    quoted
}

impl fmt::Display for CredentialName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CredentialName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialName({:?})", self.0)
    }
}

impl From<CredentialName> for String {
    fn from(name: CredentialName) -> Self {
        name.0
    }
}

impl TryFrom<String> for CredentialName {
    type Error = InvalidName;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl std::str::FromStr for CredentialName {
    type Err = InvalidName;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl<'de> serde::Deserialize<'de> for CredentialName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_accepted() {
        for raw in [
            "aws.default",
            "claude.production",
            "a.b",
            "postgres.my-db_2",
            "openai.team.staging",
            "x1.y2.z3",
        ] {
            let name = CredentialName::parse(raw).unwrap_or_else(|err| panic!("{raw:?}: {err}"));
            assert_eq!(name.as_str(), raw, "{raw:?} must round-trip unchanged");
        }
    }

    #[test]
    fn namespace_is_first_segment() {
        let name = CredentialName::parse("openai.team.staging").unwrap();
        assert_eq!(name.namespace(), "openai");
    }

    #[test]
    fn invalid_names_are_rejected_with_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("aws", "at least two segments"),
            ("AWS.default", "uppercase letter `A`"),
            ("aws.Default", "uppercase letter `D`"),
            ("aws.default ", "whitespace"),
            (" aws.default", "whitespace"),
            ("aws.default\n", "whitespace"),
            ("aws.default\t", "whitespace"),
            ("aws.default\0", "NUL"),
            ("aws\0.default", "NUL"),
            ("aws.def\u{7f}ault", "control character"),
            ("aws.*", "character `*`"),
            ("*", "character `*`"),
            ("aws.?", "character `?`"),
            ("aws/default", "character `/`"),
            ("aws:default", "character `:`"),
            // Cyrillic small letter a (U+0430) in place of Latin `a`.
            ("\u{430}ws.default", "non-ASCII"),
            // Fullwidth full stop (U+FF0E) in place of `.`.
            ("aws\u{ff0e}default", "non-ASCII"),
            // Zero-width space between segments.
            ("aws.\u{200b}default", "non-ASCII"),
            // Non-breaking space.
            ("aws.default\u{a0}", "whitespace"),
            (".aws", "segment is empty"),
            ("aws.", "segment is empty"),
            ("aws..default", "segment is empty"),
        ];
        for (raw, expected) in cases {
            let err = CredentialName::parse(raw).expect_err(&format!("{raw:?} must be rejected"));
            assert!(
                err.to_string().contains(expected),
                "{raw:?}: expected the error to mention {expected:?}, got {err}"
            );
        }
    }

    #[test]
    fn length_limit_is_exact() {
        let at_limit = format!("a.{}", "b".repeat(MAX_NAME_LEN - 2));
        assert!(CredentialName::parse(&at_limit).is_ok(), "{MAX_NAME_LEN} bytes is allowed");

        let over_limit = format!("a.{}", "b".repeat(MAX_NAME_LEN - 1));
        let err = CredentialName::parse(&over_limit).unwrap_err();
        assert!(err.to_string().contains("129 bytes"), "{err}");
    }

    #[test]
    fn huge_name_error_is_short() {
        let huge = "x".repeat(8 * 1024 * 1024);
        let err = CredentialName::parse(&huge).unwrap_err();
        let message = err.to_string();
        assert!(message.len() < 300, "message is {} bytes", message.len());
        assert!(message.contains("8388608 bytes"), "{message}");
    }

    #[test]
    fn error_escapes_lookalikes() {
        let err = CredentialName::parse("demo.gr\u{435}eting").unwrap_err();
        assert!(err.quoted_value().contains("demo.gr\\u{435}eting"), "{}", err.quoted_value());
    }

    #[test]
    fn error_escapes_control_characters() {
        let err = CredentialName::parse("aws.\u{1b}[31mred").unwrap_err();
        let message = err.to_string();
        assert!(!message.contains('\u{1b}'), "raw escape in {message:?}");
        assert!(message.contains("\\u{1b}"), "{message}");
    }
}
