//! Receipts as plain dicts, for tools and for checking the package against other EIP-712
//! implementations: digest, sign, recover. The meter signs its own receipts; these are not
//! needed to meter a run.

use alloy::primitives::{Address, B256};
use fairtrain_protocol::{EscrowDomain, Receipt};
use pyo3::{prelude::*, types::PyDict};

use crate::{
    errors::invalid,
    values::{to_address, to_signer, to_u256},
};

/// The escrow's EIP-712 domain from a chain id and the escrow's address.
fn domain(chain_id: u64, escrow: &str) -> PyResult<EscrowDomain> {
    Ok(EscrowDomain::new(chain_id, to_address(escrow, "escrow")?))
}

/// A receipt from a dict with the EIP-712 field names (`payer`, `licenseId`, `termsId`,
/// `runId`, `cumulativeSamples`, `issuedAt`).
fn receipt(fields: &Bound<'_, PyDict>) -> PyResult<Receipt> {
    let get = |name: &str| -> PyResult<Bound<'_, PyAny>> {
        fields
            .get_item(name)?
            .ok_or_else(|| invalid("receipt", format!("missing field {name}")))
    };
    let u64_field = |name: &str| -> PyResult<u64> {
        get(name)?
            .extract()
            .map_err(|_| invalid(name, "expected an int in 0..2**64"))
    };
    let payer: String = get("payer")?
        .extract()
        .map_err(|_| invalid("payer", "expected a str"))?;
    let run: String = get("runId")?
        .extract()
        .map_err(|_| invalid("runId", "expected 0x-hex"))?;
    Ok(Receipt {
        payer: to_address(&payer, "payer")?,
        licenseId: to_u256(&get("licenseId")?, "licenseId")?,
        termsId: u64_field("termsId")?,
        runId: run.parse::<B256>().map_err(|e| invalid("runId", e))?,
        cumulativeSamples: u64_field("cumulativeSamples")?,
        issuedAt: u64_field("issuedAt")?,
    })
}

/// The EIP-712 digest of `receipt` under the escrow at `escrow` on `chain_id`, `0x`-hex.
#[pyfunction]
pub(crate) fn receipt_digest(
    chain_id: u64,
    escrow: &str,
    receipt: &Bound<'_, PyDict>,
) -> PyResult<String> {
    Ok(domain(chain_id, escrow)?
        .digest(&self::receipt(receipt)?)
        .to_string())
}

/// Signs `receipt` with `key` (hex private key); returns the 65-byte signature, `0x`-hex.
#[pyfunction]
pub(crate) fn sign_receipt(
    chain_id: u64,
    escrow: &str,
    key: &str,
    receipt: &Bound<'_, PyDict>,
) -> PyResult<String> {
    let signature = domain(chain_id, escrow)?
        .sign(&to_signer(key)?, &self::receipt(receipt)?)
        .map_err(|e| invalid("signing", e))?;
    Ok(signature.to_string())
}

/// The address whose key signed `receipt` with `signature` (`0x`-hex, 65 bytes).
#[pyfunction]
pub(crate) fn recover_signer(
    chain_id: u64,
    escrow: &str,
    receipt: &Bound<'_, PyDict>,
    signature: &str,
) -> PyResult<String> {
    let bytes = alloy::hex::decode(signature).map_err(|e| invalid("signature", e))?;
    let signer: Address = domain(chain_id, escrow)?
        .recover(&self::receipt(receipt)?, &bytes)
        .map_err(|e| invalid("signature", e))?;
    Ok(signer.to_checksum(None))
}
