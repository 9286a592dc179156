"""Fault scenario files: YAML lists of timed faults the simulator plays back (docs/simulator.md).

A scenario is ``{name, description?, seed?, faults: [spec, ...]}`` where each spec is a timed fault
(:mod:`simulator.fault_specs`), its ``after`` counted from the moment the scenario is loaded (at start with
``--scenario``, or through ``POST /sim/v1/faults/scenario`` / ``kalshi-trader simulator fault load``).
``simulator/scenarios/`` holds a small library, named by file stem (``ws-503``, ``rest-outage``, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from simulator.fault_specs import KINDS, Scenario, validation_message

__all__ = ["KINDS", "LIBRARY", "ScenarioError", "builtin_names", "load", "read_document", "resolve"]

LIBRARY = Path(__file__).resolve().parent / "scenarios"
"""The built-in scenarios (``<name>.yaml``)."""


class ScenarioError(ValueError):
    """A scenario file is missing, not YAML, or not a valid scenario (the message says which and where)."""


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    return sorted(p.stem for p in LIBRARY.glob("*.yaml"))


def resolve(ref: str | Path) -> Path:
    """The file of ``ref``: an existing path, or the name of a built-in scenario.

    Raises:
        ScenarioError: neither.

    """
    path = Path(ref)
    if path.is_file():
        return path
    builtin = LIBRARY / f"{ref}.yaml"
    if isinstance(ref, str) and "/" not in ref and builtin.is_file():
        return builtin
    raise ScenarioError(
        f"no scenario file {str(ref)!r} and no built-in scenario of that name ({', '.join(builtin_names())})"
    )


def read_document(ref: str | Path) -> dict[str, Any]:
    """The parsed YAML mapping of scenario ``ref`` (see :func:`resolve`), not yet validated.

    Raises:
        ScenarioError: missing file, unreadable, not YAML, or not a mapping.

    """
    path = resolve(ref)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario {path} must be a mapping with 'name' and 'faults'")
    data.setdefault("name", path.stem)
    return data


def load(ref: str | Path) -> Scenario:
    """Read and validate scenario ``ref`` (a file path or a built-in name).

    Raises:
        ScenarioError: as :func:`read_document`, or a field is invalid (``faults.1.rate: ...``).

    """
    data = read_document(ref)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"scenario {ref}: {validation_message(exc)}") from exc
