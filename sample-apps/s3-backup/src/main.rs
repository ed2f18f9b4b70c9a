//! Backs up the folder the user binds at `/backup` to an S3 bucket, or lists
//! the bucket's objects under a prefix.
//!
//! Usage:
//!
//! ```text
//! lahat run sample-apps/s3-backup --folder /backup=DIR -- --endpoint URL --bucket NAME [--prefix PREFIX] [--credential aws.NAME]
//! lahat run sample-apps/s3-backup -- --endpoint URL --bucket NAME [--prefix PREFIX] [--credential aws.NAME] --list
//! ```
//!
//! Each file becomes one object whose key is the prefix followed by the
//! file's path under `/backup`. Requests use path-style addressing
//! (`ENDPOINT/BUCKET/KEY`) and SigV4 signatures, so the app works with AWS
//! and with S3-compatible servers.

wit_bindgen::generate!({
    path: "../../wit",
    world: "lahat:vault/app",
});

mod cli;
mod s3;
mod walk;

use std::process::ExitCode;

use aws_sigv4::Credentials;
use lahat::vault::credentials::{Error as VaultError, get_credential};

use crate::cli::{Action, Options};
use crate::s3::{Bucket, S3Error};

const BACKUP_ROOT: &str = "/backup";

fn main() -> ExitCode {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(Action::Run(options)) => options,
        Ok(Action::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("s3-backup: {message}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("s3-backup: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    let credentials = read_credentials(&options.credential)?;
    let bucket = Bucket::new(&options.endpoint, &options.bucket, &credentials).map_err(|err| err.to_string())?;
    let described = |err: S3Error| describe_s3_error(err, &options.credential);
    if options.list {
        list(&bucket, &options.prefix).map_err(described)
    } else {
        back_up(&bucket, &options.prefix, &options.credential).map_err(described)
    }
}

fn read_credentials(name: &str) -> Result<Credentials, String> {
    let text =
        get_credential(name).map_err(|err| format!("cannot read {name}: {}", describe_vault_error(&err, name)))?;
    Credentials::from_json(&text).map_err(|err| {
        format!("the credential {name} is not in the expected form: {err}; see sample-apps/s3-backup/README.md")
    })
}

fn describe_vault_error(err: &VaultError, name: &str) -> String {
    match err {
        VaultError::InvalidName(reason) => format!("invalid name ({reason})"),
        VaultError::NotDeclared => {
            "not declared in lahat.toml; add it under [[credentials]] to use this profile".to_owned()
        }
        VaultError::NotGranted => "not granted to this app".to_owned(),
        VaultError::NotFound => format!("not set; store it with `lahat credential set {name}`"),
        VaultError::Expired => "expired; store fresh keys".to_owned(),
        VaultError::Unavailable(message) => format!("vault unavailable: {message}"),
    }
}

/// Uploads every regular file under `/backup`, reporting each one. It stops
/// at the first S3 or connection error, because those fail every later
/// request too, and goes on past files it cannot read.
fn back_up(bucket: &Bucket<'_>, prefix: &str, credential: &str) -> Result<(), S3Error> {
    let listing = walk::files(BACKUP_ROOT).map_err(S3Error::Local)?;
    for skipped in &listing.skipped {
        eprintln!("skipped {skipped}");
    }
    let total = listing.files.len();
    let mut uploaded_bytes: u64 = 0;
    let mut unreadable = 0;
    for (index, file) in listing.files.iter().enumerate() {
        let key = format!("{prefix}{}", file.relative);
        match bucket.put_file(&key, &file.path) {
            Ok(size) => {
                uploaded_bytes += size;
                println!(
                    "[{}/{total}] {} ({size} bytes) -> {}",
                    index + 1,
                    printable(&file.relative),
                    bucket.describe_key(&key)
                );
            }
            Err(S3Error::Local(message)) => {
                unreadable += 1;
                eprintln!(
                    "[{}/{total}] {} not uploaded: {message}",
                    index + 1,
                    printable(&file.relative)
                );
            }
            Err(other) => return Err(other),
        }
    }
    let uploaded = total - unreadable;
    println!(
        "uploaded {uploaded} of {total} files, {uploaded_bytes} bytes, to {} with {credential}",
        bucket.describe_key(prefix)
    );
    if unreadable > 0 || !listing.skipped.is_empty() {
        return Err(S3Error::Local(format!(
            "{} files were not backed up; see the messages above",
            unreadable + listing.skipped.len()
        )));
    }
    Ok(())
}

fn list(bucket: &Bucket<'_>, prefix: &str) -> Result<(), S3Error> {
    let objects = bucket.list(prefix)?;
    let mut total_bytes: u64 = 0;
    for object in &objects {
        total_bytes += object.size;
        println!("{:>12}  {}", object.size, printable(&object.key));
    }
    println!(
        "{} objects, {total_bytes} bytes, under {}",
        objects.len(),
        bucket.describe_key(prefix)
    );
    Ok(())
}

/// Turns an error into the message for the user, with a hint for the S3
/// error codes a wrong or unsuitable credential causes.
fn describe_s3_error(err: S3Error, credential: &str) -> String {
    match err {
        S3Error::Service {
            operation,
            status,
            code,
            message,
        } => {
            let hint = match code.as_str() {
                "SignatureDoesNotMatch" => format!(
                    "the server rejected the signature: the secret access key in {credential} does not match its access key id"
                ),
                "InvalidAccessKeyId" => format!("the server does not know the access key id in {credential}"),
                "ExpiredToken" | "InvalidToken" | "TokenRefreshRequired" => {
                    format!(
                        "the session token in {credential} is expired or invalid; store fresh temporary credentials"
                    )
                }
                "AuthorizationHeaderMalformed" => {
                    format!("check that \"region\" in {credential} is the bucket's region")
                }
                "RequestTimeTooSkewed" => {
                    "this computer's clock differs from the server's by more than 15 minutes".to_owned()
                }
                "AccessDenied" => format!("{credential} is valid but not allowed to do this on the bucket"),
                "NoSuchBucket" => "the bucket does not exist at this endpoint".to_owned(),
                "PermanentRedirect" => "the bucket is in another region; use that region's endpoint".to_owned(),
                _ if message.is_empty() => "the server sent no message".to_owned(),
                _ => printable(&message),
            };
            format!("{operation} failed with {status} {}: {hint}", printable(&code))
        }
        S3Error::Status { operation, status } => format!("{operation} failed with HTTP status {status}"),
        S3Error::Transport { operation, error } => format!("{operation} failed: {error}"),
        S3Error::BadResponse { operation, reason } => format!("{operation} returned an unreadable response: {reason}"),
        S3Error::Local(message) => message,
    }
}

/// Returns `text` with control characters escaped, so that a file name or a
/// key from the server cannot move the cursor or change the terminal.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|ch| {
            if ch.is_control() {
                ch.escape_unicode().to_string()
            } else {
                ch.to_string()
            }
        })
        .collect()
}
