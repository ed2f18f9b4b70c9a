//! A mini app written in Python and built with componentize-py runs through
//! the same `lahat:vault` interface as the Rust apps.
//!
//! Compiling the 18 MB component took 26 to 28 s of CPU time with wasmtime
//! 48 on a 2-core x86_64 machine, so one test covers both cases with one
//! compilation.

use crate::support::{Lahat, assert_exit, assert_success, stderr, stdout};

const APP: &str = "sample-apps/py-greeter";

#[test]
fn python_app_reads_greeting_and_reports_unset() {
    let lahat = Lahat::new().env("LAHAT_PASSPHRASE", "python app passphrase");
    lahat.set("file", "demo.greeting", "Hello");
    // Approval compiles the component once; both runs below use the cache.
    let app = lahat.approved(APP);

    let output = lahat.run(&["--store", "file", "run", app.to_str().unwrap(), "--", "Ada"]);
    assert_success(&output, "py-greeter");
    assert_eq!(stdout(&output), "Hello, Ada!\n");

    assert_success(
        &lahat.run(&["--store", "file", "credential", "delete", "demo.greeting", "--yes"]),
        "credential delete demo.greeting",
    );
    let output = lahat.run(&["--store", "file", "run", app.to_str().unwrap()]);
    assert_exit(&output, 1, "py-greeter without demo.greeting");
    assert_eq!(stdout(&output), "", "nothing may reach stdout");
    let guest_line = stderr(&output)
        .lines()
        .find(|line| line.starts_with("py-greeter:"))
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        guest_line,
        "py-greeter: cannot read demo.greeting: not set; store it with `lahat credential set demo.greeting`"
    );
}
