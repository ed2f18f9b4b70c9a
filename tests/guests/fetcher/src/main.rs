//! Reads `demo.greeting` as many times as its first argument gives (default
//! 1), pausing for the second argument's milliseconds (default 0) between
//! reads, then runs a pure computation of as many rounds as the third
//! argument gives (default 0). It prints nothing on success, so benchmarks
//! measure the host and not the terminal. When a read fails it prints the
//! error on stderr and exits with status 1.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "lahat:vault/app",
});

use std::time::Duration;

use lahat::vault::credentials::get_credential;

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u32 = args.next().and_then(|arg| arg.parse().ok()).unwrap_or(1);
    let pause = Duration::from_millis(args.next().and_then(|arg| arg.parse().ok()).unwrap_or(0));
    let rounds: u64 = args.next().and_then(|arg| arg.parse().ok()).unwrap_or(0);
    for read in 0..count {
        if read > 0 && !pause.is_zero() {
            std::thread::sleep(pause);
        }
        if let Err(err) = get_credential("demo.greeting") {
            eprintln!("fetcher: read {read} failed: {err:?}");
            std::process::exit(1);
        }
    }
    std::hint::black_box(compute(rounds));
}

/// Runs `rounds` steps of a xorshift generator: a loop with no host calls,
/// whose cost shows what epoch interruption adds to guest code.
fn compute(rounds: u64) -> u64 {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..rounds {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
    }
    state
}
