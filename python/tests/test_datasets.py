"""Datasets from Python: a manifest built and signed here verifies, a changed folder or an
unsigned manifest does not, and on the devnet the license on-chain is checked too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import Devnet
from eth_account import Account

import fairtrain

CREATOR_KEY = "0x" + "5a" * 32


def folder(root: Path) -> Path:
    data = root / "circuits"
    (data / "train").mkdir(parents=True)
    (data / "train" / "part-0.h5").write_bytes(b"\x89HDF\r\n" + bytes(range(200)))
    (data / "README.md").write_text("Parametrised circuits and their expectation values.\n")
    return data


def test_a_manifest_built_and_signed_in_python_verifies(tmp_path: Path) -> None:
    data = folder(tmp_path)
    out = tmp_path / "manifest.json"
    device = {"device": "ibm_kyiv", "qubits": "127", "shots": "4000"}
    digest = fairtrain.build_manifest(
        data, out, name="Kyiv circuits", metadata=device, signer_key=CREATOR_KEY, created_at=1
    )
    document = json.loads(out.read_text())
    assert document["metadata"] == device
    assert [f["path"] for f in document["files"]] == ["README.md", "train/part-0.h5"]

    check = fairtrain.verify_dataset(out, data)
    assert check.manifest_hash == digest
    assert check.creator == Account.from_key(CREATOR_KEY).address
    assert (check.files, check.license_id) == (2, None)

    # The same folder, name and time give the same hash.
    again = fairtrain.build_manifest(
        data,
        tmp_path / "again.json",
        name="Kyiv circuits",
        metadata=device,
        signer_key=CREATOR_KEY,
        created_at=1,
    )
    assert again == digest


def test_a_changed_file_or_an_unsigned_manifest_is_refused(tmp_path: Path) -> None:
    data = folder(tmp_path)
    out = tmp_path / "manifest.json"
    fairtrain.build_manifest(data, out, name="circuits", signer_key=CREATOR_KEY)
    (data / "train" / "part-0.h5").write_bytes(b"changed")
    with pytest.raises(fairtrain.DatasetError, match="part-0.h5"):
        fairtrain.verify_dataset(out, data)

    unsigned = tmp_path / "unsigned.json"
    creator = Account.from_key(CREATOR_KEY).address
    fairtrain.build_manifest(data, unsigned, name="circuits", creator=creator)
    with pytest.raises(fairtrain.DatasetError, match="(?i)sign"):
        fairtrain.verify_dataset(unsigned, data)

    with pytest.raises(fairtrain.DatasetError, match="(?i)creator"):
        fairtrain.build_manifest(
            data, out, name="circuits", creator="0x" + "11" * 20, signer_key=CREATOR_KEY
        )
    with pytest.raises(fairtrain.DatasetError) as error:
        fairtrain.build_manifest(tmp_path / "missing", out, name="nothing", creator=creator)
    assert error.value.code == "dataset"


def test_the_license_on_chain_must_record_the_manifest(devnet: Devnet, tmp_path: Path) -> None:
    license = {
        "rpc_url": devnet["rpc_url"],
        "license_nft": devnet["license_nft"],
        "license_id": devnet["license_id"],
    }
    check = fairtrain.verify_dataset(devnet["manifest"], devnet["data"], **license)
    assert check.license_id == devnet["license_id"]
    assert check.creator == devnet["creator"]

    # A manifest of a copy with one more file is intact, but not the licensed one.
    copy = tmp_path / "copy"
    shutil.copytree(devnet["data"], copy)
    (copy / "extra.txt").write_text("not licensed")
    other = tmp_path / "other.json"
    fairtrain.build_manifest(copy, other, name="copy", signer_key=CREATOR_KEY)
    assert fairtrain.verify_dataset(other, copy).files == 4
    with pytest.raises(fairtrain.DatasetError, match="license"):
        fairtrain.verify_dataset(other, copy, **license)
    with pytest.raises(fairtrain.ProtocolError, match="together"):
        fairtrain.verify_dataset(other, copy, rpc_url=devnet["rpc_url"])
