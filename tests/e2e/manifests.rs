//! Every manifest under `tests/manifests/bad/` is rejected with the exit code
//! and message parts listed in the `.expected` file beside it: a first line
//! `exit: CODE`, then one expected substring of stderr per line.

use crate::support::{Lahat, repo_root, stderr};

#[test]
fn bad_manifests_give_their_expected_errors() {
    let folder = repo_root().join("tests/manifests/bad");
    let mut cases: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "only {} cases in {}", cases.len(), folder.display());

    let lahat = Lahat::new();
    let mut failures = Vec::new();
    for manifest in &cases {
        let expected_text = std::fs::read_to_string(manifest.with_extension("expected"))
            .unwrap_or_else(|err| panic!("{}: no .expected file: {err}", manifest.display()));
        let mut lines = expected_text.lines();
        let code: i32 = lines
            .next()
            .and_then(|line| line.strip_prefix("exit: "))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("{}: the .expected file must start with `exit: CODE`", manifest.display()));

        let output = lahat.run(&["inspect", manifest.to_str().unwrap()]);
        let err = stderr(&output);
        let case = manifest.file_stem().unwrap().to_string_lossy();
        if output.status.code() != Some(code) {
            failures.push(format!("{case}: exit {:?}, expected {code}\n{err}", output.status.code()));
        }
        if !err.contains(&manifest.display().to_string()) {
            failures.push(format!("{case}: the error does not name the file\n{err}"));
        }
        for part in lines.filter(|line| !line.is_empty()) {
            if !err.contains(part) {
                failures.push(format!("{case}: stderr lacks {part:?}\n{err}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} problems:\n\n{}", failures.len(), failures.join("\n\n"));
}
