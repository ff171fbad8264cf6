"""The examples run end to end on the test kit's devnet and pay what they trained on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, Devnet

import fairtrain


def run_example(devnet: Devnet, name: str, tmp_path: Path, *args: str) -> str:
    package = str(Path(fairtrain.__file__).resolve().parents[1])
    env = dict(
        os.environ,
        PYTHONPATH=package,
        FAIRTRAIN_RPC_URL=devnet["rpc_url"],
        FAIRTRAIN_DEPLOYMENT=str(devnet["deployment"]),
        FAIRTRAIN_RELAYER_URL=devnet["relayer_url"],
        FAIRTRAIN_PAYER=devnet["payer"],
        FAIRTRAIN_SIGNER_KEY=devnet["training_key"],
        FAIRTRAIN_PAYER_KEY=devnet["payer_key"],
        FAIRTRAIN_CREATOR_KEY=devnet["creator_key"],
        FAIRTRAIN_CLI=str(devnet["cli"]),
        FAIRTRAIN_JOURNAL=str(tmp_path / f"{name}.db"),
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_numpy_classifier_learns_and_every_sample_is_acknowledged(
    devnet: Devnet, tmp_path: Path
) -> None:
    license_terms = f"{devnet['license_id']}:{devnet['terms_id']}"
    out = run_example(devnet, "numpy_classifier", tmp_path, "--licenses", license_terms,
                      "--run", "example-numpy", "--samples", "640")  # fmt: skip
    assert "epoch 3: accuracy 0.9" in out, out
    # 3 epochs of 640 samples, each acknowledged by the relayer at close.
    assert f"license {devnet['license_id']}: 1920 samples, 1920 acknowledged" in out, out


def test_the_pennylane_classifier_publishes_verifies_and_pays_per_shot(
    devnet: Devnet, tmp_path: Path
) -> None:
    out = run_example(devnet, "pennylane_vqc", tmp_path, "--workdir", str(tmp_path / "vqc"))
    assert "the payer accepted its terms" in out, out
    assert "verified 'Angles on two qubits' on default.qubit" in out, out
    # 8 epochs over 24 points at the manifest's 200 shots.
    assert "38400 samples (shots) recorded, 38400 acknowledged" in out, out
