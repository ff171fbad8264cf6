"""A variational quantum classifier trained on a licensed quantum dataset, paying its creator
per circuit shot.

The whole story on a devnet, in one script:

1. The creator publishes a small quantum dataset: points angle-encoded on two qubits, stored as
   a PennyLane ``qml.data.Dataset`` (HDF5), and a manifest signed with the creator's key whose
   metadata names the device, its qubits and the shots per circuit (``fairtrain.build_manifest``),
   then mints its license (``fairtrain license mint``).
2. The payer accepts the license's terms (``fairtrain payer accept``); on a devnet the chain's
   clock is moved past the notice period.
3. The training job checks the folder against the manifest and the license on-chain
   (``fairtrain.quantum.verify``), loads the dataset into PennyLane, and trains, counting every
   circuit it runs at the manifest's shots.

Keys and addresses come from the environment (``fairtrain-devnet`` and ./scripts/up print them):
``FAIRTRAIN_RPC_URL``, ``FAIRTRAIN_DEPLOYMENT``, ``FAIRTRAIN_RELAYER_URL``, ``FAIRTRAIN_PAYER``,
``FAIRTRAIN_SIGNER_KEY`` (the payer's training key), ``FAIRTRAIN_PAYER_KEY`` and
``FAIRTRAIN_CREATOR_KEY`` (the accounts' own keys, for the CLI), and ``FAIRTRAIN_CLI`` (the
``fairtrain`` binary; default ``target/debug/fairtrain``). Needs ``pip install pennylane h5py``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import pennylane as qml
from pennylane import numpy as pnp

import fairtrain
from fairtrain import quantum

DEVICE = {"device": "default.qubit", "qubits": "2", "shots": "200", "encoding": "angle"}


def cli(key_variable: str, *args: str) -> str:
    """Runs the ``fairtrain`` CLI with the key in ``key_variable``; returns its output."""
    env = dict(os.environ, FAIRTRAIN_PRIVATE_KEY=os.environ[key_variable])
    exe = os.environ.get("FAIRTRAIN_CLI", "target/debug/fairtrain")
    done = subprocess.run([exe, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"fairtrain {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def advance_clock(seconds: int) -> None:
    """Moves a devnet's clock (anvil) and mines a block."""
    for method, params in (("evm_increaseTime", [seconds]), ("evm_mine", [])):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        request = urllib.request.Request(
            os.environ["FAIRTRAIN_RPC_URL"], body.encode(), {"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=30).close()


def publish(folder: Path) -> tuple[Path, int]:
    """The creator's part: the dataset, its signed manifest and its license."""
    (folder / "data").mkdir(parents=True)
    rng = np.random.default_rng(11)
    features = rng.uniform(0, np.pi, (24, 2))
    labels = np.where(np.cos(features[:, 0]) * np.cos(features[:, 1]) > 0, 1.0, -1.0)
    qml.data.Dataset(data_name="angles", features=features, labels=labels).write(
        folder / "data" / "train.h5"
    )
    manifest = folder / "manifest.json"
    fairtrain.build_manifest(
        folder / "data",
        manifest,
        name="Angles on two qubits",
        description="Points angle-encoded on two qubits, labelled by the parity of <ZZ>.",
        metadata=DEVICE,
        signer_key=os.environ["FAIRTRAIN_CREATOR_KEY"],
    )
    minted = cli(
        "FAIRTRAIN_CREATOR_KEY", "license", "mint", "--manifest", str(manifest),
        "--template", "research", "--price", "0.00001",
    )  # fmt: skip
    found = re.search(r"license (\d+)", minted)
    if not found:
        raise SystemExit(f"no license id in: {minted}")
    return manifest, int(found.group(1))


def train(data: quantum.Verified, meter: fairtrain.Meter, usage: fairtrain.Usage) -> float:
    """Trains the classifier; returns its accuracy on the training set."""
    dataset = quantum.pennylane_dataset(data, "train.h5")
    features, labels = np.array(dataset.features), np.array(dataset.labels)
    wires = int(data.metadata["qubits"])
    device = qml.device(data.metadata["device"], wires=wires)

    @qml.qnode(device)
    def circuit(weights: pnp.ndarray, x: np.ndarray) -> float:
        qml.AngleEmbedding(x, wires=range(wires))
        qml.StronglyEntanglingLayers(weights, wires=range(wires))
        return qml.expval(qml.PauliZ(0) @ qml.PauliZ(1))

    weights = pnp.array(np.random.default_rng(0).normal(0, 0.1, (2, wires, 3)), requires_grad=True)
    optimizer = qml.AdamOptimizer(0.1)
    batches = [(features[i : i + 6], labels[i : i + 6]) for i in range(0, len(labels), 6)]
    for _epoch in range(8):
        # Every point is one circuit run at the manifest's shots: that many samples each.
        for x, y in fairtrain.metered(batches, meter, usage, samples=quantum.per_shot(data.shots)):

            def loss(w: pnp.ndarray, x: np.ndarray = x, y: np.ndarray = y) -> float:
                return sum((circuit(w, xi) - yi) ** 2 for xi, yi in zip(x, y, strict=True)) / len(y)

            weights = optimizer.step(loss, weights)
    predictions = np.sign([float(circuit(weights, xi)) for xi in features])
    return float(np.mean(predictions == labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="vqc", help="the run's name")
    parser.add_argument("--workdir", type=Path, help="where the dataset and journal go")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fairtrain-vqc-"))

    manifest, license_id = publish(workdir / "published")
    deployment = fairtrain.deployment(os.environ["FAIRTRAIN_DEPLOYMENT"])
    shown = json.loads(cli("FAIRTRAIN_PAYER_KEY", "--json", "license", "show", str(license_id)))
    cli("FAIRTRAIN_PAYER_KEY", "payer", "accept", str(license_id))
    advance_clock(deployment["noticePeriod"] + 1)
    print(f"creator published license {license_id}; the payer accepted its terms", flush=True)

    data = quantum.verify(
        manifest,
        workdir / "published" / "data",
        rpc_url=os.environ["FAIRTRAIN_RPC_URL"],
        license_nft=deployment["licenseNFT"],
        license_id=license_id,
    )
    print(f"verified {data.check.name!r} on {data.metadata['device']}", flush=True)
    os.environ.setdefault("FAIRTRAIN_JOURNAL", str(workdir / "usage.db"))
    usage = fairtrain.Usage(license_id, int(shown["terms"]["termsId"]), args.run)
    with fairtrain.meter_from_env(flush_every=None) as meter:
        accuracy = train(data, meter, usage)
    [entry] = [e for e in meter.status() if e.usage == usage]
    print(f"accuracy {accuracy:.2f}; {entry.recorded} samples (shots) recorded, "
          f"{entry.acked} acknowledged by the relayer")  # fmt: skip


if __name__ == "__main__":
    main()
