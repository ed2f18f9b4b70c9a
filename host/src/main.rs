//! The `lahat` command. Parsing, logging set-up and exit codes live here; the
//! work is done by the `lahat_host` library.

mod cli;

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use std::sync::Arc;

use cli::{Cli, ExitCode, SavedTerminal, printable};

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, which turns `lahat audit | head` into a panic on
    // the next print. The default action ends the process quietly instead, as
    // other command-line tools do.
    #[cfg(unix)]
    // SAFETY: called before any thread starts; it only resets a signal
    // disposition to the system default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if err.use_stderr() => {
            // clap repeats the offending argument, which may hold terminal
            // escape sequences or be megabytes long.
            eprint!("{}", printable(&err.render().to_string()));
            return std::process::ExitCode::from(ExitCode::USAGE.0);
        }
        Err(err) => err.exit(),
    };
    init_logging();

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("lahat: error: cannot start the async runtime: {err}");
            return std::process::ExitCode::from(ExitCode::FAILURE.0);
        }
    };
    let terminal = SavedTerminal::capture().map(Arc::new);
    if let Some(terminal) = terminal.clone() {
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                terminal.restore();
                eprintln!();
                // 128 + SIGINT, as shells report a process ended by Ctrl-C.
                std::process::exit(130);
            }
        });
    }
    let result = runtime.block_on(cli.execute());
    if let Some(terminal) = &terminal {
        terminal.restore();
    }
    // A keychain call that timed out may still occupy a blocking thread, and
    // waiting for it would hang the process.
    runtime.shutdown_background();

    let code = match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("lahat: error: {}", printable(&err.to_string()));
            err.code
        }
    };
    std::process::ExitCode::from(code.0)
}

fn init_logging() {
    let filter = EnvFilter::try_from_env("LAHAT_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .init();
}
