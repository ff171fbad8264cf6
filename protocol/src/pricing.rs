//! What a license's price is paid per: `License.Unit`, the `unit` of its terms (docs/protocol.md
//! §2). Settlement is the same for every unit: a receipt counts units cumulatively and a claim
//! pays the new ones at the accepted price. The unit says who signs the receipts: the payer's
//! training infrastructure per sample, the payer's client per access (forwarded by the data
//! gateway that serves the files, docs/gateway.md §4a), its serving infrastructure per inference.

use std::{fmt, str::FromStr};

use alloy::primitives::{keccak256, B256};
use serde::{Deserialize, Serialize};

/// `License.Unit`: one unit of use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Unit {
    /// One training sample.
    #[default]
    Sample,
    /// One grant of a dataset's files by a gateway.
    Access,
    /// One inference of a model trained on the work.
    Inference,
}

impl Unit {
    /// Every unit, in the order of their on-chain values.
    pub const ALL: [Self; 3] = [Self::Sample, Self::Access, Self::Inference];

    /// The unit of an on-chain value, if it is one.
    pub const fn from_value(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Sample),
            1 => Some(Self::Access),
            2 => Some(Self::Inference),
            _ => None,
        }
    }

    /// The on-chain value.
    pub const fn value(self) -> u8 {
        self as u8
    }

    /// The name: `sample`, `access`, `inference` (the token metadata's `unit`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sample => "sample",
            Self::Access => "access",
            Self::Inference => "inference",
        }
    }

    /// The plural: `samples`, `accesses`, `inferences`.
    pub const fn plural(self) -> &'static str {
        match self {
            Self::Sample => "samples",
            Self::Access => "accesses",
            Self::Inference => "inferences",
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Unit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|u| u.name() == text)
            .ok_or_else(|| format!("{text:?} is not a unit: sample, access or inference"))
    }
}

/// The run id of the receipt that pays for one access: `keccak256("fairtrain.access" ‖ accessId)`,
/// where `accessId` is the access request's EIP-712 digest. Each access is its own run, counted
/// once (`cumulativeSamples` 1), so a receipt pays for exactly the access it names and a client
/// keeps no count between accesses.
pub fn access_run_id(access_id: B256) -> B256 {
    let mut bytes = Vec::with_capacity(16 + 32);
    bytes.extend_from_slice(b"fairtrain.access");
    bytes.extend_from_slice(access_id.as_slice());
    keccak256(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_trip_their_values_and_names() {
        for unit in Unit::ALL {
            assert_eq!(Unit::from_value(unit.value()), Some(unit));
            assert_eq!(unit.name().parse::<Unit>(), Ok(unit));
            assert_eq!(
                serde_json::to_string(&unit).unwrap(),
                format!("\"{}\"", unit.name())
            );
        }
        assert_eq!(Unit::from_value(3), None);
        assert!("samples".parse::<Unit>().is_err());
    }

    #[test]
    fn the_access_run_id_is_the_documented_hash() {
        let id = B256::repeat_byte(0xab);
        let mut preimage = b"fairtrain.access".to_vec();
        preimage.extend_from_slice(&[0xab; 32]);
        assert_eq!(access_run_id(id), keccak256(&preimage));
        assert_ne!(access_run_id(id), access_run_id(B256::repeat_byte(0xac)));
    }
}
