//! Values crossing between Python and Rust: integers beyond 64 bits, addresses, hashes, keys,
//! and the usage key.

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use pyo3::{
    prelude::*,
    types::{PyBytes, PyInt},
};

use crate::errors::invalid;

/// A non-negative Python `int` up to 2**256 - 1.
pub(crate) fn to_u256(value: &Bound<'_, PyAny>, what: &str) -> PyResult<U256> {
    if !value.is_instance_of::<PyInt>() {
        return Err(invalid(what, "expected an int"));
    }
    value
        .str()?
        .to_str()?
        .parse::<U256>()
        .map_err(|e| invalid(what, e))
}

/// A Python `int` holding `value`.
pub(crate) fn from_u256<'py>(py: Python<'py>, value: U256) -> PyResult<Bound<'py, PyAny>> {
    py.get_type::<PyInt>().call1((value.to_string(),))
}

/// An address from its hex text (checksummed or not).
pub(crate) fn to_address(text: &str, what: &str) -> PyResult<Address> {
    text.parse().map_err(|e| invalid(what, e))
}

/// A training key from its hex text.
pub(crate) fn to_signer(text: &str) -> PyResult<PrivateKeySigner> {
    // The parse error names no part of the key.
    text.trim()
        .parse()
        .map_err(|_| invalid("signer key", "not a 32-byte hex private key"))
}

/// A run id: 32 bytes, a `0x`-prefixed 32-byte hex string, or any other string, which is hashed
/// (`keccak256` of its UTF-8 bytes, as `fairtrain-meter --run NAME` does).
pub(crate) fn to_run_id(run: &Bound<'_, PyAny>) -> PyResult<B256> {
    if let Ok(bytes) = run.cast::<PyBytes>() {
        return B256::try_from(bytes.as_bytes()).map_err(|_| invalid("run", "expected 32 bytes"));
    }
    let text: String = run
        .extract()
        .map_err(|_| invalid("run", "expected a str or 32 bytes"))?;
    if text.len() == 66 && text.starts_with("0x") {
        if let Ok(id) = text.parse::<B256>() {
            return Ok(id);
        }
    }
    Ok(keccak256(text.as_bytes()))
}

/// Reads and checks a deployment file (`deployments/<chainId>.json`).
pub(crate) fn load_deployment(path: &std::path::Path) -> PyResult<fairtrain_protocol::Deployment> {
    fairtrain_protocol::Deployment::load(path).map_err(|e| invalid("deployment", e))
}

/// The deployment file at `path` as a dict (`chainId`, `trainingEscrow`, `licenseNFT`, …, as
/// docs/deployment.md names them), after checking it.
#[pyfunction]
pub(crate) fn deployment<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_string(&load_deployment(&path)?).expect("a deployment serializes");
    py.import("json")?.call_method1("loads", (json,))
}

/// `keccak256(name)` as `0x`-hex: the run id of a run named `name`.
#[pyfunction]
pub(crate) fn run_id(name: &str) -> String {
    keccak256(name.as_bytes()).to_string()
}

/// What a training run uses: a license, under the terms version the payer accepted, within one
/// run. With the payer, the escrow's usage key. Immutable and hashable.
#[pyclass(module = "fairtrain", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Usage(pub(crate) fairtrain_sdk::Usage);

#[pymethods]
impl Usage {
    #[new]
    #[pyo3(signature = (license_id, terms_id, run))]
    fn new(license_id: &Bound<'_, PyAny>, terms_id: u64, run: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self(fairtrain_sdk::Usage {
            license_id: to_u256(license_id, "license_id")?,
            terms_id,
            run_id: to_run_id(run)?,
        }))
    }

    /// The license NFT's id.
    #[getter]
    fn license_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        from_u256(py, self.0.license_id)
    }

    /// The accepted terms version.
    #[getter]
    const fn terms_id(&self) -> u64 {
        self.0.terms_id
    }

    /// The run id, `0x`-hex.
    #[getter]
    fn run_id(&self) -> String {
        self.0.run_id.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Usage(license_id={}, terms_id={}, run={:?})",
            self.0.license_id,
            self.0.terms_id,
            self.0.run_id.to_string()
        )
    }
}
