//! View reads at one block, many at a time: through [Multicall3] where the chain has it (one
//! `eth_call` carries up to [`CALLS_PER_MULTICALL`] reads), one `eth_call` per read where it does
//! not, [`IN_FLIGHT`] requests at once either way.
//!
//! Multicall3 is at [`MULTICALL3`] on nearly every EVM chain; the devnet's deploy script puts it
//! there on anvil. A chain without it at the block read is still read, call by call.
//!
//! [Multicall3]: https://github.com/mds1/multicall3

use std::{collections::HashMap, hash::Hash};

use alloy::{
    eips::BlockId,
    primitives::{Address, Bytes},
    providers::{DynProvider, MulticallError, Provider},
    rpc::types::TransactionRequest,
    sol_types::SolCall,
    transports::TransportError,
};
use futures::{stream, StreamExt, TryStreamExt};

/// Where Multicall3 lives.
pub const MULTICALL3: Address = alloy::providers::MULTICALL3_ADDRESS;

/// Reads carried by one Multicall3 call: far below any node's `eth_call` gas cap for the views
/// read here (a few thousand gas each), and a response of tens of kilobytes.
pub const CALLS_PER_MULTICALL: usize = 256;

/// Requests in flight at once: the reads of a large batch overlap instead of waiting for each
/// other, without flooding the node.
pub const IN_FLIGHT: usize = 16;

/// A view read failed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The node did not answer, or refused the call (a reverted read included).
    #[error("eth_call: {0}")]
    Rpc(#[from] TransportError),
    /// Multicall3 failed or a read inside it reverted.
    #[error("eth_call through Multicall3: {0}")]
    Multicall(#[from] MulticallError),
    /// An answer did not decode as the view's return type.
    #[error("eth_call answer: {0}")]
    Decode(#[from] alloy::sol_types::Error),
}

/// Reads at one block of one provider.
#[derive(Clone, Debug)]
pub struct Views {
    provider: DynProvider,
    at: BlockId,
    multicall: bool,
}

impl Views {
    /// Reads at `at`, through Multicall3 if the chain has code at [`MULTICALL3`] at that block.
    ///
    /// # Errors
    ///
    /// [`ViewError::Rpc`] if the node cannot say.
    pub async fn at(provider: &DynProvider, at: BlockId) -> Result<Self, ViewError> {
        let code = provider.get_code_at(MULTICALL3).block_id(at).await?;
        Ok(Self {
            provider: provider.clone(),
            at,
            multicall: !code.is_empty(),
        })
    }

    /// Whether reads go through Multicall3.
    pub const fn batched(&self) -> bool {
        self.multicall
    }

    /// Calls `call` on its target for every key: each key's answer.
    ///
    /// # Errors
    ///
    /// The first [`ViewError`]; nothing is returned then.
    pub async fn read_all<K, C>(
        &self,
        calls: Vec<(K, Address, C)>,
    ) -> Result<HashMap<K, C::Return>, ViewError>
    where
        K: Eq + Hash,
        C: SolCall + Clone + Send + Sync + 'static,
        C::Return: Send,
    {
        if self.multicall {
            let mut chunks = Vec::new();
            let mut calls = calls.into_iter().peekable();
            while calls.peek().is_some() {
                chunks.push(calls.by_ref().take(CALLS_PER_MULTICALL).collect::<Vec<_>>());
            }
            let answers: Vec<Vec<(K, C::Return)>> = stream::iter(chunks)
                .map(|chunk| self.multicall(chunk))
                .buffer_unordered(IN_FLIGHT)
                .try_collect()
                .await?;
            Ok(answers.into_iter().flatten().collect())
        } else {
            stream::iter(calls)
                .map(
                    |(key, target, call)| async move { Ok((key, self.call(target, &call).await?)) },
                )
                .buffer_unordered(IN_FLIGHT)
                .try_collect()
                .await
        }
    }

    /// Calls `call(key)` on `target` for every key: each key's answer. The common case of
    /// [`Self::read_all`]: one contract, one view, many keys.
    ///
    /// # Errors
    ///
    /// The first [`ViewError`]; nothing is returned then.
    pub async fn read_each<K, C>(
        &self,
        target: Address,
        keys: impl IntoIterator<Item = K>,
        call: impl Fn(&K) -> C,
    ) -> Result<HashMap<K, C::Return>, ViewError>
    where
        K: Eq + Hash,
        C: SolCall + Clone + Send + Sync + 'static,
        C::Return: Send,
    {
        let calls = keys
            .into_iter()
            .map(|key| {
                let c = call(&key);
                (key, target, c)
            })
            .collect();
        self.read_all(calls).await
    }

    /// One Multicall3 call carrying `chunk`.
    async fn multicall<K, C>(
        &self,
        chunk: Vec<(K, Address, C)>,
    ) -> Result<Vec<(K, C::Return)>, ViewError>
    where
        C: SolCall + Clone + Send + Sync + 'static,
    {
        let mut builder = self
            .provider
            .multicall()
            .dynamic::<C>()
            .address(MULTICALL3)
            .block(self.at);
        let mut keys = Vec::with_capacity(chunk.len());
        for (key, target, call) in chunk {
            builder = builder.add_call_dynamic(alloy::providers::CallItem::<C>::new(
                target,
                call.abi_encode().into(),
            ));
            keys.push(key);
        }
        let answers = builder.aggregate().await?;
        Ok(keys.into_iter().zip(answers).collect())
    }

    /// One `eth_call` of `call` on `target`.
    async fn call<C: SolCall>(&self, target: Address, call: &C) -> Result<C::Return, ViewError> {
        let request = TransactionRequest::default()
            .to(target)
            .input(Bytes::from(call.abi_encode()).into());
        let answer = self.provider.call(request).block(self.at).await?;
        Ok(C::abi_decode_returns(&answer)?)
    }
}
