//! The records of the escrow's state that its events change, as the escrow holds them.

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};

/// The credit line of `(payer, relayer, token)` (`Escrow.CreditLine`), with the line's pending
/// credit reduction and the block of its last release.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditLine {
    /// What the relayer may still reserve.
    pub credit: U256,
    /// What the relayer's committed batches reserved and claims have not drawn yet (one pool
    /// for all of them).
    pub reserved: U256,
    /// Fees of claims paid from the line, not swept yet.
    pub fees: U256,
    /// The latest expiry of a batch that reserved into the line since the last release
    /// (0: none).
    pub reserved_until: u64,
    /// The amount of the pending credit reduction (0: none).
    pub reduction: U256,
    /// When the pending reduction can execute (0: none).
    pub reduction_effective_at: u64,
    /// The block of the line's last release (`FundsReleased`; 0: never released). Batches
    /// committed in an earlier block reserved into a pool that went back to credit.
    #[serde(default)]
    pub released_block: u64,
}

impl CreditLine {
    /// Whether the line exists for the escrow: credit or reserved funds (a commit into an
    /// empty line reverts with `NoCreditLine`).
    pub fn is_open(&self) -> bool {
        !self.credit.is_zero() || !self.reserved.is_zero()
    }

    /// What new batches may reserve until the pending reduction executes: the credit less the
    /// reduction, whether or not the reduction is effective yet (a relayer commits within the
    /// notice period).
    pub fn usable_credit(&self) -> U256 {
        self.credit.saturating_sub(self.reduction)
    }

    /// Whether the line's reserved funds can go back to credit by `time`: nothing reserved
    /// (`reserved_until == 0`) or every batch that reserved into it expired by then. A batch
    /// committed into such a line must be priced over the settled counts alone.
    pub const fn releasable_by(&self, time: u64) -> bool {
        self.reserved_until == 0 || self.reserved_until <= time
    }

    /// Whether `release(payer, relayer, token)` can run at `time` and give something back:
    /// every batch that reserved into the line expired (`reservedUntil ≠ 0` and `time ≥
    /// reservedUntil`) and it holds reserved funds or fees.
    pub fn awaits_release(&self, time: u64) -> bool {
        self.reserved_until != 0
            && time >= self.reserved_until
            && !(self.reserved.is_zero() && self.fees.is_zero())
    }

    /// Whether a batch of the line's relayer, committed at `batch_block` (`None`: confirmed,
    /// and not applied yet), reserved into the line's current pool and still will have when a
    /// commit priced now mines by `horizon`: committed since the line's last release, and no
    /// release possible before `horizon`. A batch not applied yet is later than every release
    /// applied (a release cannot follow it before it expires). A commit mined in the block of a
    /// release follows it (the commit makes the line unreleasable until its expiry), so it
    /// counts.
    pub const fn in_pool(&self, batch_block: Option<u64>, horizon: u64) -> bool {
        match batch_block {
            None => true,
            Some(block) => !self.releasable_by(horizon) && block >= self.released_block,
        }
    }
}

/// A payer's acceptance of one terms version of a license, keyed by `(payer, licenseId,
/// termsId)`: the settlement terms copied into the escrow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Acceptance {
    /// Payment token.
    pub token: Address,
    /// Price per sample, token base units.
    pub price_per_sample: U256,
    /// Cap on samples charged (0: none).
    pub max_samples: u64,
    /// Terms expiry (0: never).
    pub expires_at: u64,
    /// Earliest commit time of a batch that may charge it.
    pub chargeable_from: u64,
    /// Block of the (latest) acceptance.
    pub accepted_block: u64,
}

/// A payer's signing key, keyed by `(payer, signer)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signer {
    /// Block of the (latest) registration.
    pub registered_block: u64,
    /// Revocation effective time (0: not revoked).
    pub revoked_at: u64,
}

/// A payer's pending withdrawal request in one token, keyed by `(payer, token)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Withdrawal {
    /// The amount requested.
    pub amount: U256,
    /// When it can execute.
    pub unlock_at: u64,
    /// When the request lapses.
    pub lapses_at: u64,
}

/// What one batch reserved for one payer and token into its relayer's line, keyed by `(root,
/// payer, token)`; claims of the batch draw on that line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reservation {
    /// The relayer that committed the batch.
    pub relayer: Address,
    /// The amount reserved.
    pub amount: U256,
    /// When the batch's claims expire.
    pub expires_at: u64,
    /// The line's `reserved_until` just before the commit.
    pub locked_until: u64,
    /// The line's `released_block` at the commit.
    pub line_since_block: u64,
}
