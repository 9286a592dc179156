"""Shared fixtures for the reinforcement-learning tests.

torch runs on ONE thread here (the machine's two cores are shared with the rest of the suite and with other
processes); the environment variables are set before anything imports torch, and torch's own setters run when
it is installed. The recorded gold tapes are read where they lie (``../shared/data/kalshi-gold15m`` or
``$KALSHI_DATA_DIR``) and never copied; tests that need them skip when they are absent.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

try:
    import torch
except ImportError:  # the RL extra is optional; tests that need torch import it themselves and skip
    torch = None  # type: ignore[assignment]
else:
    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # already set by an earlier import in this process
        torch.set_num_interop_threads(1)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("KALSHI_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
GOLD_DIR = DATA_DIR / "kalshi-gold15m"


@dataclass(frozen=True)
class RecordedMarket:
    """One recorded market: its ticker, open/close (Unix ms), result and its tape lines ``(recv_ms, frame bytes)``."""

    ticker: str
    open_ms: int
    close_ms: int
    result: str
    files: tuple[Path, ...]

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """Yield ``(recv_ms, raw frame JSON)`` per tape line, files in date order."""
        for path in self.files:
            with gzip.open(path, "rb") as fh:
                for line in fh:
                    if line.strip():
                        record = json.loads(line)
                        yield int(record["recv_ms"]), json.dumps(record["event"]).encode()


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def recorded_markets() -> list[RecordedMarket]:
    """Every market of the gold recording (empty when the data is absent)."""
    index = GOLD_DIR / "MARKETS.csv"
    if not index.is_file():
        return []
    out = []
    with index.open() as fh:
        for row in csv.DictReader(fh):
            files = tuple(sorted((GOLD_DIR / "events" / row["window"]).glob("*.ndjson.gz")))
            out.append(
                RecordedMarket(row["window"], _ms(row["open_time"]), _ms(row["close_time"]), row["result"], files)
            )
    return out


@pytest.fixture(scope="session")
def gold_markets() -> list[RecordedMarket]:
    markets = recorded_markets()
    if not markets:
        pytest.skip(f"recorded data not available: {GOLD_DIR}")
    return markets
