//! Reading the escrow's and license NFT's events with `eth_getLogs`, from the deployment
//! block, in ranges the node accepts ([`Chain::logs`]). (An indexer answers these questions
//! faster on long chains; this needs none.)

use alloy::{
    primitives::{Address, B256},
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};

use crate::{
    chain::Chain,
    error::{CliError, Result},
};

/// Which indexed topic to match.
#[derive(Clone, Copy, Debug)]
pub enum Topic {
    /// Any.
    Any,
    /// The first indexed argument.
    First(B256),
    /// The second indexed argument.
    Second(B256),
    /// The third indexed argument.
    Third(B256),
}

/// Decoded events `E` emitted by `contract` since the deployment, matching `topic`.
///
/// # Errors
///
/// [`CliError::Rpc`] if the node refuses the query.
pub async fn events<E: SolEvent>(
    chain: &Chain,
    contract: Address,
    topic: Topic,
) -> Result<Vec<(E, Log)>> {
    let mut filter = Filter::new()
        .address(contract)
        .event_signature(E::SIGNATURE_HASH);
    filter = match topic {
        Topic::Any => filter,
        Topic::First(t) => filter.topic1(t),
        Topic::Second(t) => filter.topic2(t),
        Topic::Third(t) => filter.topic3(t),
    };
    let action = format!(
        "reading {} events",
        E::SIGNATURE.split('(').next().unwrap_or("the")
    );
    let logs = chain.logs(&action, &filter).await?;
    logs.into_iter()
        .map(|log| {
            let event = E::decode_log(&log.inner)
                .map_err(|e| CliError::rpc(&action, e))?
                .data;
            Ok((event, log))
        })
        .collect()
}
