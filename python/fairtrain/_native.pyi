"""Type hints for ``fairtrain._native``, the Rust core (python/src)."""

from os import PathLike
from pathlib import Path
from typing import Any, Literal

__version__: str

class FairtrainError(Exception):
    """Base class of every error the package raises."""

    code: str

class JournalError(FairtrainError):
    """The usage journal (SQLite) failed; nothing the failing call recorded was kept."""

class CountOverflow(FairtrainError):
    """A cumulative count would pass 2**63 - 1."""

class RelayerUnreachable(FairtrainError):
    """The relayer could not be reached or kept failing; nothing was lost."""

class RelayerRefused(FairtrainError):
    """The relayer refused a request (``status``, ``code``) or receipts (``refusals``)."""

    status: int
    refusals: list[Refused]

class DatasetError(FairtrainError):
    """A dataset failed its check: manifest, signature, files or license."""

class GatewayRefused(FairtrainError):
    """A data gateway refused (``status``, ``code``: e.g. ``terms_not_accepted``) or was
    unreachable (``status`` 0, ``code`` ``unreachable``)."""

    status: int

class ProtocolError(FairtrainError):
    """A malformed value, or a relayer answering off-protocol."""

class Usage:
    """A license, under an accepted terms version, within one run: with the payer, the
    escrow's usage key. ``run`` is 32 bytes, ``0x``-hex of 32 bytes, or a name (hashed)."""

    def __init__(self, license_id: int, terms_id: int, run: str | bytes) -> None: ...
    @property
    def license_id(self) -> int: ...
    @property
    def terms_id(self) -> int: ...
    @property
    def run_id(self) -> str: ...
    def __hash__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...

class Refused:
    """A receipt the relayer refused."""

    usage: Usage
    cumulative: int
    code: str
    message: str

class FlushReport:
    """What one flush did."""

    sent: int
    accepted: int
    duplicates: int
    refused: list[Refused]

class Entry:
    """One usage's state in the journal."""

    usage: Usage
    recorded: int
    acked: int
    refused: Refused | None
    @property
    def unreported(self) -> int: ...

class Meter:
    """Counts the samples a training run draws and pays for them with cumulative receipts.

    Give either ``deployment`` (a ``deployments/<chainId>.json``) or ``chain_id`` and
    ``escrow``. A background task commits counts every ``commit_every`` seconds and flushes
    every ``flush_every`` seconds (``None`` turns either off). An unreachable relayer is tried
    ``attempts`` times, waiting ``initial_backoff`` seconds then twice as long each time. Use it
    as a context manager, or call :meth:`close`.

    ``restart`` says what the samples the journal already holds are when the meter opens:
    ``"replays"`` (a training job started again trains again from its start: they are skipped
    until :meth:`load_state_dict` says where the job stands) or ``"continues"`` (a process
    without a position of its own: everything counted is new).
    """

    def __init__(
        self,
        *,
        journal: str | PathLike[str],
        relayer_url: str,
        payer: str,
        signer_key: str,
        deployment: str | PathLike[str] | None = None,
        chain_id: int | None = None,
        escrow: str | None = None,
        max_bulk: int = 1000,
        commit_every: float | None = 0.25,
        flush_every: float | None = 10.0,
        attempts: int = 6,
        initial_backoff: float = 0.2,
        request_timeout: float = 30.0,
        restart: Literal["replays", "continues"] = "replays",
    ) -> None: ...
    def record(self, usage: Usage, samples: int) -> int:
        """Counts samples in memory (no I/O); returns those counted (replays are skipped)."""
    def record_durably(self, usage: Usage, samples: int) -> int:
        """Counts and commits before returning; returns the new cumulative count."""
    @property
    def uncommitted(self) -> int: ...
    def commit(self) -> None:
        """Moves the counts into the journal, durably."""
    def flush(self, *, strict: bool = True) -> FlushReport:
        """Commits, signs and sends a receipt per usage with unreported samples."""
    def status(self) -> list[Entry]: ...
    def state_dict(self) -> dict[str, Any]:
        """Commits; the position to save with a training checkpoint."""
    def load_state_dict(self, state: dict[str, Any]) -> list[tuple[Usage, int, int, int, int]]:
        """Resumes from a checkpoint: ``(usage, checkpoint, journal, credit, raised)`` each."""
    def close(self) -> FlushReport:
        """Stops the background task, then commits and flushes (strictly)."""
    def __enter__(self) -> Meter: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...

class DatasetCheck:
    """What :func:`verify_dataset` established."""

    @property
    def manifest_hash(self) -> str: ...
    @property
    def creator(self) -> str: ...
    @property
    def files(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def metadata(self) -> dict[str, str]:
        """The manifest's collection or device metadata, as the creator signed it."""
    @property
    def license_id(self) -> int | None: ...

class OpenedDataset:
    """What :func:`open_dataset` did: the folder, verified, and how the download went."""

    @property
    def path(self) -> Path:
        """The dataset's folder; every file in it was checked against the manifest."""
    @property
    def manifest_path(self) -> Path:
        """The signed manifest, written next to the folder (``<path>.manifest.json``)."""
    @property
    def check(self) -> DatasetCheck: ...
    @property
    def downloaded(self) -> int: ...
    @property
    def resumed(self) -> int: ...
    @property
    def kept(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def access_id(self) -> str: ...
    @property
    def receipt(self) -> str | None: ...

def run_id(name: str) -> str:
    """``keccak256(name)``, ``0x``-hex: the run id of the run named ``name``."""

def deployment(path: str | PathLike[str]) -> dict[str, Any]:
    """A checked deployment file, as a dict with the file's own names."""

def receipt_digest(chain_id: int, escrow: str, receipt: dict[str, Any]) -> str:
    """The EIP-712 digest of a receipt dict (``payer``, ``licenseId``, ``termsId``, ``runId``,
    ``cumulativeSamples``, ``issuedAt``)."""

def sign_receipt(chain_id: int, escrow: str, key: str, receipt: dict[str, Any]) -> str:
    """The 65-byte signature of a receipt dict by ``key``, ``0x``-hex."""

def recover_signer(chain_id: int, escrow: str, receipt: dict[str, Any], signature: str) -> str:
    """The checksummed address that signed ``receipt``."""

def verify_dataset(
    manifest: str | PathLike[str],
    folder: str | PathLike[str],
    *,
    rpc_url: str | None = None,
    license_nft: str | None = None,
    license_id: int | None = None,
) -> DatasetCheck:
    """Checks a signed manifest, a local folder and, optionally, the license on-chain."""

def open_dataset(
    license_id: int,
    *,
    gateway: str,
    out: str | PathLike[str],
    signer_key: str,
    rpc_url: str,
    license_nft: str,
    payer: str | None = None,
    terms_id: int | None = None,
) -> OpenedDataset:
    """Gets a license's dataset from a gateway into ``out``: access asked with a request
    ``signer_key`` signs (for ``payer`` when it is a registered training key), every file
    downloaded (partial files resumed) and checked against the manifest the license records.
    Raises :class:`GatewayRefused` with the gateway's code, :class:`DatasetError` on a byte that
    is not the creator's."""

def device_metadata(profile_json: str) -> dict[str, str]:
    """The validated ``device.`` metadata entries of a quantum device profile (JSON)."""

def device_profile(metadata: dict[str, str]) -> str | None:
    """The quantum device profile in a manifest's metadata, as JSON; ``None`` without one."""

def build_manifest(
    folder: str | PathLike[str],
    out: str | PathLike[str],
    *,
    name: str,
    description: str = "",
    metadata: dict[str, str] | None = None,
    signer_key: str | None = None,
    creator: str | None = None,
    created_at: int | None = None,
) -> str:
    """Builds (and with ``signer_key``, signs) the manifest of ``folder``, writes it to ``out``;
    returns the manifest hash. ``metadata`` carries collection or device metadata."""
