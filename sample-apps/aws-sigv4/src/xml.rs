//! Reading the XML that S3 and the AWS query APIs (STS among them) return:
//! the text of each leaf element, and the error code and message of an
//! error response.

use std::fmt;

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

/// An element with no child elements, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextElement {
    /// The local names from the root to the element, joined by `/`, such as
    /// `ListBucketResult/Contents/Key`. Namespace prefixes are dropped.
    pub path: String,
    /// The text with entities resolved; empty for `<Prefix/>`.
    pub text: String,
}

/// The XML could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(String);

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the response is not well-formed XML: {}", self.0)
    }
}

impl std::error::Error for XmlError {}

/// An AWS error response: `<Error><Code>…</Code><Message>…</Message></Error>`,
/// at the root as S3 sends it or inside `<ErrorResponse>` as the query APIs
/// send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// The error code, such as `SignatureDoesNotMatch`.
    pub code: String,
    /// The human-readable message; empty when the response has none.
    pub message: String,
}

impl ServiceError {
    /// Returns the error in `xml`, or `None` when `xml` is not an AWS error
    /// response.
    pub fn from_xml(xml: &str) -> Option<Self> {
        let elements = text_elements(xml).ok()?;
        let field = |name: &str| {
            elements
                .iter()
                .find(|element| is_error_field(&element.path, name))
                .map(|element| element.text.clone())
        };
        Some(Self {
            code: field("Code")?,
            message: field("Message").unwrap_or_default(),
        })
    }
}

fn is_error_field(path: &str, name: &str) -> bool {
    path.strip_suffix(name)
        .is_some_and(|parent| parent == "Error/" || parent.ends_with("/Error/"))
}

/// Returns every leaf element of `xml` in document order.
///
/// # Errors
///
/// Returns [`XmlError`] when `xml` is not well-formed or uses an entity
/// other than the five XML defines and character references.
pub fn text_elements(xml: &str) -> Result<Vec<TextElement>, XmlError> {
    let mut reader = Reader::from_str(xml);
    // Each open element: its local name and whether it has child elements.
    let mut open: Vec<(String, bool)> = Vec::new();
    let mut text = String::new();
    let mut elements = Vec::new();
    loop {
        let event = reader.read_event().map_err(|err| XmlError(err.to_string()))?;
        match event {
            Event::Start(start) => {
                if let Some(parent) = open.last_mut() {
                    parent.1 = true;
                }
                open.push((start.local_name().as_ref().to_owned(), false));
                text.clear();
            }
            Event::Empty(empty) => {
                if let Some(parent) = open.last_mut() {
                    parent.1 = true;
                }
                let mut path = joined_path(&open);
                path.push_str(empty.local_name().as_ref());
                elements.push(TextElement {
                    path,
                    text: String::new(),
                });
            }
            Event::End(_) => {
                let Some((name, has_children)) = open.pop() else {
                    return Err(XmlError("a closing tag has no opening tag".to_owned()));
                };
                if !has_children {
                    elements.push(TextElement {
                        path: format!("{}{name}", joined_path(&open)),
                        text: std::mem::take(&mut text),
                    });
                }
                text.clear();
            }
            Event::Text(content) => text.push_str(&content.xml10_content()),
            Event::CData(content) => text.push_str(&content.xml10_content()),
            Event::GeneralRef(reference) => {
                if let Some(ch) = reference.resolve_char_ref().map_err(|err| XmlError(err.to_string()))? {
                    text.push(ch);
                } else if let Some(resolved) = resolve_predefined_entity(&reference) {
                    text.push_str(resolved);
                } else {
                    return Err(XmlError(format!("unknown entity &{};", &*reference)));
                }
            }
            Event::Eof => {
                return match open.last() {
                    Some((name, _)) => Err(XmlError(format!("the document ends inside <{name}>"))),
                    None => Ok(elements),
                };
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

/// Returns the names of the open elements followed by `/` each, the prefix
/// of a child's path.
fn joined_path(open: &[(String, bool)]) -> String {
    open.iter().map(|(name, _)| format!("{name}/")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_elements_with_paths_and_entities() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix/>
<Contents><Key>a &amp; b&#x2F;c.txt</Key><Size>12</Size></Contents>
<Contents><Key><![CDATA[<raw>]]></Key><Size>0</Size></Contents></ListBucketResult>"#;
        let elements = text_elements(xml).unwrap();
        let pairs: Vec<(&str, &str)> = elements
            .iter()
            .map(|element| (element.path.as_str(), element.text.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("ListBucketResult/Name", "b"),
                ("ListBucketResult/Prefix", ""),
                ("ListBucketResult/Contents/Key", "a & b/c.txt"),
                ("ListBucketResult/Contents/Size", "12"),
                ("ListBucketResult/Contents/Key", "<raw>"),
                ("ListBucketResult/Contents/Size", "0"),
            ]
        );
    }

    #[test]
    fn s3_error_is_read() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message><RequestId>1</RequestId></Error>"#;
        let error = ServiceError::from_xml(xml).unwrap();
        assert_eq!(error.code, "SignatureDoesNotMatch");
        assert!(error.message.starts_with("The request signature"), "{}", error.message);
    }

    #[test]
    fn query_api_error_is_read() {
        let xml = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>1</RequestId></ErrorResponse>"#;
        let error = ServiceError::from_xml(xml).unwrap();
        assert_eq!(error.code, "InvalidClientTokenId");
        assert_eq!(error.message, "The security token included in the request is invalid.");
    }

    #[test]
    fn non_error_xml_is_not_an_error() {
        assert_eq!(ServiceError::from_xml("<Result><Code>1</Code></Result>"), None);
        assert_eq!(ServiceError::from_xml("not xml <"), None);
        assert_eq!(ServiceError::from_xml(""), None);
    }

    #[test]
    fn malformed_xml_is_an_error() {
        assert!(text_elements("<a><b></a>").is_err());
        assert!(text_elements("<a>&custom;</a>").is_err());
        assert!(text_elements("<a><b>text</b>").is_err());
    }
}
