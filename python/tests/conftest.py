"""Fixtures: the test kit's devnet (anvil with the suite deployed, a licensed dataset, a payer
ready to pay, the real relayer on SQLite), started by the kit's ``fairtrain-devnet`` binary."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fairtrain

ROOT = Path(__file__).resolve().parents[2]
#: Where the workspace's binaries are (``cargo build --workspace`` or ``cargo test``).
BIN = Path(os.environ.get("FAIRTRAIN_BIN_DIR", ROOT / "target" / "debug"))

# An offline meter: counting and committing never reach the relayer, so it needs no devnet.
ESCROW = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
PAYER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
KEY = "0x" + "11" * 32


def config(tmp_path: Path, **options: Any) -> dict[str, Any]:
    """A meter's settings: a journal in ``tmp_path``, a relayer address nothing answers on."""
    return {
        "journal": tmp_path / "usage.db",
        "relayer_url": "http://127.0.0.1:9",
        "chain_id": 31337,
        "escrow": ESCROW,
        "payer": PAYER,
        "signer_key": KEY,
        **options,
    }


def offline_meter(tmp_path: Path) -> fairtrain.Meter:
    """A meter with no background task, whose relayer is tried twice, briefly."""
    return fairtrain.Meter(
        **config(tmp_path, commit_every=None, flush_every=None, attempts=2, initial_backoff=0.01)
    )


def recorded(meter: fairtrain.Meter) -> dict[int, int]:
    """Samples recorded in ``meter``'s journal, per license id."""
    return {entry.usage.license_id: entry.recorded for entry in meter.status()}


class Devnet:
    """A running ``fairtrain-devnet``: its description (``info``) and its commands."""

    def __init__(self, log: Path) -> None:
        exe = BIN / "fairtrain-devnet"
        if not exe.exists():
            pytest.fail(f"{exe} is missing: build the workspace first (cargo build --workspace)")
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [exe],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            self.proc.wait(10)
            pytest.fail(f"fairtrain-devnet exited: {log.read_text()[-3000:]}")
        self.info: dict[str, Any] = json.loads(line)

    def __getitem__(self, name: str) -> Any:
        return self.info[name]

    def command(self, line: str) -> dict[str, Any]:
        """Sends a command (``relayer stop``, ``relayer start``) and returns its answer."""
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(60)
        self._log.close()

    def meter(self, journal: Path, **options: Any) -> fairtrain.Meter:
        """A meter for the scenario's payer and training key on this devnet."""
        options.setdefault("flush_every", None)
        return fairtrain.Meter(
            journal=journal,
            relayer_url=self["relayer_url"],
            deployment=self["deployment"],
            payer=self["payer"],
            signer_key=self["training_key"],
            **options,
        )

    def usage(self, run: str) -> fairtrain.Usage:
        """The scenario's license under its accepted terms, in run ``run``."""
        return fairtrain.Usage(self["license_id"], self["terms_id"], run)

    def relayer(self, path: str, body: Any = None) -> Any:
        """A relayer API call (POSTs carry the operator token)."""
        request = urllib.request.Request(self["relayer_url"] + path)
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
            request.add_header("Authorization", f"Bearer {self['operator_token']}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def rpc(self, method: str, params: list[Any]) -> Any:
        request = urllib.request.Request(
            self["rpc_url"],
            data=json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def balance(self, owner: str) -> int:
        """``owner``'s balance of the payment token, in units (``balanceOf``)."""
        data = "0x70a08231" + owner.lower().removeprefix("0x").rjust(64, "0")
        return int(self.rpc("eth_call", [{"to": self["token"], "data": data}, "latest"]), 16)


def _devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    devnet = Devnet(tmp_path_factory.mktemp("devnet") / "fairtrain-devnet.log")
    try:
        yield devnet
    finally:
        devnet.close()


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """One devnet shared by the tests that only need a relayer that takes receipts."""
    yield from _devnet(tmp_path_factory)


@pytest.fixture
def own_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A devnet of the test's own, for tests that account for every unit paid."""
    yield from _devnet(tmp_path_factory)
