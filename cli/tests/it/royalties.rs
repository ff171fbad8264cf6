//! Streams and pools through the library functions, with exact amounts: a payer streams to a
//! license (create, withdraw, top-up, adjust, pause, restart, cancel, withdraw-owed), and a
//! license held by a pool of two members pays the pool, which distributes and pays each member
//! its share to the unit. Every refusal is a decoded error with a hint.

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use fairtrain_cli::{
    chain::Sent,
    cmd::{
        license::{self, MintArgs},
        pool::{self, ClaimArgs, CreateArgs as PoolCreateArgs, LicenseArgs, StatusArgs, TokenArgs},
        stream::{
            self, CreateArgs, EnableArgs, Per, RateArgs, RateChangeArgs, RestartArgs, StreamIdArgs,
            TopUpArgs, WithdrawOwedArgs,
        },
    },
    templates::Template,
    Chain, CliError,
};
use fairtrain_protocol::bindings::IERC20Permit;

use crate::{
    failures::reverted,
    flow::{signed_manifest, terms},
    support::{key, Devnet, CREATOR, PAYER},
};

/// One fUSD in base units.
const FUSD: u64 = 1_000_000;
/// A third account: the second member of the pool.
const MEMBER: usize = 3;

/// Mints a research license of a fresh manifest for the creator; returns its id.
pub(crate) async fn mint(net: &Devnet, tmp: &tempfile::TempDir) -> U256 {
    let (_, manifest) = signed_manifest(tmp);
    license::mint(
        &net.chain(CREATOR).await,
        &MintArgs {
            manifest,
            terms: terms(Template::Research, "0.001"),
            royalty_bps: 500,
            to: None,
        },
    )
    .await
    .unwrap()
    .license_id
}

pub(crate) async fn wallet(chain: &Chain, of: Address) -> U256 {
    let token = chain.deployment.payment_tokens[0];
    IERC20Permit::new(token, chain.provider().clone())
        .balanceOf(of)
        .call()
        .await
        .unwrap()
}

/// The timestamp of the block a transaction was mined in.
async fn at(chain: &Chain, tx: &Sent) -> u64 {
    chain
        .provider()
        .get_block_by_number(tx.block.into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}

fn create_args(license: U256, rate: RateArgs, deposit: &str) -> CreateArgs {
    CreateArgs {
        license_id: license,
        rate,
        deposit: deposit.into(),
        raw: false,
        token: None,
        start: 0,
        end: 0,
        operator: None,
    }
}

fn id(s: U256) -> StreamIdArgs {
    StreamIdArgs { stream_id: s }
}

#[tokio::test]
async fn a_stream_pays_the_holder_to_the_unit_and_refunds_the_rest() {
    let net = Devnet::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let license = mint(&net, &tmp).await;
    let creator = key(CREATOR).address();
    let payer_addr = key(PAYER).address();
    net.fund(payer_addr, 1000).await;
    let payer = net.chain(PAYER).await;
    let anyone = net.chain(MEMBER).await;
    let creator_before = wallet(&payer, creator).await;
    let payer_before = wallet(&payer, payer_addr).await;

    // Streams need the holder's consent: refused before anything is sent, and only the holder
    // (not the payer) enables them.
    assert!(matches!(
        stream::create(
            &payer,
            &create_args(license, RateArgs::per("1", Per::Second), "100"),
        )
        .await,
        Err(CliError::Invalid(_))
    ));
    let err = reverted(
        stream::enable(
            &payer,
            &EnableArgs {
                license_id: license,
            },
        )
        .await,
        "RoyaltyStreams_NotHolderOrApproved",
    );
    assert!(err.contains("only the holder of license"), "{err}");
    let enabled = stream::enable(
        &net.chain(CREATOR).await,
        &EnableArgs {
            license_id: license,
        },
    )
    .await
    .unwrap();
    assert_eq!(enabled.details["holder"], serde_json::json!(creator));
    assert!(matches!(
        stream::enable(
            &payer,
            &EnableArgs {
                license_id: license
            }
        )
        .await,
        Err(CliError::Invalid(_))
    ));

    // 1 fUSD per second, 100 fUSD deposited: approve + create.
    let created = stream::create(
        &payer,
        &create_args(license, RateArgs::per("1", Per::Second), "100"),
    )
    .await
    .unwrap();
    assert_eq!(created.txs.len(), 2, "approve, create");
    let sid: U256 = created.details["streamId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        created.details["ratePerSecond"],
        (u128::from(FUSD) * 1_000_000_000_000_000_000).to_string()
    );
    let t_create = at(&payer, created.txs.last().unwrap()).await;

    // Ten seconds later anyone withdraws for the holder: exactly 1 fUSD per elapsed second.
    net.advance(10).await;
    let w = stream::withdraw(&anyone, &id(sid)).await.unwrap();
    let t_withdraw = at(&payer, &w.txs[0]).await;
    let first = (t_withdraw - t_create) * FUSD;
    assert!(t_withdraw - t_create >= 10);
    assert_eq!(w.details["amount"], first.to_string());
    assert_eq!(w.details["holder"], serde_json::json!(creator));
    assert_eq!(
        wallet(&payer, creator).await - creator_before,
        U256::from(first)
    );

    // Top-up by anyone... here the payer: 50 fUSD more.
    let topped = stream::top_up(
        &payer,
        &TopUpArgs {
            stream_id: sid,
            amount: "50".into(),
            raw: false,
        },
    )
    .await
    .unwrap();
    let t_topup = at(&payer, topped.txs.last().unwrap()).await;
    assert_eq!(
        topped.details["balance"],
        (150 * FUSD - (t_topup - t_create) * FUSD).to_string(),
        "the balance is what was deposited less what accrued"
    );

    // Only the payer (or an operator) pauses.
    let err = reverted(
        stream::pause(&anyone, &id(sid)).await,
        "RoyaltyStreams_NotPayerOrOperator",
    );
    assert!(
        err.contains("only the payer or the operator of stream"),
        "{err}"
    );

    // Double the rate, pause, restart at the same rate (no rate given), cancel.
    let adjusted = stream::adjust(
        &payer,
        &RateChangeArgs {
            stream_id: sid,
            rate: RateArgs::per("2", Per::Second),
            raw: false,
        },
    )
    .await
    .unwrap();
    let t_adjust = at(&payer, &adjusted.txs[0]).await;
    net.advance(5).await;
    let paused = stream::pause(&payer, &id(sid)).await.unwrap();
    let t_pause = at(&payer, &paused.txs[0]).await;
    let status = stream::status(&payer, &id(sid)).await.unwrap();
    assert_eq!(status.state, "paused");
    assert_eq!(status.holder, creator);
    assert_eq!(
        status.rate_per_second,
        (2 * u128::from(FUSD) * 1_000_000_000_000_000_000).to_string()
    );
    let err = reverted(
        stream::adjust(
            &payer,
            &RateChangeArgs {
                stream_id: sid,
                rate: RateArgs::per("3", Per::Second),
                raw: false,
            },
        )
        .await,
        "RoyaltyStreams_NotActive",
    );
    assert!(err.contains("is paused"), "{err}");
    net.advance(100).await; // paused: nothing accrues
    let restarted = stream::restart(
        &payer,
        &RestartArgs {
            stream_id: sid,
            rate: None,
            per: Per::Day,
            rate_wad: None,
            raw: false,
        },
    )
    .await
    .unwrap();
    let t_restart = at(&payer, &restarted.txs[0]).await;
    reverted(
        stream::restart(
            &payer,
            &RestartArgs {
                stream_id: sid,
                rate: None,
                per: Per::Day,
                rate_wad: None,
                raw: false,
            },
        )
        .await,
        "RoyaltyStreams_NotPaused",
    );
    net.advance(7).await;
    let cancelled = stream::cancel(&payer, &id(sid)).await.unwrap();
    let t_cancel = at(&payer, &cancelled.txs[0]).await;

    // The payer's operations (adjust, pause, cancel) each booked what had accrued to the
    // holder's owed balance; the rest came back to the payer, to the unit.
    let accrued_after = (t_adjust - t_withdraw) * FUSD
        + (t_pause - t_adjust) * 2 * FUSD
        + (t_cancel - t_restart) * 2 * FUSD;
    assert_eq!(
        cancelled.details["creditedToHolders"],
        ((t_cancel - t_restart) * 2 * FUSD).to_string()
    );
    let refund = 150 * FUSD - first - accrued_after;
    assert_eq!(cancelled.details["refunded"], refund.to_string());
    assert_eq!(cancelled.details["uncoveredDebt"], "0");
    let owed = stream::withdraw_owed(
        &anyone,
        &WithdrawOwedArgs {
            account: Some(creator),
            token: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(owed.details["amount"], accrued_after.to_string());
    assert_eq!(
        wallet(&payer, creator).await - creator_before,
        U256::from(first + accrued_after)
    );
    assert_eq!(
        payer_before - wallet(&payer, payer_addr).await,
        U256::from(first + accrued_after),
        "the payer paid exactly what the creator received"
    );
    let streams = payer.deployment.royalty_streams.unwrap();
    assert_eq!(wallet(&payer, streams).await, U256::ZERO);

    // A cancelled stream takes no more money; nothing more is owed; no start in the past.
    reverted(
        stream::top_up(
            &payer,
            &TopUpArgs {
                stream_id: sid,
                amount: "1".into(),
                raw: false,
            },
        )
        .await,
        "RoyaltyStreams_StreamCancelled",
    );
    assert!(matches!(
        stream::withdraw_owed(
            &anyone,
            &WithdrawOwedArgs {
                account: Some(creator),
                token: None
            }
        )
        .await,
        Err(CliError::Invalid(_))
    ));
    let mut past = create_args(license, RateArgs::per("1", Per::Day), "0");
    past.start = 1_000;
    let err = reverted(
        stream::create(&payer, &past).await,
        "RoyaltyStreams_StartInPast",
    );
    assert!(err.contains("is before the chain's time"), "{err}");
    assert!(matches!(
        stream::status(&payer, &id(U256::from(99))).await,
        Err(CliError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_pool_holding_a_license_pays_its_members_to_the_unit() {
    let net = Devnet::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let license = mint(&net, &tmp).await;
    let creator = net.chain(CREATOR).await;
    let member = net.chain(MEMBER).await;
    let (a, b) = (key(CREATOR).address(), key(MEMBER).address());

    // Bad members are refused by the pool with a hint.
    let mut args = PoolCreateArgs {
        name: "Street photos shares".into(),
        symbol: "PHOTO".into(),
        members: vec![format!("{a}=60"), format!("{b}=0")],
        tokens: vec![],
        fixed: false,
        manager: None,
    };
    reverted(
        pool::create(&creator, &args).await,
        "RevenuePool_BadMembers",
    );
    args.members[1] = format!("{b}=40");
    let created = pool::create(&creator, &args).await.unwrap();
    let addr: Address = serde_json::from_value(created.details["pool"].clone()).unwrap();

    // Only the holder moves the license in; then usage and streams pay the pool.
    assert!(matches!(
        pool::add_license(
            &member,
            &LicenseArgs {
                pool: addr,
                license_id: license
            }
        )
        .await,
        Err(CliError::Invalid(_))
    ));
    // Moving it in also lets payers stream to it (through the pool, its holder now).
    let added = pool::add_license(
        &creator,
        &LicenseArgs {
            pool: addr,
            license_id: license,
        },
    )
    .await
    .unwrap();
    assert_eq!(added.txs.len(), 2, "safeTransferFrom, enableStreams");
    // Resale royalties: only the creator routes them.
    let err = reverted(
        pool::route_royalties(
            &member,
            &LicenseArgs {
                pool: addr,
                license_id: license,
            },
        )
        .await,
        "LicenseNFT_NotCreator",
    );
    assert!(err.contains("only the creator of license"), "{err}");
    pool::route_royalties(
        &creator,
        &LicenseArgs {
            pool: addr,
            license_id: license,
        },
    )
    .await
    .unwrap();
    let (receiver, royalty) = {
        let r = creator
            .nft()
            .royaltyInfo(license, U256::from(10_000))
            .call()
            .await
            .unwrap();
        (r.receiver, r.amount)
    };
    assert_eq!((receiver, royalty), (addr, U256::from(500)));
    // Not a pool of the factory: refused before anything is sent.
    assert!(matches!(
        pool::distribute(
            &creator,
            &TokenArgs {
                pool: a,
                token: None
            }
        )
        .await,
        Err(CliError::Invalid(_))
    ));

    // A payer streams 1 fUSD/s to the license for a while; the withdrawal pays the pool.
    let payer = net.chain(PAYER).await;
    net.fund(key(PAYER).address(), 1000).await;
    let created = stream::create(
        &payer,
        &create_args(license, RateArgs::per("1", Per::Second), "100"),
    )
    .await
    .unwrap();
    let sid: U256 = created.details["streamId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    net.advance(33).await;
    let w = stream::withdraw(&member, &id(sid)).await.unwrap();
    assert_eq!(w.details["holder"], serde_json::json!(addr));
    let income: u64 = w.details["amount"].as_str().unwrap().parse().unwrap();
    assert!(income >= 33 * FUSD);
    // One odd unit sent directly: income need not divide evenly.
    let token = creator.deployment.payment_tokens[0];
    IERC20Permit::new(token, payer.provider().clone())
        .transfer(addr, U256::from(1))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let income = income + 1;

    let distributed = pool::distribute(
        &member,
        &TokenArgs {
            pool: addr,
            token: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(distributed.details["amount"], income.to_string());
    let a_before = wallet(&creator, a).await;
    let claim = |account| ClaimArgs {
        target: TokenArgs {
            pool: addr,
            token: None,
        },
        account: Some(account),
        distribute: false,
    };
    let paid_a = pool::claim(&member, &claim(a)).await.unwrap();
    let paid_b = pool::claim(&member, &claim(b)).await.unwrap();
    let (share_a, share_b) = (income * 60 / 100, income * 40 / 100);
    assert_eq!(paid_a.details["amount"], share_a.to_string());
    assert_eq!(paid_b.details["amount"], share_b.to_string());
    assert_eq!(wallet(&creator, a).await - a_before, U256::from(share_a));
    // The unit that does not divide stays in the pool, booked to the members' remainders.
    assert_eq!(
        wallet(&creator, addr).await,
        U256::from(income - share_a - share_b)
    );
    let status = pool::status(
        &creator,
        &StatusArgs {
            pool: addr,
            account: Some(b),
        },
    )
    .await
    .unwrap();
    assert!(status.transferable);
    assert_eq!(status.total_shares, (100u128 * 10u128.pow(18)).to_string());
    assert_eq!(status.tokens[0].received, income.to_string());
    assert_eq!(status.tokens[0].paid_out, (share_a + share_b).to_string());
    assert_eq!(status.tokens[0].claimable.as_deref(), Some("0"));

    // Nothing left to claim: said plainly; a token the pool does not take: decoded.
    assert!(matches!(
        pool::claim(&member, &claim(b)).await,
        Err(CliError::Invalid(_))
    ));
    let err = reverted(
        pool::distribute(
            &member,
            &TokenArgs {
                pool: addr,
                token: Some(addr.to_string()),
            },
        )
        .await,
        "RevenuePool_TokenNotAccepted",
    );
    assert!(err.contains("does not distribute"), "{err}");
}
