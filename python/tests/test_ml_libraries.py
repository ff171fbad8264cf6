"""The adapters against the libraries they adapt: PyTorch's ``DataLoader`` and ``Dataset``, and
Hugging Face ``datasets`` (row iteration, batched iteration, and a stateful ``IterableDataset``
resumed from its ``state_dict``)."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import torch
from conftest import offline_meter, recorded
from torch.utils.data import DataLoader, TensorDataset

import fairtrain


def test_a_torch_dataloader_counts_its_batches_and_a_dataset_its_samples(tmp_path: Path) -> None:
    meter = offline_meter(tmp_path)
    data = TensorDataset(torch.zeros(50, 3, 8, 8), torch.zeros(50, dtype=torch.long))
    loader = DataLoader(data, batch_size=16)  # 16, 16, 16, 2

    sizes = [len(x) for x, _ in fairtrain.metered(loader, meter, fairtrain.Usage(1, 1, "dl"))]
    assert sizes == [16, 16, 16, 2]
    # A Dataset iterated directly yields samples: one each, not the image's first dimension (3).
    items = list(fairtrain.metered(data, meter, fairtrain.Usage(2, 1, "ds")))
    assert len(items) == 50
    dicts = DataLoader([{"x": torch.zeros(4), "y": 1}] * 10, batch_size=4)
    list(fairtrain.metered(dicts, meter, fairtrain.Usage(3, 1, "dicts")))
    meter.commit()
    assert recorded(meter) == {1: 50, 2: 50, 3: 10}


def test_a_torch_training_loop_changes_by_one_line(tmp_path: Path) -> None:
    torch.manual_seed(0)
    meter = offline_meter(tmp_path)
    x = torch.randn(64, 2)
    y = (x[:, 0] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(3):
        for inputs, labels in fairtrain.metered(loader, meter, fairtrain.Usage(1, 1, "loop")):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(inputs), labels).backward()
            optimizer.step()
    meter.commit()
    assert recorded(meter) == {1: 3 * 64}
    assert (model(x).argmax(1) == y).float().mean() > 0.9


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
