"""Receipts signed by the package agree with an independent EIP-712 implementation
(``eth-account``), built from the types as docs/protocol.md documents them."""

from __future__ import annotations

import random

import pytest
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data

import fairtrain

CHAIN_ID = 31337
ESCROW = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"

TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Receipt": [
        {"name": "payer", "type": "address"},
        {"name": "licenseId", "type": "uint256"},
        {"name": "termsId", "type": "uint64"},
        {"name": "runId", "type": "bytes32"},
        {"name": "cumulativeSamples", "type": "uint64"},
        {"name": "issuedAt", "type": "uint64"},
    ],
}
DOMAIN = {
    "name": "Fairtrain TrainingEscrow",
    "version": "1",
    "chainId": CHAIN_ID,
    "verifyingContract": ESCROW,
}


def random_receipt(rng: random.Random) -> dict:
    return {
        "payer": Account.create(str(rng.random())).address,
        "licenseId": rng.choice([0, 1, rng.getrandbits(64), rng.getrandbits(256)]),
        "termsId": rng.getrandbits(64),
        "runId": "0x" + rng.randbytes(32).hex(),
        "cumulativeSamples": rng.getrandbits(63),
        "issuedAt": rng.getrandbits(40),
    }


def eth_account_message(receipt: dict) -> SignableMessage:
    message = dict(receipt, runId=bytes.fromhex(receipt["runId"][2:]))
    return encode_typed_data(
        full_message={
            "types": TYPES,
            "primaryType": "Receipt",
            "domain": DOMAIN,
            "message": message,
        }
    )


def test_digests_and_signatures_agree_with_eth_account() -> None:
    rng = random.Random(7)
    for _ in range(50):
        receipt = random_receipt(rng)
        key = "0x" + rng.randbytes(32).hex()
        signable = eth_account_message(receipt)
        digest = fairtrain.receipt_digest(CHAIN_ID, ESCROW, receipt)
        signed = Account.sign_message(signable, key)
        assert digest == "0x" + signed.message_hash.hex().removeprefix("0x")

        ours = fairtrain.sign_receipt(CHAIN_ID, ESCROW, key, receipt)
        assert ours == "0x" + signed.signature.hex().removeprefix("0x")
        signer = Account.from_key(key).address
        assert Account.recover_message(signable, signature=bytes.fromhex(ours[2:])) == signer
        assert fairtrain.recover_signer(CHAIN_ID, ESCROW, receipt, ours) == signer


def test_the_run_id_of_a_name_is_its_keccak() -> None:
    from eth_utils import keccak

    assert fairtrain.run_id("demo-train-1") == "0x" + keccak(text="demo-train-1").hex()
    assert fairtrain.Usage(1, 1, "demo-train-1").run_id == fairtrain.run_id("demo-train-1")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("payer", "0x123"),
        ("licenseId", -1),
        ("licenseId", 2**256),
        ("licenseId", "1"),
        ("termsId", 2**64),
        ("runId", "0x00"),
    ],
)
def test_malformed_receipts_are_refused_with_a_clear_error(field: str, value: object) -> None:
    receipt = random_receipt(random.Random(1))
    receipt[field] = value
    with pytest.raises(fairtrain.ProtocolError) as error:
        fairtrain.receipt_digest(CHAIN_ID, ESCROW, receipt)
    assert error.value.code == "invalid_value"
    assert field in str(error.value)


def test_a_missing_field_is_named() -> None:
    receipt = random_receipt(random.Random(2))
    del receipt["issuedAt"]
    with pytest.raises(fairtrain.ProtocolError, match="issuedAt"):
        fairtrain.receipt_digest(CHAIN_ID, ESCROW, receipt)
