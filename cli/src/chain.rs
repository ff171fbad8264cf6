//! A connection to the chain: a provider (with the wallet when a key is given), the
//! deployment's contracts, and sending transactions with decoded reverts.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use alloy::{
    contract::SolCallBuilder,
    network::EthereumWallet,
    primitives::{Address, B256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log, TransactionReceipt},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolEvent},
};
use fairtrain_chain::{AdaptiveRange, RangeConfig};
use fairtrain_protocol::bindings::{
    IERC20Permit::{self, IERC20PermitInstance},
    LicenseNFT::{self, LicenseNFTInstance},
    RevenuePool::{self, RevenuePoolInstance},
    RevenuePoolFactory::{self, RevenuePoolFactoryInstance},
    RoyaltyStreams::{self, RoyaltyStreamsInstance},
    TrainingEscrow::{self, TrainingEscrowInstance},
};
use serde::Serialize;

use crate::{
    amount,
    deployment::Deployment,
    error::{CliError, Result},
    opts::RpcOpts,
};

/// The events of type `E` a transaction emitted, decoded, in log order (logs of other types
/// or other contracts' events of another shape are skipped).
pub fn emitted<E: SolEvent>(receipt: &TransactionReceipt) -> impl Iterator<Item = E> + '_ {
    receipt
        .inner
        .logs()
        .iter()
        .filter_map(|l| l.log_decode::<E>().ok())
        .map(|l| l.inner.data)
}

/// A connected chain with its deployment.
#[derive(Clone, Debug)]
pub struct Chain {
    provider: DynProvider,
    /// The chain id the node reports.
    pub chain_id: u64,
    /// The deployment in use.
    pub deployment: Deployment,
    /// The file it was read from.
    deployment_path: PathBuf,
    signer: Option<PrivateKeySigner>,
    /// The `eth_getLogs` range the node accepts, learnt by the event reads of this command.
    log_range: Arc<Mutex<AdaptiveRange>>,
}

/// `eth_getLogs` ranges: start at 10,000 blocks (a common limit of public endpoints), halve
/// when the node refuses, grow back up to 100,000.
const LOG_RANGES: RangeConfig = RangeConfig {
    initial: 10_000,
    max: 100_000,
    target_logs: 10_000,
};

/// A payment token and how to show its amounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// The token.
    pub address: Address,
    /// Its symbol.
    pub symbol: String,
    /// Its decimals.
    pub decimals: u8,
}

impl TokenInfo {
    /// `12.5 fUSD (12500000 base units)`.
    pub fn describe(&self, units: impl Into<alloy::primitives::U256>) -> String {
        amount::describe(units.into(), self.decimals, &self.symbol)
    }

    /// `12.5` (whole tokens).
    pub fn human(&self, units: impl Into<alloy::primitives::U256>) -> String {
        amount::format(units.into(), self.decimals)
    }
}

impl Chain {
    /// Connects to `rpc.rpc_url`, reads the chain id and loads the deployment. With a `signer`,
    /// transactions are signed by it.
    ///
    /// # Errors
    ///
    /// [`CliError::Rpc`] if the node cannot be reached, [`CliError::Deployment`] if the
    /// deployment cannot be loaded.
    pub async fn connect(rpc: &RpcOpts, signer: Option<PrivateKeySigner>) -> Result<Self> {
        let url = rpc
            .rpc_url
            .parse()
            .map_err(|e| CliError::Invalid(format!("--rpc-url {:?}: {e}", rpc.rpc_url)))?;
        // Nonces are read from the node for every transaction (`SimpleNonceManager`): a
        // transaction whose gas estimate reverts must not consume a nonce, or the next one
        // would wait behind the gap forever.
        let builder = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id();
        // Transient failures (rate limits, a dropped connection) are retried per request.
        let client = fairtrain_chain::rpc::client(url, Default::default());
        let provider = match &signer {
            Some(signer) => builder
                .wallet(EthereumWallet::from(signer.clone()))
                .connect_client(client)
                .erased(),
            None => builder.connect_client(client).erased(),
        };
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| CliError::rpc(&format!("connecting to {}", rpc.rpc_url), e))?;
        let deployment_path = rpc
            .deployment
            .clone()
            .unwrap_or_else(|| Deployment::default_path(chain_id));
        let deployment = Deployment::resolve(Some(&deployment_path), chain_id)?;
        Ok(Self {
            provider,
            chain_id,
            deployment,
            deployment_path,
            signer,
            log_range: Arc::new(Mutex::new(AdaptiveRange::new(LOG_RANGES))),
        })
    }

    /// Every log of `filter` from the deployment block to the head, in as many `eth_getLogs`
    /// ranges as the node accepts (adaptive: halved when refused; see `fairtrain_chain::range`).
    ///
    /// # Errors
    ///
    /// [`CliError::Rpc`] if the node fails, or refuses even a single block.
    pub async fn logs(&self, action: &str, filter: &Filter) -> Result<Vec<Log>> {
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(|e| CliError::rpc(action, e))?;
        let mut range = *self.log_range.lock().expect("range lock");
        let logs = range
            .fetch_all(&self.provider, filter, self.deployment.start_block, head)
            .await;
        *self.log_range.lock().expect("range lock") = range;
        logs.map_err(|e| CliError::rpc(action, e))
    }

    /// The provider.
    pub const fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The acting account.
    ///
    /// # Errors
    ///
    /// [`CliError::NoKey`] without a key.
    pub fn sender(&self) -> Result<Address> {
        self.signer
            .as_ref()
            .map(PrivateKeySigner::address)
            .ok_or(CliError::NoKey)
    }

    /// The signing key.
    ///
    /// # Errors
    ///
    /// [`CliError::NoKey`] without a key.
    pub fn signer(&self) -> Result<&PrivateKeySigner> {
        self.signer.as_ref().ok_or(CliError::NoKey)
    }

    /// The deployment's `TrainingEscrow`.
    pub fn escrow(&self) -> TrainingEscrowInstance<DynProvider> {
        TrainingEscrow::new(self.deployment.training_escrow, self.provider.clone())
    }

    /// The deployment's `LicenseNFT`.
    pub fn nft(&self) -> LicenseNFTInstance<DynProvider> {
        LicenseNFT::new(self.deployment.license_nft, self.provider.clone())
    }

    /// The deployment's `RoyaltyStreams`.
    ///
    /// # Errors
    ///
    /// [`CliError::Deployment`] if the deployment file names none.
    pub fn streams(&self) -> Result<RoyaltyStreamsInstance<DynProvider>> {
        let address = self.deployment.royalty_streams.ok_or_else(|| {
            self.missing("royaltyStreams (deployed with streams since Deploy.s.sol added them)")
        })?;
        Ok(RoyaltyStreams::new(address, self.provider.clone()))
    }

    /// The deployment's `RevenuePoolFactory`.
    ///
    /// # Errors
    ///
    /// [`CliError::Deployment`] if the deployment file names none.
    pub fn pool_factory(&self) -> Result<RevenuePoolFactoryInstance<DynProvider>> {
        let address = self.deployment.revenue_pool_factory.ok_or_else(|| {
            self.missing("revenuePoolFactory (deployed with pools since Deploy.s.sol added them)")
        })?;
        Ok(RevenuePoolFactory::new(address, self.provider.clone()))
    }

    /// A `RevenuePool`.
    pub fn pool(&self, address: Address) -> RevenuePoolInstance<DynProvider> {
        RevenuePool::new(address, self.provider.clone())
    }

    fn missing(&self, what: &str) -> CliError {
        CliError::Deployment {
            path: self.deployment_path.clone(),
            reason: format!("it has no {what}"),
        }
    }

    /// An ERC-20 token.
    pub fn erc20(&self, token: Address) -> IERC20PermitInstance<DynProvider> {
        IERC20Permit::new(token, self.provider.clone())
    }

    /// Calls a view function.
    ///
    /// # Errors
    ///
    /// [`CliError::Reverted`] with the decoded error, or [`CliError::Rpc`].
    pub async fn read<C: SolCall>(
        &self,
        action: &str,
        call: SolCallBuilder<&DynProvider, C>,
    ) -> Result<C::Return> {
        call.call()
            .await
            .map_err(|e| CliError::from_contract(action, e))
    }

    /// Sends a transaction and waits for its receipt.
    ///
    /// # Errors
    ///
    /// [`CliError::Reverted`] with the decoded error if the node's gas estimate (or the call)
    /// reverts, [`CliError::TxFailed`] if it is mined but fails, [`CliError::Rpc`] otherwise.
    pub async fn send<C: SolCall>(
        &self,
        action: &str,
        call: SolCallBuilder<&DynProvider, C>,
    ) -> Result<TransactionReceipt> {
        self.sender()?;
        let pending = call
            .send()
            .await
            .map_err(|e| CliError::from_contract(action, e))?;
        let receipt = pending
            .get_receipt()
            .await
            .map_err(|e| CliError::rpc(action, e))?;
        if !receipt.status() {
            return Err(CliError::TxFailed {
                action: action.to_owned(),
                hash: receipt.transaction_hash,
            });
        }
        Ok(receipt)
    }

    /// The latest block's timestamp: "now" as the contracts see it.
    ///
    /// # Errors
    ///
    /// [`CliError::Rpc`].
    pub async fn now(&self) -> Result<u64> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| CliError::rpc("reading the latest block", e))?
            .ok_or_else(|| CliError::rpc("reading the latest block", "no latest block"))?;
        Ok(block.header.timestamp)
    }

    /// Symbol and decimals of a token.
    ///
    /// # Errors
    ///
    /// [`CliError::Reverted`] or [`CliError::Rpc`] if the token does not answer.
    pub async fn token_info(&self, address: Address) -> Result<TokenInfo> {
        let token = self.erc20(address);
        let symbol = self
            .read("reading the token's symbol", token.symbol())
            .await?;
        let decimals = self
            .read("reading the token's decimals", token.decimals())
            .await?;
        Ok(TokenInfo {
            address,
            symbol,
            decimals,
        })
    }

    /// Makes sure the key's wallet holds `value` of `token` and that `spender` may pull it:
    /// refuses (sending nothing) if the wallet is short, approves `value` if the allowance is.
    /// Returns the approval sent, if any.
    ///
    /// # Errors
    ///
    /// [`CliError::Invalid`] if the wallet holds too little; a decoded revert or RPC error.
    pub async fn approve_if_short(
        &self,
        token: &TokenInfo,
        spender: Address,
        value: alloy::primitives::U256,
    ) -> Result<Option<Sent>> {
        let owner = self.sender()?;
        let erc20 = self.erc20(token.address);
        let wallet = self
            .read("reading the wallet balance", erc20.balanceOf(owner))
            .await?;
        if wallet < value {
            return Err(CliError::Invalid(format!(
                "the wallet {owner} holds {} but {} are needed: fund the wallet first",
                token.describe(wallet),
                token.describe(value)
            )));
        }
        let allowance = self
            .read("reading the allowance", erc20.allowance(owner, spender))
            .await?;
        if allowance >= value {
            return Ok(None);
        }
        let receipt = self.send("approve", erc20.approve(spender, value)).await?;
        Ok(Some(Sent::new("approve", &receipt)))
    }

    /// Resolves `given` (an address, or the symbol of one of the deployment's payment tokens,
    /// case-insensitive) to a token; `None` means the deployment's first payment token.
    ///
    /// # Errors
    ///
    /// [`CliError::Token`] if no token matches.
    pub async fn resolve_token(&self, given: Option<&str>) -> Result<TokenInfo> {
        let mut known = Vec::new();
        for &address in &self.deployment.payment_tokens {
            let info = self.token_info(address).await?;
            match given {
                None => return Ok(info),
                Some(g) if g.eq_ignore_ascii_case(&info.symbol) => return Ok(info),
                _ => known.push(format!("{} {}", info.symbol, info.address)),
            }
        }
        if let Some(address) = given.and_then(|g| g.parse::<Address>().ok()) {
            return self.token_info(address).await;
        }
        Err(CliError::Token {
            given: given.unwrap_or("").to_owned(),
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        })
    }
}

/// A sent transaction, for reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sent {
    /// What it did.
    pub action: String,
    /// Its hash.
    pub hash: B256,
    /// Its block.
    pub block: u64,
}

impl Sent {
    /// From a receipt.
    pub fn new(action: &str, receipt: &TransactionReceipt) -> Self {
        Self {
            action: action.to_owned(),
            hash: receipt.transaction_hash,
            block: receipt.block_number.unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tx {} ({}, block {})",
            self.hash, self.action, self.block
        )
    }
}
