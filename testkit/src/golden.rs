//! Golden files: a generated text committed to the repository (an OpenAPI document in `docs/`,
//! say) and checked against what the code generates now, so that a change of the code shows up
//! as a change of the file in review.

use std::path::Path;

/// Asserts that the file at `path` (relative to the repository root) holds `generated`. With
/// `UPDATE_GOLDEN=1` in the environment it writes `generated` there instead.
///
/// # Panics
///
/// If the file differs (naming the command that updates it) or cannot be read or written.
pub fn check(path: &str, generated: &str) {
    let file = crate::root().join(path);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        write(&file, generated);
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == generated,
        "{path} is not what the code generates now: run the test again with UPDATE_GOLDEN=1 \
         to rewrite it, and commit it"
    );
}

fn write(file: &Path, text: &str) {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).expect("the golden file's folder");
    }
    std::fs::write(file, text).expect("the golden file");
}
