//! Failure paths: each says what went wrong, with the contract's decoded error and a hint.

use alloy::primitives::U256;
use fairtrain_cli::{
    cmd::{
        license::{self, MintArgs, ShowArgs, UpdateTermsArgs},
        manifest::{self, VerifyArgs},
        payer::{self, AcceptArgs, DepositArgs, SignerCmd, WithdrawCmd},
    },
    opts::RpcOpts,
    render_error,
    templates::Template,
    Chain, CliError,
};
use fairtrain_protocol::{DatasetManifest, ManifestError};

use crate::{
    flow::{amount, global, signed_manifest, terms},
    support::{key, Devnet, CREATOR, PAYER},
};

pub(crate) fn reverted(result: Result<impl std::fmt::Debug, CliError>, name: &str) -> String {
    match result {
        Err(err @ CliError::Reverted { .. }) => {
            let CliError::Reverted { revert, .. } = &err else {
                unreachable!()
            };
            assert_eq!(revert.name, name, "{err}");
            assert!(revert.hint.is_some(), "{name} has a hint");
            render_error(&err)
        }
        other => panic!("expected {name}, got {other:?}"),
    }
}

#[tokio::test]
async fn license_failures_are_decoded() {
    let net = Devnet::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (_, manifest_path) = signed_manifest(&tmp);
    let chain = net.chain(CREATOR).await;
    let mint = |royalty_bps, terms| MintArgs {
        manifest: manifest_path.clone(),
        terms,
        royalty_bps,
        to: None,
    };

    let text = reverted(
        license::mint(&chain, &mint(9_000, terms(Template::Research, "1"))).await,
        "LicenseNFT_RoyaltyTooHigh",
    );
    assert!(text.contains("royaltyBps: 9000, maxBps: 5000"), "{text}");
    assert!(
        text.contains("hint: --royalty-bps 9000 is above the maximum 5000"),
        "{text}"
    );

    let mut expired = terms(Template::Commercial, "1");
    expired.expires = 1_000;
    let text = reverted(
        license::mint(&chain, &mint(0, expired)).await,
        "LicenseNFT_TermsAlreadyExpired",
    );
    assert!(text.contains("1970-01-01 00:16:40 UTC"), "{text}");

    // A price with more decimals than the token has, or above 96 bits.
    for bad in ["0.0000001", "-1", "abc"] {
        assert!(matches!(
            license::mint(&chain, &mint(0, terms(Template::Research, bad))).await,
            Err(CliError::Amount { .. })
        ));
    }
    let mut huge = terms(Template::Research, &"9".repeat(40));
    huge.raw = true;
    assert!(matches!(
        license::mint(&chain, &mint(0, huge)).await,
        Err(CliError::Amount { .. })
    ));
    let mut unknown_token = terms(Template::Research, "1");
    unknown_token.token = Some("DAI".into());
    assert!(matches!(
        license::mint(&chain, &mint(0, unknown_token)).await,
        Err(CliError::Token { .. })
    ));

    // Minting with another key than the manifest's creator.
    let other = net.chain(PAYER).await;
    assert!(matches!(
        license::mint(&other, &mint(0, terms(Template::Research, "1"))).await,
        Err(CliError::Invalid(msg)) if msg.contains("creator")
    ));

    // An unknown license.
    let text = reverted(
        license::show(
            &chain,
            &ShowArgs {
                id: U256::from(999),
            },
        )
        .await,
        "ERC721NonexistentToken",
    );
    assert!(text.contains("license 999 does not exist"), "{text}");

    // A tampered manifest does not verify, and cannot be minted.
    let mut m = DatasetManifest::parse(&std::fs::read(&manifest_path).unwrap()).unwrap();
    m.name = "Street photos (cropped)".into();
    let tampered = tmp.path().join("tampered.json");
    std::fs::write(&tampered, m.to_json()).unwrap();
    let verify = manifest::verify(
        &VerifyArgs {
            manifest: tampered.clone(),
            dir: None,
            license: None,
        },
        &global(&net, None),
    )
    .await;
    assert!(matches!(
        verify,
        Err(CliError::Manifest(ManifestError::SignerMismatch { .. }))
    ));
    let mut args = mint(0, terms(Template::Research, "1"));
    args.manifest = tampered;
    assert!(matches!(
        license::mint(&chain, &args).await,
        Err(CliError::Manifest(ManifestError::SignerMismatch { .. }))
    ));

    // A license of another manifest does not verify against this one.
    let mut to_payer = mint(100, terms(Template::Research, "1"));
    to_payer.to = Some(key(PAYER).address());
    let minted = license::mint(&chain, &to_payer).await.unwrap();
    assert_eq!(minted.txs.len(), 2, "mint + transfer");
    let shown = license::show(
        &chain,
        &ShowArgs {
            id: minted.license_id,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        shown.holder,
        key(PAYER).address(),
        "--to made the payer the holder"
    );
    assert_eq!(shown.royalty_receiver, key(CREATOR).address());

    // Only the holder may change the terms: the creator no longer holds it.
    let text = reverted(
        license::update_terms(
            &chain,
            &UpdateTermsArgs {
                id: minted.license_id,
                terms: terms(Template::Commercial, "2"),
            },
        )
        .await,
        "LicenseNFT_NotHolderOrApproved",
    );
    assert!(text.contains("only the holder of license"), "{text}");
    // The holder may, but not to the same terms.
    reverted(
        license::update_terms(
            &other,
            &UpdateTermsArgs {
                id: minted.license_id,
                terms: terms(Template::Research, "1"),
            },
        )
        .await,
        "LicenseNFT_TermsUnchanged",
    );
    let tmp2 = tempfile::tempdir().unwrap();
    let (_, other_manifest) = signed_manifest(&tmp2);
    let mut m2 = DatasetManifest::parse(&std::fs::read(&other_manifest).unwrap()).unwrap();
    m2.created_at += 1;
    m2.sign(&key(CREATOR)).unwrap();
    std::fs::write(&other_manifest, m2.to_json()).unwrap();
    let result = manifest::verify(
        &VerifyArgs {
            manifest: other_manifest,
            dir: None,
            license: Some(minted.license_id),
        },
        &global(&net, None),
    )
    .await;
    assert!(matches!(
        result,
        Err(CliError::Manifest(ManifestError::LicenseManifest { .. }))
    ));
}

#[tokio::test]
async fn payer_failures_are_decoded() {
    let net = Devnet::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (_, manifest_path) = signed_manifest(&tmp);
    let creator = net.chain(CREATOR).await;
    let id = license::mint(
        &creator,
        &MintArgs {
            manifest: manifest_path,
            terms: terms(Template::Evaluation, "0.01"),
            royalty_bps: 0,
            to: None,
        },
    )
    .await
    .unwrap()
    .license_id;
    let chain = net.chain(PAYER).await;

    // Accepting before depositing is fine; accepting twice is not.
    payer::accept(
        &chain,
        &AcceptArgs {
            license_id: id,
            terms: None,
        },
    )
    .await
    .unwrap();
    reverted(
        payer::accept(
            &chain,
            &AcceptArgs {
                license_id: id,
                terms: None,
            },
        )
        .await,
        "TrainingEscrow_AlreadyAccepted",
    );
    let text = reverted(
        payer::accept(
            &chain,
            &AcceptArgs {
                license_id: id,
                terms: Some(7),
            },
        )
        .await,
        "TrainingEscrow_TermsNotCurrent",
    );
    assert!(text.contains("accept --terms 1"), "{text}");

    // Exclusive, capped, expiring terms: recorded as given; another payer cannot accept them.
    let tmp2 = tempfile::tempdir().unwrap();
    let (_, exclusive_manifest) = signed_manifest(&tmp2);
    let mut m = DatasetManifest::parse(&std::fs::read(&exclusive_manifest).unwrap()).unwrap();
    m.name = "Exclusive set".into();
    m.sign(&key(CREATOR)).unwrap();
    std::fs::write(&exclusive_manifest, m.to_json()).unwrap();
    let expires = chain.now().await.unwrap() + 30 * 86_400;
    let mut exclusive = terms(Template::Commercial, "0.25");
    exclusive.exclusive = Some(key(4).address());
    exclusive.max_samples = 1_000_000;
    exclusive.expires = expires;
    exclusive.uri = "ipfs://terms".into();
    let exclusive_id = license::mint(
        &creator,
        &MintArgs {
            manifest: exclusive_manifest,
            terms: exclusive,
            royalty_bps: 0,
            to: None,
        },
    )
    .await
    .unwrap()
    .license_id;
    let shown = license::show(&chain, &ShowArgs { id: exclusive_id })
        .await
        .unwrap();
    assert_eq!(shown.terms.exclusive_licensee, key(4).address());
    assert_eq!(
        (shown.terms.max_samples, shown.terms.expires_at),
        (1_000_000, expires)
    );
    assert_eq!(shown.terms.price_per_sample, "250000");
    assert_eq!(shown.terms.uri, "ipfs://terms");
    let text = reverted(
        payer::accept(
            &chain,
            &AcceptArgs {
                license_id: exclusive_id,
                terms: None,
            },
        )
        .await,
        "TrainingEscrow_ExclusiveToAnother",
    );
    assert!(
        text.contains("exclusive to 0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
        "{text}"
    );

    // Depositing more than the wallet holds: the token's error.
    let text = reverted(
        payer::deposit(
            &chain,
            &DepositArgs {
                amount: amount("5"),
                permit: true,
                permit_ttl: 60,
            },
        )
        .await,
        "ERC20InsufficientBalance",
    );
    assert!(text.contains("needed: 5000000"), "{text}");

    // Without a permit, the wallet is checked before any approval is sent.
    let result = payer::deposit(
        &chain,
        &DepositArgs {
            amount: amount("5"),
            permit: false,
            permit_ttl: 60,
        },
    )
    .await;
    assert!(
        matches!(result, Err(CliError::Invalid(ref msg)) if msg.contains("holds 0 fUSD (0 base units) but the deposit needs 5 fUSD")),
        "{result:?}"
    );
    let erc20 = chain.erc20(chain.deployment.payment_tokens[0]);
    let allowance = erc20
        .allowance(key(PAYER).address(), chain.deployment.training_escrow)
        .call()
        .await
        .unwrap();
    assert_eq!(allowance, U256::ZERO, "no approval was sent");

    // Withdrawals: none requested; zero.
    reverted(
        payer::withdraw(
            &chain,
            &WithdrawCmd::Execute {
                token: None,
                to: None,
            },
        )
        .await,
        "TrainingEscrow_NoWithdrawalRequested",
    );
    reverted(
        payer::withdraw(&chain, &WithdrawCmd::Request(amount("0"))).await,
        "TrainingEscrow_ZeroAmount",
    );

    // Keys: revoking an unknown key; cancelling a revocation that is not pending, or that took
    // effect.
    let k = key(3).address();
    reverted(
        payer::signer(&chain, &SignerCmd::Revoke { signer: k }).await,
        "TrainingEscrow_SignerNotActive",
    );
    assert!(matches!(
        payer::signer(&chain, &SignerCmd::CancelRevocation { signer: k }).await,
        Err(CliError::Invalid(msg)) if msg.contains("no pending revocation")
    ));
    payer::signer(&chain, &SignerCmd::Register { signer: k })
        .await
        .unwrap();
    payer::signer(&chain, &SignerCmd::Revoke { signer: k })
        .await
        .unwrap();
    net.advance(crate::support::NOTICE).await;
    assert!(matches!(
        payer::signer(&chain, &SignerCmd::CancelRevocation { signer: k }).await,
        Err(CliError::Invalid(msg)) if msg.contains("can never be registered again")
    ));
    let text = reverted(
        payer::signer(&chain, &SignerCmd::Register { signer: k }).await,
        "TrainingEscrow_SignerRevoked",
    );
    assert!(text.contains("register a new key"), "{text}");
}

#[tokio::test]
async fn setup_failures_say_what_to_do() {
    let net = Devnet::start().await;
    // No key for a command that signs.
    let chain = Chain::connect(&net.rpc(), None).await.unwrap();
    assert!(matches!(
        payer::withdraw(&chain, &WithdrawCmd::Cancel { token: None }).await,
        Err(CliError::NoKey)
    ));
    // A node that is not there.
    let err = Chain::connect(&RpcOpts::new("http://127.0.0.1:1", None), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CliError::Rpc { .. }));
    assert!(render_error(&err).contains("hint: check that the node"));
    // A deployment file for another chain.
    let wrong = tempfile::NamedTempFile::new().unwrap();
    let text = std::fs::read_to_string(net.deployment())
        .unwrap()
        .replace("31337", "1");
    std::fs::write(wrong.path(), text).unwrap();
    let err = Chain::connect(
        &RpcOpts::new(net.url(), Some(wrong.path().to_owned())),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CliError::Deployment { ref reason, .. } if reason.contains("chain 1")));
}
