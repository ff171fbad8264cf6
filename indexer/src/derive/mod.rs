//! Derived state: applying events, in chain order, to the derived tables; and rebuilding those
//! tables from the raw events alone.
//!
//! [`State`] holds a write-back cache of each table for one database transaction: apply any
//! number of events, then [`State::flush`] in the same transaction as the raw events and the
//! checkpoint.

pub mod pools;
mod rows;
pub mod streams;
mod table;

use alloy::primitives::{Address, B256, U256};
use fairtrain_protocol::bindings::{
    LicenseNFT::LicenseNFTEvents as L, TrainingEscrow::TrainingEscrowEvents as E,
};
use sqlx::{Any, Transaction};

pub(crate) use self::rows::LineRow;
use self::{rows::*, table::Cache};
use crate::{
    db::DERIVED_TABLES,
    decode::{Event, Record},
    raw,
    units::{addr, amount, big, day_of, word},
    Db, Deployment, Error, Result,
};

/// Rows cached before a flush empties the caches (bounds memory on long rebuilds).
const MAX_CACHED: usize = 200_000;

/// Write-back caches of every derived table for one transaction.
#[derive(Debug, Default)]
pub struct State {
    params: Cache<Param>,
    tokens: Cache<Token>,
    terms: Cache<Terms>,
    licenses: Cache<License>,
    balances: Cache<Balance>,
    withdrawals: Cache<Withdrawal>,
    acceptances: Cache<Acceptance>,
    lines: Cache<CreditLine>,
    signers: Cache<Signer>,
    batches: Cache<Batch>,
    reservations: Cache<Reservation>,
    settlements: Cache<Settlement>,
    daily: Cache<Daily>,
    license_totals: Cache<LicenseTotal>,
    day_totals: Cache<DayTotal>,
    fees: Cache<Fee>,
}

fn sub(what: &str, have: U256, take: U256) -> Result<U256> {
    have.checked_sub(take)
        .ok_or_else(|| Error::Stored(format!("{what} would go below zero: {have} - {take}")))
}

impl State {
    /// Applies one event (events must come in chain order).
    pub async fn apply(&mut self, tx: &mut Transaction<'static, Any>, r: &Record) -> Result<()> {
        match &r.event {
            Event::Escrow(e) => self.apply_escrow(tx, r, e).await,
            Event::License(e) => self.apply_license(tx, r, e).await,
            Event::Streams(e) => streams::apply(tx, r, e).await,
            Event::PoolFactory(e) => pools::apply_factory(tx, r, e).await,
            Event::Pool(e) => pools::apply_pool(tx, r, e).await,
            Event::Unknown => Ok(()),
        }
    }

    async fn balance(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        payer: &Address,
        token: &Address,
    ) -> Result<&mut Balance> {
        self.balances
            .upsert(tx, &(addr(payer), addr(token)), Balance::default)
            .await
    }

    async fn line(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        payer: &Address,
        relayer: &Address,
        token: &Address,
    ) -> Result<&mut CreditLine> {
        self.lines
            .upsert(
                tx,
                &(addr(payer), addr(relayer), addr(token)),
                CreditLine::default,
            )
            .await
    }

    async fn apply_escrow(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        r: &Record,
        e: &E,
    ) -> Result<()> {
        match e {
            E::Deposited(_)
            | E::WithdrawalRequested(_)
            | E::WithdrawalCancelled(_)
            | E::Withdrawn(_) => self.apply_balance(tx, r, e).await,
            E::TermsAccepted(_) | E::SignerRegistered(_) | E::SignerRevoked(_) => {
                self.apply_payer_setup(tx, r, e).await
            }
            E::CreditFunded(_)
            | E::CreditReductionRequested(_)
            | E::CreditReductionCancelled(_)
            | E::CreditReduced(_)
            | E::FundsReleased(_)
            | E::FeesSwept(_) => self.apply_credit(tx, r, e).await,
            E::BatchCommitted(_) | E::FundsReserved(_) => self.apply_batch(tx, r, e).await,
            E::FeeUpdated(_)
            | E::NoticePeriodUpdated(_)
            | E::ClaimWindowUpdated(_)
            | E::TokenAllowed(_)
            | E::FeesWithdrawn(_)
            | E::OwnershipTransferStarted(_)
            | E::OwnershipTransferred(_)
            | E::EIP712DomainChanged(_) => self.apply_admin(tx, r, e).await,
            E::UsageSettled(ev) => self.settle(tx, r, ev).await,
        }
    }

    /// Deposits and withdrawals of a payer's available balance.
    async fn apply_balance(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        _r: &Record,
        e: &E,
    ) -> Result<()> {
        match e {
            E::Deposited(ev) => {
                let b = self.balance(tx, &ev.payer, &ev.token).await?;
                b.available += ev.amount;
                b.deposited += ev.amount;
            }
            E::WithdrawalRequested(ev) => self.withdrawals.put(
                (addr(&ev.payer), addr(&ev.token)),
                Withdrawal {
                    amount: ev.amount,
                    unlock_at: big(ev.unlockAt.to()),
                    lapses_at: big(ev.lapsesAt.to()),
                },
            ),
            E::WithdrawalCancelled(ev) => {
                self.withdrawals.delete((addr(&ev.payer), addr(&ev.token)))
            }
            E::Withdrawn(ev) => {
                let b = self.balance(tx, &ev.payer, &ev.token).await?;
                b.available = sub("available balance", b.available, ev.amount)?;
                b.withdrawn += ev.amount;
                self.withdrawals.delete((addr(&ev.payer), addr(&ev.token)));
            }
            // Routed elsewhere by `apply_escrow`.
            _ => {}
        }
        Ok(())
    }

    /// A payer's acceptances of terms and signing keys.
    async fn apply_payer_setup(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        r: &Record,
        e: &E,
    ) -> Result<()> {
        match e {
            E::TermsAccepted(ev) => self.acceptances.put(
                (addr(&ev.payer), amount(&ev.licenseId), big(ev.termsId)),
                Acceptance {
                    token: addr(&ev.token),
                    price_per_sample: U256::from(ev.pricePerSample),
                    max_samples: big(ev.maxSamples),
                    expires_at: big(ev.expiresAt.to()),
                    chargeable_from: big(ev.chargeableFrom.to()),
                    accepted_block: big(r.block_number),
                },
            ),
            E::SignerRegistered(ev) => self.signers.put(
                (addr(&ev.payer), addr(&ev.signer)),
                Signer {
                    registered_block: big(r.block_number),
                    revoked_at: 0,
                },
            ),
            E::SignerRevoked(ev) => {
                let s = self
                    .signers
                    .upsert(tx, &(addr(&ev.payer), addr(&ev.signer)), || Signer {
                        registered_block: big(r.block_number),
                        revoked_at: 0,
                    })
                    .await?;
                s.revoked_at = big(ev.effectiveAt.to());
            }
            // Routed elsewhere by `apply_escrow`.
            _ => {}
        }
        Ok(())
    }

    /// Credit lines: funding, reductions, releases and swept fees.
    async fn apply_credit(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        r: &Record,
        e: &E,
    ) -> Result<()> {
        match e {
            E::CreditFunded(ev) => {
                let b = self.balance(tx, &ev.payer, &ev.token).await?;
                b.available = sub("available balance", b.available, ev.amount)?;
                b.credit += ev.amount;
                self.line(tx, &ev.payer, &ev.relayer, &ev.token)
                    .await?
                    .credit += ev.amount;
            }
            E::CreditReductionRequested(ev) => {
                let l = self.line(tx, &ev.payer, &ev.relayer, &ev.token).await?;
                l.reduction_amount = ev.amount;
                l.reduction_effective_at = big(ev.effectiveAt.to());
            }
            E::CreditReductionCancelled(ev) => {
                let l = self.line(tx, &ev.payer, &ev.relayer, &ev.token).await?;
                l.reduction_amount = U256::ZERO;
                l.reduction_effective_at = 0;
            }
            E::CreditReduced(ev) => {
                let l = self.line(tx, &ev.payer, &ev.relayer, &ev.token).await?;
                l.credit = sub("line credit", l.credit, ev.amount)?;
                // What the line could not give stays requested (with its effective time).
                l.reduction_amount = sub("credit reduction", l.reduction_amount, ev.amount)?;
                if l.reduction_amount.is_zero() {
                    l.reduction_effective_at = 0;
                }
                let b = self.balance(tx, &ev.payer, &ev.token).await?;
                b.credit = sub("credit", b.credit, ev.amount)?;
                b.available += ev.amount;
            }
            E::FundsReleased(ev) => {
                let l = self.line(tx, &ev.payer, &ev.relayer, &ev.token).await?;
                l.reserved = sub("line reserved", l.reserved, ev.amount)?;
                l.credit += ev.amount;
                l.reserved_until = 0;
                l.released_block = big(r.block_number);
                let b = self.balance(tx, &ev.payer, &ev.token).await?;
                b.reserved = sub("reserved balance", b.reserved, ev.amount)?;
                b.credit += ev.amount;
            }
            E::FeesSwept(ev) => {
                let l = self.line(tx, &ev.payer, &ev.relayer, &ev.token).await?;
                l.fees = sub("line fees", l.fees, ev.amount)?;
                self.fees
                    .upsert(tx, &addr(&ev.token), Fee::default)
                    .await?
                    .accrued += ev.amount;
            }
            // Routed elsewhere by `apply_escrow`.
            _ => {}
        }
        Ok(())
    }

    /// Batches: commits and their reservations.
    async fn apply_batch(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        r: &Record,
        e: &E,
    ) -> Result<()> {
        match e {
            E::BatchCommitted(ev) => {
                let b = self
                    .batches
                    .upsert(tx, &word(&ev.root), Batch::default)
                    .await?;
                b.relayer = addr(&ev.relayer);
                b.receipt_count = i64::from(ev.receiptCount);
                b.data_hash = word(&ev.dataHash);
                b.data_uri = ev.dataURI.clone();
                b.block_number = big(r.block_number);
                b.block_time = big(r.block_time);
                b.tx_hash = word(&r.tx_hash);
            }
            E::FundsReserved(ev) => {
                let l = self.line(tx, &ev.payer, &ev.relayer, &ev.token).await?;
                let (locked_until, line_since_block) = (l.reserved_until, l.released_block);
                l.credit = sub("line credit", l.credit, ev.amount)?;
                l.reserved += ev.amount;
                l.reserved_until = l.reserved_until.max(big(ev.expiresAt.to()));
                let b = self.balance(tx, &ev.payer, &ev.token).await?;
                b.credit = sub("credit", b.credit, ev.amount)?;
                b.reserved += ev.amount;
                self.reservations.put(
                    (word(&ev.root), addr(&ev.payer), addr(&ev.token)),
                    Reservation {
                        relayer: addr(&ev.relayer),
                        amount: ev.amount,
                        expires_at: big(ev.expiresAt.to()),
                        locked_until,
                        line_since_block,
                    },
                );
                self.batches
                    .upsert(tx, &word(&ev.root), Batch::default)
                    .await?
                    .reserved += ev.amount;
            }
            // Routed elsewhere by `apply_escrow`.
            _ => {}
        }
        Ok(())
    }

    /// The escrow's parameters, tokens, fees withdrawn and owner.
    async fn apply_admin(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        _r: &Record,
        e: &E,
    ) -> Result<()> {
        match e {
            E::FeeUpdated(ev) => self
                .params
                .put("fee_bps".into(), Param(ev.feeBps.to_string())),
            E::NoticePeriodUpdated(ev) => self
                .params
                .put("notice_period".into(), Param(ev.noticePeriod.to_string())),
            E::ClaimWindowUpdated(ev) => self
                .params
                .put("claim_window".into(), Param(ev.claimWindow.to_string())),
            E::TokenAllowed(ev) => self.tokens.put(
                addr(&ev.token),
                Token {
                    allowed: ev.allowed,
                },
            ),
            E::FeesWithdrawn(ev) => {
                let f = self.fees.upsert(tx, &addr(&ev.token), Fee::default).await?;
                f.accrued = sub("accrued fees", f.accrued, ev.amount)?;
                f.withdrawn += ev.amount;
            }
            E::OwnershipTransferStarted(ev) => self
                .params
                .put("pending_owner".into(), Param(addr(&ev.newOwner))),
            E::OwnershipTransferred(ev) => {
                self.params.put("owner".into(), Param(addr(&ev.newOwner)));
                self.params
                    .put("pending_owner".into(), Param(addr(&Address::ZERO)));
            }
            E::EIP712DomainChanged(_) => {}

            // Routed elsewhere by `apply_escrow`.
            _ => {}
        }
        Ok(())
    }

    async fn settle(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        r: &Record,
        ev: &fairtrain_protocol::bindings::TrainingEscrow::UsageSettled,
    ) -> Result<()> {
        let token = addr(&ev.token);
        let root = word(&ev.root);
        if ev.root == B256::ZERO {
            // Direct settlement: from the available balance, fee to the platform at once.
            let b = self.balance(tx, &ev.payer, &ev.token).await?;
            b.available = sub("available balance", b.available, ev.amount)?;
            b.spent += ev.amount;
            self.fees.upsert(tx, &token, Fee::default).await?.accrued += ev.fee;
        } else {
            // A claim draws on the committing relayer's line; its fee stays in the line until
            // swept.
            let relayer = self
                .reservations
                .get_mut(tx, &(root.clone(), addr(&ev.payer), token.clone()))
                .await?
                .map(|res| res.relayer.clone())
                .ok_or_else(|| {
                    Error::Stored(format!(
                        "claim of batch {root} for payer {} and token {token} without a reservation",
                        addr(&ev.payer)
                    ))
                })?;
            let l = self
                .lines
                .upsert(
                    tx,
                    &(addr(&ev.payer), relayer, token.clone()),
                    CreditLine::default,
                )
                .await?;
            l.reserved = sub("line reserved", l.reserved, ev.amount)?;
            l.fees += ev.fee;
            let b = self.balance(tx, &ev.payer, &ev.token).await?;
            b.reserved = sub("reserved balance", b.reserved, ev.amount)?;
            b.spent += ev.amount;
            let b = self.batches.upsert(tx, &root, Batch::default).await?;
            b.settled += ev.amount;
            b.fees += ev.fee;
            b.claims += 1;
        }
        let license = amount(&ev.licenseId);
        let payee = addr(&ev.payee);
        let samples = big(ev.samplesCharged);
        let net = sub("settled amount", ev.amount, ev.fee)?;
        self.settlements.put(
            (big(r.block_number), big(r.log_index)),
            Settlement {
                block_time: big(r.block_time),
                tx_hash: word(&r.tx_hash),
                root,
                usage_key: word(&ev.usageKey),
                payer: Some(addr(&ev.payer)),
                payee: payee.clone(),
                license_id: license.clone(),
                token: token.clone(),
                cumulative_samples: big(ev.cumulativeSamples),
                samples,
                amount: ev.amount,
                fee: ev.fee,
            },
        );
        let day = day_of(r.block_time);
        self.day_totals
            .upsert(tx, &(day, token.clone()), DayTotal::default)
            .await?
            .0
            .add(samples, ev.amount, ev.fee, net);
        self.license_totals
            .upsert(
                tx,
                &(license.clone(), payee.clone(), token.clone()),
                LicenseTotal::default,
            )
            .await?
            .0
            .add(samples, ev.amount, ev.fee, net);
        self.daily
            .upsert(tx, &(day, license, payee, token), Daily::default)
            .await?
            .add(samples, ev.amount, ev.fee, net);
        Ok(())
    }

    async fn apply_license(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        r: &Record,
        e: &L,
    ) -> Result<()> {
        match e {
            L::TermsRegistered(ev) => {
                let t = &ev.terms;
                self.terms.put(
                    big(ev.termsId),
                    Terms {
                        terms_hash: word(&ev.termsHash),
                        kind: i64::from(t.kind),
                        payment_token: addr(&t.paymentToken),
                        price_per_sample: U256::from(t.pricePerSample),
                        max_samples: big(t.maxSamples),
                        expires_at: big(t.expiresAt.to()),
                        commercial_use: t.commercialUse,
                        attribution_required: t.attributionRequired,
                        derivatives: i64::from(t.derivatives),
                        exclusive_licensee: addr(&t.exclusiveLicensee),
                        uri: t.uri.clone(),
                        block_number: big(r.block_number),
                    },
                );
            }
            L::LicenseMinted(ev) => {
                let l = self
                    .licenses
                    .upsert(tx, &amount(&ev.licenseId), License::default)
                    .await?;
                l.license_num = big(ev.licenseId.saturating_to());
                l.creator = addr(&ev.creator);
                if l.holder.is_empty() {
                    l.holder = addr(&ev.creator);
                }
                l.terms_id = big(ev.termsId);
                l.version = 1;
                l.manifest_hash = word(&ev.manifestHash);
                l.royalty_bps = big(ev.royaltyBps.to());
                l.minted_block = big(r.block_number);
                l.minted_at = big(r.block_time);
            }
            L::LicenseTermsUpdated(ev) => {
                let l = self
                    .licenses
                    .upsert(tx, &amount(&ev.licenseId), License::default)
                    .await?;
                l.version = i64::from(ev.version);
                l.terms_id = big(ev.termsId);
            }
            L::Transfer(ev) => {
                let l = self
                    .licenses
                    .upsert(tx, &amount(&ev.tokenId), License::default)
                    .await?;
                l.holder = addr(&ev.to);
            }
            L::TransferHookSet(ev) => self
                .params
                .put("transfer_hook".into(), Param(addr(&ev.hook))),
            // Royalty routing belongs to streams and pools, which are not indexed yet: the event
            // is kept raw.
            L::RoyaltyReceiverSet(_) | L::Approval(_) | L::ApprovalForAll(_) => {}
        }
        Ok(())
    }

    /// Writes every changed row; forgets the cache when it grew large.
    pub async fn flush(&mut self, tx: &mut Transaction<'static, Any>) -> Result<()> {
        macro_rules! each {
            ($($t:ident),*) => {{
                $(self.$t.flush(tx).await?;)*
                let cached = 0 $(+ self.$t.len())*;
                if cached > MAX_CACHED {
                    $(self.$t.clear();)*
                }
            }};
        }
        each!(
            params,
            tokens,
            terms,
            licenses,
            balances,
            withdrawals,
            acceptances,
            lines,
            signers,
            batches,
            reservations,
            settlements,
            daily,
            license_totals,
            day_totals,
            fees
        );
        Ok(())
    }
}

/// Statistics of a rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildStats {
    /// Raw events applied.
    pub events: u64,
}

/// Clears every derived table (inside `tx`).
pub async fn clear(tx: &mut Transaction<'static, Any>) -> Result<()> {
    for table in DERIVED_TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Recomputes every derived table from the raw events, in one transaction (readers see the old
/// state until it commits).
pub async fn rebuild(db: &Db, deployment: &Deployment) -> Result<RebuildStats> {
    let mut tx = db.pool.begin().await?;
    clear(&mut tx).await?;
    let events = replay(&mut tx, deployment).await?;
    tx.commit().await?;
    Ok(RebuildStats { events })
}

/// Applies every raw event to (cleared) derived tables inside `tx`.
pub(crate) async fn replay(
    tx: &mut Transaction<'static, Any>,
    deployment: &Deployment,
) -> Result<u64> {
    const PAGE: u64 = 20_000;
    let mut state = State::default();
    let mut after = None;
    let mut events = 0u64;
    let profile = std::env::var_os("FAIRTRAIN_PROFILE").is_some();
    let (mut t_load, mut t_apply, mut t_flush) = Default::default();
    loop {
        let t = std::time::Instant::now();
        let page = raw::load_events_in(tx, deployment, after, PAGE).await?;
        t_load += t.elapsed();
        let Some(last) = page.last() else { break };
        after = Some((last.block_number, last.log_index));
        let t = std::time::Instant::now();
        for r in &page {
            state.apply(tx, r).await?;
        }
        t_apply += t.elapsed();
        let t = std::time::Instant::now();
        state.flush(tx).await?;
        t_flush += t.elapsed();
        events += page.len() as u64;
        if (page.len() as u64) < PAGE {
            break;
        }
    }
    if profile {
        let (l, a, f): (
            std::time::Duration,
            std::time::Duration,
            std::time::Duration,
        ) = (t_load, t_apply, t_flush);
        eprintln!("replay {events} events: load {l:.2?}, apply {a:.2?}, flush {f:.2?}");
    }
    Ok(events)
}
