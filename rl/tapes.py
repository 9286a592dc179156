"""Recorded markets decoded once into compact integer arrays, for the training environment and the evaluation.

Any directory in the recorded layout works (``MARKETS.csv``, ``metadata/<event>.json``, ``events/<ticker>/*.ndjson.gz``:
the shared ``kalshi-gold15m`` tapes and every recording exported with ``kalshi-trader export``). The market facts
come from :func:`simulator.tape.load_recorded_catalog` and the frames from the simulator's own reader in strict
mode (:meth:`simulator.tape.FileTape.frames`), batched by the simulator's replay rule
(:class:`simulator.replay.TapeCursor`: replay time = running maximum of the frame times; inside one batch trades
before book frames, :func:`simulator.liquidity.batch_order`) and parsed by the engine's own parsers
(:func:`simulator.liquidity.parse_delta` ...), so the environment replays exactly what the simulator replays.

A decoded market (:class:`MarketTape`) is five integer columns, one row per frame in apply order: replay time (ms),
kind (0 snapshot, 1 delta, 2 trade), ``a`` (delta: side 0 yes / 1 no; trade: taker 0 bid / 1 ask; snapshot: its
index), ``b`` (price, centi-cents) and ``c`` (size, lots), plus the snapshots' levels. About 30 bytes a frame: the
1.9 M frames of the gold recording take ~60 MB. Decoding a market costs about a second; the arrays are cached as
``.npz`` files keyed by the tape files' paths, sizes and modification times (``$XDG_CACHE_HOME/kalshi-trader/tapes``
or ``~/.cache/...``; ``cache_dir=None`` disables it), so a training run decodes nothing twice.

Bad input is one :class:`TapeDataError` line naming the market or file: a directory without ``MARKETS.csv``, a
market without a result, an empty, truncated or corrupt tape, a delta before the first snapshot.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from simulator.liquidity import TapeFrameError, batch_order, parse_delta, parse_snapshot, parse_trade
from simulator.replay import TapeCursor
from simulator.tape import (
    DELTA,
    SNAPSHOT,
    TRADE,
    CatalogError,
    FileTape,
    MarketDefinition,
    TapeError,
    load_recorded_catalog,
)

__all__ = [
    "DECODER_VERSION",
    "KIND_DELTA",
    "KIND_SNAPSHOT",
    "KIND_TRADE",
    "MarketTape",
    "TapeDataError",
    "default_cache_dir",
    "load_markets",
    "subset_tape_dir",
    "time_split",
]

DECODER_VERSION: Final = 1
"""Version of the decoded layout (part of the cache key)."""

KIND_SNAPSHOT: Final = 0
KIND_DELTA: Final = 1
KIND_TRADE: Final = 2
_KINDS: Final = {SNAPSHOT: KIND_SNAPSHOT, DELTA: KIND_DELTA, TRADE: KIND_TRADE}


class TapeDataError(ValueError):
    """A recorded data directory or one of its markets cannot be replayed; the message names which and why."""


@dataclass(frozen=True, eq=False)
class MarketTape:
    """One recorded market, decoded (see the module docstring for the columns).

    Attributes:
        definition: the market's facts (times in Unix ms, result, tick grid) from the catalog.
        times, kinds, a, b, c: the frame columns in apply order.
        snap_index: for snapshot ``i``, its levels are rows ``snap_index[i]:snap_index[i + 1]`` of ``snap_levels``.
        snap_levels: ``(side 0/1, price_cc, size_lots)`` rows.
        files: the tape files it was decoded from.

    """

    definition: MarketDefinition
    times: npt.NDArray[Any]
    kinds: npt.NDArray[Any]
    a: npt.NDArray[Any]
    b: npt.NDArray[Any]
    c: npt.NDArray[Any]
    snap_index: npt.NDArray[Any]
    snap_levels: npt.NDArray[Any]
    files: tuple[Path, ...]

    @property
    def ticker(self) -> str:
        """The market ticker."""
        return self.definition.ticker

    @property
    def result(self) -> str:
        """The recorded result, ``"yes"`` or ``"no"``."""
        return self.definition.result

    def __len__(self) -> int:
        return int(self.times.shape[0])

    def snapshot(self, i: int) -> tuple[dict[int, int], dict[int, int]]:
        """Snapshot ``i``'s levels: ``(yes, no)`` maps price_cc -> size_lots."""
        rows = self.snap_levels[self.snap_index[i] : self.snap_index[i + 1]].tolist()
        yes = {p: s for side, p, s in rows if side == 0}
        no = {p: s for side, p, s in rows if side == 1}
        return yes, no

    def decision_times(self) -> int:
        """Number of distinct replay times before the close (the decision points without coalescing)."""
        before = self.times[self.times < self.definition.close_ms]
        return int(np.unique(before).shape[0])


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/kalshi-trader/tapes`` (default ``~/.cache/kalshi-trader/tapes``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kalshi-trader" / "tapes"


def _cache_key(definition: MarketDefinition, files: Sequence[Path]) -> str:
    h = hashlib.sha256(f"v{DECODER_VERSION}:{definition.ticker}".encode())
    for path in files:
        st = path.stat()
        h.update(f"|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


def _decode(definition: MarketDefinition, files: tuple[Path, ...]) -> dict[str, npt.NDArray[Any]]:
    times: list[int] = []
    kinds: list[int] = []
    col_a: list[int] = []
    col_b: list[int] = []
    col_c: list[int] = []
    snap_index = [0]
    snap_levels: list[tuple[int, int, int]] = []
    cursor = TapeCursor(definition.ticker, FileTape(files).frames(strict=True))
    have_snapshot = False
    try:
        while (batch := cursor.next_batch()) is not None:
            when, frames = batch
            for i in batch_order(f.type for f in frames):
                frame = frames[i]
                kind = frame.type
                if kind == SNAPSHOT:
                    yes, no = parse_snapshot(frame.msg)
                    snap_levels += [(0, p, s) for p, s in yes.items()] + [(1, p, s) for p, s in no.items()]
                    row = (len(snap_index) - 1, 0, 0)
                    snap_index.append(len(snap_levels))
                    have_snapshot = True
                elif kind == DELTA:
                    if not have_snapshot:
                        raise TapeDataError(f"{definition.ticker}: a delta at {when} ms comes before any snapshot")
                    side, price, delta = parse_delta(frame.msg)
                    row = (0 if side == "yes" else 1, price, delta)
                else:
                    price, count, taker = parse_trade(frame.msg)
                    row = (0 if taker == "bid" else 1, price, count)
                times.append(when)
                kinds.append(_KINDS[kind])
                col_a.append(row[0])
                col_b.append(row[1])
                col_c.append(row[2])
    except (TapeError, TapeFrameError) as exc:
        raise TapeDataError(f"{definition.ticker}: {exc}") from exc
    finally:
        cursor.close()
    if not have_snapshot:
        raise TapeDataError(f"{definition.ticker}: the tape has no order-book snapshot")
    return {
        "times": np.asarray(times, dtype=np.int64),
        "kinds": np.asarray(kinds, dtype=np.int8),
        "a": np.asarray(col_a, dtype=np.int32),
        "b": np.asarray(col_b, dtype=np.int32),
        "c": np.asarray(col_c, dtype=np.int64),
        "snap_index": np.asarray(snap_index, dtype=np.int64),
        "snap_levels": np.asarray(snap_levels, dtype=np.int64).reshape(-1, 3),
    }


def _load_one(definition: MarketDefinition, cache_dir: Path | None) -> MarketTape:
    source = definition.tape
    if not isinstance(source, FileTape) or not source.files:
        raise TapeDataError(f"{definition.ticker}: no tape files (events/{definition.ticker}/*.ndjson.gz)")
    files = source.files
    arrays = None
    cached = None
    if cache_dir is not None:
        cached = cache_dir / f"{definition.ticker}-{_cache_key(definition, files)}.npz"
        if cached.is_file():
            try:
                with np.load(cached) as data:
                    arrays = {k: data[k] for k in data.files}
            except (OSError, ValueError, zipfile.BadZipFile):
                arrays = None  # a damaged cache entry is rebuilt
    if arrays is None:
        arrays = _decode(definition, files)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy stubs type **kwds as allow_pickle
            os.replace(tmp, cached)
    return MarketTape(
        definition,
        arrays["times"],
        arrays["kinds"],
        arrays["a"],
        arrays["b"],
        arrays["c"],
        arrays["snap_index"],
        arrays["snap_levels"],
        files,
    )


def load_markets(
    data_dir: Path, markets: Iterable[str] | None = None, *, cache_dir: Path | None = None
) -> list[MarketTape]:
    """Decode the markets of a recorded data directory, in open-time order.

    Args:
        data_dir: the directory (``MARKETS.csv`` layout).
        markets: tickers to load (default: every market with tape files).
        cache_dir: where decoded arrays are cached (pass :func:`default_cache_dir`), or None for no cache.

    Returns:
        The decoded markets ordered by ``(open time, ticker)``.

    Raises:
        TapeDataError: the directory is not a recording, a market is unknown or has no result, or a tape is empty,
            truncated or corrupt (one line naming it).

    """
    try:
        catalog = load_recorded_catalog(Path(data_dir))
    except CatalogError as exc:
        raise TapeDataError(str(exc)) from exc
    wanted = list(markets) if markets is not None else None
    if wanted is not None:
        unknown = [t for t in wanted if t not in catalog.markets]
        if unknown:
            raise TapeDataError(f"{data_dir}: unknown markets {unknown}")
        selected = [catalog.markets[t] for t in wanted]
    else:
        selected = [d for d in catalog.markets.values() if isinstance(d.tape, FileTape) and d.tape.files]
    if not selected:
        raise TapeDataError(f"{data_dir}: no market with a tape")
    out = [_load_one(d, cache_dir) for d in selected]
    out.sort(key=lambda m: (m.definition.open_ms, m.ticker))
    return out


def time_split(markets: Sequence[MarketTape], train_fraction: float = 0.7) -> tuple[list[MarketTape], list[MarketTape]]:
    """Split markets by open time: the first ``train_fraction`` train, the rest validate (never inside a market).

    Raises:
        TapeDataError: fewer than two markets, or a fraction outside (0, 1).

    """
    if not 0 < train_fraction < 1:
        raise TapeDataError(f"train fraction must be in (0, 1), got {train_fraction}")
    ordered = sorted(markets, key=lambda m: (m.definition.open_ms, m.ticker))
    if len(ordered) < 2:
        raise TapeDataError(f"a train/validation split needs at least two markets, got {len(ordered)}")
    cut = min(len(ordered) - 1, max(1, int(len(ordered) * train_fraction)))
    return ordered[:cut], ordered[cut:]


def subset_tape_dir(data_dir: Path, tickers: Sequence[str], dst: Path) -> list[str]:
    """Write a recording directory holding only ``tickers`` of ``data_dir`` into ``dst`` (the backtest's and tests').

    ``MARKETS.csv`` keeps the header and the selected rows; the metadata files of their events and their tape
    folders are symlinked, never copied (the shared data stays where it lies). The simulator replaying ``dst`` then
    lists only these markets, so a trader of the series trades exactly them.

    Returns:
        The tickers written, in ``MARKETS.csv`` order.

    Raises:
        TapeDataError: ``data_dir`` has no ``MARKETS.csv``, a ticker is not in it, or a market has no tape folder.
        OSError: ``dst`` cannot be written.

    """
    import csv

    index = Path(data_dir) / "MARKETS.csv"
    if not index.is_file():
        raise TapeDataError(f"{data_dir}: no MARKETS.csv (not a recording directory)")
    with index.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    wanted = set(tickers)
    chosen = [r for r in rows if r.get("window") in wanted]
    missing = sorted(wanted - {r["window"] for r in chosen})
    if missing:
        raise TapeDataError(f"{data_dir}: unknown markets {missing}")
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "metadata").mkdir(exist_ok=True)
    (dst / "events").mkdir(exist_ok=True)
    for row in chosen:
        ticker, event = row["window"], row["event_ticker"]
        source = (Path(data_dir) / "events" / ticker).resolve()
        if not source.is_dir():
            raise TapeDataError(f"{data_dir}: market {ticker} has no tape folder events/{ticker}")
        link = dst / "events" / ticker
        if not link.exists():
            link.symlink_to(source, target_is_directory=True)
        meta = dst / "metadata" / f"{event}.json"
        if not meta.exists():
            meta.symlink_to((Path(data_dir) / "metadata" / f"{event}.json").resolve())
    with (dst / "MARKETS.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(chosen)
    return [r["window"] for r in chosen]
