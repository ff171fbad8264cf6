//! `fairtrain.Meter`: the Rust [`fairtrain_sdk::Meter`] for Python, with a background task that
//! commits and flushes while the training loop runs.

use std::{sync::Arc, time::Duration};

use alloy::primitives::Address;
use fairtrain_protocol::EscrowDomain;
use fairtrain_sdk::{MeterConfig, Position, Restart};
use pyo3::{
    prelude::*,
    types::{PyDict, PyList},
};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{
    errors::{from_sdk, invalid, receipts_refused},
    runtime::{block_on, runtime},
    values::{from_u256, to_address, to_run_id, to_signer, to_u256, Usage},
};

/// The version of the dict [`Meter::state_dict`] returns.
const STATE_VERSION: u64 = 1;

/// A positive duration in seconds, from Python.
fn seconds(value: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| invalid(what, "expected a positive number of seconds"))
}

/// The background task and the switch that stops it.
struct Background {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Counts the samples a training run draws and pays for them with cumulative signed receipts.
#[pyclass(module = "fairtrain")]
pub(crate) struct Meter {
    inner: Arc<fairtrain_sdk::Meter>,
    payer: Address,
    domain: EscrowDomain,
    background: std::sync::Mutex<Option<Background>>,
}

#[pymethods]
impl Meter {
    #[new]
    #[pyo3(signature = (
        *, journal, relayer_url, payer, signer_key, deployment = None, chain_id = None,
        escrow = None, max_bulk = 1000, commit_every = Some(0.25), flush_every = Some(10.0),
        attempts = 6, initial_backoff = 0.2, request_timeout = 30.0, restart = "replays"
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        journal: std::path::PathBuf,
        relayer_url: String,
        payer: &str,
        signer_key: &str,
        deployment: Option<std::path::PathBuf>,
        chain_id: Option<u64>,
        escrow: Option<&str>,
        max_bulk: usize,
        commit_every: Option<f64>,
        flush_every: Option<f64>,
        attempts: u32,
        initial_backoff: f64,
        request_timeout: f64,
        restart: &str,
    ) -> PyResult<Self> {
        let domain = match (deployment, chain_id, escrow) {
            (Some(path), None, None) => crate::values::load_deployment(&path)?.domain(),
            (None, Some(chain_id), Some(escrow)) => {
                EscrowDomain::new(chain_id, to_address(escrow, "escrow")?)
            }
            _ => {
                return Err(invalid(
                    "escrow",
                    "give either deployment, or chain_id and escrow",
                ))
            }
        };
        let payer = to_address(payer, "payer")?;
        let mut config = MeterConfig::new(
            journal,
            relayer_url,
            domain.clone(),
            payer,
            to_signer(signer_key)?,
        );
        config.max_bulk = max_bulk;
        config.restart = match restart {
            "replays" => Restart::Replays,
            "continues" => Restart::Continues,
            other => {
                return Err(invalid(
                    "restart",
                    format!("{other:?}: expected \"replays\" or \"continues\""),
                ))
            }
        };
        config.retry.attempts = attempts.max(1);
        config.retry.initial_backoff = seconds(initial_backoff, "initial_backoff")?;
        config.retry.request_timeout = seconds(request_timeout, "request_timeout")?;
        let inner = Arc::new(block_on(py, fairtrain_sdk::Meter::open(config)).map_err(from_sdk)?);
        let every = |s: Option<f64>, what: &str| s.map(|s| seconds(s, what)).transpose();
        let (commit_every, flush_every) = (
            every(commit_every, "commit_every")?,
            every(flush_every, "flush_every")?,
        );
        let background = (commit_every.is_some() || flush_every.is_some()).then(|| {
            let (stop, stopped) = oneshot::channel::<()>();
            let _guard = runtime().enter();
            let task = inner
                .clone()
                .spawn_background(commit_every, flush_every, async move {
                    let _ = stopped.await;
                });
            Background { stop, task }
        });
        Ok(Self {
            inner,
            payer,
            domain,
            background: std::sync::Mutex::new(background),
        })
    }

    /// Counts `samples` drawn under `usage`, in memory (no I/O). Returns the samples counted:
    /// fewer than `samples` while replays after `load_state_dict` are being skipped.
    fn record(&self, usage: &Bound<'_, Usage>, samples: u64) -> u64 {
        self.inner.count(usage.get().0, samples)
    }

    /// Counts `samples` and commits them to the journal before returning (one fsync); returns
    /// the new cumulative count. Does not skip replays.
    fn record_durably(
        &self,
        py: Python<'_>,
        usage: &Bound<'_, Usage>,
        samples: u64,
    ) -> PyResult<u64> {
        let usage = usage.get().0;
        block_on(py, self.inner.record(usage, samples)).map_err(from_sdk)
    }

    /// Samples counted by `record` that are not in the journal yet.
    #[getter]
    fn uncommitted(&self) -> u64 {
        self.inner.uncommitted()
    }

    /// Moves what `record` counted into the journal, durably.
    fn commit(&self, py: Python<'_>) -> PyResult<()> {
        block_on(py, self.inner.commit()).map_err(from_sdk)
    }

    /// Commits, signs a receipt for every usage with unreported samples and sends them to the
    /// relayer. With `strict`, refused receipts raise `RelayerRefused` (with `.refusals`);
    /// otherwise they are in the report.
    #[pyo3(signature = (*, strict = true))]
    fn flush(&self, py: Python<'_>, strict: bool) -> PyResult<FlushReport> {
        let report = block_on(py, self.inner.flush()).map_err(from_sdk)?;
        let report = FlushReport::from(report);
        if strict && !report.refused.is_empty() {
            let first = report.refused[0].code.clone();
            let refusals = PyList::new(py, report.refused.clone())?.into_any().unbind();
            return Err(receipts_refused(refusals, &first, report.refused.len()));
        }
        Ok(report)
    }

    /// Every usage in the journal with its recorded, acknowledged and refused counts.
    fn status(&self, py: Python<'_>) -> PyResult<Vec<Entry>> {
        let entries = block_on(py, self.inner.status()).map_err(from_sdk)?;
        Ok(entries.into_iter().map(Entry::from).collect())
    }

    /// Commits, then returns the meter's position to save with a training checkpoint: plain
    /// Python values (`torch.save`, `pickle` and JSON keep them).
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let position = block_on(py, self.inner.position()).map_err(from_sdk)?;
        let counts = PyList::empty(py);
        for (usage, count) in position.counts {
            counts.append((
                from_u256(py, usage.license_id)?,
                usage.terms_id,
                usage.run_id.to_string(),
                count,
            ))?;
        }
        let state = PyDict::new(py);
        state.set_item("version", STATE_VERSION)?;
        state.set_item("chain_id", self.domain.chain_id())?;
        state.set_item("escrow", self.domain.verifying_contract().to_checksum(None))?;
        state.set_item("payer", self.payer.to_checksum(None))?;
        state.set_item("counts", counts)?;
        Ok(state)
    }

    /// Resumes from a position saved by `state_dict`: replays of samples the journal already
    /// counted are skipped, and a journal behind the checkpoint is raised to it. Returns, per
    /// usage, `(usage, checkpoint, journal, credit, raised)`.
    #[allow(clippy::type_complexity)]
    fn load_state_dict(
        &self,
        py: Python<'_>,
        state: &Bound<'_, PyDict>,
    ) -> PyResult<Vec<(Usage, u64, u64, u64, u64)>> {
        let field = |name: &str| -> PyResult<Bound<'_, PyAny>> {
            state
                .get_item(name)?
                .ok_or_else(|| invalid("meter state", format!("missing {name}")))
        };
        let version: u64 = field("version")?.extract()?;
        if version != STATE_VERSION {
            return Err(invalid(
                "meter state",
                format!("version {version}, expected {STATE_VERSION}"),
            ));
        }
        let payer: String = field("payer")?.extract()?;
        let chain_id: u64 = field("chain_id")?.extract()?;
        let escrow: String = field("escrow")?.extract()?;
        if to_address(&payer, "payer")? != self.payer
            || chain_id != self.domain.chain_id()
            || to_address(&escrow, "escrow")? != self.domain.verifying_contract()
        {
            return Err(invalid(
                "meter state",
                format!("saved for payer {payer} on chain {chain_id} (escrow {escrow}), not this meter's"),
            ));
        }
        let mut counts = Vec::new();
        for item in field("counts")?.try_iter()? {
            let (license_id, terms_id, run, count): (Bound<'_, PyAny>, u64, Bound<'_, PyAny>, u64) =
                item?.extract().map_err(|_| {
                    invalid(
                        "meter state",
                        "a count is not (license_id, terms_id, run_id, count)",
                    )
                })?;
            let usage = fairtrain_sdk::Usage {
                license_id: to_u256(&license_id, "license_id")?,
                terms_id,
                run_id: to_run_id(&run)?,
            };
            counts.push((usage, count));
        }
        let resumed = block_on(py, self.inner.resume(&Position { counts })).map_err(from_sdk)?;
        Ok(resumed
            .into_iter()
            .map(|r| (Usage(r.usage), r.checkpoint, r.journal, r.credit, r.raised))
            .collect())
    }

    /// Stops the background task, then commits and flushes what is left (strictly). Calling it
    /// again only flushes.
    fn close(&self, py: Python<'_>) -> PyResult<FlushReport> {
        let background = self
            .background
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(Background { stop, task }) = background {
            let _ = stop.send(());
            // The task's own final flush logs its failures; the flush below reports them.
            let _ = block_on(py, task);
        }
        self.flush(py, true)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the meter; an exception from the `with` body is not hidden by a failing flush
    /// (the flush's error is raised only when the body succeeded).
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        match self.close(py) {
            Err(e) if exc_type.is_none() => Err(e),
            _ => Ok(false),
        }
    }
}

/// A receipt the relayer refused.
#[pyclass(module = "fairtrain", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct Refused {
    /// The usage whose receipt was refused.
    usage: Usage,
    /// The refused receipt's cumulative count.
    cumulative: u64,
    /// The relayer's machine-readable code (see docs/relayer.md).
    code: String,
    /// The relayer's message.
    message: String,
}

#[pymethods]
impl Refused {
    fn __repr__(&self) -> String {
        format!(
            "Refused(code={:?}, cumulative={}, message={:?})",
            self.code, self.cumulative, self.message
        )
    }
}

/// What one flush did.
#[pyclass(module = "fairtrain", frozen, get_all)]
pub(crate) struct FlushReport {
    /// Receipts sent.
    sent: usize,
    /// Receipts the relayer stored for the first time.
    accepted: usize,
    /// Receipts it already had (resent after a restart or a lost answer).
    duplicates: usize,
    /// Receipts refused.
    refused: Vec<Refused>,
}

impl From<fairtrain_sdk::FlushReport> for FlushReport {
    fn from(r: fairtrain_sdk::FlushReport) -> Self {
        Self {
            sent: r.sent,
            accepted: r.accepted,
            duplicates: r.duplicates,
            refused: r
                .refused
                .into_iter()
                .map(|(usage, refusal)| Refused {
                    usage: Usage(usage),
                    cumulative: refusal.cumulative,
                    code: refusal.code,
                    message: refusal.message,
                })
                .collect(),
        }
    }
}

#[pymethods]
impl FlushReport {
    fn __repr__(&self) -> String {
        format!(
            "FlushReport(sent={}, accepted={}, duplicates={}, refused={})",
            self.sent,
            self.accepted,
            self.duplicates,
            self.refused.len()
        )
    }
}

/// One usage's state in the journal.
#[pyclass(module = "fairtrain", frozen, get_all)]
pub(crate) struct Entry {
    /// The usage.
    usage: Usage,
    /// Samples recorded (committed).
    recorded: u64,
    /// The highest cumulative count the relayer acknowledged.
    acked: u64,
    /// The relayer's refusal of the latest receipt, if it refused it.
    refused: Option<Refused>,
}

impl From<fairtrain_sdk::Entry> for Entry {
    fn from(e: fairtrain_sdk::Entry) -> Self {
        Self {
            usage: Usage(e.usage),
            recorded: e.recorded,
            acked: e.acked,
            refused: e.rejection.map(|r| Refused {
                usage: Usage(e.usage),
                cumulative: r.cumulative,
                code: r.code,
                message: r.message,
            }),
        }
    }
}

#[pymethods]
impl Entry {
    /// Samples recorded and not yet acknowledged by the relayer.
    #[getter]
    const fn unreported(&self) -> u64 {
        self.recorded - self.acked
    }

    fn __repr__(&self) -> String {
        format!(
            "Entry({}, recorded={}, acked={})",
            self.usage.0.license_id, self.recorded, self.acked
        )
    }
}
