//! One test per event kind, over [`MemoryStore`].

use std::convert::Infallible;

use alloy::primitives::{aliases::U40, Address, B256, U256};

use super::*;
use crate::bindings::TrainingEscrow::{self, TrainingEscrowEvents as E};

const PAYER: Address = Address::repeat_byte(1);
const TOKEN: Address = Address::repeat_byte(2);
const RELAYER: Address = Address::repeat_byte(0x77);
const ROOT: B256 = B256::repeat_byte(9);

fn u(v: u64) -> U256 {
    U256::from(v)
}

fn run(s: &mut MemoryStore, block: u64, event: E) -> Result<(), ApplyError<Infallible>> {
    apply_in_memory(s, block, &event)
}

fn ok(s: &mut MemoryStore, block: u64, event: E) {
    run(s, block, event).expect("consistent");
}

fn deposit(s: &mut MemoryStore, amount: u64) {
    ok(
        s,
        1,
        E::Deposited(TrainingEscrow::Deposited {
            payer: PAYER,
            token: TOKEN,
            from: PAYER,
            amount: u(amount),
        }),
    );
}

fn fund(s: &mut MemoryStore, amount: u64) {
    ok(
        s,
        2,
        E::CreditFunded(TrainingEscrow::CreditFunded {
            payer: PAYER,
            relayer: RELAYER,
            token: TOKEN,
            amount: u(amount),
        }),
    );
}

fn reserve(s: &mut MemoryStore, block: u64, amount: u64, expires_at: u64) {
    ok(
        s,
        block,
        E::FundsReserved(TrainingEscrow::FundsReserved {
            root: ROOT,
            payer: PAYER,
            token: TOKEN,
            relayer: RELAYER,
            amount: u(amount),
            expiresAt: U40::from(expires_at),
        }),
    );
}

fn settled(root: B256, cumulative: u64, amount: u64, fee: u64) -> E {
    E::UsageSettled(TrainingEscrow::UsageSettled {
        root,
        usageKey: B256::repeat_byte(3),
        payee: Address::repeat_byte(8),
        payer: PAYER,
        licenseId: u(1),
        termsId: 1,
        token: TOKEN,
        cumulativeSamples: cumulative,
        samplesCharged: cumulative,
        amount: u(amount),
        fee: u(fee),
    })
}

fn line(s: &MemoryStore) -> CreditLine {
    s.lines[&(PAYER, RELAYER, TOKEN)]
}

#[test]
fn deposits_and_withdrawals_move_the_available_balance() {
    let mut s = MemoryStore::default();
    deposit(&mut s, 100);
    ok(
        &mut s,
        2,
        E::WithdrawalRequested(TrainingEscrow::WithdrawalRequested {
            payer: PAYER,
            token: TOKEN,
            amount: u(40),
            unlockAt: U40::from(10),
            lapsesAt: U40::from(20),
        }),
    );
    assert_eq!(
        s.withdrawals[&(PAYER, TOKEN)],
        Withdrawal {
            amount: u(40),
            unlock_at: 10,
            lapses_at: 20
        }
    );
    ok(
        &mut s,
        3,
        E::WithdrawalCancelled(TrainingEscrow::WithdrawalCancelled {
            payer: PAYER,
            token: TOKEN,
        }),
    );
    assert!(s.withdrawals.is_empty());
    ok(
        &mut s,
        4,
        E::WithdrawalRequested(TrainingEscrow::WithdrawalRequested {
            payer: PAYER,
            token: TOKEN,
            amount: u(40),
            unlockAt: U40::from(10),
            lapsesAt: U40::from(20),
        }),
    );
    ok(
        &mut s,
        5,
        E::Withdrawn(TrainingEscrow::Withdrawn {
            payer: PAYER,
            token: TOKEN,
            to: PAYER,
            amount: u(40),
        }),
    );
    assert_eq!(s.available[&(PAYER, TOKEN)], u(60));
    assert!(s.withdrawals.is_empty(), "a withdrawal ends its request");
}

#[test]
fn an_underflow_saturates_and_is_reported() {
    let mut s = MemoryStore::default();
    deposit(&mut s, 10);
    let err = run(
        &mut s,
        2,
        E::Withdrawn(TrainingEscrow::Withdrawn {
            payer: PAYER,
            token: TOKEN,
            to: PAYER,
            amount: u(15),
        }),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ApplyError::Inconsistent(Inconsistency::Underflow {
            what: "available balance",
            ..
        })
    ));
    assert_eq!(
        err.to_string(),
        "available balance would go below zero: 10 - 15"
    );
    assert_eq!(s.available[&(PAYER, TOKEN)], U256::ZERO);
}

#[test]
fn terms_accepted_records_the_acceptance() {
    let mut s = MemoryStore::default();
    ok(
        &mut s,
        7,
        E::TermsAccepted(TrainingEscrow::TermsAccepted {
            payer: PAYER,
            licenseId: u(4),
            termsId: 2,
            token: TOKEN,
            pricePerSample: alloy::primitives::aliases::U96::from(3),
            maxSamples: 1_000,
            expiresAt: U40::from(99),
            chargeableFrom: U40::from(50),
        }),
    );
    let a = s.acceptances[&(PAYER, u(4), 2)];
    assert_eq!(
        a,
        Acceptance {
            token: TOKEN,
            price_per_sample: u(3),
            max_samples: 1_000,
            expires_at: 99,
            chargeable_from: 50,
            accepted_block: 7
        }
    );
}

#[test]
fn signers_register_revoke_and_re_register() {
    let mut s = MemoryStore::default();
    let key = Address::repeat_byte(5);
    ok(
        &mut s,
        3,
        E::SignerRegistered(TrainingEscrow::SignerRegistered {
            payer: PAYER,
            signer: key,
        }),
    );
    ok(
        &mut s,
        4,
        E::SignerRevoked(TrainingEscrow::SignerRevoked {
            payer: PAYER,
            signer: key,
            effectiveAt: U40::from(500),
        }),
    );
    assert_eq!(
        s.signers[&(PAYER, key)],
        Signer {
            registered_block: 3,
            revoked_at: 500
        }
    );
    ok(
        &mut s,
        6,
        E::SignerRegistered(TrainingEscrow::SignerRegistered {
            payer: PAYER,
            signer: key,
        }),
    );
    assert_eq!(
        s.signers[&(PAYER, key)],
        Signer {
            registered_block: 6,
            revoked_at: 0
        }
    );
}

#[test]
fn credit_funding_and_reductions_move_between_balance_and_line() {
    let mut s = MemoryStore::default();
    deposit(&mut s, 1_000);
    fund(&mut s, 600);
    assert_eq!(s.available[&(PAYER, TOKEN)], u(400));
    assert_eq!(line(&s).credit, u(600));
    ok(
        &mut s,
        3,
        E::CreditReductionRequested(TrainingEscrow::CreditReductionRequested {
            payer: PAYER,
            relayer: RELAYER,
            token: TOKEN,
            amount: u(700),
            effectiveAt: U40::from(20),
        }),
    );
    assert_eq!(
        (line(&s).reduction, line(&s).reduction_effective_at),
        (u(700), 20)
    );
    assert_eq!(line(&s).usable_credit(), U256::ZERO);
    // The reduction moves what it can; the rest stays requested.
    ok(
        &mut s,
        4,
        E::CreditReduced(TrainingEscrow::CreditReduced {
            payer: PAYER,
            relayer: RELAYER,
            token: TOKEN,
            amount: u(600),
        }),
    );
    assert_eq!(
        (
            line(&s).credit,
            line(&s).reduction,
            line(&s).reduction_effective_at
        ),
        (U256::ZERO, u(100), 20)
    );
    assert_eq!(s.available[&(PAYER, TOKEN)], u(1_000));
    ok(
        &mut s,
        5,
        E::CreditReductionCancelled(TrainingEscrow::CreditReductionCancelled {
            payer: PAYER,
            relayer: RELAYER,
            token: TOKEN,
        }),
    );
    assert_eq!(
        (line(&s).reduction, line(&s).reduction_effective_at),
        (U256::ZERO, 0)
    );
}

#[test]
fn a_commit_reserves_into_the_line_and_records_the_batch() {
    let mut s = MemoryStore::default();
    deposit(&mut s, 1_000);
    fund(&mut s, 600);
    ok(
        &mut s,
        9,
        E::BatchCommitted(TrainingEscrow::BatchCommitted {
            root: ROOT,
            relayer: RELAYER,
            receiptCount: 2,
            dataHash: B256::ZERO,
            dataURI: String::new(),
        }),
    );
    assert_eq!(s.batches[&ROOT], (RELAYER, 9));
    reserve(&mut s, 9, 300, 10);
    let l = line(&s);
    assert_eq!(
        (l.credit, l.reserved, l.reserved_until),
        (u(300), u(300), 10)
    );
    assert!(l.releasable_by(10) && !l.releasable_by(9));
    assert_eq!(
        s.available[&(PAYER, TOKEN)],
        u(400),
        "a commit leaves available alone"
    );
    let r = s.reservations[&(ROOT, PAYER, TOKEN)];
    assert_eq!(
        (
            r.relayer,
            r.amount,
            r.expires_at,
            r.locked_until,
            r.line_since_block
        ),
        (RELAYER, u(300), 10, 0, 0)
    );
}

#[test]
fn claims_draw_on_the_line_and_direct_settlement_on_the_balance() {
    let mut s = MemoryStore::default();
    deposit(&mut s, 1_000);
    fund(&mut s, 600);
    reserve(&mut s, 3, 300, 10);
    ok(&mut s, 4, settled(ROOT, 5, 50, 5));
    assert_eq!((line(&s).reserved, line(&s).fees), (u(250), u(5)));
    assert_eq!(s.settled[&B256::repeat_byte(3)], 5);
    ok(&mut s, 5, settled(B256::ZERO, 7, 7, 0));
    assert_eq!(s.available[&(PAYER, TOKEN)], u(393));
    assert_eq!(s.settled[&B256::repeat_byte(3)], 7);
    ok(&mut s, 6, settled(B256::ZERO, 6, 0, 0));
    assert_eq!(
        s.settled[&B256::repeat_byte(3)],
        7,
        "the highest count stays"
    );
    let err = run(&mut s, 7, settled(B256::repeat_byte(4), 8, 1, 0)).unwrap_err();
    assert!(matches!(
        err,
        ApplyError::Inconsistent(Inconsistency::UnknownReservation { .. })
    ));
    assert_eq!(
        s.settled[&B256::repeat_byte(3)],
        8,
        "the count is applied anyway"
    );
}

#[test]
fn releases_and_fee_sweeps_empty_the_pool() {
    let mut s = MemoryStore::default();
    deposit(&mut s, 1_000);
    fund(&mut s, 600);
    reserve(&mut s, 3, 300, 10);
    ok(&mut s, 4, settled(ROOT, 5, 50, 5));
    assert!(line(&s).awaits_release(10) && !line(&s).awaits_release(9));
    ok(
        &mut s,
        11,
        E::FundsReleased(TrainingEscrow::FundsReleased {
            payer: PAYER,
            relayer: RELAYER,
            token: TOKEN,
            amount: u(250),
        }),
    );
    ok(
        &mut s,
        12,
        E::FeesSwept(TrainingEscrow::FeesSwept {
            payer: PAYER,
            relayer: RELAYER,
            token: TOKEN,
            amount: u(5),
        }),
    );
    let l = line(&s);
    assert_eq!(
        (
            l.credit,
            l.reserved,
            l.fees,
            l.reserved_until,
            l.released_block
        ),
        (u(550), U256::ZERO, U256::ZERO, 0, 11)
    );
    assert!(l.in_pool(None, 0), "a batch not applied yet is in the pool");
    // A later reservation remembers the release.
    reserve(&mut s, 13, 100, 30);
    let r = s.reservations[&(ROOT, PAYER, TOKEN)];
    assert_eq!((r.locked_until, r.line_since_block), (0, 11));
    assert!(line(&s).in_pool(Some(13), 20) && !line(&s).in_pool(Some(10), 20));
}

#[test]
fn parameter_events_change_no_record() {
    let mut s = MemoryStore::default();
    ok(
        &mut s,
        1,
        E::FeeUpdated(TrainingEscrow::FeeUpdated { feeBps: 10 }),
    );
    assert_eq!(s, MemoryStore::default());
}
