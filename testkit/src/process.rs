//! The project's binaries as child processes, free ports and polling.

use std::{
    path::PathBuf,
    process::{Child, Command},
    time::{Duration, Instant},
};

/// A binary of the workspace next to the running test executable (`target/<profile>/`), for
/// tests of one package that run another package's binaries (`cargo build --workspace` builds
/// them; a test of the binary's own package uses `env!("CARGO_BIN_EXE_<name>")`).
///
/// # Panics
///
/// If the binary is not built.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable");
    // Test executables live in target/<profile>/deps, the kit's own binaries in
    // target/<profile>.
    let mut dir = exe.parent().expect("target/<profile>[/deps]");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("target/<profile>");
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        path.display()
    );
    path
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A child process, SIGKILLed and reaped on drop.
#[derive(Debug)]
pub struct Proc(pub Child);

impl Proc {
    /// SIGKILL (no cleanup of any kind) and reap.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM (a clean stop) and reap.
    ///
    /// # Panics
    ///
    /// If `kill` cannot be run.
    pub fn terminate(&mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent");
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `f` every 100 ms for up to `secs` seconds until it returns `Some`; `None` if it never
/// does.
pub async fn poll<T, F, Fut>(secs: u64, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`poll`], panicking if `f` never returns `Some` in `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    poll(secs, f)
        .await
        .unwrap_or_else(|| panic!("condition not met in {secs}s"))
}

/// Waits up to `secs` seconds until `GET {url}/ready` answers a success (a service of the
/// project ready to serve); false if it never does.
pub async fn wait_ready(url: &str, secs: u64) -> bool {
    let client = reqwest::Client::new();
    let ready = format!("{url}/ready");
    poll(secs, || async {
        let r = client.get(&ready).send().await.ok()?;
        r.status().is_success().then_some(())
    })
    .await
    .is_some()
}
