"""A NumPy classifier trained on licensed data, paying the licenses' creators as it trains.

Each license stands for one shard of the training data (synthetic here; a real job reads the
folder it checked with ``fairtrain.verify_dataset``). Every minibatch is counted under its
shard's license as it is handed to the training step, and the meter sends cumulative receipts
to the relayer in the background. With ``--checkpoint``, checkpoints carry the meter's position,
so a run killed and started again counts every sample once.

./scripts/up runs it as its training run. By hand, against that devnet (anvil's well-known keys:
account 3 is the demo payer, account 5 its registered training key):

    FAIRTRAIN_PAYER=0x90F79bf6EB2c4f870365E785982E1f101E93b906 \\
    FAIRTRAIN_SIGNER_KEY=0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba \\
    FAIRTRAIN_DEPLOYMENT=deployments/31337.json FAIRTRAIN_RELAYER_URL=http://127.0.0.1:8080 \\
    python examples/numpy_classifier.py --licenses 1:1,2:2,4:4,5:5
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()

    usages = []
    for pair in args.licenses.split(","):
        license_id, terms_id = (int(part) for part in pair.split(":"))
        usages.append(fairtrain.Usage(license_id, terms_id, args.run))
    shards = [shard(i, args.samples) for i in range(len(usages))]

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
