//! How the services store chain values in text columns, as types: [`Hex`] (addresses, hashes,
//! byte strings: `0x`-prefixed lowercase hex) and [`Decimal`] (unsigned integers that do not fit
//! a signed `BIGINT`, such as `uint256` amounts and `uint64` counts: decimal text).
//!
//! Both bind and decode through `sqlx::Any` as text, so a row struct can `#[derive(FromRow)]`
//! with its fields typed (`#[sqlx(try_from = "Hex<B256>")] digest: B256`), and a value that does
//! not parse is a decode error naming its column, not a string passed on.

use std::{fmt, str::FromStr};

use sqlx::{
    any::{Any, AnyTypeInfo, AnyValueRef},
    encode::IsNull,
    error::BoxDynError,
    Database, Decode, Encode, Type,
};

/// A value stored as `0x`-prefixed lowercase hex (`{:#x}`), read back with `FromStr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hex<T>(pub T);

/// A value stored as decimal text (`Display`), read back with `FromStr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Decimal<T>(pub T);

/// A stored text that does not parse as the column's type.
#[derive(Debug, thiserror::Error)]
#[error("{text:?} is not {what}")]
struct Unparsable {
    text: String,
    what: &'static str,
}

fn text(value: AnyValueRef<'_>) -> Result<&str, BoxDynError> {
    <&str as Decode<Any>>::decode(value)
}

fn parse<T: FromStr>(text: &str, what: &'static str) -> Result<T, BoxDynError> {
    text.parse().map_err(|_| {
        Box::new(Unparsable {
            text: text.chars().take(80).collect(),
            what,
        }) as BoxDynError
    })
}

macro_rules! text_column {
    ($wrapper:ident, $bound:path, $format:literal, $what:literal) => {
        impl<T> Type<Any> for $wrapper<T> {
            fn type_info() -> AnyTypeInfo {
                <String as Type<Any>>::type_info()
            }

            fn compatible(ty: &AnyTypeInfo) -> bool {
                <String as Type<Any>>::compatible(ty)
            }
        }

        impl<T: $bound> Encode<'_, Any> for $wrapper<T> {
            fn encode_by_ref(
                &self,
                buf: &mut <Any as Database>::ArgumentBuffer,
            ) -> Result<IsNull, BoxDynError> {
                <String as Encode<Any>>::encode(format!($format, self.0), buf)
            }
        }

        impl<T: FromStr> Decode<'_, Any> for $wrapper<T> {
            fn decode(value: AnyValueRef<'_>) -> Result<Self, BoxDynError> {
                parse(text(value)?, $what).map(Self)
            }
        }
    };
}

text_column!(
    Hex,
    fmt::LowerHex,
    "{:#x}",
    "0x-prefixed hex of the column's type"
);
text_column!(
    Decimal,
    fmt::Display,
    "{}",
    "a decimal of the column's type"
);

/// `From<Hex<T>>` and `From<Decimal<T>>` for the types the services store, so that row fields
/// can be plain values (`#[sqlx(try_from = "Hex<Address>")]`).
macro_rules! unwrap_into {
    ($wrapper:ident: $($t:ty),*) => {
        $(impl From<$wrapper<$t>> for $t {
            fn from(value: $wrapper<$t>) -> Self {
                value.0
            }
        })*
    };
}

unwrap_into!(Hex: alloy::primitives::Address, alloy::primitives::B256, alloy::primitives::Bytes);
unwrap_into!(Decimal: alloy::primitives::U256, u64, u128);

#[cfg(test)]
mod tests {
    use alloy::primitives::{Address, Bytes, B256, U256};
    use fairtrain_testkit::{Backend as TestBackend, TestDb};
    use sqlx::Row;

    use super::*;
    use crate::{Db, Options};

    /// Every value round-trips through a text column of both backends, is stored in the
    /// documented form, and a text that does not parse is a decode error naming the value.
    #[tokio::test]
    async fn values_round_trip_as_text_on_both_backends() {
        for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
            let test_db = TestDb::new(backend);
            let db = Db::connect(&test_db.url, &Options::default())
                .await
                .unwrap();
            sqlx::raw_sql("CREATE TABLE t (a TEXT, h TEXT, b TEXT, u TEXT, n TEXT)")
                .execute(&db.pool)
                .await
                .unwrap();
            let address = Address::repeat_byte(0xab);
            let hash = B256::repeat_byte(0x01);
            let bytes = Bytes::from(vec![0xde, 0xad]);
            let amount = U256::MAX;
            sqlx::query("INSERT INTO t (a, h, b, u, n) VALUES ($1, $2, $3, $4, $5)")
                .bind(Hex(address))
                .bind(Hex(hash))
                .bind(Hex(bytes.clone()))
                .bind(Decimal(amount))
                .bind(Decimal(7u64))
                .execute(&db.pool)
                .await
                .unwrap();
            let row = sqlx::query("SELECT a, h, b, u, n FROM t")
                .fetch_one(&db.pool)
                .await
                .unwrap();
            assert_eq!(row.get::<String, _>("a"), format!("0x{}", "ab".repeat(20)));
            assert_eq!(row.get::<String, _>("b"), "0xdead");
            assert_eq!(row.get::<String, _>("u"), amount.to_string());
            assert_eq!(row.get::<Hex<Address>, _>("a").0, address);
            assert_eq!(row.get::<Hex<B256>, _>("h").0, hash);
            assert_eq!(row.get::<Hex<Bytes>, _>("b").0, bytes);
            assert_eq!(row.get::<Decimal<U256>, _>("u").0, amount);
            assert_eq!(row.get::<Decimal<u64>, _>("n").0, 7);

            let wrong = row.try_get::<Hex<B256>, _>("a").unwrap_err().to_string();
            assert!(wrong.contains("is not 0x-prefixed hex"), "{wrong}");
            let wrong = row.try_get::<Decimal<u64>, _>("u").unwrap_err().to_string();
            assert!(wrong.contains("is not a decimal"), "{wrong}");
        }
    }
}
