"""A NumPy classifier trained on licensed data, paying the licenses' creators as it trains.

Each license stands for one shard of the training data. The shards of ``--licenses`` are
synthetic; with ``--dataset LICENSE:TERMS --gateway URL`` one more shard is the licensed dataset
itself, downloaded from a data gateway with ``fairtrain.open_dataset`` (every file checked
against the manifest the license records). Every minibatch is counted under its shard's license
as it is handed to the training step, and the meter sends cumulative receipts to the relayer in
the background. With ``--checkpoint``, checkpoints carry the meter's position, so a run killed
and started again counts every sample once. ``--write-dataset DIR`` writes such a dataset folder
(what a creator publishes) and exits.

./scripts/up runs it as its training run. By hand, against that devnet (anvil's well-known keys:
account 3 is the demo payer, account 5 its registered training key):

    FAIRTRAIN_PAYER=0x90F79bf6EB2c4f870365E785982E1f101E93b906 \\
    FAIRTRAIN_SIGNER_KEY=0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba \\
    FAIRTRAIN_DEPLOYMENT=deployments/31337.json FAIRTRAIN_RELAYER_URL=http://127.0.0.1:8080 \\
    python examples/numpy_classifier.py --licenses 1:1,2:2,4:4,5:5
"""

from __future__ import annotations

import argparse
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import fairtrain


def shard(license_index: int, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """A shard of two Gaussian blobs (the licensed data of one license)."""
    rng = np.random.default_rng(license_index)
    labels = rng.integers(0, 2, samples)
    features = rng.normal(0, 1, (samples, 2)) + np.where(labels[:, None] == 1, 1.5, -1.5)
    return features, labels


def write_dataset(folder: Path, samples: int) -> None:
    """A creator's dataset folder: one shard as ``shard.npz`` and a README."""
    folder.mkdir(parents=True, exist_ok=True)
    features, labels = shard(99, samples)
    np.savez(folder / "shard.npz", features=features, labels=labels)
    (folder / "README.md").write_text(f"Two Gaussian blobs, {samples} labelled points.\n")


def download(license_terms: str, gateway: str, rpc_url: str, out: Path) -> tuple:
    """The licensed dataset from the gateway, verified, as a (usage-less) shard."""
    license_id, terms_id = (int(part) for part in license_terms.split(":"))
    deployment = fairtrain.deployment(os.environ["FAIRTRAIN_DEPLOYMENT"])
    opened = fairtrain.open_dataset(
        license_id,
        gateway=gateway,
        out=out,
        signer_key=os.environ["FAIRTRAIN_SIGNER_KEY"],
        payer=os.environ["FAIRTRAIN_PAYER"],
        rpc_url=rpc_url,
        license_nft=deployment["licenseNFT"],
        terms_id=terms_id,
    )
    print(
        f"license {license_id}: dataset {opened.check.name!r} from {gateway}: "
        f"{opened.check.files} files verified ({opened.downloaded} downloaded, "
        f"{opened.bytes} bytes)",
        flush=True,
    )
    with np.load(opened.path / "shard.npz") as data:
        return data["features"], data["labels"]


def minibatches(data: tuple[np.ndarray, np.ndarray], size: int) -> Iterator[tuple]:
    features, labels = data
    for start in range(0, len(labels), size):
        yield features[start : start + size], labels[start : start + size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--licenses", default="1:1", help="license:terms pairs, comma-separated")
    parser.add_argument("--run", default="numpy-classifier", help="the run's name")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2000, help="samples per license's shard")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--checkpoint", type=Path, help="save and resume from this file")
    parser.add_argument("--dataset", help="license:terms of a dataset to get from --gateway")
    parser.add_argument("--gateway", help="the data gateway's URL")
    parser.add_argument("--rpc-url", default="http://127.0.0.1:8545", help="to read the license")
    parser.add_argument("--data-dir", type=Path, default=Path("fairtrain-data"))
    parser.add_argument("--write-dataset", type=Path, help="write a dataset folder and exit")
    args = parser.parse_args()
    if args.write_dataset:
        write_dataset(args.write_dataset, args.samples)
        return

    usages = []
    for pair in args.licenses.split(","):
        license_id, terms_id = (int(part) for part in pair.split(":"))
        usages.append(fairtrain.Usage(license_id, terms_id, args.run))
    shards = [shard(i, args.samples) for i in range(len(usages))]
    if args.dataset:
        out = args.data_dir / f"license-{args.dataset.split(':')[0]}"
        shards.append(download(args.dataset, args.gateway, args.rpc_url, out))
        license_id, terms_id = (int(part) for part in args.dataset.split(":"))
        usages.append(fairtrain.Usage(license_id, terms_id, args.run))

    weights, bias, epoch = np.zeros(2), 0.0, 0
    with fairtrain.meter_from_env(flush_every=2.0) as meter:
        if args.checkpoint and args.checkpoint.exists():
            saved = pickle.loads(args.checkpoint.read_bytes())
            weights, bias, epoch = saved["weights"], saved["bias"], saved["epoch"]
            meter.load_state_dict(saved["meter"])
        while epoch < args.epochs:
            for usage, data in zip(usages, shards, strict=True):
                for x, y in fairtrain.metered(minibatches(data, args.batch), meter, usage):
                    # Logistic regression, one gradient step per minibatch.
                    p = 1 / (1 + np.exp(-(x @ weights + bias)))
                    weights -= 0.1 * x.T @ (p - y) / len(y)
                    bias -= 0.1 * float(np.mean(p - y))
            epoch += 1
            if args.checkpoint:
                state = {"weights": weights, "bias": bias, "epoch": epoch}
                state["meter"] = meter.state_dict()
                args.checkpoint.write_bytes(pickle.dumps(state))
            features = np.concatenate([s[0] for s in shards])
            labels = np.concatenate([s[1] for s in shards])
            accuracy = np.mean(((features @ weights + bias) > 0) == labels)
            print(f"epoch {epoch}: accuracy {accuracy:.3f}", flush=True)
    for entry in meter.status():
        if entry.usage in usages:
            print(
                f"license {entry.usage.license_id}: {entry.recorded} samples, "
                f"{entry.acked} acknowledged by the relayer"
            )


if __name__ == "__main__":
    main()
