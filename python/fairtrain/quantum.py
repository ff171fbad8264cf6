"""Quantum datasets: checked against their signed manifest (and license) first, then loaded into
PennyLane (``qml.data.Dataset``, HDF5) or Qiskit (circuits in QPY files), with the device
metadata the creator signed at hand.

    data = fairtrain.quantum.verify("manifest.json", "circuits/", rpc_url=…, license_nft=…,
                                    license_id=7)
    dataset = fairtrain.quantum.pennylane_dataset(data, "train.h5")
    circuits = fairtrain.quantum.qiskit_circuits(data, "circuits.qpy")
    shots = data.shots                                  # from the manifest's metadata
    for batch in fairtrain.metered(circuits, meter, usage, samples=per_shot(shots)): ...

A creator describes the device with a typed profile (docs/manifest.md §7), from a Qiskit
``Target`` with :func:`profile_from_target`, signed into the manifest with
:func:`device_metadata`; a trainer reads it back, validated, as ``data.device``.

PennyLane and Qiskit are imported only by the function that needs them; neither is a
dependency of the package.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairtrain import _native
from fairtrain._native import DatasetCheck, DatasetError, verify_dataset
from fairtrain.adapters import count_samples

if TYPE_CHECKING:
    import pennylane as qml
    from qiskit import QuantumCircuit


@dataclass(frozen=True)
class Verified:
    """A dataset folder that matched its signed manifest (and license) when checked."""

    folder: Path
    check: DatasetCheck

    @property
    def metadata(self) -> dict[str, str]:
        """The manifest's collection or device metadata (e.g. ``device``, ``qubits``,
        ``shots``), as the creator signed it."""
        return self.check.metadata

    @property
    def device(self) -> dict[str, Any] | None:
        """The manifest's quantum device profile (provider, backend, qubits, calibratedAt,
        shots, circuits, qubitProperties, gates), validated; ``None`` without one."""
        profile = _native.device_profile(self.metadata)
        return None if profile is None else json.loads(profile)

    @property
    def shots(self) -> int | None:
        """Shots per circuit: the device profile's, else the metadata's ``shots`` if it is a
        whole number."""
        device = self.device
        if device is not None:
            return int(device["shots"])
        value = self.metadata.get("shots", "")
        return int(value) if value.isdigit() else None

    def path(self, relative: str) -> Path:
        """A file of the dataset. Refuses paths that leave the folder."""
        folder = self.folder.resolve()
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            error = DatasetError(f"{relative}: not a file of the dataset in {self.folder}")
            error.code = "dataset"
            raise error
        return path


def verify(
    manifest: str | Path,
    folder: str | Path,
    *,
    rpc_url: str | None = None,
    license_nft: str | None = None,
    license_id: int | None = None,
) -> Verified:
    """Checks ``folder`` against the signed ``manifest`` (and, with the three license
    arguments, the license on-chain): see :func:`fairtrain.verify_dataset`."""
    check = verify_dataset(
        manifest, folder, rpc_url=rpc_url, license_nft=license_nft, license_id=license_id
    )
    return Verified(Path(folder), check)


def pennylane_dataset(data: Verified, file: str) -> qml.data.Dataset:
    """The PennyLane dataset (HDF5) in ``file`` of a verified dataset, opened read-only."""
    import pennylane as qml

    return qml.data.Dataset.open(data.path(file), mode="r")


def qiskit_circuits(data: Verified, file: str) -> list[QuantumCircuit]:
    """The circuits stored (QPY) in ``file`` of a verified dataset."""
    from qiskit import qpy

    with data.path(file).open("rb") as stream:
        return list(qpy.load(stream))


def per_shot(shots: int) -> Callable[[Any], int]:
    """A ``samples`` function for :func:`fairtrain.metered` that counts every shot: an item (a
    circuit, a list of circuits, a batch of inputs each run as one circuit) is ``shots``
    samples per circuit (:func:`fairtrain.count_samples` circuits)."""
    if shots <= 0:
        raise ValueError(f"shots must be positive, not {shots}")

    def samples(item: Any) -> int:
        return count_samples(item) * shots

    return samples


def device_metadata(profile: dict[str, Any]) -> dict[str, str]:
    """The ``device.`` metadata entries of a device profile, validated (error rates in [0, 1],
    durations not negative, gates on qubits the device has): pass them in
    :func:`fairtrain.build_manifest`'s ``metadata``. Raises :class:`DatasetError`."""
    return _native.device_metadata(json.dumps(profile))


def profile_from_target(
    target: Any,
    *,
    provider: str,
    backend: str,
    calibrated_at: int,
    shots: int,
    circuits: int,
) -> dict[str, Any]:
    """A device profile from a Qiskit ``Target``: T1 and T2 from ``qubit_properties``, the
    readout error from the ``measure`` instruction, and each other instruction's error and
    duration on its qubits."""
    qubits = []
    for index in range(target.num_qubits):
        props = (target.qubit_properties or [None] * target.num_qubits)[index]
        entry: dict[str, float] = {}
        if props is not None and props.t1 is not None:
            entry["t1"] = float(props.t1)
        if props is not None and props.t2 is not None:
            entry["t2"] = float(props.t2)
        measure = target["measure"].get((index,)) if "measure" in target else None
        if measure is not None and measure.error is not None:
            entry["readoutError"] = float(measure.error)
        qubits.append(entry)
    gates = []
    for name in sorted(target.operation_names):
        if name in ("measure", "delay", "reset"):
            continue
        for qargs, props in sorted(target[name].items(), key=lambda item: item[0] or ()):
            if qargs is None or props is None:
                continue
            gate: dict[str, Any] = {"name": name, "qubits": list(qargs)}
            if props.error is not None:
                gate["error"] = float(props.error)
            if props.duration is not None:
                gate["duration"] = float(props.duration)
            gates.append(gate)
    return {
        "provider": provider,
        "backend": backend,
        "qubits": target.num_qubits,
        "calibratedAt": calibrated_at,
        "shots": shots,
        "circuits": circuits,
        "qubitProperties": qubits,
        "gates": gates,
    }
