"""Licensed datasets from a gateway with ``fairtrain.open_dataset``: on the test kit's devnet
(the real ``fairtrain-gateway``), the creator publishes with the CLI, the payer's training key
downloads, a partial file resumes, bytes altered at the gateway are refused, a key the payer
never registered is refused with the gateway's code, and a dataset priced per access is paid
by one receipt per call, which the relayer holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import Devnet
from eth_account import Account

import fairtrain


def publish(devnet: Devnet, data: str = "data", manifest: str = "manifest") -> None:
    """The creator publishes the scenario's dataset (or the one at ``devnet[data]``, signed in
    ``devnet[manifest]``) with ``fairtrain dataset publish``."""
    env = dict(
        os.environ,
        FAIRTRAIN_PRIVATE_KEY=devnet["creator_key"],
        FAIRTRAIN_RPC_URL=devnet["rpc_url"],
        FAIRTRAIN_DEPLOYMENT=str(devnet["deployment"]),
    )
    args = [devnet["cli"], "dataset", "publish", devnet[data], "--manifest", devnet[manifest]]
    done = subprocess.run(
        [*map(str, args), "--gateway", devnet["gateway_url"]],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "3 of 3 files stored" in done.stdout


def options(devnet: Devnet, out: Path, **extra: Any) -> dict[str, Any]:
    return {
        "gateway": devnet["gateway_url"],
        "out": out,
        "signer_key": devnet["training_key"],
        "payer": devnet["payer"],
        "rpc_url": devnet["rpc_url"],
        "license_nft": devnet["license_nft"],
        **extra,
    }


def blob(devnet: Devnet, digest: str) -> Path:
    """The gateway's stored copy of the file whose keccak256 is ``digest``."""
    hex_digest = digest.removeprefix("0x")
    return Path(devnet["gateway_blobs"]) / hex_digest[:2] / hex_digest


def test_a_payer_opens_a_licensed_dataset_from_the_gateway(devnet: Devnet, tmp_path: Path) -> None:
    publish(devnet)
    out = tmp_path / "photos"
    opened = fairtrain.open_dataset(devnet["license_id"], **options(devnet, out))
    assert (opened.downloaded, opened.resumed, opened.kept) == (3, 0, 0)
    assert opened.check.files == 3
    assert opened.check.license_id == devnet["license_id"]
    assert opened.path == out
    for source in Path(devnet["data"]).rglob("*"):
        if source.is_file():
            relative = source.relative_to(devnet["data"])
            assert (out / relative).read_bytes() == source.read_bytes()
    # The manifest written next to the folder checks it, as any training job would.
    check = fairtrain.verify_dataset(opened.manifest_path, out)
    assert check.manifest_hash == opened.check.manifest_hash

    # Interrupted in the middle of a file: the next call resumes it and keeps the rest.
    labels = out / "labels.csv"
    whole = labels.read_bytes()
    labels.unlink()
    (out / "labels.csv.part").write_bytes(whole[:5])
    again = fairtrain.open_dataset(devnet["license_id"], **options(devnet, out))
    assert (again.downloaded, again.resumed, again.kept) == (1, 1, 2)
    assert again.bytes == len(whole) - 5
    assert labels.read_bytes() == whole


def test_bytes_altered_at_the_gateway_are_refused(devnet: Devnet, tmp_path: Path) -> None:
    publish(devnet)
    manifest = fairtrain.verify_dataset(devnet["manifest"], devnet["data"])
    assert manifest.files == 3
    files = json.loads(Path(devnet["manifest"]).read_text())["files"]
    target = next(f for f in files if f["path"] == "images/002.jpg")
    stored = blob(devnet, target["hash"])
    original = stored.read_bytes()
    try:
        stored.write_bytes(bytes([original[0] ^ 1]) + original[1:])
        out = tmp_path / "photos"
        with pytest.raises(fairtrain.DatasetError, match="images/002.jpg") as raised:
            fairtrain.open_dataset(devnet["license_id"], **options(devnet, out))
        assert raised.value.code == "dataset"
        assert not (out / "images" / "002.jpg").exists()
        assert not (out / "images" / "002.jpg.part").exists()
    finally:
        stored.write_bytes(original)
    shutil.rmtree(tmp_path / "photos")


def test_a_key_the_payer_never_registered_is_refused(devnet: Devnet, tmp_path: Path) -> None:
    publish(devnet)
    stranger = Account.create().key.hex()
    with pytest.raises(fairtrain.GatewayRefused) as raised:
        fairtrain.open_dataset(
            devnet["license_id"], **options(devnet, tmp_path / "photos", signer_key=stranger)
        )
    assert raised.value.code == "signer_not_registered"
    assert raised.value.status == 403
    with pytest.raises(fairtrain.GatewayRefused) as unreachable:
        fairtrain.open_dataset(
            devnet["license_id"],
            **options(devnet, tmp_path / "photos", gateway="http://127.0.0.1:9"),
        )
    assert unreachable.value.code == "unreachable"


def test_a_dataset_priced_per_access_is_paid_per_open(own_devnet: Devnet, tmp_path: Path) -> None:
    devnet = own_devnet
    publish(devnet, "access_data", "access_manifest")
    out = tmp_path / "scans"
    first = fairtrain.open_dataset(devnet["access_license_id"], **options(devnet, out))
    assert first.downloaded == 3
    second = fairtrain.open_dataset(devnet["access_license_id"], **options(devnet, out))
    assert second.kept == 3
    assert first.receipt is not None and second.receipt is not None
    assert first.receipt != second.receipt, "each open is an access of its own"
    for receipt in (first.receipt, second.receipt):
        with urllib.request.urlopen(f"{devnet['relayer_url']}/v1/receipts/{receipt}") as answer:
            held = json.load(answer)
        assert held["amount"] == str(devnet["access_price"])
        assert held["receipt"]["cumulativeSamples"] == "1"
        assert held["receipt"]["licenseId"] == str(devnet["access_license_id"])

    # A dataset priced per sample is opened without paying for the access.
    publish(devnet)
    opened = fairtrain.open_dataset(devnet["license_id"], **options(devnet, tmp_path / "photos"))
    assert opened.receipt is None
