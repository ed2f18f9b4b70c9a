//! Finding the files to back up.

use std::fs;
use std::path::{Path, PathBuf};

/// A regular file under the root.
#[derive(Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// The path to open.
    pub path: PathBuf,
    /// The path below the root with `/` separators, such as `docs/a.txt`.
    pub relative: String,
}

/// The files found under a root, and what was left out.
#[derive(Debug, Default)]
pub struct Listing {
    /// Regular files, in lexical order of their relative paths within each
    /// folder, folders after the files beside them.
    pub files: Vec<FileEntry>,
    /// One line per entry left out, naming it and the reason.
    pub skipped: Vec<String>,
}

/// Lists the regular files under `root`, descending into folders.
///
/// Symbolic links, devices and other special files are left out and named
/// in [`Listing::skipped`], as are names that are not UTF-8 (S3 keys are
/// UTF-8) and folders that cannot be listed.
///
/// # Errors
///
/// Returns a message when `root` itself cannot be listed, which usually
/// means the user did not bind a folder to it.
pub fn files(root: &str) -> Result<Listing, String> {
    let mut listing = Listing::default();
    let entries = sorted_entries(Path::new(root)).map_err(|err| {
        format!("cannot list {root}: {err}; bind a host folder to it with `lahat run APP --folder {root}=DIR`")
    })?;
    visit(entries, "", &mut listing);
    Ok(listing)
}

fn visit(entries: Vec<fs::DirEntry>, relative_dir: &str, listing: &mut Listing) {
    let mut folders = Vec::new();
    for entry in entries {
        let Ok(name) = entry.file_name().into_string() else {
            let lossy = entry.file_name().to_string_lossy().into_owned();
            listing
                .skipped
                .push(format!("{relative_dir}{lossy}: the name is not UTF-8"));
            continue;
        };
        let relative = format!("{relative_dir}{name}");
        match entry.file_type() {
            Ok(kind) if kind.is_file() => listing.files.push(FileEntry {
                path: entry.path(),
                relative,
            }),
            Ok(kind) if kind.is_dir() => folders.push((entry.path(), relative)),
            Ok(kind) if kind.is_symlink() => listing.skipped.push(format!("{relative}: a symbolic link")),
            Ok(_) => listing
                .skipped
                .push(format!("{relative}: not a regular file or folder")),
            Err(err) => listing.skipped.push(format!("{relative}: {err}")),
        }
    }
    for (path, relative) in folders {
        match sorted_entries(&path) {
            Ok(entries) => visit(entries, &format!("{relative}/"), listing),
            Err(err) => listing.skipped.push(format!("{relative}/: cannot list: {err}")),
        }
    }
}

fn sorted_entries(folder: &Path) -> std::io::Result<Vec<fs::DirEntry>> {
    let mut entries = fs::read_dir(folder)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_listed_in_order_with_subfolders() {
        let root = std::env::temp_dir().join(format!("s3-backup-walk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("sub/deeper")).unwrap();
        fs::write(root.join("b.txt"), "b").unwrap();
        fs::write(root.join("a.txt"), "a").unwrap();
        fs::write(root.join("sub/c.bin"), [0u8, 255]).unwrap();
        fs::write(root.join("sub/deeper/d.txt"), "d").unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("link")).unwrap();

        let listing = files(root.to_str().unwrap()).unwrap();
        let relative: Vec<&str> = listing.files.iter().map(|file| file.relative.as_str()).collect();
        assert_eq!(relative, ["a.txt", "b.txt", "sub/c.bin", "sub/deeper/d.txt"]);
        assert_eq!(listing.skipped, ["link: a symbolic link"]);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_root_names_the_fix() {
        let message = files("/nonexistent-s3-backup-root").unwrap_err();
        assert!(
            message.contains("--folder /nonexistent-s3-backup-root=DIR"),
            "{message}"
        );
    }
}
