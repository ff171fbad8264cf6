//! The rules a manifest's file paths follow, so that a path always names a file inside the
//! dataset folder, on every operating system, in exactly one way.

use super::error::{ManifestError, ManifestResult};

/// Checks that `path` is a manifest file path: non-empty, relative, `/`-separated segments that
/// are neither empty, `.` nor `..`, without backslashes (a separator on Windows), NUL or other
/// control characters, at most 4096 bytes.
///
/// # Errors
///
/// [`ManifestError::Path`] naming the rule broken.
pub fn check_path(path: &str) -> ManifestResult<()> {
    let fail = |reason| {
        Err(ManifestError::Path {
            path: path.to_owned(),
            reason,
        })
    };
    if path.is_empty() {
        return fail("empty path");
    }
    if path.len() > 4096 {
        return fail("longer than 4096 bytes");
    }
    if path.starts_with('/') {
        return fail("absolute path (must be relative to the dataset folder)");
    }
    if path.contains('\\') {
        return fail("backslash (use '/' as the separator)");
    }
    if path.chars().any(char::is_control) {
        return fail("control character");
    }
    if path.len() >= 2 && path.as_bytes()[1] == b':' && path.as_bytes()[0].is_ascii_alphabetic() {
        return fail("drive letter (must be relative to the dataset folder)");
    }
    for segment in path.split('/') {
        match segment {
            "" => return fail("empty segment ('//' or a trailing '/')"),
            "." => return fail("'.' segment"),
            ".." => return fail("'..' segment (would leave the dataset folder)"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        for ok in [
            "a",
            "a/b.txt",
            "dir/sub/file.bin",
            ".hidden",
            "a..b",
            "x/.y/z",
            "ünï/cödé",
        ] {
            check_path(ok).unwrap();
        }
    }

    #[test]
    fn rejects_traversal_absolute_and_ambiguous_paths() {
        for (bad, why) in [
            ("", "empty"),
            ("../etc/passwd", "'..'"),
            ("a/../../b", "'..'"),
            ("..", "'..'"),
            ("/etc/passwd", "absolute"),
            ("a//b", "empty segment"),
            ("a/", "empty segment"),
            ("./a", "'.'"),
            ("a\\..\\b", "backslash"),
            ("C:/x", "drive letter"),
            ("a\nb", "control"),
            ("a\0b", "control"),
        ] {
            match check_path(bad) {
                Err(ManifestError::Path { path, reason }) => {
                    assert_eq!(path, bad);
                    assert!(reason.contains(why), "{bad:?}: {reason}");
                }
                other => panic!("{bad:?} accepted: {other:?}"),
            }
        }
        assert!(check_path(&"a".repeat(4097)).is_err());
    }
}
