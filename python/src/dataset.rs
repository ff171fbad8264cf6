//! Checking a dataset before training on it: the Rust SDK's `verify_dataset`.

use std::path::PathBuf;

use fairtrain_sdk::LicenseSource;
use pyo3::prelude::*;

use crate::{
    errors::{from_sdk, invalid},
    runtime::block_on,
    values::{from_u256, to_address, to_u256},
};

/// What `verify_dataset` established.
#[pyclass(module = "fairtrain", frozen)]
pub(crate) struct DatasetCheck(fairtrain_sdk::DatasetCheck);

#[pymethods]
impl DatasetCheck {
    /// The manifest hash (what the creator signed and the license records), `0x`-hex.
    #[getter]
    fn manifest_hash(&self) -> String {
        self.0.manifest_hash.to_string()
    }

    /// The creator whose signature the manifest carries.
    #[getter]
    fn creator(&self) -> String {
        self.0.creator.to_checksum(None)
    }

    /// Files checked on disk.
    #[getter]
    const fn files(&self) -> usize {
        self.0.files
    }

    /// The license checked on-chain, if one was given.
    #[getter]
    fn license_id<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.0.license_id.map(|id| from_u256(py, id)).transpose()
    }

    fn __repr__(&self) -> String {
        format!(
            "DatasetCheck(manifest_hash={}, creator={}, files={})",
            self.0.manifest_hash, self.0.creator, self.0.files
        )
    }
}

/// Verifies the signed manifest at `manifest`, that `folder` holds exactly its files, and, with
/// `rpc_url`, `license_nft` and `license_id`, that the license on-chain records this manifest
/// and was minted by its creator. Raises `DatasetError` naming the first check that failed.
#[pyfunction]
#[pyo3(signature = (manifest, folder, *, rpc_url = None, license_nft = None, license_id = None))]
pub(crate) fn verify_dataset(
    py: Python<'_>,
    manifest: PathBuf,
    folder: PathBuf,
    rpc_url: Option<String>,
    license_nft: Option<&str>,
    license_id: Option<&Bound<'_, PyAny>>,
) -> PyResult<DatasetCheck> {
    let license = match (rpc_url, license_nft, license_id) {
        (Some(rpc_url), Some(nft), Some(id)) => Some(LicenseSource {
            rpc_url,
            license_nft: to_address(nft, "license_nft")?,
            license_id: to_u256(id, "license_id")?,
        }),
        (None, None, None) => None,
        _ => {
            return Err(invalid(
                "license",
                "give rpc_url, license_nft and license_id together",
            ))
        }
    };
    let check = block_on(
        py,
        fairtrain_sdk::verify_dataset(&manifest, &folder, license.as_ref()),
    );
    Ok(DatasetCheck(check.map_err(from_sdk)?))
}
