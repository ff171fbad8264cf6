//! The acceptance rules of a receipt at ingest, as one pure function: [`judge`] takes the
//! receipt, the followed chain state and what this relayer already holds, and answers accepted
//! (with the token, the priced amount and the earliest commit time), duplicate, or the named
//! [`Rejection`]. The writer calls it for every receipt of a group; nothing here reads the store.

use alloy::primitives::{Address, B256, U256};

use super::{PayerToken, Verified};
use crate::{
    chain::ChainState,
    pricing::{ingest_base, PoolCounts},
    rejection::Rejection,
};

/// What every receipt of a group is judged against.
#[derive(Clone, Copy, Debug)]
pub struct Ground<'a> {
    /// The escrow state followed from events.
    pub chain: &'a ChainState,
    /// This relayer's address (payers fund a credit line for it).
    pub relayer: Address,
    /// The time by which an accepted receipt is committed: a revocation due by then refuses it.
    pub horizon: u64,
    /// The counts of the group's usage keys in their lines' pools (pricing).
    pub pool: &'a PoolCounts,
}

/// What this relayer already holds for one receipt's usage key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    /// The highest accepted receipt of the usage key (count, digest), earlier receipts of the
    /// same group included.
    pub known: Option<(u64, B256)>,
    /// The receipt's digest is stored already (a resubmitted older receipt).
    pub stored: bool,
}

/// An accepted receipt: what it is stored and counted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Payment token of the payer's acceptance.
    pub token: Address,
    /// What the receipt adds over its base, priced.
    pub amount: U256,
    /// The acceptance's `chargeableFrom`.
    pub chargeable_from: u64,
}

/// The outcome of [`judge`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted: to be stored.
    Accepted(Accepted),
    /// Already known: acknowledged again, nothing stored.
    Duplicate,
    /// Refused, for this reason.
    Rejected(Rejection),
}

/// Judges `receipt` against `ground` and its `standing`. `pending` gives the amount this
/// relayer has accepted for a `(payer, token)` and not yet seen reserved on-chain (this group's
/// earlier receipts included), or `None` when the pair's shared ledger row was not locked for
/// the group (the acceptance appeared after the lock: the receipt cannot be checked against
/// other processes' receipts, and waits for the next group).
///
/// The rules, in order: a known digest is a duplicate; the signer is registered for the payer
/// and not revoked by the horizon; the payer accepted the terms, and the receipt was issued
/// before they expire; the payer has a credit line for this relayer in the terms' token; the
/// count rises over the highest known and the settled one; the priced increase fits the line's
/// usable credit less what is pending.
pub fn judge(
    receipt: &Verified,
    ground: &Ground<'_>,
    standing: Standing,
    pending: impl FnOnce(PayerToken) -> Option<U256>,
) -> Verdict {
    if standing.known.is_some_and(|(_, d)| d == receipt.digest) || standing.stored {
        return Verdict::Duplicate;
    }
    match check(receipt, ground, standing.known, pending) {
        Ok(accepted) => Verdict::Accepted(accepted),
        Err(reason) => Verdict::Rejected(reason),
    }
}

fn check(
    v: &Verified,
    ground: &Ground<'_>,
    known: Option<(u64, B256)>,
    pending: impl FnOnce(PayerToken) -> Option<U256>,
) -> Result<Accepted, Rejection> {
    let (chain, r) = (ground.chain, &v.receipt);
    let window =
        chain
            .signers
            .get(&(r.payer, v.signer))
            .ok_or_else(|| Rejection::SignerNotRegistered {
                signer: v.signer.to_string(),
                payer: r.payer.to_string(),
            })?;
    if window.revoked_at != 0 && window.revoked_at <= ground.horizon {
        return Err(Rejection::SignerRevoked {
            signer: v.signer.to_string(),
            revoked_at: window.revoked_at,
        });
    }
    let terms_not_accepted = || Rejection::TermsNotAccepted {
        license_id: r.license_id.to_string(),
        terms_id: r.terms_id,
    };
    let acceptance = chain
        .acceptances
        .get(&(r.payer, r.license_id, r.terms_id))
        .ok_or_else(terms_not_accepted)?;
    if acceptance.expires_at != 0 && r.issued_at >= acceptance.expires_at {
        return Err(Rejection::ReceiptAfterExpiry {
            issued_at: r.issued_at,
            expires_at: acceptance.expires_at,
        });
    }
    let line = chain.line(r.payer, ground.relayer, acceptance.token);
    if !line.is_open() {
        return Err(Rejection::NoCreditLine {
            payer: r.payer.to_string(),
            token: acceptance.token.to_string(),
        });
    }
    let settled = chain.settled.get(&v.usage_key).copied().unwrap_or(0);
    let previous = known.map_or(0, |(c, _)| c).max(settled);
    if r.cumulative_samples <= previous {
        return Err(Rejection::CumulativeNotIncreasing {
            cumulative: r.cumulative_samples,
            known: previous,
        });
    }
    let base = ingest_base(ground.pool, &v.usage_key, known, settled);
    let amount = U256::from(r.cumulative_samples - base) * U256::from(acceptance.price);
    let committed = pending((r.payer, acceptance.token)).ok_or_else(terms_not_accepted)?;
    let spendable = line.usable_credit().saturating_sub(committed);
    if amount > spendable {
        return Err(Rejection::InsufficientBudget {
            amount: amount.to_string(),
            spendable: spendable.to_string(),
        });
    }
    Ok(Accepted {
        token: acceptance.token,
        amount,
        chargeable_from: acceptance.chargeable_from,
    })
}

#[cfg(test)]
mod tests {
    use alloy::signers::local::PrivateKeySigner;
    use fairtrain_protocol::{wire::SignedReceipt, EscrowDomain, Receipt};

    use super::*;
    use crate::{
        chain::state::{Acceptance, CreditLine, SignerWindow},
        ingest::verify_signature,
    };

    const PAYER: Address = Address::repeat_byte(0x11);
    const RELAYER: Address = Address::repeat_byte(0x22);
    const TOKEN: Address = Address::repeat_byte(0x33);
    const PRICE: u128 = 10;
    const HORIZON: u64 = 1_000;

    fn key() -> PrivateKeySigner {
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
            .parse()
            .unwrap()
    }

    /// A receipt of `PAYER` at `cumulative`, issued at 100, signed by [`key`].
    fn receipt(cumulative: u64) -> Verified {
        let domain = EscrowDomain::new(31337, Address::repeat_byte(0xee));
        let receipt = Receipt {
            payer: PAYER,
            licenseId: U256::from(1),
            termsId: 1,
            runId: B256::repeat_byte(0x44),
            cumulativeSamples: cumulative,
            issuedAt: 100,
        };
        let signed = SignedReceipt::sign(&domain, &key(), &receipt).unwrap();
        verify_signature(&domain, signed).unwrap()
    }

    /// The signer registered, the terms accepted (price 10, chargeable from 7), a line of 1000.
    fn chain() -> ChainState {
        let mut chain = ChainState::default();
        chain
            .signers
            .insert((PAYER, key().address()), SignerWindow::default());
        chain.acceptances.insert(
            (PAYER, U256::from(1), 1),
            Acceptance {
                token: TOKEN,
                price: PRICE,
                max_samples: 0,
                expires_at: 0,
                chargeable_from: 7,
            },
        );
        chain.lines.insert(
            (PAYER, RELAYER, TOKEN),
            CreditLine {
                credit: U256::from(1_000),
                ..CreditLine::default()
            },
        );
        chain
    }

    fn verdict(
        chain: &ChainState,
        v: &Verified,
        standing: Standing,
        pending: Option<u64>,
    ) -> Verdict {
        let pool = PoolCounts::default();
        let ground = Ground {
            chain,
            relayer: RELAYER,
            horizon: HORIZON,
            pool: &pool,
        };
        judge(v, &ground, standing, |key| {
            assert_eq!(key, (PAYER, TOKEN));
            pending.map(U256::from)
        })
    }

    fn rejected(verdict: Verdict) -> &'static str {
        match verdict {
            Verdict::Rejected(reason) => reason.code(),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_funded_receipt_is_accepted_and_priced_over_what_is_known() {
        let chain = chain();
        let first = verdict(&chain, &receipt(30), Standing::default(), Some(0));
        assert_eq!(
            first,
            Verdict::Accepted(Accepted {
                token: TOKEN,
                amount: U256::from(300),
                chargeable_from: 7,
            })
        );
        // Over the highest accepted (uncommitted) receipt of the key: only the increase.
        let standing = Standing {
            known: Some((30, B256::repeat_byte(1))),
            stored: false,
        };
        let next = verdict(&chain, &receipt(35), standing, Some(300));
        assert!(matches!(next, Verdict::Accepted(a) if a.amount == U256::from(50)));
    }

    #[test]
    fn a_known_digest_is_a_duplicate() {
        let chain = chain();
        let v = receipt(30);
        let known = Standing {
            known: Some((30, v.digest)),
            stored: false,
        };
        assert_eq!(verdict(&chain, &v, known, Some(0)), Verdict::Duplicate);
        let stored = Standing {
            known: Some((40, B256::repeat_byte(1))),
            stored: true,
        };
        assert_eq!(verdict(&chain, &v, stored, Some(0)), Verdict::Duplicate);
    }

    #[test]
    fn the_signer_must_be_registered_and_not_revoked_by_the_horizon() {
        let mut chain = chain();
        let v = receipt(30);
        let window = chain.signers.get_mut(&(PAYER, key().address())).unwrap();
        window.revoked_at = HORIZON + 1;
        assert!(matches!(
            verdict(&chain, &v, Standing::default(), Some(0)),
            Verdict::Accepted(_)
        ));
        chain
            .signers
            .get_mut(&(PAYER, key().address()))
            .unwrap()
            .revoked_at = HORIZON;
        let got = verdict(&chain, &v, Standing::default(), Some(0));
        assert_eq!(rejected(got), "signer_revoked");
        chain.signers.clear();
        let got = verdict(&chain, &v, Standing::default(), Some(0));
        assert_eq!(rejected(got), "signer_not_registered");
    }

    #[test]
    fn the_terms_must_be_accepted_and_not_expired() {
        let mut chain = chain();
        let v = receipt(30);
        chain
            .acceptances
            .get_mut(&(PAYER, U256::from(1), 1))
            .unwrap()
            .expires_at = 100;
        let got = verdict(&chain, &v, Standing::default(), Some(0));
        assert_eq!(rejected(got), "receipt_after_expiry");
        chain.acceptances.clear();
        let got = verdict(&chain, &v, Standing::default(), Some(0));
        assert_eq!(rejected(got), "terms_not_accepted");
    }

    #[test]
    fn the_payer_needs_a_line_for_this_relayer() {
        let mut chain = chain();
        chain.lines.clear();
        let got = verdict(&chain, &receipt(30), Standing::default(), Some(0));
        assert_eq!(rejected(got), "no_credit_line");
    }

    #[test]
    fn the_count_must_rise_over_the_known_and_the_settled() {
        let mut chain = chain();
        let standing = Standing {
            known: Some((30, B256::repeat_byte(1))),
            stored: false,
        };
        let got = verdict(&chain, &receipt(30), standing, Some(0));
        assert_eq!(rejected(got), "cumulative_not_increasing");
        let v = receipt(30);
        chain.settled.insert(v.usage_key, 30);
        let got = verdict(&chain, &v, Standing::default(), Some(0));
        assert_eq!(rejected(got), "cumulative_not_increasing");
    }

    #[test]
    fn the_amount_must_fit_the_credit_left_after_what_is_pending() {
        let chain = chain();
        // 300 over a line of 1000 with 700 pending fits; with 701 pending it does not.
        assert!(matches!(
            verdict(&chain, &receipt(30), Standing::default(), Some(700)),
            Verdict::Accepted(_)
        ));
        let got = verdict(&chain, &receipt(30), Standing::default(), Some(701));
        assert_eq!(rejected(got), "insufficient_budget");
    }

    #[test]
    fn a_payer_not_locked_for_the_group_waits() {
        let got = verdict(&chain(), &receipt(30), Standing::default(), None);
        assert_eq!(rejected(got), "terms_not_accepted");
    }
}
