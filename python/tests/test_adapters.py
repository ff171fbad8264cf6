"""The adapters: how many samples an item holds, and a wrapped loop recording them (no relayer
is needed to count and commit; the meter points at an unused address)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import config, offline_meter, recorded

import fairtrain


@pytest.mark.parametrize(
    ("item", "samples"),
    [
        (np.zeros((32, 3, 8, 8)), 32),
        (np.float32(1.0), 1),
        ((np.zeros((16, 4)), np.zeros(16)), 16),
        ({"input_ids": np.zeros((8, 128)), "labels": np.zeros(8)}, 8),
        ({"text": ["a", "b", "c"], "label": [0, 1, 0]}, 3),
        ({"text": "one row", "label": 0}, 1),
        ([{"x": 1}, {"x": 2}], 2),
        ("a string", 1),
        ({}, 0),
    ],
)
def test_count_samples_reads_the_batch_dimension(item: Any, samples: int) -> None:
    assert fairtrain.count_samples(item) == samples


def test_a_wrapped_loop_records_each_batch_as_it_is_handed_out(tmp_path: Path) -> None:
    meter = offline_meter(tmp_path)
    usage = fairtrain.Usage(3, 1, "adapters")
    batches = [np.zeros((n, 2)) for n in (4, 4, 3)]
    loader = fairtrain.metered(batches, meter, usage)
    assert len(loader) == 3
    seen = 0
    for batch in loader:
        seen += len(batch)
        # Counted when handed out, before the step: in memory until a commit.
        assert meter.uncommitted == seen
    meter.commit()
    assert meter.uncommitted == 0
    assert recorded(meter) == {3: 11}
    assert loader.handed_out == 11


def test_fixed_and_custom_sample_counts(tmp_path: Path) -> None:
    meter = offline_meter(tmp_path)
    rows = fairtrain.metered(range(5), meter, fairtrain.Usage(1, 1, "rows"), samples=1)
    shots = fairtrain.metered(
        [{"shots": 100}, {"shots": 250}],
        meter,
        fairtrain.Usage(2, 1, "shots"),
        samples=lambda circuit: circuit["shots"],
    )
    assert list(rows) == [0, 1, 2, 3, 4]
    list(shots)
    meter.commit()
    assert recorded(meter) == {1: 5, 2: 350}


class StatefulLoader:
    """A loader with ``state_dict`` / ``load_state_dict``, as torchdata's StatefulDataLoader."""

    def __init__(self, batches: list[list[int]]) -> None:
        self.batches = batches
        self.position = 0

    def __iter__(self) -> Iterator[list[int]]:
        while self.position < len(self.batches):
            batch = self.batches[self.position]
            self.position += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.position = state["position"]


def test_resuming_a_stateful_loader_counts_every_batch_once(tmp_path: Path) -> None:
    batches = [[0] * n for n in (5, 3, 7, 2, 6, 4)]
    usage = fairtrain.Usage(9, 1, "stateful")

    meter = offline_meter(tmp_path)
    loader = fairtrain.metered(StatefulLoader(batches), meter, usage)
    iterator = iter(loader)
    for _ in range(2):
        next(iterator)
    checkpoint = loader.state_dict()  # after 5 + 3
    assert checkpoint["data"] == {"position": 2}
    for _ in range(2):
        next(iterator)  # 7 + 2 more, then the process "dies" after a commit
    meter.commit()
    del iterator, loader, meter

    meter = offline_meter(tmp_path)
    loader = fairtrain.metered(StatefulLoader(batches), meter, usage)
    loader.load_state_dict(checkpoint)
    assert [len(b) for b in loader] == [7, 2, 6, 4]  # replayed from the checkpoint
    meter.commit()
    assert recorded(meter) == {9: sum(map(len, batches))}


def test_a_state_saved_for_another_payer_is_refused(tmp_path: Path) -> None:
    meter = offline_meter(tmp_path)
    state = meter.state_dict()
    state["payer"] = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    with pytest.raises(fairtrain.ProtocolError, match="not this meter's"):
        meter.load_state_dict(state)
    with pytest.raises(fairtrain.ProtocolError, match="version"):
        meter.load_state_dict(dict(state, version=99))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"payer": "not an address"}, "payer"),
        ({"signer_key": "0x1234"}, "signer key"),
        ({"commit_every": -1.0}, "commit_every"),
        ({"escrow": None}, "deployment"),
        ({"restart": "sometimes"}, "restart"),
    ],
)
def test_a_misconfigured_meter_is_refused(tmp_path: Path, options: dict, match: str) -> None:
    with pytest.raises(fairtrain.ProtocolError, match=match):
        fairtrain.Meter(**config(tmp_path, **options))


def test_a_signer_key_never_appears_in_an_error(tmp_path: Path) -> None:
    secret = "0x" + "ab" * 31 + "zz"
    with pytest.raises(fairtrain.ProtocolError) as error:
        fairtrain.Meter(**config(tmp_path, signer_key=secret))
    assert "ab" * 8 not in str(error.value)


def test_an_overflowing_count_raises_and_keeps_the_journal(tmp_path: Path) -> None:
    meter = offline_meter(tmp_path)
    usage = fairtrain.Usage(1, 1, "overflow")
    assert meter.record_durably(usage, 2**63 - 2) == 2**63 - 2
    with pytest.raises(fairtrain.CountOverflow):
        meter.record_durably(usage, 5)
    assert recorded(meter) == {1: 2**63 - 2}


def test_an_unreachable_relayer_raises_and_loses_nothing(tmp_path: Path) -> None:
    meter = offline_meter(tmp_path)
    meter.record(fairtrain.Usage(1, 1, "down"), 10)
    with pytest.raises(fairtrain.RelayerUnreachable) as error:
        meter.flush()
    assert error.value.code == "unreachable"
    assert recorded(meter) == {1: 10}, "committed before the attempt, kept after it"
