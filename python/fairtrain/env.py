"""A meter configured from the environment, with the names ``fairtrain-meter`` reads."""

from __future__ import annotations

import os
from pathlib import Path

from fairtrain._native import Meter


def meter_from_env(*, commit_every: float | None = 0.25, flush_every: float | None = 10.0) -> Meter:
    """A :class:`Meter` configured like ``fairtrain-meter``:

    - ``FAIRTRAIN_JOURNAL`` (default ``fairtrain-usage.db``): the usage journal;
    - ``FAIRTRAIN_RELAYER_URL`` (default ``http://127.0.0.1:8080``);
    - ``FAIRTRAIN_DEPLOYMENT`` (default ``deployments/31337.json``): chain and escrow;
    - ``FAIRTRAIN_PAYER`` and ``FAIRTRAIN_SIGNER_KEY`` (required).

    Raises ``KeyError`` naming a missing required variable.
    """
    for name in ("FAIRTRAIN_PAYER", "FAIRTRAIN_SIGNER_KEY"):
        if not os.environ.get(name):
            raise KeyError(f"{name} is not set")
    return Meter(
        journal=Path(os.environ.get("FAIRTRAIN_JOURNAL", "fairtrain-usage.db")),
        relayer_url=os.environ.get("FAIRTRAIN_RELAYER_URL", "http://127.0.0.1:8080"),
        deployment=Path(os.environ.get("FAIRTRAIN_DEPLOYMENT", "deployments/31337.json")),
        payer=os.environ["FAIRTRAIN_PAYER"],
        signer_key=os.environ["FAIRTRAIN_SIGNER_KEY"],
        commit_every=commit_every,
        flush_every=flush_every,
    )
