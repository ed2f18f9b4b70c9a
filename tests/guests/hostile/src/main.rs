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

use std::io::Read;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "lahat:vault/app",
});

use lahat::vault::credentials::{Error, get_credential};

fn main() {
    match std::env::args().nth(1).as_deref() {
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
