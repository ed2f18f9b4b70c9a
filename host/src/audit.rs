//! The audit log: one JSON line per `get-credential` call, with the time, the
//! app, the component's SHA-256, the credential name and the outcome, never
//! the value.
//!
//! A delivery is recorded before the value is handed to the guest, and a
//! delivery that cannot be recorded does not happen (the log fails closed).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::fsutil::{create_private_dir, parent_or_current};
use crate::metadata::Timestamp;

/// The audit log's file name inside lahat's state folder.
pub const AUDIT_FILE_NAME: &str = "audit.jsonl";

/// One `get-credential` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the host returned the result of the call.
    pub time: Timestamp,
    /// The app id from the manifest.
    pub app: String,
    /// The SHA-256 of the component's bytes, in hex.
    pub component_sha256: String,
    /// The requested name; an invalid name is escaped and shortened.
    pub credential: String,
    /// `delivered`, or the refusal: `invalid-name`, `not-declared`,
    /// `expired`, `not-found` or `unavailable`; or `refusals-not-recorded`
    /// for the summary of a run's refusals beyond the per-run limit.
    pub outcome: String,
    /// The number of refusals a `refusals-not-recorded` summary stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// Refused requests recorded one by one per run. A guest can send refused
/// requests without any approval, so past this many only a count is kept,
/// and the log cannot be used to fill the disk. Deliveries are always
/// recorded one by one.
pub const MAX_RECORDED_REFUSALS: u64 = 1000;

/// The append-only audit log file.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl AuditLog {
    /// Uses the log at `path`, created with mode 0600 on the first record.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: Mutex::new(None),
        }
    }

    /// Returns the log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` as one line.
    ///
    /// # Errors
    ///
    /// Returns the I/O error when the log cannot be opened or written.
    pub fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut guard = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(open_for_append(&self.path)?);
        }
        let Some(file) = guard.as_mut() else {
            return Err(std::io::Error::other("the audit log is not open"));
        };
        // A write cut short by a full disk or a file size limit leaves a line
        // without its newline. Starting a new line keeps this record apart
        // from that fragment.
        if !ends_with_newline(file)? {
            line.insert(0, b'\n');
        }
        // One write per line: with O_APPEND, lines from concurrent lahat
        // processes do not interleave.
        file.write_all(&line)
    }

    /// Reads every record; a missing log reads as empty. Lines that are not
    /// valid records are counted, not returned.
    ///
    /// # Errors
    ///
    /// Returns the I/O error when the log cannot be read.
    pub fn read(&self) -> std::io::Result<(Vec<AuditRecord>, usize)> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(err) => return Err(err),
        };
        let mut records = Vec::new();
        let mut invalid = 0;
        for line in BufReader::new(file).split(b'\n') {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice(&line) {
                Ok(record) => records.push(record),
                Err(_) => invalid += 1,
            }
        }
        Ok((records, invalid))
    }
}

fn open_for_append(path: &Path) -> std::io::Result<File> {
    create_private_dir(parent_or_current(path))?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // A log created by an older version or by hand may be readable by
        // others; the records name apps and credentials.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        return Ok(file);
    }
    #[cfg(not(unix))]
    options.open(path)
}

/// Returns whether `file` is empty or its last byte is a newline.
fn ends_with_newline(file: &File) -> std::io::Result<bool> {
    let length = file.metadata()?.len();
    if length == 0 {
        return Ok(true);
    }
    let mut last = [0u8; 1];
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(&mut last, length - 1)?;
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut reader = file;
        reader.seek(SeekFrom::Start(length - 1))?;
        reader.read_exact(&mut last)?;
    }
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(app: &str, outcome: &str) -> AuditRecord {
        AuditRecord {
            time: "2026-12-04T20:00:00Z".parse().unwrap(),
            app: app.to_owned(),
            component_sha256: "ab".repeat(32),
            credential: "demo.greeting".to_owned(),
            outcome: outcome.to_owned(),
            count: None,
        }
    }

    #[test]
    fn records_round_trip() {
        let folder = tempfile::tempdir().unwrap();
        let log = AuditLog::new(folder.path().join("state").join(AUDIT_FILE_NAME));
        assert_eq!(log.read().unwrap(), (Vec::new(), 0));
        log.append(&record("greeter", "delivered")).unwrap();
        log.append(&record("hostile", "not-declared")).unwrap();
        let (records, invalid) = log.read().unwrap();
        assert_eq!(records, [record("greeter", "delivered"), record("hostile", "not-declared")]);
        assert_eq!(invalid, 0);
    }

    #[cfg(unix)]
    #[test]
    fn log_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let folder = tempfile::tempdir().unwrap();
        let log = AuditLog::new(folder.path().join(AUDIT_FILE_NAME));
        log.append(&record("greeter", "delivered")).unwrap();
        let mode = std::fs::metadata(log.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o}");
    }

    #[test]
    fn invalid_lines_are_counted() {
        let folder = tempfile::tempdir().unwrap();
        let log = AuditLog::new(folder.path().join(AUDIT_FILE_NAME));
        log.append(&record("greeter", "delivered")).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"not json\n")
            .unwrap();
        let (records, invalid) = log.read().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(invalid, 1);
    }

    #[test]
    fn record_after_cut_line_stays_readable() {
        let folder = tempfile::tempdir().unwrap();
        let log = AuditLog::new(folder.path().join(AUDIT_FILE_NAME));
        std::fs::write(log.path(), b"{\"time\":\"2026-12-04T20:00:00Z\",\"app\":\"gr").unwrap();
        log.append(&record("greeter", "delivered")).unwrap();
        let (records, invalid) = log.read().unwrap();
        assert_eq!(records, [record("greeter", "delivered")]);
        assert_eq!(invalid, 1, "the fragment is counted");
    }

    #[test]
    fn invalid_utf8_line_is_counted() {
        let folder = tempfile::tempdir().unwrap();
        let log = AuditLog::new(folder.path().join(AUDIT_FILE_NAME));
        std::fs::write(log.path(), b"\xff\xfe\n").unwrap();
        log.append(&record("greeter", "delivered")).unwrap();
        let (records, invalid) = log.read().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(invalid, 1);
    }

    #[test]
    fn unwritable_log_is_an_error() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join(AUDIT_FILE_NAME);
        std::fs::create_dir(&path).unwrap();
        assert!(AuditLog::new(path).append(&record("greeter", "delivered")).is_err());
    }
}
