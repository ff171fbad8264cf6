//! The state machines the store records, one enum each: a receipt's `status`, a batch's `state`
//! and a job's `state` (claims and releases), and a job's `kind`. The text of each variant is what the tables hold;
//! SQL binds it ([`ReceiptStatus::as_str`] and the like) instead of spelling it, and rows decode
//! into the enum (`sqlx::Decode`; an unknown value is a decode error naming the column).

use std::{fmt, str::FromStr};

use super::StoreError;

/// Defines a state enum with its stored spellings, `as_str`, `Display` and `FromStr`.
macro_rules! stored_state {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every state, in the order of the state machine.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The text the store holds for this state.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <String as sqlx::Type<sqlx::Any>>::type_info()
            }

            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        impl sqlx::Decode<'_, sqlx::Any> for $name {
            fn decode(value: sqlx::any::AnyValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&str as sqlx::Decode<sqlx::Any>>::decode(value)?.parse()?)
            }
        }

        impl FromStr for $name {
            type Err = StoreError;

            fn from_str(text: &str) -> Result<Self, StoreError> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(StoreError::Corrupt(format!(
                        concat!("unknown ", $what, " {:?}"),
                        other
                    ))),
                }
            }
        }
    };
}

stored_state! {
    /// Where a receipt is (`receipts.status`).
    ReceiptStatus, "receipt status" {
        /// Acknowledged, waiting for a batch.
        Pending => "pending",
        /// In a batch being committed.
        Batched => "batched",
        /// Its batch is confirmed on-chain.
        Committed => "committed",
    }
}

stored_state! {
    /// Where a batch's commit is (`batches.state`): `built` → `signed` → `sent` → `confirmed`,
    /// or `failed`.
    BatchState, "batch state" {
        /// Receipts assigned; tree, proofs and batch data stored.
        Built => "built",
        /// The commit transaction is signed and recorded.
        Signed => "signed",
        /// The commit was broadcast at least once.
        Sent => "sent",
        /// The root is committed and buried.
        Confirmed => "confirmed",
        /// The commit reverted or could not be sent.
        Failed => "failed",
    }
}

impl BatchState {
    /// The states of a batch still being committed (at most one batch is in one of them).
    pub const UNFINISHED: [Self; 3] = [Self::Built, Self::Signed, Self::Sent];
}

stored_state! {
    /// Where a job (a sponsored claim or a line release) is (`claims.state`): `requested` →
    /// `signed` → `sent` → `confirmed`, or `failed`.
    JobState, "job state" {
        /// Waiting for a transaction.
        Requested => "requested",
        /// Its transaction is signed and recorded.
        Signed => "signed",
        /// Its transaction was broadcast at least once.
        Sent => "sent",
        /// Its transaction is mined and buried (or a release was done by someone else).
        Confirmed => "confirmed",
        /// Its transaction reverted or would revert.
        Failed => "failed",
    }
}

impl JobState {
    /// The states of a job whose transaction is signed and not final.
    pub const IN_FLIGHT: [Self; 2] = [Self::Signed, Self::Sent];
}

stored_state! {
    /// What a job does (`claims.kind`, also the `kind` of its transactions in `txs`).
    JobKind, "job kind" {
        /// A sponsored claim of receipts of one batch.
        Claim => "claim",
        /// A release of one of the relayer's credit lines.
        Release => "release",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spellings are stored: changing one is a migration.
    #[test]
    fn stored_spellings_are_stable() {
        let receipt: Vec<_> = ReceiptStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(receipt, ["pending", "batched", "committed"]);
        let batch: Vec<_> = BatchState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(batch, ["built", "signed", "sent", "confirmed", "failed"]);
        let job: Vec<_> = JobState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(job, ["requested", "signed", "sent", "confirmed", "failed"]);
        let kind: Vec<_> = JobKind::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(kind, ["claim", "release"]);
    }

    #[test]
    fn every_state_round_trips() {
        for s in ReceiptStatus::ALL {
            assert_eq!(s.as_str().parse::<ReceiptStatus>().unwrap(), *s);
            assert_eq!(s.to_string(), s.as_str());
        }
        for s in BatchState::ALL {
            assert_eq!(s.as_str().parse::<BatchState>().unwrap(), *s);
        }
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>().unwrap(), *s);
        }
        for s in JobKind::ALL {
            assert_eq!(s.as_str().parse::<JobKind>().unwrap(), *s);
        }
    }

    #[test]
    fn an_unknown_state_is_a_corrupt_row_not_a_panic() {
        let err = "confirmd".parse::<BatchState>().unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)));
        assert_eq!(
            err.to_string(),
            "corrupt row: unknown batch state \"confirmd\""
        );
        assert!("".parse::<ReceiptStatus>().is_err());
        assert!("Sent".parse::<JobState>().is_err());
    }
}
