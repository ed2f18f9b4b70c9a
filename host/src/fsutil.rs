//! File helpers shared by the vault file, the metadata index and the
//! component cache: private folders and files, and atomic replacement.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// The name prefix of temporary files that [`write_private_atomically`]
/// renames into place. A process killed before the rename leaves one behind.
pub(crate) const TEMPORARY_PREFIX: &str = ".lahat-tmp-";

/// Removes temporary files older than `min_age` that killed writers left in
/// `folder`; returns how many it removed. A younger file may belong to a
/// write in progress and is kept.
pub(crate) fn remove_stale_temporaries(folder: &Path, min_age: std::time::Duration) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let is_temporary = entry.file_name().to_string_lossy().starts_with(TEMPORARY_PREFIX);
        let metadata = entry.metadata()?;
        let age = metadata.modified()?.elapsed().unwrap_or_default();
        if is_temporary && metadata.is_file() && age >= min_age {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Returns the folder that contains `path`, or `.` for a bare file name.
pub(crate) fn parent_or_current(path: &Path) -> &Path {
    path.parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Creates `path` and its missing parents, the new ones with mode 0700.
pub(crate) fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Opens `path` for reading and writing, creating it with mode 0600.
pub(crate) fn open_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Replaces `path` with `bytes`: writes a new file with mode 0600 beside it,
/// flushes it to disk, renames it over `path` and flushes the folder, so a
/// crash leaves either the old file or the new one.
pub(crate) fn write_private_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = parent_or_current(path);
    create_private_dir(folder)?;
    let mut temporary = tempfile::Builder::new().prefix(TEMPORARY_PREFIX).tempfile_in(folder)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temporary
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|err| err.error)?;
    #[cfg(unix)]
    File::open(folder)?.sync_all()?;
    Ok(())
}
