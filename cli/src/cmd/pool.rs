//! `fairtrain pool ...`: revenue-share pools (`RevenuePool`, created by the deployment's
//! `RevenuePoolFactory`; docs/streams-and-pools.md): create one with shares for its members
//! (transferable ERC-20 shares, or a fixed split), route a license's income to it, distribute
//! what it received, claim a member's part, and its state.
//!
//! Income reaches a pool like any address: usage claims and streams pay the license's holder, so
//! `pool add-license` moves the license NFT into the pool (for good: a pool never sends a
//! license back); resale royalties (EIP-2981) go to the receiver the creator sets, which
//! `pool route-royalties` points at the pool.

use alloy::primitives::{Address, U256};
use clap::{Args, Subcommand};
use fairtrain_protocol::bindings::{
    pool_factory::{Pools, RevenuePoolFactory},
    RevenuePool,
};
use serde::Serialize;

use crate::{
    amount,
    chain::{emitted, Chain, Sent, TokenInfo},
    cmd::payer::Done,
    error::{CliError, Result},
    output::Render,
};

/// Pool subcommands.
#[derive(Debug, Subcommand)]
pub enum PoolCmd {
    /// Create a pool with shares for its members (the factory records it).
    Create(CreateArgs),
    /// Move a license you hold into the pool: its usage payouts and streams pay the pool.
    /// Irreversible: a pool never sends a license back.
    AddLicense(LicenseArgs),
    /// Point a license's resale royalties (EIP-2981) at the pool (the license's creator only).
    RouteRoyalties(LicenseArgs),
    /// Book the income the pool received since the last distribution to its shareholders
    /// (anyone may).
    Distribute(TokenArgs),
    /// Pay a shareholder what the pool owes it (anyone may send it; the shareholder is paid).
    Claim(ClaimArgs),
    /// The pool's shares, tokens, income and what an account can claim.
    Status(StatusArgs),
}

/// `pool create`.
#[derive(Clone, Debug, Args)]
pub struct CreateArgs {
    /// ERC-20 name of the shares.
    #[arg(long)]
    pub name: String,
    /// ERC-20 symbol of the shares.
    #[arg(long)]
    pub symbol: String,
    /// A member and its shares, `<address>=<shares>` (shares are whole tokens of 18 decimals);
    /// repeat for each member.
    #[arg(long = "member", required = true)]
    pub members: Vec<String>,
    /// Accepted income tokens: addresses or symbols of deployment tokens, repeatable
    /// [default: the deployment's first].
    #[arg(long = "token")]
    pub tokens: Vec<String>,
    /// A fixed split: shares can never move (default: transferable shares).
    #[arg(long)]
    pub fixed: bool,
    /// Who may accept more tokens and update terms of licenses the pool holds [default: nobody,
    /// the pool is immutable].
    #[arg(long)]
    pub manager: Option<Address>,
}

/// A pool and a license.
#[derive(Clone, Debug, Args)]
pub struct LicenseArgs {
    /// The pool.
    pub pool: Address,
    /// The license.
    pub license_id: U256,
}

/// A pool and a token.
#[derive(Clone, Debug, Args)]
pub struct TokenArgs {
    /// The pool.
    pub pool: Address,
    /// Token: address or symbol of a deployment token [default: the deployment's first].
    #[arg(long)]
    pub token: Option<String>,
}

/// `pool claim`.
#[derive(Clone, Debug, Args)]
pub struct ClaimArgs {
    /// The pool and token.
    #[command(flatten)]
    pub target: TokenArgs,
    /// The shareholder paid [default: the key's address].
    #[arg(long)]
    pub account: Option<Address>,
    /// Distribute the pool's new income first, so that the claim includes it.
    #[arg(long)]
    pub distribute: bool,
}

/// `pool status`.
#[derive(Clone, Debug, Args)]
pub struct StatusArgs {
    /// The pool.
    pub pool: Address,
    /// Show shares and claimable amounts of this account [default: the key's address, if any].
    #[arg(long)]
    pub account: Option<Address>,
}

/// Parses `<address>=<shares>` (whole shares of 18 decimals).
fn parse_member(text: &str) -> Result<(Address, U256)> {
    let (address, shares) = text.split_once('=').ok_or_else(|| {
        CliError::Invalid(format!(
            "--member {text:?}: expected <address>=<shares>, e.g. 0x70997970C51812dc3A010C7d01b50e0d17dc79C8=60"
        ))
    })?;
    let address = address.trim().parse::<Address>().map_err(|e| {
        CliError::Invalid(format!(
            "--member {text:?}: {address:?} is not an address ({e})"
        ))
    })?;
    let shares = amount::parse(shares.trim(), 18, false)?;
    Ok((address, shares))
}

/// Refuses addresses the factory did not create: a look-alike "pool" could keep the funds.
async fn genuine(chain: &Chain, pool: Address) -> Result<()> {
    let factory = chain.pool_factory()?;
    if chain
        .read("asking the factory about the pool", factory.isPool(pool))
        .await?
    {
        Ok(())
    } else {
        Err(CliError::Invalid(format!(
            "{pool} is not a pool of this deployment's RevenuePoolFactory {}: check the address (`fairtrain pool create` prints it)",
            factory.address()
        )))
    }
}

/// `pool create`: reports the new pool's address.
///
/// # Errors
///
/// Malformed members or tokens; a decoded revert (`RevenuePool_BadMembers`, `_BadToken`,
/// `_TooManyTokens`).
pub async fn create(chain: &Chain, args: &CreateArgs) -> Result<Done> {
    let factory = chain.pool_factory()?;
    let (members, shares): (Vec<Address>, Vec<U256>) = args
        .members
        .iter()
        .map(|m| parse_member(m))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    let mut tokens: Vec<TokenInfo> = Vec::new();
    if args.tokens.is_empty() {
        tokens.push(chain.resolve_token(None).await?);
    }
    for t in &args.tokens {
        tokens.push(chain.resolve_token(Some(t)).await?);
    }
    let config = Pools::Config {
        name: args.name.clone(),
        symbol: args.symbol.clone(),
        members: members.clone(),
        shares: shares.clone(),
        tokens: tokens.iter().map(|t| t.address).collect(),
        transferable: !args.fixed,
        manager: args.manager.unwrap_or_default(),
    };
    let receipt = chain.send("createPool", factory.createPool(config)).await?;
    let pool = emitted::<RevenuePoolFactory::PoolCreated>(&receipt)
        .next()
        .map(|e| e.pool)
        .ok_or_else(|| CliError::rpc("createPool", "the receipt has no PoolCreated event"))?;
    let total: U256 = shares.iter().copied().sum();
    let split: Vec<String> = members
        .iter()
        .zip(&shares)
        .map(|(m, s)| format!("{m} {}", amount::format(*s, 18)))
        .collect();
    Ok(Done {
        summary: format!(
            "created {} pool {pool} ({}, {} shares: {}); accepts {}",
            if args.fixed { "fixed-split" } else { "transferable-share" },
            args.symbol,
            amount::format(total, 18),
            split.join(", "),
            tokens.iter().map(|t| t.symbol.as_str()).collect::<Vec<_>>().join(", ")
        ),
        next: Some(format!(
            "route income to it: `fairtrain pool add-license {pool} <licenseId>` (usage payouts and streams) or `fairtrain pool route-royalties {pool} <licenseId>` (resale royalties)"
        )),
        details: serde_json::json!({
            "pool": pool, "transferable": !args.fixed, "manager": args.manager,
            "members": members, "shares": shares.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "tokens": tokens,
        }),
        txs: vec![Sent::new("createPool", &receipt)],
    })
}

/// `pool add-license`: `safeTransferFrom(holder, pool, licenseId)`.
///
/// # Errors
///
/// Not a pool of the factory, a key that does not hold the license (nothing sent); a decoded
/// revert.
pub async fn add_license(chain: &Chain, args: &LicenseArgs) -> Result<Done> {
    genuine(chain, args.pool).await?;
    let me = chain.sender()?;
    let nft = chain.nft();
    let holder = chain
        .read("reading the license holder", nft.ownerOf(args.license_id))
        .await?;
    if holder == args.pool {
        return Err(CliError::Invalid(format!(
            "license {} is already held by the pool {}",
            args.license_id, args.pool
        )));
    }
    if holder != me {
        return Err(CliError::Invalid(format!(
            "license {} is held by {holder}, not by the key's account {me}: only its holder can move it into a pool",
            args.license_id
        )));
    }
    let receipt = chain
        .send(
            "safeTransferFrom",
            nft.safeTransferFrom_0(me, args.pool, args.license_id),
        )
        .await?;
    let mut txs = vec![Sent::new("safeTransferFrom", &receipt)];
    // A pool collects stream income too: let payers stream to the license (the pool never
    // transfers it, so the holder history costs it nothing).
    let streams = chain.streams()?;
    if !chain
        .read(
            "reading the license's streams",
            streams.streamsEnabled(args.license_id),
        )
        .await?
    {
        let receipt = chain
            .send(
                "enableStreams",
                chain
                    .pool(args.pool)
                    .enableStreams(*streams.address(), args.license_id),
            )
            .await?;
        txs.push(Sent::new("enableStreams", &receipt));
    }
    Ok(Done {
        summary: format!(
            "license {} is now held by the pool {}: its usage payouts and stream withdrawals pay the pool",
            args.license_id, args.pool
        ),
        next: Some(format!(
            "after income arrives, `fairtrain pool distribute {}` then each member `fairtrain pool claim {}`",
            args.pool, args.pool
        )),
        details: serde_json::json!({ "pool": args.pool, "licenseId": args.license_id.to_string() }),
        txs,
    })
}

/// `pool route-royalties`: `setRoyaltyReceiver(licenseId, pool)`.
///
/// # Errors
///
/// Not a pool of the factory; a decoded revert (`LicenseNFT_NotCreator`).
pub async fn route_royalties(chain: &Chain, args: &LicenseArgs) -> Result<Done> {
    genuine(chain, args.pool).await?;
    let nft = chain.nft();
    let receipt = chain
        .send(
            "setRoyaltyReceiver",
            nft.setRoyaltyReceiver(args.license_id, args.pool),
        )
        .await?;
    Ok(Done {
        summary: format!(
            "resale royalties (EIP-2981) of license {} now go to the pool {}",
            args.license_id, args.pool
        ),
        next: None,
        details: serde_json::json!({ "pool": args.pool, "licenseId": args.license_id.to_string() }),
        txs: vec![Sent::new("setRoyaltyReceiver", &receipt)],
    })
}

/// The `IncomeDistributed` amount of a receipt, if any.
fn distributed_in(receipt: &alloy::rpc::types::TransactionReceipt) -> U256 {
    emitted::<RevenuePool::IncomeDistributed>(receipt)
        .map(|e| e.amount)
        .sum()
}

/// `pool distribute`.
///
/// # Errors
///
/// Not a pool of the factory, a bad token; a decoded revert (`RevenuePool_TokenNotAccepted`).
pub async fn distribute(chain: &Chain, args: &TokenArgs) -> Result<Done> {
    genuine(chain, args.pool).await?;
    let token = chain.resolve_token(args.token.as_deref()).await?;
    let pool = chain.pool(args.pool);
    let receipt = chain
        .send("distribute", pool.distribute(token.address))
        .await?;
    let amount = distributed_in(&receipt);
    Ok(Done {
        summary: if amount.is_zero() {
            format!("the pool {} had no new {} income", args.pool, token.symbol)
        } else {
            format!(
                "distributed {} to the shareholders of {}",
                token.describe(amount),
                args.pool
            )
        },
        next: (!amount.is_zero()).then(|| {
            format!(
                "each shareholder collects with `fairtrain pool claim {}`",
                args.pool
            )
        }),
        details: serde_json::json!({ "pool": args.pool, "token": token, "amount": amount.to_string() }),
        txs: vec![Sent::new("distribute", &receipt)],
    })
}

/// `pool claim`.
///
/// # Errors
///
/// Not a pool of the factory, a bad token; a decoded revert.
pub async fn claim(chain: &Chain, args: &ClaimArgs) -> Result<Done> {
    let t = &args.target;
    genuine(chain, t.pool).await?;
    let account = match args.account {
        Some(a) => a,
        None => chain.sender()?,
    };
    let token = chain.resolve_token(t.token.as_deref()).await?;
    let pool = chain.pool(t.pool);
    let mut txs = Vec::new();
    let mut distributed = U256::ZERO;
    if args.distribute {
        let undistributed = chain
            .read("reading the pool", pool.undistributed(token.address))
            .await?;
        if !undistributed.is_zero() {
            let receipt = chain
                .send("distribute", pool.distribute(token.address))
                .await?;
            distributed = distributed_in(&receipt);
            txs.push(Sent::new("distribute", &receipt));
        }
    }
    let claimable = chain
        .read(
            "reading the claimable amount",
            pool.claimable(account, token.address),
        )
        .await?;
    if claimable.is_zero() {
        let undistributed = chain
            .read("reading the pool", pool.undistributed(token.address))
            .await?;
        return Err(CliError::Invalid(format!(
            "{account} has nothing to claim in {} from {}{}",
            token.symbol,
            t.pool,
            if undistributed.is_zero() {
                String::new()
            } else {
                format!(
                    "; {} await distribution: add --distribute",
                    token.describe(undistributed)
                )
            }
        )));
    }
    let receipt = chain
        .send("claim", pool.claim(account, token.address))
        .await?;
    let paid: U256 = emitted::<RevenuePool::Claimed>(&receipt)
        .map(|e| e.amount)
        .sum();
    txs.push(Sent::new("claim", &receipt));
    Ok(Done {
        summary: format!(
            "paid {} from the pool {} to {account}",
            token.describe(paid),
            t.pool
        ),
        next: None,
        details: serde_json::json!({
            "pool": t.pool, "account": account, "token": token, "amount": paid.to_string(),
            "distributed": distributed.to_string(),
        }),
        txs,
    })
}

/// One accepted token of a pool.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolToken {
    /// The token.
    pub token: TokenInfo,
    /// Distributed so far, base units.
    pub received: String,
    /// Claimed so far, base units.
    pub paid_out: String,
    /// Held and not yet distributed, base units.
    pub undistributed: String,
    /// What the account can claim now, base units.
    pub claimable: Option<String>,
}

/// What `pool status` reports.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolStatus {
    /// The pool.
    pub pool: Address,
    /// Share name and symbol.
    pub name: String,
    /// Share symbol.
    pub symbol: String,
    /// Whether shares move (false: a fixed split).
    pub transferable: bool,
    /// The manager, if any.
    pub manager: Option<Address>,
    /// Total shares (18 decimals), base units.
    pub total_shares: String,
    /// The account shown.
    pub account: Option<Address>,
    /// Its shares, base units.
    pub account_shares: Option<String>,
    /// Per accepted token.
    pub tokens: Vec<PoolToken>,
}

impl Render for PoolStatus {
    fn text(&self) -> String {
        let mut lines = vec![format!(
            "pool {} ({} {}, {}): {} shares, manager {}",
            self.pool,
            self.name,
            self.symbol,
            if self.transferable {
                "transferable shares"
            } else {
                "fixed split"
            },
            amount::format(self.total_shares.parse().unwrap_or_default(), 18),
            self.manager
                .map_or_else(|| "none (immutable)".to_owned(), |m| m.to_string())
        )];
        if let (Some(account), Some(shares)) = (self.account, &self.account_shares) {
            lines.push(format!(
                "  {account} holds {} shares",
                amount::format(shares.parse().unwrap_or_default(), 18)
            ));
        }
        for t in &self.tokens {
            let units = |s: &str| s.parse::<U256>().unwrap_or_default();
            let mut line = format!(
                "  {}: distributed {}, claimed {}, awaiting distribution {}",
                t.token.symbol,
                t.token.describe(units(&t.received)),
                t.token.describe(units(&t.paid_out)),
                t.token.describe(units(&t.undistributed)),
            );
            if let Some(c) = &t.claimable {
                line.push_str(&format!("; claimable {}", t.token.describe(units(c))));
            }
            lines.push(line);
        }
        lines.join("\n")
    }
}

/// `pool status`.
///
/// # Errors
///
/// Not a pool of the factory, or an RPC error.
pub async fn status(chain: &Chain, args: &StatusArgs) -> Result<PoolStatus> {
    genuine(chain, args.pool).await?;
    let pool = chain.pool(args.pool);
    let account = args.account.or_else(|| chain.sender().ok());
    let name = chain.read("reading the pool", pool.name()).await?;
    let symbol = chain.read("reading the pool", pool.symbol()).await?;
    let transferable = chain.read("reading the pool", pool.transferable()).await?;
    let manager = chain.read("reading the pool", pool.manager()).await?;
    let total = chain.read("reading the pool", pool.totalSupply()).await?;
    let account_shares = match account {
        Some(a) => Some(
            chain
                .read("reading the shares", pool.balanceOf(a))
                .await?
                .to_string(),
        ),
        None => None,
    };
    let mut tokens = Vec::new();
    for address in chain
        .read("reading the pool's tokens", pool.acceptedTokens())
        .await?
    {
        let token = chain.token_info(address).await?;
        let state = chain
            .read("reading the pool", pool.tokenState(address))
            .await?;
        let undistributed = chain
            .read("reading the pool", pool.undistributed(address))
            .await?;
        let claimable = match account {
            Some(a) => Some(
                chain
                    .read("reading the pool", pool.claimable(a, address))
                    .await?
                    .to_string(),
            ),
            None => None,
        };
        tokens.push(PoolToken {
            token,
            received: state.received.to_string(),
            paid_out: state.paidOut.to_string(),
            undistributed: undistributed.to_string(),
            claimable,
        });
    }
    Ok(PoolStatus {
        pool: args.pool,
        name,
        symbol,
        transferable,
        manager: (manager != Address::ZERO).then_some(manager),
        total_shares: total.to_string(),
        account,
        account_shares,
        tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_parse_as_address_and_whole_shares() {
        let (a, s) = parse_member("0x70997970C51812dc3A010C7d01b50e0d17dc79C8=60").unwrap();
        assert_eq!(a.to_string(), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        assert_eq!(s, U256::from(60) * U256::from(10).pow(U256::from(18)));
        assert!(parse_member("0x70997970C51812dc3A010C7d01b50e0d17dc79C8").is_err());
        assert!(parse_member("alice=1").is_err());
        assert!(parse_member("0x70997970C51812dc3A010C7d01b50e0d17dc79C8=-1").is_err());
    }
}
