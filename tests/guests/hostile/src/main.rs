//! A guest that tries to read what its manifest does not grant: undeclared
//! credentials, look-alike and malformed names, the host's environment,
//! files, network and stdin.
//!
//! With no argument it probes: it prints one line per attempt,
//! `LABEL: OUTCOME`, and the tests compare each line with the expected
//! refusal. A delivered credential prints its value, so a leak shows up in
//! the output. The arguments `panic`, `spin`, `grow` and `storm` make it
//! crash, loop forever, allocate without bound, or send 100,000 refused
//! requests; `env` prints every environment variable it sees, and
//! `huge-name` asks for a credential with a 64 MiB name.
//!
//! Modes for granted permissions: `folders` probes the folders `/data` and
//! `/scratch` (see `folders.rs`), and `net PORT OTHER_PORT UDP_PORT` probes
//! TCP and UDP (see `net.rs`). `mask NAME`, `mask-fields NAME` and
//! `request-named-by NAME` print or pass on a delivered credential in forms
//! that output masking must catch (see `mask.rs`). `flood [stdout|stderr]`
//! writes 2 MiB to one stream.

mod folders;
mod mask;
mod net;

use std::io::{Read, Write};

wit_bindgen::generate!({
    path: "../../../wit",
    world: "lahat:vault/app",
});

use lahat::vault::credentials::{Error, get_credential};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |index: usize| args.get(index).map(String::as_str).unwrap_or_default();
    match args.first().map(String::as_str) {
        None | Some("probe") => probe(),
        Some("panic") => panic!("the hostile guest panics on purpose"),
        Some("spin") => loop {
            std::hint::spin_loop();
        },
        Some("grow") => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            loop {
                blocks.push(vec![1; 16 << 20]);
            }
        }
        Some("huge-name") => {
            let name = "n".repeat(64 << 20);
            println!("huge-name: {:?}", get_credential(&name).map(|_| ()));
        }
        Some("env") => {
            for (name, value) in std::env::vars_os() {
                println!("{}={}", name.to_string_lossy(), value.to_string_lossy());
            }
        }
        Some("storm") => {
            let refused = (0..100_000)
                .filter(|_| get_credential("demo.secret").is_err())
                .count();
            println!("storm-refused: {refused}");
        }
        Some("folders") => folders::probe(),
        Some("net") => net::probe(arg(1), arg(2), arg(3)),
        Some("mask") => mask::print_forms(arg(1)),
        Some("mask-fields") => mask::print_fields(arg(1)),
        Some("flood") => flood(arg(1)),
        Some("request-named-by") => mask::request_named_by(arg(1)),
        Some(other) => {
            eprintln!("hostile: unknown mode {other:?}");
            std::process::exit(2);
        }
    }
}

fn probe() {
    let huge = format!("demo.{}", "g".repeat(1 << 20));
    let over_limit = format!("demo.{}", "g".repeat(124));
    let attempts: &[(&str, &str)] = &[
        ("declared", "demo.greeting"),
        ("declared-unset", "demo.unset"),
        ("undeclared", "demo.secret"),
        ("uppercase", "DEMO.greeting"),
        ("mixed-case", "Demo.Greeting"),
        ("trailing-space", "demo.greeting "),
        ("leading-space", " demo.greeting"),
        ("trailing-newline", "demo.greeting\n"),
        ("tab", "demo.greeting\t"),
        ("nul-suffix", "demo.greeting\0"),
        ("nul-inside", "demo\0.greeting"),
        ("nul-then-undeclared", "demo.greeting\0demo.secret"),
        ("cyrillic-e", "demo.gr\u{435}eting"),
        ("fullwidth-dot", "demo\u{ff0e}greeting"),
        ("one-dot-leader", "demo\u{2024}greeting"),
        ("zero-width-space", "demo.greeting\u{200b}"),
        ("wildcard-profile", "demo.*"),
        ("wildcard-all", "*"),
        ("glob-question", "demo.greetin?"),
        ("percent", "demo.%"),
        ("path-traversal", "demo.greeting/../secret"),
        ("namespace-only", "demo"),
        ("empty", ""),
        ("over-limit", &over_limit),
        ("huge", &huge),
    ];
    for (label, name) in attempts {
        println!("{label}: {}", outcome(get_credential(name)));
    }

    println!("env-vars: {}", std::env::vars_os().count());
    println!("args: {}", std::env::args().count());
    println!("read-root: {}", result_kind(std::fs::read_dir("/").map(|_| ())));
    println!("read-etc-passwd: {}", result_kind(std::fs::read("/etc/passwd").map(|_| ())));
    println!("read-cwd: {}", result_kind(std::fs::read_dir(".").map(|_| ())));
    println!("write-tmp: {}", result_kind(std::fs::write("/tmp/lahat-hostile-probe", b"x")));
    println!(
        "tcp-connect: {}",
        result_kind(std::net::TcpStream::connect("127.0.0.1:9").map(|_| ()))
    );
    let mut stdin = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut stdin);
    println!("stdin-bytes: {}", stdin.len());
}

/// Writes 2 MiB of `x` lines to `stream` (`stdout`, the default, or
/// `stderr`) in 64 KiB writes.
fn flood(stream: &str) {
    let mut line = vec![b'x'; 64 * 1024];
    line[64 * 1024 - 1] = b'\n';
    let mut out: Box<dyn Write> = match stream {
        "stderr" => Box::new(std::io::stderr()),
        _ => Box::new(std::io::stdout()),
    };
    for _ in 0..32 {
        if let Err(err) = out.write_all(&line) {
            eprintln!("hostile: write failed: {err}");
            std::process::exit(3);
        }
    }
    let _ = out.flush();
}

/// Names an I/O error by its kind, in the words the tests compare.
fn error_kind(err: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::PermissionDenied => "denied".to_owned(),
        ErrorKind::NotFound => "not-found".to_owned(),
        ErrorKind::AlreadyExists => "exists".to_owned(),
        ErrorKind::NotADirectory => "not-a-directory".to_owned(),
        ErrorKind::IsADirectory => "is-a-directory".to_owned(),
        ErrorKind::ReadOnlyFilesystem => "read-only".to_owned(),
        ErrorKind::InvalidInput => "invalid".to_owned(),
        ErrorKind::ConnectionRefused => "refused".to_owned(),
        ErrorKind::AddrNotAvailable => "address-not-available".to_owned(),
        ErrorKind::Unsupported => "unsupported".to_owned(),
        kind => match err.raw_os_error() {
            Some(code) => format!("error {kind:?} {code}"),
            None => format!("error {kind:?}"),
        },
    }
}

fn outcome(result: Result<String, Error>) -> String {
    match result {
        Ok(value) => format!("delivered {value}"),
        Err(Error::InvalidName(_)) => "invalid-name".to_owned(),
        Err(Error::NotDeclared) => "not-declared".to_owned(),
        Err(Error::NotGranted) => "not-granted".to_owned(),
        Err(Error::NotFound) => "not-found".to_owned(),
        Err(Error::Expired) => "expired".to_owned(),
        Err(Error::Unavailable(_)) => "unavailable".to_owned(),
    }
}

fn result_kind(result: std::io::Result<()>) -> &'static str {
    match result {
        Ok(()) => "allowed",
        Err(_) => "denied",
    }
}
