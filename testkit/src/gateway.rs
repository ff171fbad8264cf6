//! The `fairtrain-gateway` binary on a devnet: a SQLite database and a blob folder in the
//! devnet's folder, a free port, waited for until ready.

use std::path::PathBuf;

use crate::{bin, free_port, process::Proc, wait_ready, Devnet};

/// A running gateway, killed on drop.
pub struct GatewayProcess {
    /// Its URL (also its public URL).
    pub url: String,
    /// Its blob folder (content-addressed files: `<first two hex digits>/<hash hex>`).
    pub blobs: PathBuf,
    _process: Proc,
}

impl GatewayProcess {
    /// Publishes the dataset in `data` with its signed `manifest` through the real CLI
    /// (`fairtrain dataset publish`) with `account`'s key; returns what the CLI printed.
    ///
    /// # Panics
    ///
    /// If the CLI fails.
    pub fn publish(
        &self,
        devnet: &Devnet,
        account: usize,
        data: &std::path::Path,
        manifest: &std::path::Path,
    ) -> String {
        let (data, manifest) = (data.display().to_string(), manifest.display().to_string());
        devnet.cli(
            account,
            &[
                "dataset",
                "publish",
                &data,
                "--manifest",
                &manifest,
                "--gateway",
                &self.url,
            ],
        )
    }

    /// Starts a gateway for `devnet`'s deployment and waits until it is ready.
    ///
    /// # Panics
    ///
    /// If it does not start or get ready within 30 s.
    pub async fn start(devnet: &Devnet) -> Self {
        let url = format!("http://127.0.0.1:{}", free_port());
        let dir = devnet.dir.path();
        let blobs = dir.join("gateway-blobs");
        let process = Proc(
            devnet
                .command(bin("fairtrain-gateway"), None)
                .env("RPC_URL", &devnet.url)
                .env("DEPLOYMENT", devnet.deployment_file())
                .env("LISTEN", url.trim_start_matches("http://"))
                .env(
                    "DATABASE_URL",
                    format!("sqlite://{}", dir.join("gateway.db").display()),
                )
                .env("STORAGE_DIR", &blobs)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("the gateway starts"),
        );
        assert!(wait_ready(&url, 30).await, "the gateway is ready at {url}");
        Self {
            url,
            blobs,
            _process: process,
        }
    }
}
