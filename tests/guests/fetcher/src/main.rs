//! Reads `demo.greeting` as many times as its first argument gives (default
//! 1) and prints nothing, so benchmarks measure the host and not the
//! terminal. Exits with status 1 if any read fails.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "lahat:vault/app",
});

use lahat::vault::credentials::get_credential;

fn main() {
    let count: u32 = std::env::args().nth(1).and_then(|arg| arg.parse().ok()).unwrap_or(1);
    for _ in 0..count {
        if get_credential("demo.greeting").is_err() {
            std::process::exit(1);
        }
    }
}
