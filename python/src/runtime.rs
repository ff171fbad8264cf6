//! The one tokio runtime the extension runs its I/O on, and blocking on it without the GIL.

use std::{future::Future, sync::OnceLock};

use pyo3::Python;
use tokio::runtime::Runtime;

/// A runtime with one worker thread: the meter's background commits and flushes run there while
/// Python trains, and blocking calls (`flush`, `commit`) wait on it with the GIL released.
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fairtrain")
            .enable_all()
            .build()
            .expect("the fairtrain runtime starts (threads and timers are available)")
    })
}

/// Runs `future` to completion on the runtime with the GIL released, so that other Python
/// threads (a data loader's, say) keep running meanwhile.
pub(crate) fn block_on<F>(py: Python<'_>, future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| runtime().block_on(future))
}
