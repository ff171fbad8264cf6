//! Fail points for crash tests: `FAIRTRAIN_FAILPOINT=<name>` makes the process stop dead (it
//! prints `failpoint <name> reached` to stderr and sleeps forever, waiting for the test to
//! `SIGKILL` it) the first time it reaches the named step.

use std::sync::OnceLock;

fn configured() -> Option<&'static str> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| std::env::var("FAIRTRAIN_FAILPOINT").ok())
        .as_deref()
}

/// Stops here forever if the fail point `name` is configured.
pub async fn hit(name: &str) {
    if configured() == Some(name) {
        eprintln!("failpoint {name} reached");
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    }
}
