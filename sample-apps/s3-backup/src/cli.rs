//! Command-line options.

pub const USAGE: &str = "\
usage: s3-backup --endpoint URL --bucket NAME [--prefix PREFIX] [--credential aws.NAME] [--list]

Uploads every file under /backup to the bucket, or with --list prints the
objects under the prefix with their sizes.

  --endpoint URL       S3 endpoint, such as https://s3.eu-west-1.amazonaws.com
                       or http://127.0.0.1:9000; lahat.toml must allow it
  --bucket NAME        bucket name (3 to 63 lowercase letters, digits, '.' and '-')
  --prefix PREFIX      key prefix, treated as a folder: 'daily' puts /backup/a.txt
                       at daily/a.txt (default: no prefix)
  --credential NAME    credential to sign with (default: aws.default); lahat.toml
                       must declare it
  --list               list the objects instead of uploading
  --help               print this help
";

const DEFAULT_CREDENTIAL: &str = "aws.default";

/// The action the command line requests.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Print the usage.
    Help,
    /// Upload or list.
    Run(Options),
}

/// Validated options.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub endpoint: String,
    pub bucket: String,
    /// Empty, or ending in `/`.
    pub prefix: String,
    pub credential: String,
    pub list: bool,
}

/// Parses the arguments after the program name. Options take their value
/// as the next argument or after `=`.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Action, String> {
    let mut endpoint = None;
    let mut bucket = None;
    let mut prefix = None;
    let mut credential = None;
    let mut list = false;

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value.to_owned())),
            _ => (arg.clone(), None),
        };
        let slot = match name.as_str() {
            "--help" | "-h" => return Ok(Action::Help),
            "--list" => {
                if inline_value.is_some() {
                    return Err("--list takes no value".to_owned());
                }
                list = true;
                continue;
            }
            "--endpoint" => &mut endpoint,
            "--bucket" => &mut bucket,
            "--prefix" => &mut prefix,
            "--credential" => &mut credential,
            _ => return Err(format!("unknown argument \"{}\"", arg.escape_debug())),
        };
        let value = match inline_value {
            Some(value) => value,
            None => args.next().ok_or_else(|| format!("{name} needs a value"))?,
        };
        if slot.replace(value).is_some() {
            return Err(format!("{name} is given twice"));
        }
    }

    let endpoint = endpoint.ok_or("--endpoint is required")?;
    let bucket = bucket.ok_or("--bucket is required")?;
    check_bucket(&bucket)?;
    let credential = credential.unwrap_or_else(|| DEFAULT_CREDENTIAL.to_owned());
    if !credential.starts_with("aws.") {
        return Err(format!(
            "--credential \"{}\" is not an aws.* credential",
            credential.escape_debug()
        ));
    }
    Ok(Action::Run(Options {
        endpoint,
        bucket,
        prefix: normalize_prefix(prefix.as_deref().unwrap_or("")),
        credential,
        list,
    }))
}

/// Checks S3's bucket naming rules for new buckets: 3 to 63 characters of
/// lowercase letters, digits, `.` and `-`, starting and ending with a letter
/// or digit.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bucket.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid bucket name \"{}\": use 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit",
            bucket.escape_debug()
        ))
    }
}

/// Drops leading `/` and adds a trailing one, so that the prefix acts as a
/// folder.
fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_start_matches('/');
    if trimmed.is_empty() || trimmed.ends_with('/') {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Action, String> {
        parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn full_command_line_parses() {
        let action = parse_strs(&[
            "--endpoint",
            "http://127.0.0.1:9000",
            "--bucket=my-bucket",
            "--prefix",
            "/daily",
            "--credential",
            "aws.backup",
            "--list",
        ])
        .unwrap();
        assert_eq!(
            action,
            Action::Run(Options {
                endpoint: "http://127.0.0.1:9000".to_owned(),
                bucket: "my-bucket".to_owned(),
                prefix: "daily/".to_owned(),
                credential: "aws.backup".to_owned(),
                list: true,
            })
        );
    }

    #[test]
    fn defaults_apply() {
        let Action::Run(options) = parse_strs(&["--endpoint", "http://h", "--bucket", "abc"]).unwrap() else {
            panic!("expected options");
        };
        assert_eq!(options.prefix, "");
        assert_eq!(options.credential, "aws.default");
        assert!(!options.list);
    }

    #[test]
    fn bad_command_lines_are_rejected() {
        let cases: &[(&[&str], &str)] = &[
            (&["--bucket", "abc"], "--endpoint is required"),
            (&["--endpoint", "http://h"], "--bucket is required"),
            (
                &["--endpoint", "http://h", "--bucket", "Bad_Bucket"],
                "invalid bucket name",
            ),
            (&["--endpoint", "http://h", "--bucket", "ab"], "invalid bucket name"),
            (
                &["--endpoint", "http://h", "--bucket", "abc", "--credential", "openai.x"],
                "not an aws.*",
            ),
            (
                &["--endpoint", "http://h", "--endpoint", "http://i", "--bucket", "abc"],
                "given twice",
            ),
            (&["--endpoint"], "needs a value"),
            (&["--verbose"], "unknown argument"),
            (&["--list=yes"], "takes no value"),
        ];
        for (args, expected) in cases {
            let message = parse_strs(args).unwrap_err();
            assert!(message.contains(expected), "{args:?}: {message}");
        }
    }

    #[test]
    fn prefixes_become_folders() {
        let cases = [
            ("", ""),
            ("/", ""),
            ("daily", "daily/"),
            ("/a/b/", "a/b/"),
            ("a//", "a//"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_prefix(input), expected, "{input:?}");
        }
    }
}
