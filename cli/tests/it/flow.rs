//! The creator and payer flow through the library functions.

use std::path::PathBuf;

use alloy::{
    primitives::{keccak256, U256},
    sol_types::SolValue,
};
use fairtrain_cli::{
    cmd::{
        creator::{self, EarningsArgs, SettleArgs},
        license::{self, MintArgs, ShowArgs, TermsArgs, UpdateTermsArgs},
        manifest::{self, BuildArgs, ProveArgs, SignArgs, VerifyArgs},
        payer::{
            self, AcceptArgs, AmountArgs, CreditAmountArgs, CreditCmd, DepositArgs, LineArgs,
            SignerCmd, StatusArgs, WithdrawCmd,
        },
    },
    opts::{GlobalOpts, KeyOpts},
    templates::Template,
    CliError,
};
use fairtrain_protocol::{EscrowDomain, Receipt, SignedReceipt};

use crate::support::{dataset, key, Devnet, CREATOR, KEYS, NOTICE, PAYER};

pub(crate) fn terms(template: Template, price: &str) -> TermsArgs {
    TermsArgs {
        template,
        price: price.into(),
        raw: false,
        unit: fairtrain_protocol::pricing::Unit::Sample,
        token: None,
        max_samples: 0,
        expires: 0,
        uri: String::new(),
        exclusive: None,
    }
}

pub(crate) fn amount(value: &str) -> AmountArgs {
    AmountArgs {
        amount: value.into(),
        raw: false,
        token: None,
    }
}

/// Builds and signs a manifest of a fresh dataset folder; returns (folder, manifest path).
pub(crate) fn signed_manifest(tmp: &tempfile::TempDir) -> (PathBuf, PathBuf) {
    let dir = tmp.path().join("data");
    dataset(&dir);
    let out = tmp.path().join("manifest.json");
    let report = manifest::build(
        &BuildArgs {
            dir: dir.clone(),
            name: "Street photos".into(),
            description: "Lisbon, 2025".into(),
            meta: vec!["camera=X100".into(), "city=Lisbon".into()],
            device: None,
            creator: None,
            created_at: Some(1_750_000_000),
            sign: false,
            out: out.clone(),
        },
        Some(&key(CREATOR)),
    )
    .unwrap();
    assert!(!report.signed);
    assert_eq!(report.file_count, 4);
    let report = manifest::sign(
        &SignArgs {
            manifest: out.clone(),
            out: None,
        },
        &key(CREATOR),
    )
    .unwrap();
    assert!(report.signed);
    (dir, out)
}

pub(crate) fn global(net: &Devnet, account: Option<usize>) -> GlobalOpts {
    GlobalOpts {
        rpc: net.rpc(),
        key: account.map_or_else(KeyOpts::default, |i| KeyOpts::private_key(KEYS[i])),
        json: false,
    }
}

#[tokio::test]
async fn creator_and_payer_flow() {
    let net = Devnet::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (dir, manifest_path) = signed_manifest(&tmp);

    // Offline verification of the document and the folder.
    let verified = manifest::verify(
        &VerifyArgs {
            manifest: manifest_path.clone(),
            dir: Some(dir.clone()),
            license: None,
        },
        &global(&net, None),
    )
    .await
    .unwrap();
    assert_eq!(verified.creator, key(CREATOR).address());

    // One file proven part of the manifest.
    let proof = manifest::prove(&ProveArgs {
        manifest: manifest_path.clone(),
        path: "images/002.jpg".into(),
    })
    .unwrap();
    assert_eq!(proof.file.hash, keccak256(b"jpeg two"));
    assert!(fairtrain_protocol::manifest::verify_file(
        &proof.proof,
        proof.files_root,
        &proof.file
    ));
    assert!(matches!(
        manifest::prove(&ProveArgs {
            manifest: manifest_path.clone(),
            path: "images/003.jpg".into(),
        }),
        Err(CliError::Invalid(_))
    ));

    // Mint one license per template.
    let creator_chain = net.chain(CREATOR).await;
    let mut ids = Vec::new();
    for (template, kind) in [
        (Template::Research, "research-only"),
        (Template::Commercial, "commercial"),
        (Template::Evaluation, "evaluation"),
        (Template::AttributionShareAlike, "attribution-share-alike"),
    ] {
        let minted = license::mint(
            &creator_chain,
            &MintArgs {
                manifest: manifest_path.clone(),
                terms: terms(template, "0.001"),
                royalty_bps: 500,
                to: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(minted.manifest_hash, verified.manifest_hash);
        let shown = license::show(
            &creator_chain,
            &ShowArgs {
                id: minted.license_id,
            },
        )
        .await
        .unwrap();
        assert_eq!(shown.terms.kind, kind);
        assert_eq!(shown.terms.price_per_sample, "1000");
        assert_eq!(shown.terms.token.symbol, "fUSD");
        assert_eq!(shown.holder, key(CREATOR).address());
        assert_eq!(shown.royalty_bps, 500);
        assert_eq!(shown.royalty_receiver, key(CREATOR).address());
        assert_eq!(shown.manifest_hash, verified.manifest_hash);
        ids.push(minted.license_id);
    }
    let flags = |t: Template| t.flags();
    assert!(!flags(Template::Research).commercial_use);
    assert_eq!(ids, (1..=4).map(U256::from).collect::<Vec<_>>());

    // The license verifies against the manifest on-chain.
    manifest::verify(
        &VerifyArgs {
            manifest: manifest_path.clone(),
            dir: Some(dir.clone()),
            license: Some(ids[0]),
        },
        &global(&net, None),
    )
    .await
    .unwrap();

    // Update the terms of license 2: a new version and terms id.
    let updated = license::update_terms(
        &creator_chain,
        &UpdateTermsArgs {
            id: ids[1],
            terms: terms(Template::Commercial, "0.002"),
        },
    )
    .await
    .unwrap();
    assert_eq!(updated.version, 2);

    // The payer funds its wallet, then deposits with and without a permit.
    let payer_chain = net.chain(PAYER).await;
    let payer_addr = key(PAYER).address();
    net.fund(payer_addr, 1_000).await;
    let d1 = payer::deposit(
        &payer_chain,
        &DepositArgs {
            amount: amount("100"),
            permit: false,
            permit_ttl: 3600,
        },
    )
    .await
    .unwrap();
    assert_eq!(d1.txs.len(), 2, "approve + deposit");
    let d2 = payer::deposit(
        &payer_chain,
        &DepositArgs {
            amount: amount("50.5"),
            permit: true,
            permit_ttl: 3600,
        },
    )
    .await
    .unwrap();
    assert_eq!(d2.txs.len(), 1, "one depositWithPermit");
    assert_eq!(d2.details["available"], "150500000");
    assert!(d2.summary.contains("50.5 fUSD (50500000 base units)"));

    // Accept license 1's current terms.
    let accepted = payer::accept(
        &payer_chain,
        &AcceptArgs {
            license_id: ids[0],
            terms: None,
        },
    )
    .await
    .unwrap();
    let chargeable_from = accepted.details["chargeableFrom"].as_u64().unwrap();
    assert_eq!(chargeable_from, payer_chain.now().await.unwrap() + NOTICE);

    // Keys: register, revoke, cancel the revocation.
    let signer = key(3);
    for cmd in [
        SignerCmd::Register {
            signer: signer.address(),
        },
        SignerCmd::Revoke {
            signer: signer.address(),
        },
    ] {
        payer::signer(&payer_chain, &cmd).await.unwrap();
    }
    let status = payer::status(&payer_chain, &StatusArgs { address: None })
        .await
        .unwrap();
    assert!(status.signers[0].revoked_at > 0);
    let cancelled = payer::signer(
        &payer_chain,
        &SignerCmd::CancelRevocation {
            signer: signer.address(),
        },
    )
    .await
    .unwrap();
    assert!(
        cancelled.summary.contains("is active since"),
        "{}",
        cancelled.summary
    );

    // Relayers: credit lines for two, 10 and 5 fUSD (twice 2.5).
    let (r1, r2) = (key(4).address(), key(0).address());
    let fund = |relayer, amount: &str| {
        CreditCmd::Fund(CreditAmountArgs {
            line: LineArgs {
                relayer,
                token: None,
            },
            amount: amount.into(),
            raw: false,
        })
    };
    let funded = payer::credit(&payer_chain, &fund(r1, "10")).await.unwrap();
    assert_eq!(funded.details["line"]["credit"], "10000000");
    assert!(
        funded
            .summary
            .contains("moved 10 fUSD (10000000 base units)"),
        "{}",
        funded.summary
    );
    for _ in 0..2 {
        payer::credit(&payer_chain, &fund(r2, "2.5")).await.unwrap();
    }

    // A receipt signed by the registered key cannot be settled before the acceptance is
    // chargeable: the decoded error says when it will be.
    let domain = EscrowDomain::new(31337, payer_chain.deployment.training_escrow);
    let receipt = Receipt {
        payer: payer_addr,
        licenseId: ids[0],
        termsId: accepted.details["termsId"].as_u64().unwrap(),
        runId: keccak256("run-1"),
        cumulativeSamples: 1000,
        issuedAt: payer_chain.now().await.unwrap(),
    };
    let signed = SignedReceipt::sign(&domain, &signer, &receipt).unwrap();
    let receipt_path = tmp.path().join("receipt.json");
    std::fs::write(&receipt_path, serde_json::to_string(&signed).unwrap()).unwrap();
    let settle_args = SettleArgs {
        receipt: receipt_path,
    };
    match creator::settle(&creator_chain, &settle_args).await {
        Err(CliError::Reverted { revert, .. }) => {
            assert_eq!(revert.name, "TrainingEscrow_AcceptanceNotChargeable");
            let when = fairtrain_cli::time::utc(chargeable_from);
            assert_eq!(
                revert.hint.as_deref().unwrap(),
                format!("terms become chargeable after the notice period, at {chargeable_from} ({when})")
            );
        }
        other => panic!("expected AcceptanceNotChargeable, got {other:?}"),
    }

    // Ask to withdraw 20 fUSD.
    let requested = payer::withdraw(&payer_chain, &WithdrawCmd::Request(amount("20")))
        .await
        .unwrap();
    let unlock_at = requested.details["unlockAt"].as_u64().unwrap();

    let status = payer::status(&payer_chain, &StatusArgs { address: None })
        .await
        .unwrap();
    assert_eq!(status.payer, payer_addr);
    let fusd = &status.tokens[0];
    assert_eq!(fusd.available, "135500000");
    assert_eq!(fusd.credit, "15000000");
    assert_eq!(fusd.reserved, "0");
    assert_eq!(fusd.wallet, "849500000");
    let w = fusd.withdrawal.as_ref().unwrap();
    assert_eq!(
        (w.amount.as_str(), w.state, w.unlock_at),
        ("20000000", "locked", unlock_at)
    );
    assert_eq!(status.acceptances.len(), 1);
    assert!(!status.acceptances[0].chargeable);
    assert_eq!(status.signers.len(), 1);
    assert_eq!(status.signers[0].revoked_at, 0);
    let lines: Vec<_> = fusd
        .credit_lines
        .iter()
        .map(|l| {
            (
                l.relayer,
                l.credit.as_str(),
                l.reserved.as_str(),
                l.reserved_until,
            )
        })
        .collect();
    assert_eq!(lines, [(r1, "10000000", "0", 0), (r2, "5000000", "0", 0)]);
    assert!(fusd.credit_lines.iter().all(|l| l.reduction.is_none()));

    // Before the notice period: the decoded error names the unlock time.
    match payer::withdraw(
        &payer_chain,
        &WithdrawCmd::Execute {
            token: None,
            to: None,
        },
    )
    .await
    {
        Err(CliError::Reverted { revert, .. }) => {
            assert_eq!(revert.name, "TrainingEscrow_WithdrawalLocked");
            let unlock = fairtrain_cli::time::utc(unlock_at);
            assert!(revert.hint.as_deref().unwrap().contains(&unlock));
            assert!(revert
                .fields
                .iter()
                .any(|(k, v)| k == "unlockAt" && v.contains(&unlock)));
        }
        other => panic!("expected WithdrawalLocked, got {other:?}"),
    }

    // After the notice period: usage becomes chargeable, the withdrawal executable.
    net.advance(NOTICE).await;
    let done = payer::withdraw(
        &payer_chain,
        &WithdrawCmd::Execute {
            token: None,
            to: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(done.details["amount"], "20000000");

    // Settle the signed receipt directly (the escape hatch anyone may call), then the creator
    // sees the payout: 1000 samples at 0.001 fUSD = 1 fUSD, 2.5 % fee. Settling it again pays
    // nothing.
    let settled = creator::settle(&creator_chain, &settle_args).await.unwrap();
    assert!(settled.paid);
    assert_eq!(settled.signer, signer.address());
    assert_eq!(settled.payee, Some(key(CREATOR).address()));
    assert_eq!(
        (
            settled.samples_charged,
            settled.amount.as_str(),
            settled.fee.as_str()
        ),
        (1000, "1000000", "25000")
    );
    assert!(
        settled
            .summary
            .contains("0.975 fUSD (975000 base units) paid to"),
        "{}",
        settled.summary
    );
    let again = creator::settle(&creator_chain, &settle_args).await.unwrap();
    assert!(!again.paid);
    assert_eq!(again.usage_key, receipt.usage_key());
    let earnings = creator::earnings(&creator_chain, &EarningsArgs { address: None })
        .await
        .unwrap();
    assert_eq!(earnings.licenses_created, ["1", "2", "3", "4"]);
    assert_eq!(earnings.licenses.len(), 1);
    let l = &earnings.licenses[0];
    assert_eq!(
        (l.license_id.as_str(), l.samples, l.settlements),
        ("1", 1000, 1)
    );
    assert_eq!(l.charged, "1");
    assert_eq!(l.fees, "0.025");
    assert_eq!(l.received, "975000");
    assert_eq!(earnings.total_received["fUSD"], "0.975");

    let status = payer::status(&payer_chain, &StatusArgs { address: None })
        .await
        .unwrap();
    let a = &status.acceptances[0];
    assert!(a.chargeable);
    assert_eq!(a.samples_charged, None, "uncapped terms count no samples");
    let t = &status.tokens[0];
    assert_eq!(t.available, "114500000");
    assert_eq!(
        (t.deposited.as_str(), t.withdrawn.as_str(), t.spent.as_str()),
        ("150500000", "20000000", "1000000")
    );
    // The usage key encodes what the escrow settled.
    let key_hash = keccak256(
        (
            receipt.payer,
            receipt.licenseId,
            receipt.termsId,
            receipt.runId,
        )
            .abi_encode(),
    );
    assert_eq!(receipt.usage_key(), key_hash);
}
