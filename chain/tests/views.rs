//! View reads at one block ([`Views`]) on a devnet: through Multicall3 (which the deploy script
//! puts on anvil) and, once its code is removed, call by call; the same answers for every key,
//! across several Multicall3 calls, and a reverted read fails the whole read either way.

use alloy::{
    eips::BlockId,
    primitives::{Address, U256},
    sol,
};
use fairtrain_chain::{views::CALLS_PER_MULTICALL, views::MULTICALL3, Views};
use fairtrain_testkit::Devnet;

sol! {
    function balanceOf(address account) external view returns (uint256);
    function ownerOf(uint256 tokenId) external view returns (address);
}

/// Ten holders with distinct balances, read under more keys than one Multicall3 call carries:
/// `(key, holder, balance)`.
async fn holders(devnet: &Devnet) -> Vec<(usize, Address, U256)> {
    let mut balances = Vec::new();
    for i in 0..10u64 {
        let holder = Address::left_padding_from(&(0xa000 + i).to_be_bytes());
        let amount = U256::from(1_000 + i);
        devnet.mint(holder, amount).await;
        balances.push((holder, amount));
    }
    (0..CALLS_PER_MULTICALL * 2 + 7)
        .map(|key| {
            let (holder, amount) = balances[key % balances.len()];
            (key, holder, amount)
        })
        .collect()
}

/// Reads every balance of `expected` from `token` through `views`, then a read that reverts
/// (`ownerOf` of a license `nft` never minted).
async fn read(views: &Views, token: Address, nft: Address, expected: &[(usize, Address, U256)]) {
    let answers = views
        .read_all(
            expected
                .iter()
                .map(|&(key, holder, _)| (key, token, balanceOfCall { account: holder }))
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(answers.len(), expected.len());
    for (key, _, amount) in expected {
        assert_eq!(answers[key], *amount, "key {key}");
    }
    // A reverted read fails the whole read.
    let failed = views
        .read_all(vec![(
            0usize,
            nft,
            ownerOfCall {
                tokenId: U256::from(999_999),
            },
        )])
        .await;
    assert!(failed.is_err(), "{failed:?}");
}

#[tokio::test]
async fn reads_agree_with_and_without_multicall3() {
    let devnet = Devnet::start().await;
    let nft = devnet.deployment.license_nft;
    let expected = holders(&devnet).await;
    let at = BlockId::number(devnet.head().await);

    let views = Views::at(&devnet.provider, at).await.unwrap();
    assert!(views.batched(), "the devnet has Multicall3");
    read(&views, devnet.token(), nft, &expected).await;

    devnet
        .rpc("anvil_setCode", serde_json::json!([MULTICALL3, "0x"]))
        .await;
    devnet.mine(1).await;
    let head = BlockId::number(devnet.head().await);
    let views = Views::at(&devnet.provider, head).await.unwrap();
    assert!(!views.batched(), "no Multicall3 code at the head");
    read(&views, devnet.token(), nft, &expected).await;
}
