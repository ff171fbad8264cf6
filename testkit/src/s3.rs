//! A real S3-compatible server for the gateway's object storage: `s3s-fs` (crates.io), an S3
//! server over a folder, with SigV4 authentication on. `./scripts/test` installs it (the version
//! it pins) into `.tools/s3s-fs-<version>/`; `S3S_FS` names another binary.
//!
//! s3s-fs keeps an object `<key>` of bucket `<bucket>` in the file `<root>/<bucket>/<key>`, and
//! its incomplete multipart uploads as `.upload-*` files in `<root>`, so a test can alter a
//! stored object or count the uploads left open.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

use crate::{free_port, poll, process::Proc, root};

/// The one bucket a server starts with.
pub const BUCKET: &str = "fairtrain";

/// The server's credentials (anything works; these are checked).
pub const ACCESS_KEY: &str = "fairtrain-test";
/// The secret of [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "fairtrain-test-secret";

/// A running s3s-fs, killed on drop, its folder removed.
pub struct S3Server {
    /// Its endpoint, `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// Its folder.
    pub root: PathBuf,
    process: Proc,
    _dir: tempfile::TempDir,
}

/// The s3s-fs binary: `S3S_FS`, or the one `./scripts/test` installs in
/// `.tools/s3s-fs-<version>/bin/` (the latest, if several are).
///
/// # Panics
///
/// If it is not installed.
pub fn s3s_fs() -> PathBuf {
    if let Some(path) = std::env::var_os("S3S_FS") {
        return PathBuf::from(path);
    }
    let installed = std::fs::read_dir(root().join(".tools"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("s3s-fs-"))
        .map(|e| e.path().join("bin/s3s-fs"))
        .filter(|p| p.exists())
        .max();
    installed.expect(
        "s3s-fs is not installed: ./scripts/test installs it into .tools/s3s-fs-<version>/ \
         (or set S3S_FS to an s3s-fs binary)",
    )
}

impl S3Server {
    /// Starts a server with the bucket [`BUCKET`] and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// If it is not installed or does not start within 30 s.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join(BUCKET)).expect("the bucket's folder");
        let port = free_port();
        let process = Proc(
            Command::new(s3s_fs())
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(&root)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("s3s-fs starts"),
        );
        let address = format!("127.0.0.1:{port}");
        let up = poll(30, || async {
            tokio::net::TcpStream::connect(&address)
                .await
                .ok()
                .map(drop)
        })
        .await;
        assert!(up.is_some(), "s3s-fs accepts connections at {address}");
        Self {
            endpoint: format!("http://{address}"),
            root,
            process,
            _dir: dir,
        }
    }

    /// The environment that points the AWS tools (and the gateway) at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }

    /// The file holding the object `key` of [`BUCKET`].
    pub fn object_file(&self, key: &str) -> PathBuf {
        self.root.join(BUCKET).join(key)
    }

    /// How many multipart uploads are open (neither completed nor aborted).
    pub fn open_uploads(&self) -> usize {
        std::fs::read_dir(&self.root)
            .expect("the server's folder")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".upload-"))
            })
            .count()
    }

    /// Stops the server (SIGKILL), as an outage would.
    pub fn stop(&mut self) {
        self.process.kill();
    }
}
