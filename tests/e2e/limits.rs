//! Crashes, time limits and memory limits end a run with a clear error.

use crate::support::{Lahat, assert_exit, stderr};

fn run_hostile(mode: &str, extra: &[&str]) -> std::process::Output {
    let lahat = Lahat::new();
    let hostile = lahat.approved("tests/guests/hostile");
    let mut args = vec!["run", hostile.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", mode]);
    lahat.run(&args)
}

#[test]
fn panicking_app_is_reported() {
    let output = run_hostile("panic", &[]);
    assert_exit(&output, 70, "panicking guest");
    assert!(stderr(&output).contains("lahat: error: the app crashed"), "{}", stderr(&output));
}

#[test]
fn busy_loop_is_stopped() {
    let output = run_hostile("spin", &["--timeout", "1"]);
    assert_exit(&output, 124, "spinning guest");
    assert!(stderr(&output).contains("ran longer than its limit of 1 s"), "{}", stderr(&output));
}

#[test]
fn memory_bomb_is_stopped() {
    let output = run_hostile("grow", &["--max-memory", "64"]);
    assert_exit(&output, 70, "allocating guest");
    assert!(stderr(&output).contains("the app was stopped"), "{}", stderr(&output));
    assert!(stderr(&output).contains("memory limit of 64 MiB"), "{}", stderr(&output));
    assert!(stderr(&output).contains("--max-memory"), "{}", stderr(&output));
}

#[test]
fn huge_name_is_not_copied_to_host() {
    // A 64 MiB name fits the guest's memory but exceeds the 4 MiB a guest may
    // pass to the host in one call.
    let output = run_hostile("huge-name", &[]);
    assert_exit(&output, 70, "guest passing a 64 MiB name");
    assert!(stderr(&output).contains("passed more than 4 MiB to the host in one call"), "{}", stderr(&output));
}
