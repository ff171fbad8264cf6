"""What the meter costs a Python training loop. Prints one figure a line (`name: value unit`),
as ./scripts/bench does; run it with the extension built in release mode
(``build_python_extension release``, scripts/lib/python.sh).

- ``record``: one ``Meter.record`` call from Python (the background commit task running);
- ``metered`` overhead per step: a loop over ``fairtrain.metered(batches)`` against the same
  loop over ``batches``, per batch, and that overhead as a share of a 10 ms training step and
  of a measured NumPy step (a two-layer MLP's forward and backward pass on a batch of 32);
- ``commit``: moving 10k counted usage keys into the journal (one transaction);
- ``flush`` of 10k keys: signing 10k receipts, storing them in the journal and sending them in
  bulk to a relayer stand-in that accepts everything (an HTTP server in this process: the
  relayer's own ingest is measured by the relayer's benchmark).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

import fairtrain

ESCROW = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
PAYER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
KEY = "0x" + "11" * 32


class AcceptAll(BaseHTTPRequestHandler):
    """``POST /v1/receipts/bulk`` answering every item ``accepted``."""

    def do_POST(self) -> None:  # noqa: N802 (the handler's name is http.server's)
        items = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        outcome = {"status": "accepted", "digest": "0x" + "00" * 32, "amount": "0"}
        body = json.dumps(
            {
                "accepted": len(items),
                "duplicates": 0,
                "rejected": 0,
                "results": [outcome] * len(items),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings of ``work()``, in seconds."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def numpy_step_seconds() -> float:
    """A two-layer MLP's forward and backward pass on a batch of 32 (784-512-10), in NumPy."""
    rng = np.random.default_rng(0)
    x, w1, w2 = rng.random((32, 784)), rng.random((784, 512)), rng.random((512, 10))

    def step() -> None:
        h = np.maximum(x @ w1, 0)
        out = h @ w2
        grad_out = out / len(x)
        grad_w2 = h.T @ grad_out
        grad_h = (grad_out @ w2.T) * (h > 0)
        grad_w1 = x.T @ grad_h
        assert grad_w1.shape == w1.shape and grad_w2.shape == w2.shape

    return best_of(20, lambda: [step() for _ in range(10)]) / 10


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AcceptAll)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        meter = fairtrain.Meter(
            journal=Path(tmp) / "usage.db",
            relayer_url=url,
            chain_id=31337,
            escrow=ESCROW,
            payer=PAYER,
            signer_key=KEY,
            commit_every=0.25,
            flush_every=None,
        )
        usage = fairtrain.Usage(1, 1, "bench")

        calls = 1_000_000
        seconds = best_of(3, lambda: [meter.record(usage, 32) for _ in range(calls)])
        print(f"python.meter.record: {seconds / calls * 1e6:.3f} us")
        print(f"python.meter.records_per_s: {calls / seconds:.0f} /s")

        batch = np.zeros((32, 784), dtype=np.float32)
        batches = [batch] * 200_000

        def plain() -> None:
            for _ in batches:
                pass

        def wrapped() -> None:
            for _ in fairtrain.metered(batches, meter, usage):
                pass

        per_step = (best_of(5, wrapped) - best_of(5, plain)) / len(batches)
        step = numpy_step_seconds()
        print(f"python.metered.overhead_per_step: {per_step * 1e6:.3f} us")
        print(f"python.metered.share_of_10ms_step: {per_step / 0.010 * 100:.4f} %")
        print(f"python.step.numpy_mlp_batch_32: {step * 1e3:.3f} ms")
        print(f"python.metered.share_of_numpy_step: {per_step / step * 100:.4f} %")

        keys = [fairtrain.Usage(2, 1, f"key-{i}") for i in range(10_000)]
        meter.flush()
        for key in keys:
            meter.record(key, 1)
        start = time.perf_counter()
        meter.commit()
        print(f"python.meter.commit_10k_keys: {(time.perf_counter() - start) * 1e3:.1f} ms")
        start = time.perf_counter()
        report = meter.flush()
        elapsed = time.perf_counter() - start
        assert report.accepted == 10_000, report
        print(f"python.meter.flush_10k_keys: {elapsed * 1e3:.1f} ms")
        meter.close()
    server.shutdown()


if __name__ == "__main__":
    main()
