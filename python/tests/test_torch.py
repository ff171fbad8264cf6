"""The adapters against PyTorch: a ``DataLoader``, a ``Dataset`` and a training loop.

PyTorch's Linux wheel brings the CUDA libraries (5.3 GB; no CPU-only wheel is reachable here), so
CI does not install it and these tests are skipped there; ``FAIRTRAIN_TEST_TORCH=1 ./scripts/test``
(or ``./scripts/setup --torch``) installs it and runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import offline_meter, recorded

import fairtrain

torch = pytest.importorskip("torch", reason="PyTorch is not installed (./scripts/setup --torch)")
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


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
