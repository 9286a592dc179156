"""Shared fixtures for the kalshi client tests: where the recorded Kalshi data lives.

The data is read where it lies (``../shared/data`` relative to the project root, or ``$KALSHI_DATA_DIR``)
and never copied into the repository; tests that need it are skipped when it is absent.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("KALSHI_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
FEDMENTION_FILE = DATA_DIR / "kalshi-rest-markets" / "markets-kxfedmention-2026-03.json"
GOLD_METADATA_DIR = DATA_DIR / "kalshi-gold15m" / "metadata"


def load_json(path: Path, *, exact: bool = False) -> Any:
    """Load a JSON file; ``exact=True`` decodes numbers with fractions as Decimal (as the client does)."""
    with path.open("rb") as fh:
        return json.loads(fh.read(), parse_float=Decimal) if exact else json.load(fh)


@pytest.fixture(scope="session")
def fedmention_markets() -> dict[str, Any]:
    if not FEDMENTION_FILE.is_file():
        pytest.skip(f"recorded data not available: {FEDMENTION_FILE}")
    data = load_json(FEDMENTION_FILE)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def gold_market_payloads() -> list[dict[str, Any]]:
    files = sorted(GOLD_METADATA_DIR.glob("*.json")) if GOLD_METADATA_DIR.is_dir() else []
    if not files:
        pytest.skip(f"recorded data not available: {GOLD_METADATA_DIR}")
    out: list[dict[str, Any]] = []
    for path in files:
        out.extend(load_json(path)["response"]["markets"])
    return out
