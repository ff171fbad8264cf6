"""The adapters against Hugging Face ``datasets``: row iteration, batched iteration, and a
stateful ``IterableDataset`` resumed from its ``state_dict``. (PyTorch: test_torch.py.)"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
from conftest import offline_meter, recorded

import fairtrain


def test_hugging_face_rows_and_batches(tmp_path: Path) -> None:
    meter = offline_meter(tmp_path)
    rows = datasets.Dataset.from_dict({"text": [f"t{i}" for i in range(30)], "label": [0] * 30})
    assert sum(1 for _ in fairtrain.metered(rows, meter, fairtrain.Usage(1, 1, "rows"))) == 30
    batches = rows.iter(batch_size=8)  # dicts of lists: 8, 8, 8, 6
    list(fairtrain.metered(batches, meter, fairtrain.Usage(2, 1, "batches")))
    tokens = datasets.Dataset.from_dict({"ids": [[1, 2, 3]] * 5})  # a list-valued column
    list(fairtrain.metered(tokens, meter, fairtrain.Usage(3, 1, "tokens")))
    meter.commit()
    assert recorded(meter) == {1: 30, 2: 30, 3: 5}


def test_a_hugging_face_iterable_dataset_resumes_with_the_meter(tmp_path: Path) -> None:
    rows = datasets.Dataset.from_dict({"n": list(range(40))}).to_iterable_dataset(num_shards=1)
    usage = fairtrain.Usage(5, 1, "iterable")

    meter = offline_meter(tmp_path)
    loader = fairtrain.metered(rows, meter, usage)
    seen = []
    for row in loader:
        seen.append(row["n"])
        if len(seen) == 15:
            checkpoint = loader.state_dict()
        if len(seen) == 25:
            meter.commit()
            break  # the process dies here: 10 rows past the checkpoint
    del loader, meter

    meter = offline_meter(tmp_path)
    loader = fairtrain.metered(
        datasets.Dataset.from_dict({"n": list(range(40))}).to_iterable_dataset(num_shards=1),
        meter,
        usage,
    )
    loader.load_state_dict(checkpoint)
    resumed = [row["n"] for row in loader]
    assert resumed == list(range(15, 40)), "the dataset resumed where the checkpoint was"
    meter.commit()
    assert recorded(meter) == {5: 40}
    assert np.array_equal(np.array(seen[:15] + resumed), np.arange(40))
