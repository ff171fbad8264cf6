//! The escrow state the relayer relies on, derived only from events: signing keys, acceptances,
//! relayer authorizations, available balances, pending withdrawals, settled counts and license
//! holders. [`ChainState::apply`] folds one log into it; the follower checkpoints it.

use std::collections::HashMap;

use alloy::{
    primitives::{Address, Log, B256, U256},
    sol_types::SolEventInterface,
};
use fairtrain_protocol::bindings::{
    LicenseNFT::LicenseNFTEvents,
    TrainingEscrow::{self, TrainingEscrowEvents},
};
use serde::{Deserialize, Serialize};

/// A payer's signing key: registered, and revoked from `revoked_at` if that is not zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerWindow {
    /// Revocation effective time (0: not revoked).
    pub revoked_at: u64,
}

/// The settlement terms a payer accepted (copied into the escrow's acceptance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    /// Payment token.
    pub token: Address,
    /// Price per sample, token base units.
    pub price: u128,
    /// Cap on samples charged (0: none).
    pub max_samples: u64,
    /// Terms expiry (0: never).
    pub expires_at: u64,
    /// Earliest commit time of a batch that may charge it.
    pub chargeable_from: u64,
}

/// A pending withdrawal request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    /// Requested amount.
    pub amount: U256,
    /// When it can be executed.
    pub unlock_at: u64,
    /// When it lapses.
    pub lapses_at: u64,
}

/// Everything followed from events, keyed for the verification pipeline.
#[derive(Clone, Debug, Default)]
pub struct ChainState {
    /// `(payer, signer)` → key window.
    pub signers: HashMap<(Address, Address), SignerWindow>,
    /// `(payer, licenseId, termsId)` → acceptance.
    pub acceptances: HashMap<(Address, U256, u64), Acceptance>,
    /// `(payer, relayer)` pairs currently authorized.
    pub relayers: HashMap<(Address, Address), bool>,
    /// `(payer, token)` → available balance.
    pub available: HashMap<(Address, Address), U256>,
    /// `(payer, token)` → pending withdrawal.
    pub withdrawals: HashMap<(Address, Address), Withdrawal>,
    /// Usage key → highest settled cumulative count.
    pub settled: HashMap<B256, u64>,
    /// License id → current holder.
    pub holders: HashMap<U256, Address>,
    /// Roots committed on-chain → block number.
    pub committed_roots: HashMap<B256, u64>,
    /// Block of the log being applied, then the last block applied.
    pub block: u64,
    /// The first block not yet followed.
    pub next_block: u64,
    /// Its timestamp: the relayer's notion of "now" on the chain.
    pub timestamp: u64,
}

/// [`ChainState`] as a serializable list of entries (tuple keys do not make JSON maps).
#[derive(Default, Serialize, Deserialize)]
struct Snapshot {
    signers: Vec<((Address, Address), SignerWindow)>,
    acceptances: Vec<((Address, U256, u64), Acceptance)>,
    relayers: Vec<((Address, Address), bool)>,
    available: Vec<((Address, Address), U256)>,
    withdrawals: Vec<((Address, Address), Withdrawal)>,
    settled: Vec<(B256, u64)>,
    holders: Vec<(U256, Address)>,
    committed_roots: Vec<(B256, u64)>,
    block: u64,
    next_block: u64,
    timestamp: u64,
}

impl ChainState {
    /// Serializes the state for the checkpoint.
    pub fn to_json(&self) -> String {
        let s = Snapshot {
            signers: self.signers.iter().map(|(k, v)| (*k, *v)).collect(),
            acceptances: self.acceptances.iter().map(|(k, v)| (*k, *v)).collect(),
            relayers: self.relayers.iter().map(|(k, v)| (*k, *v)).collect(),
            available: self.available.iter().map(|(k, v)| (*k, *v)).collect(),
            withdrawals: self.withdrawals.iter().map(|(k, v)| (*k, *v)).collect(),
            settled: self.settled.iter().map(|(k, v)| (*k, *v)).collect(),
            holders: self.holders.iter().map(|(k, v)| (*k, *v)).collect(),
            committed_roots: self.committed_roots.iter().map(|(k, v)| (*k, *v)).collect(),
            block: self.block,
            next_block: self.next_block,
            timestamp: self.timestamp,
        };
        serde_json::to_string(&s).expect("plain data serializes")
    }

    /// Reads a checkpoint written by [`Self::to_json`].
    ///
    /// # Errors
    ///
    /// The JSON error if the text is not a checkpoint.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let s: Snapshot = serde_json::from_str(text)?;
        Ok(Self {
            signers: s.signers.into_iter().collect(),
            acceptances: s.acceptances.into_iter().collect(),
            relayers: s.relayers.into_iter().collect(),
            available: s.available.into_iter().collect(),
            withdrawals: s.withdrawals.into_iter().collect(),
            settled: s.settled.into_iter().collect(),
            holders: s.holders.into_iter().collect(),
            committed_roots: s.committed_roots.into_iter().collect(),
            block: s.block,
            next_block: s.next_block,
            timestamp: s.timestamp,
        })
    }

    /// The available balance of `(payer, token)`.
    pub fn available(&self, payer: Address, token: Address) -> U256 {
        self.available
            .get(&(payer, token))
            .copied()
            .unwrap_or_default()
    }

    /// What the relayer may rely on from `(payer, token)` until `horizon`: the available
    /// balance less a pending withdrawal that can execute before `horizon`.
    pub fn spendable(&self, payer: Address, token: Address, horizon: u64) -> U256 {
        let available = self.available(payer, token);
        match self.withdrawals.get(&(payer, token)) {
            Some(w) if w.unlock_at <= horizon && w.lapses_at > self.timestamp => {
                available.saturating_sub(w.amount)
            }
            _ => available,
        }
    }

    /// Whether `relayer` is authorized by `payer`.
    pub fn is_relayer(&self, payer: Address, relayer: Address) -> bool {
        self.relayers
            .get(&(payer, relayer))
            .copied()
            .unwrap_or(false)
    }

    fn add(&mut self, payer: Address, token: Address, amount: U256) {
        let e = self.available.entry((payer, token)).or_default();
        *e = e.saturating_add(amount);
    }

    fn sub(&mut self, payer: Address, token: Address, amount: U256) {
        let e = self.available.entry((payer, token)).or_default();
        *e = e.saturating_sub(amount);
    }

    /// Folds one log of the escrow or the license NFT into the state.
    pub fn apply(&mut self, escrow: Address, license_nft: Address, log: &Log) {
        if log.address == escrow {
            if let Ok(event) = TrainingEscrowEvents::decode_log(log) {
                self.apply_escrow(event.data);
            }
        } else if log.address == license_nft {
            if let Ok(event) = LicenseNFTEvents::decode_log(log) {
                if let LicenseNFTEvents::Transfer(t) = event.data {
                    self.holders.insert(t.tokenId, t.to);
                }
            }
        }
    }

    fn apply_escrow(&mut self, event: TrainingEscrowEvents) {
        use TrainingEscrowEvents as E;
        match event {
            E::Deposited(e) => self.add(e.payer, e.token, e.amount),
            E::WithdrawalRequested(e) => {
                self.withdrawals.insert(
                    (e.payer, e.token),
                    Withdrawal {
                        amount: U256::from(e.amount),
                        unlock_at: e.unlockAt.to::<u64>(),
                        lapses_at: e.lapsesAt.to::<u64>(),
                    },
                );
            }
            E::WithdrawalCancelled(e) => {
                self.withdrawals.remove(&(e.payer, e.token));
            }
            E::WithdrawalDelayed(e) => {
                if let Some(w) = self.withdrawals.get_mut(&(e.payer, e.token)) {
                    w.unlock_at = e.unlockAt.to::<u64>();
                    w.lapses_at = e.lapsesAt.to::<u64>();
                }
            }
            E::Withdrawn(e) => {
                self.sub(e.payer, e.token, e.amount);
                self.withdrawals.remove(&(e.payer, e.token));
            }
            E::TermsAccepted(e) => {
                self.acceptances.insert(
                    (e.payer, e.licenseId, e.termsId),
                    Acceptance {
                        token: e.token,
                        price: e.pricePerSample.to::<u128>(),
                        max_samples: e.maxSamples,
                        expires_at: e.expiresAt.to::<u64>(),
                        chargeable_from: e.chargeableFrom.to::<u64>(),
                    },
                );
            }
            E::RelayerSet(e) => {
                self.relayers.insert((e.payer, e.relayer), e.authorized);
            }
            E::SignerRegistered(e) => {
                self.signers
                    .insert((e.payer, e.signer), SignerWindow { revoked_at: 0 });
            }
            E::SignerRevoked(e) => {
                self.signers.insert(
                    (e.payer, e.signer),
                    SignerWindow {
                        revoked_at: e.effectiveAt.to::<u64>(),
                    },
                );
            }
            E::BatchCommitted(e) => {
                self.committed_roots.insert(e.root, self.block);
            }
            E::FundsReserved(e) => self.sub(e.payer, e.token, e.amount),
            E::ReservationReleased(e) => self.add(e.payer, e.token, e.amount),
            E::UsageSettled(e) => self.apply_settled(&e),
            _ => {}
        }
    }

    fn apply_settled(&mut self, e: &TrainingEscrow::UsageSettled) {
        let settled = self.settled.entry(e.usageKey).or_default();
        *settled = (*settled).max(e.cumulativeSamples);
        // Direct settlement (root zero) is charged to the payer's available balance; a claim
        // against a batch is paid from the reservation, which `FundsReserved` already took.
        if e.root == B256::ZERO {
            self.sub(e.payer, e.token, e.amount);
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{aliases::U40, Uint},
        sol_types::SolEvent,
    };

    use super::*;

    const ESCROW: Address = Address::repeat_byte(0xe5);
    const NFT: Address = Address::repeat_byte(0x4f);
    const PAYER: Address = Address::repeat_byte(1);
    const TOKEN: Address = Address::repeat_byte(2);

    fn log<E: SolEvent>(address: Address, event: &E) -> Log {
        Log {
            address,
            data: event.encode_log_data(),
        }
    }

    #[test]
    fn balances_follow_deposits_reservations_releases_and_withdrawals() {
        let mut s = ChainState::default();
        let apply = |s: &mut ChainState, l: Log| s.apply(ESCROW, NFT, &l);
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::Deposited {
                    payer: PAYER,
                    token: TOKEN,
                    from: PAYER,
                    amount: U256::from(1_000),
                },
            ),
        );
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::FundsReserved {
                    root: B256::repeat_byte(9),
                    payer: PAYER,
                    token: TOKEN,
                    amount: U256::from(300),
                    expiresAt: U40::from(10),
                },
            ),
        );
        assert_eq!(s.available(PAYER, TOKEN), U256::from(700));
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::ReservationReleased {
                    root: B256::repeat_byte(9),
                    payer: PAYER,
                    token: TOKEN,
                    amount: U256::from(100),
                },
            ),
        );
        assert_eq!(s.available(PAYER, TOKEN), U256::from(800));
        // A withdrawal due before the horizon is not spendable; one due later is.
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::WithdrawalRequested {
                    payer: PAYER,
                    token: TOKEN,
                    amount: Uint::from(500),
                    unlockAt: U40::from(100),
                    lapsesAt: U40::from(200),
                },
            ),
        );
        assert_eq!(s.spendable(PAYER, TOKEN, 150), U256::from(300));
        assert_eq!(s.spendable(PAYER, TOKEN, 50), U256::from(800));
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::Withdrawn {
                    payer: PAYER,
                    token: TOKEN,
                    to: PAYER,
                    amount: U256::from(500),
                },
            ),
        );
        assert_eq!(s.available(PAYER, TOKEN), U256::from(300));
        assert!(s.withdrawals.is_empty());
        // Direct settlement is charged to the named payer's available balance.
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::UsageSettled {
                    root: B256::ZERO,
                    usageKey: B256::repeat_byte(3),
                    payee: Address::repeat_byte(9),
                    payer: PAYER,
                    licenseId: U256::from(1),
                    termsId: 1,
                    token: TOKEN,
                    cumulativeSamples: 7,
                    samplesCharged: 7,
                    amount: U256::from(7),
                    fee: U256::ZERO,
                },
            ),
        );
        assert_eq!(s.available(PAYER, TOKEN), U256::from(293));
        assert_eq!(s.settled[&B256::repeat_byte(3)], 7);
        // Logs of other contracts are ignored.
        apply(
            &mut s,
            log(
                Address::ZERO,
                &TrainingEscrow::Deposited {
                    payer: PAYER,
                    token: TOKEN,
                    from: PAYER,
                    amount: U256::from(1),
                },
            ),
        );
        assert_eq!(s.available(PAYER, TOKEN), U256::from(293));
    }

    #[test]
    fn keys_relayers_and_snapshot_round_trip() {
        let mut s = ChainState::default();
        let signer = Address::repeat_byte(7);
        s.apply(
            ESCROW,
            NFT,
            &log(
                ESCROW,
                &TrainingEscrow::SignerRegistered {
                    payer: PAYER,
                    signer,
                },
            ),
        );
        s.apply(
            ESCROW,
            NFT,
            &log(
                ESCROW,
                &TrainingEscrow::SignerRevoked {
                    payer: PAYER,
                    signer,
                    effectiveAt: U40::from(500),
                },
            ),
        );
        assert_eq!(s.signers[&(PAYER, signer)].revoked_at, 500);
        s.apply(
            ESCROW,
            NFT,
            &log(
                ESCROW,
                &TrainingEscrow::SignerRegistered {
                    payer: PAYER,
                    signer,
                },
            ),
        );
        assert_eq!(
            s.signers[&(PAYER, signer)].revoked_at,
            0,
            "re-registering cancels a pending revocation"
        );
        s.apply(
            ESCROW,
            NFT,
            &log(
                ESCROW,
                &TrainingEscrow::RelayerSet {
                    payer: PAYER,
                    relayer: signer,
                    authorized: true,
                },
            ),
        );
        assert!(s.is_relayer(PAYER, signer));
        s.apply(
            ESCROW,
            NFT,
            &log(
                NFT,
                &fairtrain_protocol::bindings::LicenseNFT::Transfer {
                    from: Address::ZERO,
                    to: signer,
                    tokenId: U256::from(4),
                },
            ),
        );
        assert_eq!(s.holders[&U256::from(4)], signer);
        s.next_block = 42;
        let back = ChainState::from_json(&s.to_json()).unwrap();
        assert_eq!(back.signers, s.signers);
        assert_eq!(back.holders, s.holders);
        assert_eq!(back.next_block, 42);
        assert!(ChainState::from_json("{").is_err());
    }
}
