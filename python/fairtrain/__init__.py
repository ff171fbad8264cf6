"""Pay dataset creators for what a training run samples.

``fairtrain`` is the Python face of Fairtrain's Rust SDK: a :class:`Meter` that counts the
samples a training loop draws, keeps them in a durable journal and reports them to a relayer
as cumulative EIP-712 receipts signed by the payer's training key; adapters that wrap what a
loop already iterates over (:func:`metered`); the dataset check to run before training
(:func:`verify_dataset`); and the download of a licensed dataset from a gateway, every file
checked (:func:`open_dataset`). The protocol itself (journal, signing, manifests) is the Rust code,
compiled into ``fairtrain._native``; nothing of it is implemented twice.

One line in a training loop::

    with fairtrain.meter_from_env() as meter:
        for batch in fairtrain.metered(loader, meter, fairtrain.Usage(license_id, 1, "run-42")):
            step(batch)
"""

from fairtrain._native import (
    CountOverflow,
    DatasetCheck,
    DatasetError,
    Entry,
    FairtrainError,
    FlushReport,
    GatewayRefused,
    JournalError,
    Meter,
    OpenedDataset,
    ProtocolError,
    Refused,
    RelayerRefused,
    RelayerUnreachable,
    Usage,
    __version__,
    build_manifest,
    deployment,
    open_dataset,
    receipt_digest,
    recover_signer,
    run_id,
    sign_receipt,
    verify_dataset,
)
from fairtrain.adapters import Metered, count_samples, metered
from fairtrain.env import meter_from_env

__all__ = [
    "CountOverflow",
    "DatasetCheck",
    "DatasetError",
    "Entry",
    "FairtrainError",
    "FlushReport",
    "GatewayRefused",
    "JournalError",
    "Meter",
    "Metered",
    "OpenedDataset",
    "ProtocolError",
    "Refused",
    "RelayerRefused",
    "RelayerUnreachable",
    "Usage",
    "__version__",
    "build_manifest",
    "count_samples",
    "deployment",
    "meter_from_env",
    "metered",
    "open_dataset",
    "receipt_digest",
    "recover_signer",
    "run_id",
    "sign_receipt",
    "verify_dataset",
]
