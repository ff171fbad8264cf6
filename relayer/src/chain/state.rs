//! The escrow state the relayer relies on, derived only from events: signing keys, acceptances,
//! available balances, credit lines and their pending reductions, settled counts and license
//! holders. [`ChainState::apply`] folds one log into it, escrow events through the protocol's
//! reducer ([`fairtrain_protocol::escrow::apply`]) with the state's maps as its store; the
//! follower checkpoints it.

use std::{collections::HashMap, convert::Infallible};

use alloy::{
    primitives::{Address, Log, B256, U256},
    sol_types::SolEventInterface,
};
use fairtrain_protocol::{
    bindings::{LicenseNFT::LicenseNFTEvents, TrainingEscrow::TrainingEscrowEvents},
    escrow::{self as reducer, EscrowStore},
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

/// The credit line of `(payer, relayer, token)` as the escrow holds it, kept by the protocol's
/// escrow reducer.
pub use fairtrain_protocol::escrow::CreditLine;

/// Everything followed from events, keyed for the verification pipeline.
#[derive(Clone, Debug, Default)]
pub struct ChainState {
    /// `(payer, signer)` → key window.
    pub signers: HashMap<(Address, Address), SignerWindow>,
    /// `(payer, licenseId, termsId)` → acceptance.
    pub acceptances: HashMap<(Address, U256, u64), Acceptance>,
    /// `(payer, relayer, token)` → credit line.
    pub lines: HashMap<(Address, Address, Address), CreditLine>,
    /// `(payer, token)` → available balance.
    pub available: HashMap<(Address, Address), U256>,
    /// Usage key → highest settled cumulative count.
    pub settled: HashMap<B256, u64>,
    /// License id → current holder.
    pub holders: HashMap<U256, Address>,
    /// Roots committed on-chain → block number.
    pub committed_roots: HashMap<B256, u64>,
    /// Roots committed on-chain → the relayer that committed them (whose lines their claims
    /// draw on).
    pub root_relayers: HashMap<B256, Address>,
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
    #[serde(default)]
    lines: Vec<((Address, Address, Address), CreditLine)>,
    available: Vec<((Address, Address), U256)>,
    settled: Vec<(B256, u64)>,
    holders: Vec<(U256, Address)>,
    committed_roots: Vec<(B256, u64)>,
    #[serde(default)]
    root_relayers: Vec<(B256, Address)>,
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
            lines: self.lines.iter().map(|(k, v)| (*k, *v)).collect(),
            available: self.available.iter().map(|(k, v)| (*k, *v)).collect(),
            settled: self.settled.iter().map(|(k, v)| (*k, *v)).collect(),
            holders: self.holders.iter().map(|(k, v)| (*k, *v)).collect(),
            committed_roots: self.committed_roots.iter().map(|(k, v)| (*k, *v)).collect(),
            root_relayers: self.root_relayers.iter().map(|(k, v)| (*k, *v)).collect(),
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
            lines: s.lines.into_iter().collect(),
            available: s.available.into_iter().collect(),
            settled: s.settled.into_iter().collect(),
            holders: s.holders.into_iter().collect(),
            committed_roots: s.committed_roots.into_iter().collect(),
            root_relayers: s.root_relayers.into_iter().collect(),
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

    /// The credit line of `(payer, relayer, token)` (all zero when there is none).
    pub fn line(&self, payer: Address, relayer: Address, token: Address) -> CreditLine {
        self.lines
            .get(&(payer, relayer, token))
            .copied()
            .unwrap_or_default()
    }

    /// Folds one log of the escrow or the license NFT into the state.
    pub fn apply(&mut self, escrow: Address, license_nft: Address, log: &Log) {
        if log.address == escrow {
            if let Ok(event) = TrainingEscrowEvents::decode_log(log) {
                // An event that does not fit (state followed from after the deployment) is
                // applied saturating, as the escrow's state can only be approximated then.
                let block = self.block;
                let _ = reducer::apply_in_memory(self, block, &event.data);
            }
        } else if log.address == license_nft {
            if let Ok(event) = LicenseNFTEvents::decode_log(log) {
                if let LicenseNFTEvents::Transfer(t) = event.data {
                    self.holders.insert(t.tokenId, t.to);
                }
            }
        }
    }
}

/// The relayer's maps as the escrow reducer's store. It follows no withdrawal requests, and
/// knows batches by root (every reservation of a batch is on its committing relayer's line).
impl EscrowStore for ChainState {
    type Error = Infallible;

    async fn available(&mut self, payer: Address, token: Address) -> Result<U256, Infallible> {
        Ok(Self::available(self, payer, token))
    }

    async fn put_available(
        &mut self,
        payer: Address,
        token: Address,
        amount: U256,
    ) -> Result<(), Infallible> {
        self.available.insert((payer, token), amount);
        Ok(())
    }

    async fn line(
        &mut self,
        payer: Address,
        relayer: Address,
        token: Address,
    ) -> Result<CreditLine, Infallible> {
        Ok(Self::line(self, payer, relayer, token))
    }

    async fn put_line(
        &mut self,
        payer: Address,
        relayer: Address,
        token: Address,
        line: CreditLine,
    ) -> Result<(), Infallible> {
        self.lines.insert((payer, relayer, token), line);
        Ok(())
    }

    async fn put_acceptance(
        &mut self,
        payer: Address,
        license_id: U256,
        terms_id: u64,
        a: reducer::Acceptance,
    ) -> Result<(), Infallible> {
        let acceptance = Acceptance {
            token: a.token,
            price: a.price_per_sample.saturating_to::<u128>(),
            max_samples: a.max_samples,
            expires_at: a.expires_at,
            chargeable_from: a.chargeable_from,
        };
        self.acceptances
            .insert((payer, license_id, terms_id), acceptance);
        Ok(())
    }

    async fn signer(
        &mut self,
        payer: Address,
        signer: Address,
    ) -> Result<Option<reducer::Signer>, Infallible> {
        Ok(self.signers.get(&(payer, signer)).map(|w| reducer::Signer {
            registered_block: 0,
            revoked_at: w.revoked_at,
        }))
    }

    async fn put_signer(
        &mut self,
        payer: Address,
        signer: Address,
        record: reducer::Signer,
    ) -> Result<(), Infallible> {
        self.signers.insert(
            (payer, signer),
            SignerWindow {
                revoked_at: record.revoked_at,
            },
        );
        Ok(())
    }

    async fn put_withdrawal(
        &mut self,
        _payer: Address,
        _token: Address,
        _withdrawal: Option<reducer::Withdrawal>,
    ) -> Result<(), Infallible> {
        Ok(())
    }

    async fn put_batch(
        &mut self,
        root: B256,
        relayer: Address,
        block: u64,
    ) -> Result<(), Infallible> {
        self.committed_roots.insert(root, block);
        self.root_relayers.insert(root, relayer);
        Ok(())
    }

    async fn put_reservation(
        &mut self,
        root: B256,
        _payer: Address,
        _token: Address,
        reservation: reducer::Reservation,
    ) -> Result<(), Infallible> {
        self.root_relayers.insert(root, reservation.relayer);
        Ok(())
    }

    async fn claim_relayer(
        &mut self,
        root: B256,
        _payer: Address,
        _token: Address,
    ) -> Result<Option<Address>, Infallible> {
        Ok(self.root_relayers.get(&root).copied())
    }

    async fn raise_settled(&mut self, usage_key: B256, cumulative: u64) -> Result<(), Infallible> {
        let settled = self.settled.entry(usage_key).or_default();
        *settled = (*settled).max(cumulative);
        Ok(())
    }
}
#[cfg(test)]
mod tests {
    use alloy::{primitives::aliases::U40, sol_types::SolEvent};
    use fairtrain_protocol::bindings::TrainingEscrow;

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

    const RELAYER: Address = Address::repeat_byte(0x77);

    fn deposited(amount: u64) -> Log {
        log(
            ESCROW,
            &TrainingEscrow::Deposited {
                payer: PAYER,
                token: TOKEN,
                from: PAYER,
                amount: U256::from(amount),
            },
        )
    }

    #[test]
    fn credit_lines_follow_funding_reservations_claims_releases_and_reductions() {
        let mut s = ChainState::default();
        let apply = |s: &mut ChainState, l: Log| s.apply(ESCROW, NFT, &l);
        apply(&mut s, deposited(1_000));
        assert!(!s.line(PAYER, RELAYER, TOKEN).is_open());
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::CreditFunded {
                    payer: PAYER,
                    relayer: RELAYER,
                    token: TOKEN,
                    amount: U256::from(600),
                },
            ),
        );
        assert_eq!(s.available(PAYER, TOKEN), U256::from(400));
        let root = B256::repeat_byte(9);
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::FundsReserved {
                    root,
                    payer: PAYER,
                    token: TOKEN,
                    relayer: RELAYER,
                    amount: U256::from(300),
                    expiresAt: U40::from(10),
                },
            ),
        );
        let line = s.line(PAYER, RELAYER, TOKEN);
        assert_eq!(
            (line.credit, line.reserved),
            (U256::from(300), U256::from(300))
        );
        assert_eq!(line.reserved_until, 10);
        assert!(line.releasable_by(10) && !line.releasable_by(9));
        assert_eq!(
            s.available(PAYER, TOKEN),
            U256::from(400),
            "a commit leaves available alone"
        );
        // A claim against the batch draws on the committing relayer's line.
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::UsageSettled {
                    root,
                    usageKey: B256::repeat_byte(3),
                    payee: Address::repeat_byte(9),
                    payer: PAYER,
                    licenseId: U256::from(1),
                    termsId: 1,
                    token: TOKEN,
                    cumulativeSamples: 5,
                    samplesCharged: 5,
                    amount: U256::from(50),
                    fee: U256::from(5),
                },
            ),
        );
        let line = s.line(PAYER, RELAYER, TOKEN);
        assert_eq!((line.reserved, line.fees), (U256::from(250), U256::from(5)));
        // A pending reduction counts against usable credit until it executes.
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::CreditReductionRequested {
                    payer: PAYER,
                    relayer: RELAYER,
                    token: TOKEN,
                    amount: U256::from(500),
                    effectiveAt: U40::from(20),
                },
            ),
        );
        assert_eq!(s.line(PAYER, RELAYER, TOKEN).usable_credit(), U256::ZERO);
        s.block = 7;
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::FundsReleased {
                    payer: PAYER,
                    relayer: RELAYER,
                    token: TOKEN,
                    amount: U256::from(250),
                },
            ),
        );
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::FeesSwept {
                    payer: PAYER,
                    relayer: RELAYER,
                    token: TOKEN,
                    amount: U256::from(5),
                },
            ),
        );
        let line = s.line(PAYER, RELAYER, TOKEN);
        assert_eq!(
            (line.credit, line.reserved, line.fees, line.reserved_until),
            (U256::from(550), U256::ZERO, U256::ZERO, 0)
        );
        assert_eq!(line.usable_credit(), U256::from(50));
        assert_eq!(line.released_block, 7, "the block of the last release");
        // The reduction moves what it can; the rest stays requested.
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::CreditReduced {
                    payer: PAYER,
                    relayer: RELAYER,
                    token: TOKEN,
                    amount: U256::from(500),
                },
            ),
        );
        let line = s.line(PAYER, RELAYER, TOKEN);
        assert_eq!((line.credit, line.reduction), (U256::from(50), U256::ZERO));
        assert_eq!(line.reduction_effective_at, 0);
        assert_eq!(s.available(PAYER, TOKEN), U256::from(900));
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::CreditReductionRequested {
                    payer: PAYER,
                    relayer: RELAYER,
                    token: TOKEN,
                    amount: U256::from(10),
                    effectiveAt: U40::from(30),
                },
            ),
        );
        apply(
            &mut s,
            log(
                ESCROW,
                &TrainingEscrow::CreditReductionCancelled {
                    payer: PAYER,
                    relayer: RELAYER,
                    token: TOKEN,
                },
            ),
        );
        assert_eq!(
            s.line(PAYER, RELAYER, TOKEN).usable_credit(),
            U256::from(50)
        );
        // Withdrawals and direct settlement are charged to the available balance.
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
                    samplesCharged: 2,
                    amount: U256::from(7),
                    fee: U256::ZERO,
                },
            ),
        );
        assert_eq!(s.available(PAYER, TOKEN), U256::from(393));
        assert_eq!(s.settled[&B256::repeat_byte(3)], 7);
        // Logs of other contracts are ignored.
        apply(&mut s, {
            let mut l = deposited(1);
            l.address = Address::ZERO;
            l
        });
        assert_eq!(s.available(PAYER, TOKEN), U256::from(393));
        let back = ChainState::from_json(&s.to_json()).unwrap();
        assert_eq!(back.lines, s.lines);
        assert_eq!(back.root_relayers, s.root_relayers);
    }

    #[test]
    fn keys_holders_and_snapshot_round_trip() {
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
