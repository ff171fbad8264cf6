"""A training job that checkpoints and can be killed at any moment: the SIGKILL test runs it
several times on one journal and one checkpoint file.

    python resumable_run.py <workdir> <devnet.json> <run name>

It trains over a fixed stream of batches (``BATCHES``), saving a checkpoint (its step and the
meter's state) every ``EVERY`` steps, and prints ``step N`` after each step. Started again, it
resumes from its last checkpoint. At the end it flushes and prints ``done``.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from pathlib import Path

import fairtrain

#: The stream: batch i holds 1 + (7 i mod 5) samples.
BATCHES = [[i] * (1 + (7 * i) % 5) for i in range(120)]
EVERY = 10


def main() -> None:
    workdir, info, run = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), sys.argv[3]
    checkpoint = workdir / "checkpoint.pkl"
    meter = fairtrain.Meter(
        journal=workdir / "usage.db",
        relayer_url=info["relayer_url"],
        deployment=info["deployment"],
        payer=info["payer"],
        signer_key=info["training_key"],
        commit_every=0.01,
        flush_every=None,
    )
    usage = fairtrain.Usage(info["license_id"], info["terms_id"], run)
    step = 0
    if checkpoint.exists():
        saved = pickle.loads(checkpoint.read_bytes())
        step = saved["step"]
        meter.load_state_dict(saved["meter"])
    for batch in fairtrain.metered(BATCHES[step:], meter, usage):
        time.sleep(0.003)  # the training step
        step += 1
        if step % EVERY == 0:
            state = {"step": step, "meter": meter.state_dict()}
            tmp = checkpoint.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(state))
            os.replace(tmp, checkpoint)
        print(f"step {step} {len(batch)}", flush=True)
    meter.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
