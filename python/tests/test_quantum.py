"""Quantum datasets: a PennyLane HDF5 dataset and Qiskit circuits, published with device
metadata in a signed manifest, verified, loaded and metered per shot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pennylane as qml
import pytest
from conftest import offline_meter, recorded
from qiskit import QuantumCircuit, qpy

import fairtrain
from fairtrain import quantum

CREATOR_KEY = "0x" + "5a" * 32
DEVICE = {"device": "default.qubit", "qubits": "2", "shots": "1000", "noise": "none"}


def publish(root: Path) -> tuple[Path, Path]:
    """A creator's folder: a PennyLane dataset and a QPY file of circuits, and its manifest."""
    folder = root / "quantum"
    folder.mkdir()
    rng = np.random.default_rng(3)
    features = rng.uniform(0, np.pi, (20, 2))
    labels = (features.sum(axis=1) > np.pi).astype(int)
    qml.data.Dataset(data_name="angles", features=features, labels=labels).write(
        folder / "train.h5"
    )
    circuits = []
    for theta in features[:6, 0]:
        circuit = QuantumCircuit(2)
        circuit.ry(theta, 0)
        circuit.cx(0, 1)
        circuit.measure_all()
        circuits.append(circuit)
    with (folder / "circuits.qpy").open("wb") as stream:
        qpy.dump(circuits, stream)
    manifest = root / "manifest.json"
    fairtrain.build_manifest(
        folder, manifest, name="Angles on two qubits", metadata=DEVICE, signer_key=CREATOR_KEY
    )
    return manifest, folder


def test_a_verified_dataset_loads_into_pennylane_and_qiskit(tmp_path: Path) -> None:
    manifest, folder = publish(tmp_path)
    data = quantum.verify(manifest, folder)
    assert data.metadata == DEVICE
    assert data.shots == 1000

    dataset = quantum.pennylane_dataset(data, "train.h5")
    assert dataset.features.shape == (20, 2)
    assert set(np.unique(dataset.labels)) <= {0, 1}

    circuits = quantum.qiskit_circuits(data, "circuits.qpy")
    assert len(circuits) == 6 and circuits[0].num_qubits == int(data.metadata["qubits"])

    # Every circuit run at the manifest's shots is that many samples.
    meter = offline_meter(tmp_path)
    usage = fairtrain.Usage(7, 1, "vqc")
    for _circuit in fairtrain.metered(circuits, meter, usage, samples=quantum.per_shot(data.shots)):
        pass
    batches = [circuits[:4], circuits[4:]]
    list(fairtrain.metered(batches, meter, usage, samples=quantum.per_shot(10)))
    meter.commit()
    assert recorded(meter) == {7: 6 * 1000 + 6 * 10}


def test_a_tampered_dataset_is_refused_before_any_library_opens_it(tmp_path: Path) -> None:
    manifest, folder = publish(tmp_path)
    with (folder / "train.h5").open("r+b") as stream:
        stream.seek(-8, 2)
        stream.write(b"tampered")
    with pytest.raises(fairtrain.DatasetError, match="train.h5"):
        quantum.verify(manifest, folder)


def test_only_files_of_the_dataset_are_opened(tmp_path: Path) -> None:
    manifest, folder = publish(tmp_path)
    data = quantum.verify(manifest, folder)
    for outside in ("../manifest.json", "missing.h5", "/etc/passwd"):
        with pytest.raises(fairtrain.DatasetError):
            data.path(outside)
    with pytest.raises(ValueError):
        quantum.per_shot(0)


def test_a_device_profile_from_a_qiskit_target_is_signed_and_read_back(tmp_path: Path) -> None:
    from qiskit.providers.fake_provider import GenericBackendV2

    target = GenericBackendV2(num_qubits=5, seed=11).target
    profile = quantum.profile_from_target(
        target,
        provider="fake",
        backend="generic_5q",
        calibrated_at=1_750_000_000,
        shots=1000,
        circuits=6,
    )
    assert len(profile["qubitProperties"]) == 5 and profile["gates"]
    folder = tmp_path / "device"
    folder.mkdir()
    (folder / "README.md").write_text("circuits measured on a generic 5-qubit device\n")
    manifest = tmp_path / "manifest.json"
    metadata = {"notes": "seeded", **quantum.device_metadata(profile)}
    fairtrain.build_manifest(
        folder, manifest, name="Generic", metadata=metadata, signer_key=CREATOR_KEY
    )

    data = quantum.verify(manifest, folder)
    device = data.device
    assert device is not None and data.shots == 1000
    assert device["backend"] == "generic_5q" and device["qubits"] == 5
    # Every number survives the trip through the signed metadata exactly, and maps back onto the
    # target's own values.
    for index, props in enumerate(device["qubitProperties"]):
        assert props["t1"] == target.qubit_properties[index].t1
        assert props["readoutError"] == target["measure"][(index,)].error
    two_qubit = [g for g in device["gates"] if len(g["qubits"]) == 2]
    assert two_qubit
    for gate in two_qubit:
        assert gate["error"] == target[gate["name"]][tuple(gate["qubits"])].error

    # What a device cannot have is refused when the manifest is built.
    for broken in (
        {**profile, "gates": [{**profile["gates"][0], "error": 1.5}]},
        {**profile, "gates": [{**profile["gates"][0], "qubits": [0, 9]}]},
        {**profile, "qubits": 0},
    ):
        with pytest.raises(fairtrain.DatasetError, match="device profile"):
            quantum.device_metadata(broken)
    with pytest.raises(fairtrain.DatasetError, match="device"):
        fairtrain.build_manifest(
            folder,
            tmp_path / "bad.json",
            name="x",
            metadata={"device.qubits": "two"},
            signer_key=CREATOR_KEY,
        )
