//! `lahat audit`: reading the record of credential requests.

use clap::Args;
use lahat_host::audit::AuditLog;
use lahat_host::metadata::Timestamp;
use lahat_host::paths::Paths;

use super::{CliError, ExitCode, printable};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Show only requests of this app id.
    #[arg(long, value_name = "ID")]
    app: Option<String>,

    /// Show only requests for this credential name.
    #[arg(long, value_name = "NAME")]
    credential: Option<String>,

    /// Show only requests at or after WHEN: a date (2026-12-01), an RFC 3339
    /// time, or a duration before now (1h, 7days).
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    since: Option<Timestamp>,

    /// Print the matching records as JSON lines, as the log stores them.
    #[arg(long)]
    json: bool,
}

fn parse_since(raw: &str) -> Result<Timestamp, String> {
    Timestamp::parse_since(raw, Timestamp::now())
}

pub fn execute(args: AuditArgs, paths: &Paths) -> Result<ExitCode, CliError> {
    let log = AuditLog::new(paths.audit_log());
    let (records, invalid) = log.read().map_err(|err| {
        CliError::new(
            ExitCode::FAILURE,
            format!("cannot read the audit log {}: {err}", log.path().display()),
        )
    })?;
    if invalid > 0 {
        eprintln!(
            "lahat: skipped {invalid} line(s) of {} that are not audit records",
            log.path().display()
        );
    }
    let matching = records.iter().filter(|record| {
        args.app.as_ref().is_none_or(|app| &record.app == app)
            && args.credential.as_ref().is_none_or(|name| &record.credential == name)
            && args.since.is_none_or(|since| record.time >= since)
    });
    for record in matching {
        if args.json {
            match serde_json::to_string(record) {
                Ok(line) => println!("{line}"),
                Err(err) => return Err(CliError::new(ExitCode::FAILURE, format!("cannot encode a record: {err}"))),
            }
        } else {
            let short_hash: String = record.component_sha256.chars().take(12).collect();
            println!(
                "{}  {}  {}  {}  component {}",
                record.time,
                printable(&record.app),
                printable(&record.credential),
                printable(&record.outcome),
                printable(&short_hash)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
