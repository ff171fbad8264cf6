//! Dataset folders: listing their files in manifest order, hashing contents as streams, and
//! checking a folder against a manifest.
//!
//! Only `std::fs` is used, synchronously; callers in async code run these on a blocking thread.

use std::{
    collections::BTreeMap,
    fmt,
    fs::{self, File},
    io::{self, Read},
    path::{Path, PathBuf},
};

use alloy::primitives::{Keccak256, B256};

use super::{
    error::{ManifestError, ManifestResult},
    path::check_path,
    DatasetManifest, FileEntry,
};

/// Size of the buffer files are hashed through: memory use does not grow with file size.
pub const HASH_BUFFER: usize = 1 << 20;

/// One regular file found in a folder, not yet hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundFile {
    /// Its manifest path (relative, `/`-separated).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where it is on disk.
    pub location: PathBuf,
}

/// Streams `reader` through keccak256, returning the number of bytes read and their hash.
///
/// # Errors
///
/// Any read error.
pub fn hash_reader<R: Read>(mut reader: R) -> io::Result<(u64, B256)> {
    let mut hasher = Keccak256::new();
    let mut buffer = vec![0u8; HASH_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((total, hasher.finalize()))
}

/// Hashes the file at `location` (streamed), as a manifest entry named `path`.
///
/// # Errors
///
/// [`ManifestError::Io`] if the file cannot be read; [`ManifestError::Path`] if `path` breaks
/// the path rules.
pub fn hash_file(path: &str, location: &Path) -> ManifestResult<FileEntry> {
    check_path(path)?;
    let io_err = |source| ManifestError::Io {
        path: location.to_owned(),
        source,
    };
    let (size, hash) = hash_reader(File::open(location).map_err(io_err)?).map_err(io_err)?;
    Ok(FileEntry {
        path: path.to_owned(),
        size,
        hash,
    })
}

/// Lists every regular file under `dir`, recursively, sorted by manifest path. Hidden files are
/// included; symlinks and special files are refused, since they could name data outside `dir`.
///
/// # Errors
///
/// [`ManifestError::Io`], [`ManifestError::NotRegular`], [`ManifestError::NonUtf8`], or
/// [`ManifestError::Path`] for a name the path rules forbid (e.g. one containing a backslash).
pub fn list_files(dir: &Path) -> ManifestResult<Vec<FoundFile>> {
    let mut found = Vec::new();
    let meta = fs::metadata(dir).map_err(|source| ManifestError::Io {
        path: dir.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(ManifestError::Io {
            path: dir.to_owned(),
            source: io::Error::new(io::ErrorKind::NotADirectory, "not a folder"),
        });
    }
    walk(dir, "", &mut found)?;
    found.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(found)
}

fn walk(dir: &Path, prefix: &str, found: &mut Vec<FoundFile>) -> ManifestResult<()> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ManifestError::Io { path, source }
    };
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let location = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| ManifestError::NonUtf8 {
                path: location.clone(),
            })?;
        let path = format!("{prefix}{name}");
        // `file_type` does not follow symlinks.
        let kind = entry.file_type().map_err(io_err(&location))?;
        if kind.is_dir() {
            walk(&location, &format!("{path}/"), found)?;
        } else if kind.is_file() {
            check_path(&path)?;
            let size = entry.metadata().map_err(io_err(&location))?.len();
            found.push(FoundFile {
                path,
                size,
                location,
            });
        } else {
            return Err(ManifestError::NotRegular { path: location });
        }
    }
    Ok(())
}

/// Lists and hashes every file under `dir`: the `files` of a manifest of that folder.
///
/// # Errors
///
/// See [`list_files`] and [`hash_file`].
pub fn scan_dir(dir: &Path) -> ManifestResult<Vec<FileEntry>> {
    list_files(dir)?
        .iter()
        .map(|file| hash_file(&file.path, &file.location))
        .collect()
}

/// How a folder differs from a manifest. Empty when they match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderReport {
    /// Files the manifest lists that the folder lacks.
    pub missing: Vec<String>,
    /// Files whose size or content differs from the manifest's.
    pub changed: Vec<String>,
    /// Files in the folder that the manifest does not list.
    pub extra: Vec<String>,
}

impl FolderReport {
    /// Whether the folder matches the manifest exactly.
    pub fn is_match(&self) -> bool {
        self.missing.is_empty() && self.changed.is_empty() && self.extra.is_empty()
    }
}

impl fmt::Display for FolderReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_match() {
            return f.write_str("folder matches");
        }
        let mut parts = Vec::new();
        for (label, list) in [
            ("missing", &self.missing),
            ("changed", &self.changed),
            ("not in the manifest", &self.extra),
        ] {
            if !list.is_empty() {
                parts.push(format!("{} {label} ({})", list.len(), preview(list)));
            }
        }
        f.write_str(&parts.join("; "))
    }
}

fn preview(list: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = list
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > SHOWN {
        text.push_str(&format!(", and {} more", list.len() - SHOWN));
    }
    text
}

impl DatasetManifest {
    /// A new, unsigned manifest of every file under `dir` (see [`scan_dir`] and
    /// [`DatasetManifest::new`]).
    ///
    /// # Errors
    ///
    /// [`ManifestError::NoFiles`] for an empty folder, or an error reading it or in a path.
    pub fn of_folder(
        dir: &Path,
        name: impl Into<String>,
        description: impl Into<String>,
        creator: alloy::primitives::Address,
        created_at: u64,
        metadata: BTreeMap<String, String>,
    ) -> ManifestResult<Self> {
        let files = scan_dir(dir)?;
        Self::new(name, description, creator, created_at, metadata, files)
    }

    /// Compares `dir` with the manifest's files: every listed file must be present with the same
    /// size and content hash; files the manifest does not list are reported as extra. Only
    /// files whose size matches are hashed.
    ///
    /// # Errors
    ///
    /// Only errors reading the folder; differences are in the report.
    pub fn compare_folder(&self, dir: &Path) -> ManifestResult<FolderReport> {
        let mut on_disk: BTreeMap<String, FoundFile> = list_files(dir)?
            .into_iter()
            .map(|file| (file.path.clone(), file))
            .collect();
        let mut report = FolderReport::default();
        for entry in &self.files {
            match on_disk.remove(&entry.path) {
                None => report.missing.push(entry.path.clone()),
                Some(file) if file.size != entry.size => report.changed.push(entry.path.clone()),
                Some(file) => {
                    if hash_file(&file.path, &file.location)? != *entry {
                        report.changed.push(entry.path.clone());
                    }
                }
            }
        }
        report.extra = on_disk.into_keys().collect();
        Ok(report)
    }

    /// The files in `dir` the manifest does not list, in path order. The folder is walked; no
    /// file is read (for a folder whose listed files were checked as they were written).
    ///
    /// # Errors
    ///
    /// An error reading the folder.
    pub fn unlisted_files(&self, dir: &Path) -> ManifestResult<Vec<String>> {
        Ok(list_files(dir)?
            .into_iter()
            .map(|file| file.path)
            .filter(|path| {
                self.files
                    .binary_search_by(|f| f.path.as_bytes().cmp(path.as_bytes()))
                    .is_err()
            })
            .collect())
    }

    /// Checks that `dir` holds exactly the manifest's files (see [`Self::compare_folder`]).
    ///
    /// # Errors
    ///
    /// [`ManifestError::FolderMismatch`] with the differences, or an error reading the folder.
    pub fn verify_folder(&self, dir: &Path) -> ManifestResult<()> {
        let report = self.compare_folder(dir)?;
        if report.is_match() {
            Ok(())
        } else {
            Err(ManifestError::FolderMismatch(report))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::keccak256;

    /// A reader of `len` pseudo-random bytes that never holds them all in memory.
    struct Synthetic {
        left: u64,
        state: u64,
    }

    impl Read for Synthetic {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            // Odd-sized reads exercise partial buffers.
            let n = buf.len().min(self.left as usize).min(777_777);
            for byte in &mut buf[..n] {
                self.state = self.state.wrapping_mul(6364136223846793005).wrapping_add(1);
                *byte = (self.state >> 56) as u8;
            }
            self.left -= n as u64;
            Ok(n)
        }
    }

    #[test]
    fn streamed_hash_equals_one_shot_hash() {
        let len = 3 * HASH_BUFFER as u64 + 12_345;
        let mut whole = Vec::new();
        Synthetic {
            left: len,
            state: 1,
        }
        .read_to_end(&mut whole)
        .unwrap();
        let (size, hash) = hash_reader(Synthetic {
            left: len,
            state: 1,
        })
        .unwrap();
        assert_eq!(size, len);
        assert_eq!(hash, keccak256(&whole));
        assert_eq!(hash_reader(io::empty()).unwrap(), (0, keccak256([])));
    }

    #[test]
    fn report_lists_what_differs() {
        let report = FolderReport {
            missing: vec!["a".into()],
            changed: (0..7).map(|i| format!("c{i}")).collect(),
            extra: vec![],
        };
        assert!(!report.is_match());
        assert_eq!(
            report.to_string(),
            "1 missing (a); 7 changed (c0, c1, c2, c3, c4, and 2 more)"
        );
        assert!(FolderReport::default().is_match());
    }
}
