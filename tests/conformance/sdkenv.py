"""Virtualenvs holding Kalshi's official Python SDK (``kalshi-python-sync`` from PyPI), cached across runs.

Two SDKs are tested:

* ``NEWEST``: the newest release (3.3+ needs Python >= 3.13), found with ``KALSHI_SDK_PYTHON``, a
  ``python3.13``/``python3.14`` on PATH or a pyenv installation. Re-resolved against PyPI at most once a
  day, so a new SDK release is picked up by the next run.
* ``LEGACY``: 3.2.0, the last release that installs on Python 3.11 (what ``pip`` gives this project's
  interpreter).

Each SDK lives in ``.cache/kalshi-sdk/<label>-py<major><minor>/`` (override the folder with
``KALSHI_SDK_CACHE``). A ``stamp.json`` written after a successful install records the requirement, the
interpreter and the installed version; a venv whose stamp does not match is rebuilt (in a temporary folder
renamed into place, so an interrupted install never leaves a half-built venv that looks ready).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("KALSHI_SDK_CACHE", REPO_ROOT / ".cache" / "kalshi-sdk"))
RECHECK_S = 24 * 3600
INSTALL_TIMEOUT_S = 600


@dataclass(frozen=True)
class SdkSpec:
    """Which SDK to install: a label, the pip requirement and the oldest Python it supports."""

    label: str
    requirement: str
    min_python: tuple[int, int]

    @property
    def pinned(self) -> bool:
        """Whether the requirement names one exact version (no daily re-resolution needed)."""
        return "==" in self.requirement


NEWEST = SdkSpec("newest", "kalshi-python-sync", (3, 13))
LEGACY = SdkSpec("3.2.0", "kalshi-python-sync==3.2.0", (3, 11))


@dataclass(frozen=True)
class SdkEnv:
    """A ready SDK virtualenv: its Python and the installed SDK version."""

    python: Path
    version: str


class SdkUnavailable(Exception):
    """No SDK environment can be made here; the message is the one-line reason (used as a skip reason)."""


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    major, minor = out.split(".")
    return int(major), int(minor)


def find_python(minimum: tuple[int, int]) -> tuple[str, tuple[int, int]] | None:
    """An interpreter >= ``minimum`` that can create virtualenvs, or None.

    Looks at ``KALSHI_SDK_PYTHON``, this interpreter, ``python3.N`` on PATH (newest first) and pyenv's
    ``~/.pyenv/versions``.
    """
    candidates: list[str] = []
    if os.environ.get("KALSHI_SDK_PYTHON"):
        candidates.append(os.environ["KALSHI_SDK_PYTHON"])
    candidates.append(sys.executable)
    for minor in range(20, minimum[1] - 1, -1):
        found = shutil.which(f"python3.{minor}")
        if found:
            candidates.append(found)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates.extend(str(p) for p in sorted((pyenv_root / "versions").glob("3.*/bin/python3"), reverse=True))
    for candidate in candidates:
        version = _version_of(candidate)
        if version is not None and version >= minimum:
            return candidate, version
    return None


def _read_stamp(venv: Path) -> dict[str, object] | None:
    try:
        return json.loads((venv / "stamp.json").read_text())
    except (OSError, ValueError):
        return None


def _install(python: Path, requirement: str, *, upgrade: bool) -> str:
    args = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if upgrade:
        args.append("--upgrade")
    proc = subprocess.run([*args, requirement], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise SdkUnavailable(f"could not install {requirement} from PyPI: {last}")
    return subprocess.run(
        [str(python), "-c", "import kalshi_python_sync as k; print(k.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()


def _bin(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_sdk(spec: SdkSpec) -> SdkEnv:
    """Return a ready virtualenv with the SDK of ``spec``, creating or refreshing it as needed.

    Raises:
        SdkUnavailable: no suitable Python, or PyPI unreachable and no usable cached venv.

    """
    found = find_python(spec.min_python)
    if found is None:
        need = f"{spec.min_python[0]}.{spec.min_python[1]}"
        raise SdkUnavailable(
            f"{spec.requirement} ({spec.label}) needs Python >= {need}; none found "
            "(set KALSHI_SDK_PYTHON, or install one with pyenv)"
        )
    python, version = found
    venv = CACHE_DIR / f"{spec.label}-py{version[0]}{version[1]}"
    stamp = _read_stamp(venv)
    if stamp is not None and stamp.get("requirement") == spec.requirement and stamp.get("python") == python:
        fresh = spec.pinned or time.time() - float(str(stamp.get("checked_at", 0))) < RECHECK_S
        if fresh:
            return SdkEnv(_bin(venv), str(stamp["version"]))
        try:
            installed = _install(_bin(venv), spec.requirement, upgrade=True)
        except (SdkUnavailable, subprocess.SubprocessError):
            return SdkEnv(_bin(venv), str(stamp["version"]))  # offline: keep yesterday's SDK
        _write_stamp(venv, spec, python, installed)
        return SdkEnv(_bin(venv), installed)
    building = venv.with_name(f"{venv.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([python, "-m", "venv", str(building)], capture_output=True, timeout=300, check=True)
        installed = _install(_bin(building), spec.requirement, upgrade=False)
    except subprocess.SubprocessError as exc:
        shutil.rmtree(building, ignore_errors=True)
        raise SdkUnavailable(f"could not create a virtualenv with {python}: {exc}") from exc
    except SdkUnavailable:
        shutil.rmtree(building, ignore_errors=True)
        raise
    shutil.rmtree(venv, ignore_errors=True)
    building.rename(venv)  # only ``bin/python -m ...`` is used, which does not depend on the folder name
    _write_stamp(venv, spec, python, installed)
    return SdkEnv(_bin(venv), installed)


def _write_stamp(venv: Path, spec: SdkSpec, python: str, installed: str) -> None:
    stamp = {"requirement": spec.requirement, "python": python, "version": installed, "checked_at": time.time()}
    tmp = venv / "stamp.json.tmp"
    tmp.write_text(json.dumps(stamp))
    tmp.replace(venv / "stamp.json")
