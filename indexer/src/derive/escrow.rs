//! The derived tables as the store of the protocol's escrow reducer
//! ([`fairtrain_protocol::escrow`]): balances, credit lines, acceptances, signers, withdrawals,
//! batches and reservations, read and written through [`State`]'s caches within one
//! transaction. The balances' credit and reserved sums follow every line written.

use alloy::primitives::{Address, B256, U256};
use fairtrain_protocol::escrow::{self, EscrowStore};
use sqlx::{Any, Transaction};

use super::{
    rows::{Acceptance, Balance, Batch, CreditLine, Reservation, Signer, Withdrawal},
    State,
};
use crate::{
    units::{addr, amount, big, parse_addr, word},
    Error, Result,
};

/// [`State`]'s caches and the transaction they read from.
pub(super) struct EscrowRows<'a> {
    pub(super) state: &'a mut State,
    pub(super) tx: &'a mut Transaction<'static, Any>,
}

/// A stored time or block (never negative).
fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or_default()
}

/// `have + new - old`, failing like the escrow would if it goes below zero.
fn shift(what: &str, have: U256, old: U256, new: U256) -> Result<U256> {
    if new >= old {
        return Ok(have + (new - old));
    }
    have.checked_sub(old - new).ok_or_else(|| {
        Error::Stored(format!(
            "{what} would go below zero: {have} - {}",
            old - new
        ))
    })
}

impl EscrowRows<'_> {
    async fn balance(&mut self, payer: Address, token: Address) -> Result<&mut Balance> {
        self.state
            .balances
            .upsert(self.tx, &(addr(&payer), addr(&token)), Balance::default)
            .await
    }
}

impl EscrowStore for EscrowRows<'_> {
    type Error = Error;

    async fn available(&mut self, payer: Address, token: Address) -> Result<U256> {
        let key = (addr(&payer), addr(&token));
        let row = self.state.balances.get_mut(self.tx, &key).await?;
        Ok(row.map(|b| b.available).unwrap_or_default())
    }

    async fn put_available(&mut self, payer: Address, token: Address, amount: U256) -> Result<()> {
        self.balance(payer, token).await?.available = amount;
        Ok(())
    }

    async fn line(
        &mut self,
        payer: Address,
        relayer: Address,
        token: Address,
    ) -> Result<escrow::CreditLine> {
        let key = (addr(&payer), addr(&relayer), addr(&token));
        let row = self.state.lines.get_mut(self.tx, &key).await?;
        Ok(row.map_or_else(Default::default, |l| escrow::CreditLine {
            credit: l.credit,
            reserved: l.reserved,
            fees: l.fees,
            reserved_until: unsigned(l.reserved_until),
            reduction: l.reduction_amount,
            reduction_effective_at: unsigned(l.reduction_effective_at),
            released_block: unsigned(l.released_block),
        }))
    }

    async fn put_line(
        &mut self,
        payer: Address,
        relayer: Address,
        token: Address,
        line: escrow::CreditLine,
    ) -> Result<()> {
        let key = (addr(&payer), addr(&relayer), addr(&token));
        let row = self
            .state
            .lines
            .upsert(self.tx, &key, CreditLine::default)
            .await?;
        let (old_credit, old_reserved) = (row.credit, row.reserved);
        *row = CreditLine {
            credit: line.credit,
            reserved: line.reserved,
            fees: line.fees,
            reserved_until: big(line.reserved_until),
            reduction_amount: line.reduction,
            reduction_effective_at: big(line.reduction_effective_at),
            released_block: big(line.released_block),
        };
        if (old_credit, old_reserved) != (line.credit, line.reserved) {
            let b = self.balance(payer, token).await?;
            b.credit = shift("credit", b.credit, old_credit, line.credit)?;
            b.reserved = shift("reserved balance", b.reserved, old_reserved, line.reserved)?;
        }
        Ok(())
    }

    async fn put_acceptance(
        &mut self,
        payer: Address,
        license_id: U256,
        terms_id: u64,
        a: escrow::Acceptance,
    ) -> Result<()> {
        self.state.acceptances.put(
            (addr(&payer), amount(&license_id), big(terms_id)),
            Acceptance {
                token: addr(&a.token),
                price_per_sample: a.price_per_sample,
                max_samples: big(a.max_samples),
                expires_at: big(a.expires_at),
                chargeable_from: big(a.chargeable_from),
                accepted_block: big(a.accepted_block),
            },
        );
        Ok(())
    }

    async fn signer(&mut self, payer: Address, signer: Address) -> Result<Option<escrow::Signer>> {
        let key = (addr(&payer), addr(&signer));
        let row = self.state.signers.get_mut(self.tx, &key).await?;
        Ok(row.map(|s| escrow::Signer {
            registered_block: unsigned(s.registered_block),
            revoked_at: unsigned(s.revoked_at),
        }))
    }

    async fn put_signer(
        &mut self,
        payer: Address,
        signer: Address,
        record: escrow::Signer,
    ) -> Result<()> {
        self.state.signers.put(
            (addr(&payer), addr(&signer)),
            Signer {
                registered_block: big(record.registered_block),
                revoked_at: big(record.revoked_at),
            },
        );
        Ok(())
    }

    async fn put_withdrawal(
        &mut self,
        payer: Address,
        token: Address,
        withdrawal: Option<escrow::Withdrawal>,
    ) -> Result<()> {
        let key = (addr(&payer), addr(&token));
        match withdrawal {
            Some(w) => self.state.withdrawals.put(
                key,
                Withdrawal {
                    amount: w.amount,
                    unlock_at: big(w.unlock_at),
                    lapses_at: big(w.lapses_at),
                },
            ),
            None => self.state.withdrawals.delete(key),
        }
        Ok(())
    }

    async fn put_batch(&mut self, root: B256, relayer: Address, block: u64) -> Result<()> {
        let b = self
            .state
            .batches
            .upsert(self.tx, &word(&root), Batch::default)
            .await?;
        b.relayer = addr(&relayer);
        b.block_number = big(block);
        Ok(())
    }

    async fn put_reservation(
        &mut self,
        root: B256,
        payer: Address,
        token: Address,
        r: escrow::Reservation,
    ) -> Result<()> {
        self.state.reservations.put(
            (word(&root), addr(&payer), addr(&token)),
            Reservation {
                relayer: addr(&r.relayer),
                amount: r.amount,
                expires_at: big(r.expires_at),
                locked_until: big(r.locked_until),
                line_since_block: big(r.line_since_block),
            },
        );
        Ok(())
    }

    async fn claim_relayer(
        &mut self,
        root: B256,
        payer: Address,
        token: Address,
    ) -> Result<Option<Address>> {
        let key = (word(&root), addr(&payer), addr(&token));
        let row = self.state.reservations.get_mut(self.tx, &key).await?;
        row.map(|r| parse_addr(&r.relayer)).transpose()
    }

    /// The `settlements` table keeps every settled count (written by the indexer's history).
    async fn raise_settled(&mut self, _usage_key: B256, _cumulative: u64) -> Result<()> {
        Ok(())
    }
}
