"""The model registry: one versioned folder per trained policy and a ``current`` pointer.

Layout under the registry root (``<state dir>/models`` by default; any folder works)::

    <root>/versions/<version>/model.zip       the stable-baselines3 / sb3-contrib save (MaskablePPO)
    <root>/versions/<version>/metadata.json   :class:`ModelMetadata`: what the model expects and how it was made
    <root>/current                            one line: the version the trader uses (``rl:current``)

Why each field exists: a policy is only valid for the observation it was trained on (``feature_version``,
``n_features``), the actions it chooses between (``actions``), the fee arithmetic that shaped its rewards
(``fee_version``), and the markets it saw (``data_fingerprint``, ``training_markets``); the rest
(hyper-parameters, seed, metrics, library versions) makes a run reproducible and comparable.

Writes are atomic: a version is written into a temporary folder and renamed into place, and the pointer is
replaced with ``os.replace``, so a crash never leaves a half-written model or pointer that looks valid. A reader
that finds one anyway (a truncated zip, bad JSON, a checksum mismatch, a pointer to a missing folder) gets one
:class:`ModelRegistryError` line saying which and where; a model for another feature version or action space
gets :class:`IncompatibleModelError` before any weights are read. Loading is the only place here that imports
torch (through sb3-contrib), lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "CURRENT",
    "REGISTRY_FORMAT",
    "CorruptModelError",
    "IncompatibleModelError",
    "LoadedModel",
    "ModelMetadata",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelRegistryError",
    "data_fingerprint",
    "new_version_id",
]

REGISTRY_FORMAT: Final = 1
"""Version of the folder layout and metadata schema."""

CURRENT: Final = "current"
"""The pointer's file name, and the spec that resolves through it (``rl:current``)."""

_MODEL_FILE: Final = "model.zip"
_META_FILE: Final = "metadata.json"
_VERSION_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ModelRegistryError(Exception):
    """A model could not be saved, found, read or used; the message is one line saying which and where."""


class ModelNotFoundError(ModelRegistryError):
    """No such version, no ``current`` pointer, or a pointer naming a version that is not there."""


class CorruptModelError(ModelRegistryError):
    """A model folder exists but its metadata or weights are unreadable, truncated or fail their checksum."""


class IncompatibleModelError(ModelRegistryError):
    """A readable model whose feature version, observation size or action space differ from the caller's."""


class ModelMetadata(BaseModel):
    """``metadata.json`` of one model version.

    Attributes:
        format: :data:`REGISTRY_FORMAT` of the writer.
        version: the version id (the folder name).
        created_at: when it was saved (UTC).
        algorithm: the SB3 class, e.g. ``"MaskablePPO"``.
        feature_version: :data:`rl.features.FEATURE_VERSION` of its observations.
        n_features: its observation length.
        actions: the action names in index order (the env's action space, e.g. ``["HOLD", "BUY_YES_TAKE", ...]``).
        fee_version: :data:`models.fees.FEE_VERSION` of the fees in its rewards.
        reward: the reward's name (``"net_portfolio_change"`` by default).
        shaping: optional reward shaping terms and weights; empty by default (no shaping).
        env_config: the environment settings that change what an action does (order size, limits, coalescing).
        data_fingerprint: :func:`data_fingerprint` of the training markets' tape files.
        training_markets, validation_markets: the market tickers of the time-ordered split.
        hyperparameters: the algorithm's hyper-parameters.
        seed: the training seed.
        training_metrics, validation_metrics: figures measured at the end of training (names -> numbers).
        library_versions: package -> version of the training run (torch, stable-baselines3, sb3-contrib, ...).
        model_sha256: sha256 of ``model.zip`` (hex), checked on load.

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int = REGISTRY_FORMAT
    version: str = Field(pattern=_VERSION_RE.pattern)
    created_at: datetime
    algorithm: str = "MaskablePPO"
    feature_version: int = Field(ge=1)
    n_features: int = Field(ge=1)
    actions: tuple[str, ...] = Field(min_length=2)
    fee_version: int = Field(ge=1)
    reward: str = "net_portfolio_change"
    shaping: dict[str, float] = Field(default_factory=dict)
    env_config: dict[str, Any] = Field(default_factory=dict)
    data_fingerprint: str
    training_markets: tuple[str, ...] = ()
    validation_markets: tuple[str, ...] = ()
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    seed: int
    training_metrics: dict[str, float] = Field(default_factory=dict)
    validation_metrics: dict[str, float] = Field(default_factory=dict)
    library_versions: dict[str, str] = Field(default_factory=dict)
    model_sha256: str = ""


class _Saveable(Protocol):
    def save(self, path: Path) -> None:
        """Write the model's zip to ``path`` (what an SB3 algorithm's ``save`` does)."""
        ...


@dataclass(frozen=True)
class LoadedModel:
    """A model read from the registry: the SB3 algorithm object and its metadata.

    Attributes:
        model: the loaded ``MaskablePPO`` (on CPU), ready for ``predict(obs, action_masks=...)``.
        metadata: its :class:`ModelMetadata`.
        path: the version folder it came from.

    """

    model: Any
    metadata: ModelMetadata
    path: Path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_fingerprint(files: Iterable[Path], root: Path | None = None) -> str:
    """A sha256 (hex) over tape files: each file's name (relative to ``root`` when given), size and content.

    Order-independent (files are sorted by name), so the same training markets give the same fingerprint
    wherever the data lies.

    Raises:
        ModelRegistryError: a file cannot be read.

    """
    digest = hashlib.sha256()
    entries = []
    for path in files:
        name = path.relative_to(root).as_posix() if root is not None else path.name
        entries.append((name, path))
    for name, path in sorted(entries):
        try:
            size = path.stat().st_size
            content = _sha256(path)
        except OSError as exc:
            raise ModelRegistryError(f"cannot fingerprint {path}: {exc.strerror or exc}") from exc
        digest.update(f"{name}\0{size}\0{content}\n".encode())
    return digest.hexdigest()


def new_version_id(tag: str = "ppo", now: datetime | None = None) -> str:
    """A fresh version id, ``<UTC time>-<tag>-<6 random hex>``, e.g. ``20260811T203000Z-ppo-3f2a1c``.

    Raises:
        ModelRegistryError: ``tag`` holds characters other than letters, digits, ``.``, ``_`` and ``-``.

    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    version = f"{stamp}-{tag}-{os.urandom(3).hex()}"
    if not _VERSION_RE.match(version):
        raise ModelRegistryError(f"bad model tag {tag!r}: use letters, digits, '.', '_' and '-'")
    return version


class ModelRegistry:
    """Versioned model folders under ``root`` plus the ``current`` pointer (see the module docstring).

    Args:
        root: the registry folder (created on the first save).

    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / "versions"

    # -- reading ---------------------------------------------------------------------------------------

    def versions(self) -> list[str]:
        """Every saved version id, oldest first (ids start with their UTC time)."""
        if not self.versions_dir.is_dir():
            return []
        return sorted(p.name for p in self.versions_dir.iterdir() if p.is_dir() and _VERSION_RE.match(p.name))

    def current_version(self) -> str | None:
        """The version the ``current`` pointer names, or ``None`` when there is no pointer (cheap: one file read).

        Raises:
            CorruptModelError: the pointer file does not hold a valid version id.

        """
        pointer = self.root / CURRENT
        try:
            text = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CorruptModelError(f"model pointer {pointer} is unreadable: {exc.strerror or exc}") from exc
        if not _VERSION_RE.match(text):
            raise CorruptModelError(f"model pointer {pointer} does not name a version: {text[:80]!r}")
        return text

    def resolve(self, spec: str) -> str:
        """Turn ``"current"`` (or ``"rl:current"``) or a version id (optionally ``rl:<version>``) into a version id.

        Raises:
            ModelNotFoundError: no pointer, or the version is not in the registry.
            CorruptModelError: an unreadable pointer.

        """
        name = spec.removeprefix("rl:")
        if name == CURRENT:
            version = self.current_version()
            if version is None:
                raise ModelNotFoundError(f"no current model in {self.root} (train one, or set the pointer)")
        else:
            if not _VERSION_RE.match(name):
                raise ModelNotFoundError(f"{spec!r} is not a model version id")
            version = name
        if not (self.versions_dir / version).is_dir():
            raise ModelNotFoundError(f"model {version} not found in {self.versions_dir}")
        return version

    def metadata(self, spec: str) -> ModelMetadata:
        """The validated metadata of a version (``"current"`` allowed).

        Raises:
            ModelNotFoundError: see :meth:`resolve`.
            CorruptModelError: ``metadata.json`` missing, not JSON, or not a valid :class:`ModelMetadata`.

        """
        version = self.resolve(spec)
        path = self.versions_dir / version / _META_FILE
        try:
            raw = json.loads(path.read_bytes())
            meta = ModelMetadata.model_validate(raw)
        except FileNotFoundError:
            raise CorruptModelError(f"model {version}: {path.name} is missing") from None
        except (OSError, ValueError) as exc:
            reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc).splitlines()[0]
            raise CorruptModelError(f"model {version}: {path.name} is unreadable: {reason}") from exc
        if meta.version != version:
            raise CorruptModelError(f"model {version}: its metadata names version {meta.version}")
        return meta

    def check_compatible(
        self, meta: ModelMetadata, *, feature_version: int, n_features: int, actions: Sequence[str]
    ) -> None:
        """Refuse a model trained for another observation or action space.

        Raises:
            IncompatibleModelError: naming the first mismatch (expected vs the model's).

        """
        if meta.feature_version != feature_version:
            raise IncompatibleModelError(
                f"model {meta.version} uses feature version {meta.feature_version}; "
                f"this trader computes {feature_version}"
            )
        if meta.n_features != n_features:
            raise IncompatibleModelError(
                f"model {meta.version} expects {meta.n_features} features; this trader computes {n_features}"
            )
        if tuple(meta.actions) != tuple(actions):
            raise IncompatibleModelError(
                f"model {meta.version} chooses among {list(meta.actions)}; this trader's actions are {list(actions)}"
            )

    def load(
        self, spec: str, *, feature_version: int, n_features: int, actions: Sequence[str], algorithm: Any = None
    ) -> LoadedModel:
        """Load a version (``"current"`` allowed) for inference or further training, on CPU.

        Checks, in order: the folder exists, the metadata is valid, the model is compatible (before reading any
        weights), the zip's sha256 matches, the zip loads, and the loaded policy's observation and action spaces
        agree with the metadata.

        Args:
            spec: ``"current"``, ``"rl:current"``, a version id or ``"rl:<version>"``.
            feature_version: the caller's :data:`rl.features.FEATURE_VERSION`.
            n_features: the caller's observation length.
            actions: the caller's action names in index order.
            algorithm: the SB3 class to load with (default ``sb3_contrib.MaskablePPO``).

        Raises:
            ModelNotFoundError, CorruptModelError, IncompatibleModelError: one line each (see the classes).

        """
        meta = self.metadata(spec)
        self.check_compatible(meta, feature_version=feature_version, n_features=n_features, actions=actions)
        folder = self.versions_dir / meta.version
        zip_path = folder / _MODEL_FILE
        if not zip_path.is_file():
            raise CorruptModelError(f"model {meta.version}: {_MODEL_FILE} is missing")
        if meta.model_sha256 and _sha256(zip_path) != meta.model_sha256:
            raise CorruptModelError(f"model {meta.version}: {_MODEL_FILE} fails its checksum (truncated or altered)")
        if algorithm is None:
            from sb3_contrib import MaskablePPO

            algorithm = MaskablePPO
        try:
            model = algorithm.load(str(zip_path), device="cpu")
        except Exception as exc:  # SB3 raises zipfile, pickle, torch and KeyError errors for a bad file
            raise CorruptModelError(
                f"model {meta.version}: {_MODEL_FILE} does not load: {type(exc).__name__}: {str(exc)[:200]}"
            ) from exc
        obs_shape = getattr(model.observation_space, "shape", None)
        n_actions = getattr(model.action_space, "n", None)
        if obs_shape != (meta.n_features,) or n_actions != len(meta.actions):
            raise IncompatibleModelError(
                f"model {meta.version}: its policy takes observations {obs_shape} and {n_actions} actions, "
                f"its metadata says ({meta.n_features},) and {len(meta.actions)}"
            )
        return LoadedModel(model, meta, folder)

    # -- writing ---------------------------------------------------------------------------------------

    def save(self, model: _Saveable | Path, metadata: ModelMetadata, *, make_current: bool = False) -> Path:
        """Save a model as a new version, atomically, and optionally point ``current`` at it.

        Args:
            model: an SB3 algorithm (anything with ``save(path)``) or the path of a saved SB3 zip.
            metadata: its metadata; ``model_sha256`` is filled in here.
            make_current: also move the ``current`` pointer to it.

        Returns:
            The version folder.

        Raises:
            ModelRegistryError: the version already exists, or the files cannot be written.

        """
        folder = self.versions_dir / metadata.version
        if folder.exists():
            raise ModelRegistryError(f"model {metadata.version} already exists in {self.versions_dir}")
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{metadata.version}.", dir=self.versions_dir))
        try:
            zip_path = tmp / _MODEL_FILE
            if isinstance(model, Path):
                shutil.copyfile(model, zip_path)
            else:
                model.save(zip_path)
            if not zip_path.is_file():  # SB3 appends ".zip" when the name lacks it; ours has it
                raise ModelRegistryError(f"the model did not write {zip_path}")
            final = metadata.model_copy(update={"model_sha256": _sha256(zip_path)})
            (tmp / _META_FILE).write_text(final.model_dump_json(indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, folder)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelRegistryError(f"cannot save model {metadata.version}: {exc.strerror or exc}") from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if make_current:
            self.set_current(metadata.version)
        return folder

    def set_current(self, spec: str) -> str:
        """Point ``current`` at a version after checking its metadata reads; returns the version id.

        Raises:
            ModelNotFoundError, CorruptModelError: the version is missing or unreadable (the pointer is unchanged).

        """
        meta = self.metadata(spec)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".current.", dir=self.root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(meta.version + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.root / CURRENT)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return meta.version
