//! `fairtrain._native`: the Rust core of the `fairtrain` Python package.
//!
//! Everything the protocol defines stays in Rust (the meter, its journal, receipt signing, the
//! manifest checks); this crate only converts values between Python and those crates and turns
//! their errors into Python exceptions. The Python package (`python/fairtrain`) adds the
//! adapters that wrap training loops.

mod dataset;
mod errors;
mod meter;
mod receipts;
mod runtime;
mod values;

use pyo3::prelude::*;

/// The module's contents, as `fairtrain/_native.pyi` describes them.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<values::Usage>()?;
    m.add_class::<meter::Meter>()?;
    m.add_class::<meter::FlushReport>()?;
    m.add_class::<meter::Refused>()?;
    m.add_class::<meter::Entry>()?;
    m.add_class::<dataset::DatasetCheck>()?;
    m.add_class::<dataset::OpenedDataset>()?;
    m.add_function(wrap_pyfunction!(values::run_id, m)?)?;
    m.add_function(wrap_pyfunction!(values::deployment, m)?)?;
    m.add_function(wrap_pyfunction!(receipts::receipt_digest, m)?)?;
    m.add_function(wrap_pyfunction!(receipts::sign_receipt, m)?)?;
    m.add_function(wrap_pyfunction!(receipts::recover_signer, m)?)?;
    m.add_function(wrap_pyfunction!(dataset::verify_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(dataset::build_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(dataset::open_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(dataset::device_metadata, m)?)?;
    m.add_function(wrap_pyfunction!(dataset::device_profile, m)?)?;
    Ok(())
}
