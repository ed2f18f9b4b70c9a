//! The s3-backup sample app against a local S3 server that checks SigV4
//! signatures: moto, started by `scripts/s3-server.sh`, which exports
//! `LAHAT_TEST_S3_ENDPOINT`, `LAHAT_TEST_S3_ACCESS_KEY`,
//! `LAHAT_TEST_S3_SECRET_KEY` and `LAHAT_TEST_S3_BUCKET`.
//!
//! The app's manifest allows only `http://127.0.0.1:9000`, so each test runs
//! a copy of the app whose manifest allows the test server instead, as a
//! user pointing the app at their own endpoint would.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::support::{Lahat, app, assert_exit, assert_success, repo_root, stderr, stdout};

const CREDENTIAL: &str = "aws.default";

/// The test server's address and the key `scripts/s3-server.sh` created.
struct S3Server {
    endpoint: String,
    access_key: String,
    secret_key: String,
    bucket: String,
}

impl S3Server {
    fn from_env() -> Self {
        let variable = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set; start the test S3 server with `eval \"$(scripts/s3-server.sh start DIR PORT)\"` \
                     and export its variables, as scripts/test.sh does"
                )
            })
        };
        Self {
            endpoint: variable("LAHAT_TEST_S3_ENDPOINT"),
            access_key: variable("LAHAT_TEST_S3_ACCESS_KEY"),
            secret_key: variable("LAHAT_TEST_S3_SECRET_KEY"),
            bucket: variable("LAHAT_TEST_S3_BUCKET"),
        }
    }

    fn credential_json(&self, secret_key: &str) -> String {
        format!(
            r#"{{"access_key_id": "{}", "secret_access_key": "{secret_key}"}}"#,
            self.access_key
        )
    }

    /// Returns the SHA-256 of an object, downloaded with boto3 from the
    /// server's virtual environment, a client independent of the app.
    fn object_sha256(&self, key: &str) -> String {
        let python = repo_root().join("target/s3-server-venv/bin/python");
        let script = "import boto3, hashlib, sys\n\
            endpoint, access, secret, bucket, key = sys.argv[1:]\n\
            s3 = boto3.client('s3', endpoint_url=endpoint, region_name='us-east-1',\n\
                              aws_access_key_id=access, aws_secret_access_key=secret)\n\
            body = s3.get_object(Bucket=bucket, Key=key)['Body'].read()\n\
            print(hashlib.sha256(body).hexdigest())\n";
        let output = Command::new(&python)
            .args([
                "-c",
                script,
                &self.endpoint,
                &self.access_key,
                &self.secret_key,
                &self.bucket,
                key,
            ])
            .output()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}; run scripts/s3-server.sh first", python.display()));
        assert!(
            output.status.success(),
            "downloading {key} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

/// Returns a prefix no other run has used, so that tests sharing the server do not
/// see each other's objects.
fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("e2e-{test}-{}-{nanos}", std::process::id())
}

/// Copies the built s3-backup app into `folder` with its `[network]` list
/// naming `endpoint` instead of the default, and approves the copy with
/// `backup` bound to its `/backup` folder.
fn approved_copy(lahat: &Lahat, folder: &Path, endpoint: &str, backup: Option<&Path>) -> PathBuf {
    let original = app("sample-apps/s3-backup");
    let manifest = std::fs::read_to_string(original.join("lahat.toml")).unwrap();
    let default_line = r#"http = ["http://127.0.0.1:9000"]"#;
    assert!(
        manifest.contains(default_line),
        "the manifest no longer has the line the test replaces:\n{manifest}"
    );
    let edited = manifest.replace(default_line, &format!(r#"http = ["{endpoint}"]"#));
    std::fs::write(folder.join("lahat.toml"), edited).unwrap();
    std::fs::copy(original.join("s3-backup.wasm"), folder.join("s3-backup.wasm")).unwrap();

    let mut approve = vec!["app".to_owned(), "approve".to_owned(), folder.display().to_string(), "--yes".to_owned()];
    if let Some(backup) = backup {
        approve.push(format!("--folder=/backup={}", backup.display()));
    }
    let approve: Vec<&str> = approve.iter().map(String::as_str).collect();
    let output = lahat.run(&approve);
    assert_success(&output, "app approve of the s3-backup copy");
    folder.to_owned()
}

/// Writes the folder to back up: text files, a binary file with every byte
/// value, an empty file, and nested folders.
fn sample_folder(root: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let files: Vec<(&'static str, Vec<u8>)> = vec![
        ("notes.txt", b"first line\nsecond line\n".to_vec()),
        ("photos/raw.bin", binary),
        ("photos/2026/empty.txt", Vec::new()),
        ("report final.txt", b"spaces in the name".to_vec()),
    ];
    for (relative, content) in &files {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    files
}

fn run_backup(lahat: &Lahat, app: &Path, folder: &Path, server: &S3Server, prefix: &str) -> std::process::Output {
    let binding = format!("/backup={}", folder.display());
    lahat.run(&[
        "--store",
        "file",
        "run",
        app.to_str().unwrap(),
        "--folder",
        &binding,
        "--",
        "--endpoint",
        &server.endpoint,
        "--bucket",
        &server.bucket,
        "--prefix",
        prefix,
    ])
}

fn run_list(lahat: &Lahat, app: &Path, server: &S3Server, prefix: &str) -> std::process::Output {
    lahat.run(&[
        "--store",
        "file",
        "run",
        app.to_str().unwrap(),
        "--",
        "--endpoint",
        &server.endpoint,
        "--bucket",
        &server.bucket,
        "--prefix",
        prefix,
        "--list",
    ])
}

/// Returns the (key, size) pairs of a `--list` output, whose object lines
/// are the size right-aligned, two spaces and the key.
fn listed_objects(output: &str) -> Vec<(String, u64)> {
    let mut objects: Vec<(String, u64)> = output
        .lines()
        .filter_map(|line| {
            let (size, key) = line.trim_start().split_once("  ")?;
            Some((key.to_owned(), size.parse().ok()?))
        })
        .collect();
    objects.sort();
    objects
}

/// Asserts that no 8-byte piece of `secret` appears in the output.
fn assert_no_secret(output: &std::process::Output, secret: &str, what: &str) {
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        for piece in secret.as_bytes().windows(8) {
            let piece = String::from_utf8_lossy(piece);
            assert!(
                !text.contains(piece.as_ref()),
                "{what}: the output contains part of the secret:\n{text}"
            );
        }
    }
}

#[test]
fn backup_uploads_folder_and_lists_it() {
    let server = S3Server::from_env();
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "s3 test passphrase");
    lahat.set("file", CREDENTIAL, &server.credential_json(&server.secret_key));
    let app_folder = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let app = approved_copy(&lahat, app_folder.path(), &server.endpoint, Some(data.path()));
    let files = sample_folder(data.path());
    let prefix = unique_prefix("upload");

    let backup = run_backup(&lahat, &app, data.path(), &server, &prefix);
    assert_success(&backup, "s3-backup upload");
    let printed = stdout(&backup);
    for (relative, content) in &files {
        assert!(
            printed.contains(&format!(
                "{relative} ({} bytes) -> s3://{}/{prefix}/{relative}",
                content.len(),
                server.bucket
            )),
            "no progress line for {relative}:\n{printed}"
        );
    }
    let total: usize = files.iter().map(|(_, content)| content.len()).sum();
    assert!(
        printed.contains(&format!("uploaded 4 of 4 files, {total} bytes")),
        "no total line:\n{printed}"
    );
    assert_no_secret(&backup, &server.secret_key, "upload");

    let list = run_list(&lahat, &app, &server, &prefix);
    assert_success(&list, "s3-backup --list");
    let mut expected: Vec<(String, u64)> = files
        .iter()
        .map(|(relative, content)| (format!("{prefix}/{relative}"), content.len() as u64))
        .collect();
    expected.sort();
    assert_eq!(listed_objects(&stdout(&list)), expected, "listing:\n{}", stdout(&list));
    assert!(
        stdout(&list).contains(&format!(
            "4 objects, {total} bytes, under s3://{}/{prefix}/",
            server.bucket
        )),
        "{}",
        stdout(&list)
    );

    let binary = &files[1];
    assert_eq!(
        server.object_sha256(&format!("{prefix}/{}", binary.0)),
        hex::encode(Sha256::digest(&binary.1)),
        "the uploaded binary file differs from the original"
    );
}

#[test]
fn wrong_secret_is_rejected_by_server() {
    let server = S3Server::from_env();
    let wrong_secret = "wrongSecretKeyFor/LahatTests+0123456789abcd";
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "s3 wrong secret passphrase");
    lahat.set("file", CREDENTIAL, &server.credential_json(wrong_secret));
    let app_folder = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let app = approved_copy(&lahat, app_folder.path(), &server.endpoint, Some(data.path()));
    sample_folder(data.path());
    let prefix = unique_prefix("wrong-secret");

    let backup = run_backup(&lahat, &app, data.path(), &server, &prefix);
    assert_exit(&backup, 1, "s3-backup with a wrong secret");
    let message = stderr(&backup);
    assert!(
        message.contains("403 SignatureDoesNotMatch"),
        "the S3 error code is not named:\n{message}"
    );
    assert!(
        message.contains(&format!("the secret access key in {CREDENTIAL}")),
        "{message}"
    );
    assert!(!stdout(&backup).contains("uploaded"), "{}", stdout(&backup));
    assert_no_secret(&backup, wrong_secret, "upload with a wrong secret");
    assert_no_secret(&backup, &server.secret_key, "upload with a wrong secret");

    let list = run_list(&lahat, &app, &server, &prefix);
    assert_exit(&list, 1, "s3-backup --list with a wrong secret");
    assert!(stderr(&list).contains("403 SignatureDoesNotMatch"), "{}", stderr(&list));
    assert_no_secret(&list, wrong_secret, "list with a wrong secret");

    // Nothing reached the bucket.
    let good = Lahat::new().env("LAHAT_PASSPHRASE", "s3 check passphrase");
    good.set("file", CREDENTIAL, &server.credential_json(&server.secret_key));
    let good_app_folder = tempfile::tempdir().unwrap();
    let good_app = approved_copy(&good, good_app_folder.path(), &server.endpoint, None);
    let check = run_list(&good, &good_app, &server, &prefix);
    assert_success(&check, "s3-backup --list with the right secret");
    assert_eq!(listed_objects(&stdout(&check)), Vec::new(), "{}", stdout(&check));
}

/// The host's HTTP client closes the request body stream once it has sent
/// `content-length` bytes, sometimes before the guest's last flush. Each
/// upload is one chance for that race, so a folder of many small files
/// shows a client that takes the closed stream for a failed request.
#[test]
fn backup_uploads_many_small_files() {
    let server = S3Server::from_env();
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "s3 small files passphrase");
    lahat.set("file", CREDENTIAL, &server.credential_json(&server.secret_key));
    let app_folder = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let app = approved_copy(&lahat, app_folder.path(), &server.endpoint, Some(data.path()));
    let count = 24;
    let mut expected = Vec::new();
    let mut total = 0;
    for size in 0..count {
        let name = format!("small-{size:02}.txt");
        std::fs::write(data.path().join(&name), "x".repeat(size)).unwrap();
        total += size;
        expected.push(name);
    }
    let prefix = unique_prefix("small");

    let backup = run_backup(&lahat, &app, data.path(), &server, &prefix);
    assert_success(&backup, "s3-backup upload of small files");
    assert!(
        stdout(&backup).contains(&format!("uploaded {count} of {count} files, {total} bytes")),
        "{}",
        stdout(&backup)
    );

    let list = run_list(&lahat, &app, &server, &prefix);
    assert_success(&list, "s3-backup --list of small files");
    let listed: Vec<String> = listed_objects(&stdout(&list)).into_iter().map(|(key, _)| key).collect();
    let expected: Vec<String> = expected.iter().map(|name| format!("{prefix}/{name}")).collect();
    assert_eq!(listed, expected, "listing:\n{}", stdout(&list));
}
