//! Reads `demo.greeting` as many times as its first argument gives (default
//! 1), pausing for the second argument's milliseconds (default 0) between
//! reads. It prints nothing on success, so benchmarks measure the host and
//! not the terminal. When a read fails it prints the error on stderr and
//! exits with status 1.

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
    for read in 0..count {
        if read > 0 && !pause.is_zero() {
            std::thread::sleep(pause);
        }
        if let Err(err) = get_credential("demo.greeting") {
            eprintln!("fetcher: read {read} failed: {err:?}");
            std::process::exit(1);
        }
    }
}
