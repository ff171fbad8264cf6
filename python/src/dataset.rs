//! Checking a dataset before training on it (the Rust SDK's `verify_dataset`), building a
//! manifest, and getting a licensed dataset from a gateway (`open_dataset`).

use std::{collections::BTreeMap, path::PathBuf};

use fairtrain_protocol::DatasetManifest;
use fairtrain_sdk::{Clock, LicenseSource, OpenOptions, SystemClock};
use pyo3::prelude::*;

use crate::{
    errors::{from_sdk, invalid},
    runtime::block_on,
    values::{from_u256, to_address, to_signer, to_u256},
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

    /// The dataset's name, as the manifest states it.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }

    /// The manifest's collection or device metadata, as the creator signed it.
    #[getter]
    fn metadata(&self) -> BTreeMap<String, String> {
        self.0.metadata.clone()
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

/// Builds the manifest of every file under `folder` (docs/manifest.md), signs it with
/// `signer_key` when given (the creator is then that key's address) and writes it to `out`.
/// Returns the manifest hash, what a license records. Without a key, name the `creator`; sign
/// later with `fairtrain manifest sign`.
#[pyfunction]
#[pyo3(signature = (
    folder, out, *, name, description = String::new(), metadata = None, signer_key = None,
    creator = None, created_at = None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_manifest(
    py: Python<'_>,
    folder: PathBuf,
    out: PathBuf,
    name: String,
    description: String,
    metadata: Option<BTreeMap<String, String>>,
    signer_key: Option<&str>,
    creator: Option<&str>,
    created_at: Option<u64>,
) -> PyResult<String> {
    let key = signer_key.map(to_signer).transpose()?;
    let creator = match (creator, &key) {
        (Some(creator), _) => to_address(creator, "creator")?,
        (None, Some(key)) => key.address(),
        (None, None) => {
            return Err(invalid(
                "creator",
                "give the creator's address or its signer_key",
            ))
        }
    };
    let created_at = created_at.unwrap_or_else(|| SystemClock.now());
    let metadata = metadata.unwrap_or_default();
    // Hashing the files reads all of them: without the GIL.
    let manifest = py.detach(|| -> Result<DatasetManifest, String> {
        let mut manifest =
            DatasetManifest::of_folder(&folder, name, description, creator, created_at, metadata)
                .map_err(|e| format!("folder {}: {e}", folder.display()))?;
        if let Some(key) = &key {
            manifest.sign(key).map_err(|e| format!("signing: {e}"))?;
        }
        std::fs::write(&out, manifest.to_json())
            .map_err(|e| format!("writing {}: {e}", out.display()))?;
        Ok(manifest)
    });
    let manifest = manifest.map_err(|e| from_sdk(fairtrain_sdk::Error::Dataset(e)))?;
    Ok(manifest.hash().to_string())
}

/// What `open_dataset` did: the folder, verified, and how the download went.
#[pyclass(module = "fairtrain", frozen)]
pub(crate) struct OpenedDataset(fairtrain_sdk::Opened);

#[pymethods]
impl OpenedDataset {
    /// The dataset's folder; every file in it was checked against the manifest.
    #[getter]
    fn path(&self) -> PathBuf {
        self.0.path.clone()
    }

    /// The signed manifest, written next to the folder (`<path>.manifest.json`).
    #[getter]
    fn manifest_path(&self) -> PathBuf {
        self.0.manifest_path.clone()
    }

    /// The check of the folder against the manifest and the license on-chain.
    #[getter]
    fn check(&self) -> DatasetCheck {
        DatasetCheck(self.0.check.clone())
    }

    /// Files downloaded now (in whole or in part).
    #[getter]
    const fn downloaded(&self) -> usize {
        self.0.downloaded
    }

    /// Of those, resumed from a partial file.
    #[getter]
    const fn resumed(&self) -> usize {
        self.0.resumed
    }

    /// Files already there and right.
    #[getter]
    const fn kept(&self) -> usize {
        self.0.kept
    }

    /// Bytes received.
    #[getter]
    const fn bytes(&self) -> u64 {
        self.0.bytes
    }

    /// The gateway's access id (the key of its access log), `0x`-hex.
    #[getter]
    fn access_id(&self) -> String {
        self.0.access_id.to_string()
    }

    /// The digest of the receipt that paid for the access (`0x`-hex), under terms priced per
    /// access; `None` under the others.
    #[getter]
    fn receipt(&self) -> Option<String> {
        self.0.receipt.map(|r| r.to_string())
    }

    fn __repr__(&self) -> String {
        format!(
            "OpenedDataset(path={:?}, files={}, downloaded={}, resumed={}, kept={})",
            self.0.path, self.0.check.files, self.0.downloaded, self.0.resumed, self.0.kept
        )
    }
}

/// Gets license `license_id`'s dataset from the gateway at `gateway` into `out`: reads the
/// license on-chain, checks the manifest it records, asks for access with a request signed by
/// `signer_key` (the payer's key, or a training key it registered: then give `payer`),
/// downloads every file (resuming partial ones) and checks each against the manifest. Raises
/// `GatewayRefused` with the gateway's code when the chain does not entitle the payer, and
/// `DatasetError` when a byte is not the creator's (that file is deleted).
#[pyfunction]
#[pyo3(signature = (
    license_id, *, gateway, out, signer_key, rpc_url, license_nft, payer = None, terms_id = None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn open_dataset(
    py: Python<'_>,
    license_id: &Bound<'_, PyAny>,
    gateway: String,
    out: PathBuf,
    signer_key: &str,
    rpc_url: String,
    license_nft: &str,
    payer: Option<&str>,
    terms_id: Option<u64>,
) -> PyResult<OpenedDataset> {
    let source = LicenseSource {
        rpc_url,
        license_nft: to_address(license_nft, "license_nft")?,
        license_id: to_u256(license_id, "license_id")?,
    };
    let key = to_signer(signer_key)?;
    let options = OpenOptions {
        gateway,
        out,
        payer: payer.map(|p| to_address(p, "payer")).transpose()?,
        terms: terms_id,
    };
    let opened = block_on(py, fairtrain_sdk::open_dataset(&source, &key, &options));
    Ok(OpenedDataset(opened.map_err(from_sdk)?))
}

/// The `device.` metadata entries of a quantum device profile given as JSON (docs/manifest.md
/// §7), validated: pass them in `build_manifest`'s `metadata` so the creator signs them.
/// Raises `DatasetError` naming what is invalid.
#[pyfunction]
pub(crate) fn device_metadata(profile_json: &str) -> PyResult<BTreeMap<String, String>> {
    let invalid = |e: String| from_sdk(fairtrain_sdk::Error::Dataset(e));
    let profile: fairtrain_protocol::manifest::DeviceProfile =
        serde_json::from_str(profile_json).map_err(|e| invalid(format!("device profile: {e}")))?;
    profile.to_metadata().map_err(|e| invalid(e.to_string()))
}

/// The quantum device profile in a manifest's metadata, as JSON, or `None` if it has none.
/// Raises `DatasetError` if its `device.` entries are not a valid profile.
#[pyfunction]
pub(crate) fn device_profile(metadata: BTreeMap<String, String>) -> PyResult<Option<String>> {
    let profile = fairtrain_protocol::manifest::DeviceProfile::from_metadata(&metadata)
        .map_err(|e| from_sdk(fairtrain_sdk::Error::Dataset(e.to_string())))?;
    Ok(profile.map(|p| serde_json::to_string(&p).expect("a profile serializes")))
}
