//! Derived state: applying events, in chain order, to the derived tables; and rebuilding those
//! tables from the raw events alone.
//!
//! [`State`] holds a write-back cache of each table for one database transaction: apply any
//! number of events, then [`State::flush`] in the same transaction as the raw events and the
//! checkpoint.

mod escrow;
pub mod pools;
mod rows;
pub mod streams;
mod table;

use alloy::primitives::{Address, B256, U256};
use fairtrain_protocol::{
    bindings::{LicenseNFT::LicenseNFTEvents as L, TrainingEscrow::TrainingEscrowEvents as E},
    escrow::{self as reducer, ApplyError},
};
use sqlx::{Any, Transaction};

pub(crate) use self::rows::LineRow;
use self::{escrow::EscrowRows, rows::*, table::Cache};
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
    creator_days: Cache<CreatorDay>,
    fees: Cache<Fee>,
}

fn sub(what: &str, have: U256, take: U256) -> Result<U256> {
    have.checked_sub(take)
        .ok_or_else(|| Error::Stored(format!("{what} would go below zero: {have} - {take}")))
}

impl State {
    /// Applies `records` in order ([`State::apply`]), after loading the rows they are known to
    /// touch in a few statements ([`State::prefetch`]).
    pub async fn apply_all(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        records: &[Record],
    ) -> Result<()> {
        self.prefetch(tx, records).await?;
        for r in records {
            self.apply(tx, r).await?;
        }
        Ok(())
    }

    /// Loads the rows of the most frequent events' tables (license mints and transfers,
    /// settlements, deposits and withdrawals) in multi-row statements, instead of one statement
    /// per row when each event is applied. What an event touches beyond these is loaded when it
    /// is applied.
    async fn prefetch(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        records: &[Record],
    ) -> Result<()> {
        let (mut licenses, mut balances, mut batches) = (Vec::new(), Vec::new(), Vec::new());
        let (mut day_totals, mut license_totals, mut daily) = (Vec::new(), Vec::new(), Vec::new());
        let mut creator_days = Vec::new();
        for r in records {
            match &r.event {
                Event::License(L::LicenseMinted(ev)) => licenses.push(amount(&ev.licenseId)),
                Event::License(L::LicenseTermsUpdated(ev)) => licenses.push(amount(&ev.licenseId)),
                Event::License(L::Transfer(ev)) => licenses.push(amount(&ev.tokenId)),
                Event::Escrow(E::Deposited(ev)) => {
                    balances.push((addr(&ev.payer), addr(&ev.token)))
                }
                Event::Escrow(E::Withdrawn(ev)) => {
                    balances.push((addr(&ev.payer), addr(&ev.token)))
                }
                Event::Escrow(E::UsageSettled(ev)) => {
                    let (token, license, payee) =
                        (addr(&ev.token), amount(&ev.licenseId), addr(&ev.payee));
                    let day = day_of(r.block_time);
                    balances.push((addr(&ev.payer), token.clone()));
                    if ev.root != B256::ZERO {
                        batches.push(word(&ev.root));
                    }
                    day_totals.push((day, token.clone()));
                    license_totals.push((license.clone(), payee.clone(), token.clone()));
                    creator_days.push((license.clone(), day, token.clone()));
                    daily.push((day, license, payee, token));
                }
                _ => {}
            }
        }
        // Settlements name their license; their creator-day rows are keyed by its creator.
        licenses.extend(creator_days.iter().map(|(license, _, _)| license.clone()));
        self.licenses.prefetch(tx, licenses).await?;
        let creator_of = |license: &String| {
            let license = self.licenses.peek(license);
            license.map(|l| l.creator.clone()).unwrap_or_default()
        };
        let creator_days: Vec<_> = creator_days
            .into_iter()
            .map(|(license, day, token)| (creator_of(&license), day, token))
            .collect();
        self.creator_days.prefetch(tx, creator_days).await?;
        self.balances.prefetch(tx, balances).await?;
        self.batches.prefetch(tx, batches).await?;
        self.day_totals.prefetch(tx, day_totals).await?;
        self.license_totals.prefetch(tx, license_totals).await?;
        self.daily.prefetch(tx, daily).await
    }

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

    /// Applies an escrow event: its effect on the escrow's state through the protocol's reducer,
    /// then what only the indexer keeps (totals, batches, fees, settlements, parameters).
    async fn apply_escrow(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        r: &Record,
        e: &E,
    ) -> Result<()> {
        let mut rows = EscrowRows { state: self, tx };
        reducer::apply(&mut rows, r.block_number, e)
            .await
            .map_err(|err| match err {
                ApplyError::Store(err) => err,
                ApplyError::Inconsistent(why) => Error::Stored(why.to_string()),
            })?;
        match e {
            E::Deposited(ev) => {
                self.balance(tx, &ev.payer, &ev.token).await?.deposited += ev.amount;
            }
            E::Withdrawn(ev) => {
                self.balance(tx, &ev.payer, &ev.token).await?.withdrawn += ev.amount;
            }
            E::FeesSwept(ev) => {
                self.fees
                    .upsert(tx, &addr(&ev.token), Fee::default)
                    .await?
                    .accrued += ev.amount;
            }
            E::BatchCommitted(ev) => {
                let b = self
                    .batches
                    .upsert(tx, &word(&ev.root), Batch::default)
                    .await?;
                b.receipt_count = i64::from(ev.receiptCount);
                b.data_hash = word(&ev.dataHash);
                b.data_uri = ev.dataURI.clone();
                b.block_time = big(r.block_time);
                b.tx_hash = word(&r.tx_hash);
            }
            E::FundsReserved(ev) => {
                self.batches
                    .upsert(tx, &word(&ev.root), Batch::default)
                    .await?
                    .reserved += ev.amount;
            }
            E::UsageSettled(ev) => self.settle(tx, r, ev).await?,
            _ => self.apply_admin(tx, e).await?,
        }
        Ok(())
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

    /// The escrow's parameters, tokens, fees withdrawn and owner.
    async fn apply_admin(&mut self, tx: &mut Transaction<'static, Any>, e: &E) -> Result<()> {
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

    /// A settlement's history and totals (its effect on balances and lines is the reducer's).
    async fn settle(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        r: &Record,
        ev: &fairtrain_protocol::bindings::TrainingEscrow::UsageSettled,
    ) -> Result<()> {
        let token = addr(&ev.token);
        let root = word(&ev.root);
        // The reducer took the amount from the available balance (direct settlement) or the
        // committing relayer's line (a claim, whose fee stays in the line until swept).
        self.balance(tx, &ev.payer, &ev.token).await?.spent += ev.amount;
        if ev.root == B256::ZERO {
            // Direct settlement: the fee goes to the platform at once.
            self.fees.upsert(tx, &token, Fee::default).await?.accrued += ev.fee;
        } else {
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
        // A license unknown here (none on a sound chain) counts for the empty creator, as the
        // queries' `COALESCE(l.creator, '')` does.
        let creator = self
            .licenses
            .get(tx, &license)
            .await?
            .map(|l| l.creator.clone())
            .unwrap_or_default();
        self.creator_days
            .upsert(tx, &(creator, day, token.clone()), CreatorDay::default)
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
                        unit: i64::from(t.unit),
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
            creator_days,
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
        state.apply_all(tx, &page).await?;
        t_apply += t.elapsed();
        let t = std::time::Instant::now();
        state.flush(tx).await?;
        t_flush += t.elapsed();
        events += page.len() as u64;
        if (page.len() as u64) < PAGE {
            break;
        }
    }
    sqlx::query("DELETE FROM meta WHERE key = $1")
        .bind(crate::db::DERIVED_STALE)
        .execute(&mut **tx)
        .await?;
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
