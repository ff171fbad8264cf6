"""The package against the real relayer on anvil (the test kit's devnet): receipts flushed,
committed and claimed pay the creator exactly; refusals raise the right exception; a relayer
down and back loses nothing; a job killed with SIGKILL and resumed counts every sample once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import Devnet

import fairtrain

HERE = Path(__file__).resolve().parent
T = TypeVar("T")


def eventually(check: Callable[[], T], seconds: float = 60, what: str = "the condition") -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_flushed_receipts_are_committed_and_claimed_to_the_unit(
    own_devnet: Devnet, tmp_path: Path
) -> None:
    devnet = own_devnet
    creator_before = devnet.balance(devnet["creator"])
    runs = [devnet.usage(f"pay-{i}") for i in range(3)]
    with devnet.meter(tmp_path / "usage.db") as meter:
        for step in range(30):
            meter.record(runs[step % 3], 8 + step)
        report = meter.flush()
        assert (report.sent, report.accepted, report.duplicates) == (3, 3, 0)
        meter.record(runs[0], 2)
    # close() flushed the last two samples.
    samples = sum(8 + step for step in range(30)) + 2
    assert sum(e.acked for e in meter.status()) == samples

    eventually(
        lambda: devnet.relayer("/v1/status")["receipts"].get("committed") == 4,
        what="the four receipts to be committed",
    )
    devnet.relayer("/v1/claims", {})
    amount = samples * devnet["price"]
    expected = amount - amount * devnet["fee_bps"] // 10_000
    eventually(
        lambda: devnet.balance(devnet["creator"]) - creator_before == expected,
        what=f"the creator to receive {expected}",
    )
    # Nothing more arrives: the claim paid exactly once.
    time.sleep(1)
    assert devnet.balance(devnet["creator"]) - creator_before == expected


def test_each_refusal_raises_with_the_relayers_code(devnet: Devnet, tmp_path: Path) -> None:
    meter = devnet.meter(tmp_path / "usage.db")
    wrong_terms = fairtrain.Usage(devnet["license_id"], devnet["terms_id"] + 7, "refused")
    meter.record(wrong_terms, 5)
    with pytest.raises(fairtrain.RelayerRefused) as error:
        meter.flush()
    assert error.value.code == "terms_not_accepted"
    [refusal] = error.value.refusals
    assert (refusal.usage, refusal.cumulative) == (wrong_terms, 5)
    # The journal keeps the refusal; a refusal that may pass (terms accepted later, a budget
    # topped up) is sent again at the next flush, and a non-strict flush reports it.
    assert meter.status()[0].refused.code == "terms_not_accepted"
    meter.record(devnet.usage("over-budget"), 10**12)
    report = meter.flush(strict=False)
    assert sorted(r.code for r in report.refused) == ["insufficient_budget", "terms_not_accepted"]

    stranger = fairtrain.Meter(
        journal=tmp_path / "stranger.db",
        relayer_url=devnet["relayer_url"],
        deployment=devnet["deployment"],
        payer=devnet["payer"],
        signer_key="0x" + "42" * 32,
        flush_every=None,
    )
    stranger.record(devnet.usage("stranger"), 1)
    with pytest.raises(fairtrain.RelayerRefused) as error:
        stranger.flush()
    assert error.value.code == "signer_not_registered"


def test_a_relayer_down_and_back_loses_nothing(devnet: Devnet, tmp_path: Path) -> None:
    usage = devnet.usage("down-and-back")
    meter = devnet.meter(tmp_path / "usage.db", attempts=2, initial_backoff=0.05)
    meter.record(usage, 100)
    assert meter.flush().accepted == 1
    assert devnet.command("relayer stop") == {"ok": True}
    try:
        meter.record(usage, 50)
        with pytest.raises(fairtrain.RelayerUnreachable):
            meter.flush()
        [entry] = meter.status()
        assert (entry.recorded, entry.acked) == (150, 100)
    finally:
        assert devnet.command("relayer start") == {"ok": True}
    report = meter.flush()
    assert report.accepted == 1
    [entry] = meter.status()
    assert (entry.recorded, entry.acked) == (150, 150)


def test_sigkill_mid_run_and_resume_counts_every_sample_once(
    devnet: Devnet, tmp_path: Path
) -> None:
    info = tmp_path / "devnet.json"
    info.write_text(json.dumps(devnet.info))
    sys.path.insert(0, str(HERE))
    from resumable_run import BATCHES

    run = f"sigkill-{random.randrange(10**9)}"
    command = [sys.executable, str(HERE / "resumable_run.py"), str(tmp_path), str(info), run]
    # The job imports the same fairtrain as this test, installed or not.
    package = str(Path(fairtrain.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([package, os.environ.get("PYTHONPATH", "")]))
    rng = random.Random(run)
    kills = 0
    # Killed at random steps (checkpoints every 10), each time resumed from the last checkpoint.
    for kill_after in sorted(rng.sample(range(5, len(BATCHES) - 5), 4)):
        job = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert job.stdout
        for line in job.stdout:
            if line.startswith("step") and int(line.split()[1]) >= kill_after:
                job.send_signal(signal.SIGKILL)
                kills += 1
                break
        job.wait(30)
    assert kills >= 3, "the job must die mid-run for the test to mean anything"
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines()[-1] == "done"

    meter = devnet.meter(tmp_path / "usage.db")
    [entry] = meter.status()
    total = sum(len(batch) for batch in BATCHES)
    assert (entry.recorded, entry.acked) == (total, total)
