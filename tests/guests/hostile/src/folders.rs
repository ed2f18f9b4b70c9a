//! The `folders` mode: reads, writes and escapes in the folders `/data` and
//! `/scratch`.
//!
//! The tests bind `/data` read-only or read-write and `/scratch` read-write,
//! and fill them with this layout:
//!
//! ```text
//! data/inside.txt      "inside-content"
//! data/victim.txt      "victim-content"
//! data/sub/            an empty folder
//! data/link-file  ->   absolute link to outside/outside.txt
//! data/link-rel   ->   ../outside/outside.txt
//! data/link-dir   ->   absolute link to outside/
//! data/hard            hard link to outside/outside.txt
//! outside/outside.txt  "outside-content", not bound
//! scratch/incoming.txt "incoming-content"
//! ```
//!
//! Every probe prints `LABEL: OUTCOME`. Reads print `ok` and what they read,
//! so a line shows which file was reached. The probes run in a fixed order:
//! in a read-write folder the later ones see what the earlier ones changed.

use std::fs::OpenOptions;
use std::io::Write;

use crate::error_kind;

pub fn probe() {
    let reads: &[(&str, &str)] = &[
        ("read", "/data/inside.txt"),
        ("dotdot-etc", "/data/../etc/passwd"),
        ("dotdot-sibling", "/data/../outside/outside.txt"),
        ("dotdot-nested", "/data/sub/../../etc/passwd"),
        ("absolute", "/etc/passwd"),
        ("symlink-file", "/data/link-file"),
        ("symlink-relative", "/data/link-rel"),
        ("symlink-dir-file", "/data/link-dir/outside.txt"),
        ("trailing-slash-file", "/data/inside.txt/"),
        ("trailing-slash-symlink", "/data/link-file/"),
        ("trailing-slash-dotdot", "/data/../"),
        ("hard-link", "/data/hard"),
    ];
    for (label, path) in reads {
        println!("{label}: {}", read(path));
    }
    println!("list: {}", list("/data"));
    println!("list-symlink-dir: {}", list("/data/link-dir"));
    println!("list-symlink-dir-slash: {}", list("/data/link-dir/"));
    println!("list-root: {}", list("/"));

    let truncate = OpenOptions::new().write(true).truncate(true).open("/data/inside.txt");
    println!("truncate: {}", outcome(truncate.map(drop)));
    println!("write: {}", outcome(std::fs::write("/data/inside.txt", "changed-by-guest")));
    let append = OpenOptions::new()
        .append(true)
        .open("/data/inside.txt")
        .and_then(|mut file| file.write_all(b"+appended"));
    println!("append: {}", outcome(append));
    println!("create: {}", outcome(std::fs::write("/data/created.txt", "created-by-guest")));
    println!("mkdir: {}", outcome(std::fs::create_dir("/data/made")));
    println!("rename: {}", outcome(std::fs::rename("/data/victim.txt", "/data/renamed.txt")));
    println!(
        "rename-into: {}",
        outcome(std::fs::rename("/scratch/incoming.txt", "/data/incoming.txt"))
    );
    println!(
        "rename-out: {}",
        outcome(std::fs::rename("/data/renamed.txt", "/scratch/renamed.txt"))
    );
    println!("remove: {}", outcome(std::fs::remove_file("/data/created.txt")));
    println!("rmdir: {}", outcome(std::fs::remove_dir("/data/made")));
    println!("remove-symlink: {}", outcome(std::fs::remove_file("/data/link-rel")));

    let escapes: &[(&str, &str)] = &[
        ("write-dotdot", "/data/../planted.txt"),
        ("write-symlink-dir", "/data/link-dir/planted.txt"),
        ("write-symlink-file", "/data/link-file"),
        ("write-trailing-slash", "/data/planted-dir/"),
    ];
    for (label, path) in escapes {
        println!("{label}: {}", outcome(std::fs::write(path, "planted-by-guest")));
    }
    println!(
        "plant-symlink-absolute: {}",
        outcome(symlink("/etc/passwd", "/data/planted-abs"))
    );
    println!("read-planted-absolute: {}", read("/data/planted-abs"));
    println!(
        "plant-symlink-relative: {}",
        outcome(symlink("../outside/outside.txt", "/data/planted-rel"))
    );
    println!("read-planted-relative: {}", read("/data/planted-rel"));
    println!(
        "plant-hard-link-to-symlink: {}",
        outcome(std::fs::hard_link("/data/link-file", "/data/planted-hard"))
    );
    println!("read-planted-hard-link: {}", read("/data/planted-hard"));
    println!("write-hard-link: {}", outcome(std::fs::write("/data/hard", "written-through-hard-link")));
}

/// Creates a symbolic link at `link` that points to `target`, through
/// wasi-libc's `symlink` because `std::os::wasi::fs::symlink_path` is
/// unstable.
fn symlink(target: &str, link: &str) -> std::io::Result<()> {
    unsafe extern "C" {
        fn symlink(target: *const std::ffi::c_char, link: *const std::ffi::c_char) -> std::ffi::c_int;
    }
    let target = std::ffi::CString::new(target)?;
    let link = std::ffi::CString::new(link)?;
    // SAFETY: both pointers are NUL-terminated strings that outlive the call.
    let status = unsafe { symlink(target.as_ptr(), link.as_ptr()) };
    if status == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Reads a file and returns `ok CONTENT`, or the error kind.
fn read(path: &str) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let first_line = text.lines().next().unwrap_or_default();
            format!("ok {}", first_line.chars().take(40).collect::<String>().escape_debug())
        }
        Err(err) => error_kind(&err),
    }
}

/// Lists a folder and returns `ok NAME,NAME,...` sorted, or the error kind.
fn list(path: &str) -> String {
    let entries = std::fs::read_dir(path).and_then(|entries| {
        entries
            .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<Vec<String>>>()
    });
    match entries {
        Ok(mut names) => {
            names.sort();
            format!("ok {}", names.join(","))
        }
        Err(err) => error_kind(&err),
    }
}

fn outcome(result: std::io::Result<()>) -> String {
    match result {
        Ok(()) => "ok".to_owned(),
        Err(err) => error_kind(&err),
    }
}
