"""Wrappers that meter what a training loop iterates over.

:func:`metered` wraps any iterable (a PyTorch ``DataLoader`` or ``Dataset``, a Hugging Face
``datasets`` dataset or its ``.iter(batch_size=…)``, a JAX/Grain loader, a generator) and
records each item's samples with the meter as the item is handed to the loop, before the
training step sees it.

Resuming: save ``wrapper.state_dict()`` in the same checkpoint as the model and optimizer; on
restart, ``wrapper.load_state_dict(saved)`` restores the meter's position (replays of samples
already counted are skipped, see ``fairtrain.Meter.load_state_dict``) and, when the wrapped
loader is stateful (``torchdata``'s ``StatefulDataLoader``, a Hugging Face ``IterableDataset``),
its position too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from fairtrain._native import Meter, Usage

T = TypeVar("T")

#: How many samples an item holds: a fixed number, or a function of the item.
Samples = int | Callable[[Any], int] | None


def count_samples(item: Any) -> int:
    """The samples in one item a loader yields, by its shape:

    - an array or tensor (anything with ``.shape``): its first dimension;
    - a mapping (a collated dict of tensors, a ``datasets`` batch of columns): the samples of
      its first value;
    - a tuple or list whose first element has a shape (an ``(inputs, labels)`` batch): that
      element's first dimension; any other list or tuple: its length;
    - anything else (one row, one example): 1.

    A single example that is a dict of lists (one Hugging Face row with a list-valued column)
    would be read as a batch: pass ``samples=1`` to :func:`metered` for row-wise iteration.
    """
    shape = getattr(item, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) > 0 else 1
    if isinstance(item, Mapping):
        for value in item.values():
            if isinstance(value, str | bytes):
                return 1
            return count_samples(value) if _is_batch(value) else 1
        return 0
    if isinstance(item, tuple | list):
        if item and getattr(item[0], "shape", None) is not None:
            return count_samples(item[0])
        return len(item)
    return 1


def _is_batch(value: Any) -> bool:
    return getattr(value, "shape", None) is not None or isinstance(value, tuple | list)


def _yields_examples(data: Any) -> bool:
    """Whether iterating ``data`` yields one example per item: a Hugging Face ``datasets``
    dataset (rows), or a PyTorch ``Dataset`` or ``IterableDataset`` (samples, before a
    ``DataLoader`` batches them)."""
    if type(data).__module__.startswith("datasets."):
        return True
    torch_data = sys.modules.get("torch.utils.data")
    return torch_data is not None and isinstance(data, torch_data.Dataset)


class Metered(Generic[T]):
    """An iterable that records each item's samples with a meter as it hands the item out.

    Keeps ``len()`` of the wrapped iterable when it has one. See :func:`metered`.
    """

    def __init__(self, data: Iterable[T], meter: Meter, usage: Usage, samples: Samples) -> None:
        self.data = data
        self.meter = meter
        self.usage = usage
        if samples is None:
            samples = 1 if _yields_examples(data) else count_samples
        self._samples: Callable[[Any], int] = (
            (lambda _item, n=samples: n) if isinstance(samples, int) else samples
        )
        #: Samples handed out through this wrapper (replays included).
        self.handed_out = 0

    def __iter__(self) -> Iterator[T]:
        record = self.meter.record
        usage = self.usage
        samples = self._samples
        for item in self.data:
            n = samples(item)
            record(usage, n)
            self.handed_out += n
            yield item

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def state_dict(self) -> dict[str, Any]:
        """The meter's position (committed first) and, if the wrapped loader is stateful, its
        own ``state_dict()``: save it with the training checkpoint."""
        state: dict[str, Any] = {"meter": self.meter.state_dict()}
        if callable(getattr(self.data, "state_dict", None)):
            state["data"] = self.data.state_dict()  # type: ignore[attr-defined]
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores a position saved by :meth:`state_dict`, before iterating again."""
        self.meter.load_state_dict(dict(state["meter"]))
        if "data" in state and callable(getattr(self.data, "load_state_dict", None)):
            self.data.load_state_dict(state["data"])  # type: ignore[attr-defined]


def metered(
    data: Iterable[T], meter: Meter, usage: Usage, *, samples: Samples = None
) -> Metered[T]:
    """Wraps ``data`` so that each item it yields is recorded with ``meter`` under ``usage``.

    ``samples`` says how many samples an item holds: a number, a function of the item, or
    ``None`` to read it from the item's shape (:func:`count_samples`), except for a dataset
    iterated item by item (a Hugging Face dataset, a PyTorch ``Dataset``), whose items count one
    each.
    """
    return Metered(data, meter, usage, samples)
