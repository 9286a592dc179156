"""An independent, straightforward reading of the recorded tape, used as the tests' oracle.

Frames are read in file order; a frame's replay time is ``msg.ts_ms`` (``recv_ms`` for snapshots), but
never earlier than any earlier frame of the same market (running maximum), as docs/simulator.md states.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "kalshi-gold15m"

Book = dict[str, dict[Decimal, Decimal]]


@functools.cache
def _all_frames(ticker: str) -> tuple[tuple[int, str, dict[str, Any]], ...]:
    return tuple(_read(ticker))


def frames(ticker: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Yield ``(replay time ms, type, msg)`` for every frame of a market, in file order (cached)."""
    return iter(_all_frames(ticker))


def _read(ticker: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    running = 0
    for path in sorted((DATA_DIR / "events" / ticker).glob("*.ndjson.gz")):
        with gzip.open(path, "rt") as fh:
            for line in fh:
                record = json.loads(line)
                event = record["event"]
                msg = event["msg"]
                when = record["recv_ms"] if event["type"] == "orderbook_snapshot" else msg["ts_ms"]
                running = max(running, when)
                yield running, event["type"], msg


def apply(book: Book, kind: str, msg: dict[str, Any]) -> None:
    """Fold one frame onto a book (trades do not change the book)."""
    if kind == "orderbook_snapshot":
        for side in ("yes", "no"):
            book[side] = {Decimal(p): Decimal(s) for p, s in msg.get(f"{side}_dollars_fp", [])}
    elif kind == "orderbook_delta":
        levels = book[msg["side"]]
        price = Decimal(msg["price_dollars"])
        size = levels.get(price, Decimal(0)) + Decimal(msg["delta_fp"])
        if size:
            levels[price] = size
        else:
            levels.pop(price, None)


def fold(ticker: str, at_ms: int) -> Book:
    """The tape book of ``ticker`` with every frame whose replay time is <= ``at_ms`` applied."""
    book: Book = {"yes": {}, "no": {}}
    for when, kind, msg in frames(ticker):
        if when > at_ms:
            break
        apply(book, kind, msg)
    return book


def batches(ticker: str, after_ms: int) -> Iterator[tuple[int, list[tuple[str, dict[str, Any]]]]]:
    """Frames with replay time > ``after_ms`` grouped by replay time, in order."""
    current: list[tuple[str, dict[str, Any]]] = []
    current_t = None
    for when, kind, msg in frames(ticker):
        if when <= after_ms:
            continue
        if current_t is not None and when != current_t:
            yield current_t, current
            current = []
        current_t = when
        current.append((kind, msg))
    if current_t is not None:
        yield current_t, current


def first_time(ticker: str, after_ms: int, test: Callable[[Book], bool]) -> int:
    """First batch boundary after ``after_ms`` at which the folded tape book satisfies ``test``."""
    book = fold(ticker, after_ms)
    for when, frames_ in batches(ticker, after_ms):
        for kind, msg in frames_:
            apply(book, kind, msg)
        if test(book):
            return when
    raise AssertionError("no such instant in the tape")


def spread_at_least(width: Decimal) -> Callable[[Book], bool]:
    """A book test: both sides present and best YES ask - best YES bid >= ``width`` dollars."""
    return lambda b: bool(b["yes"]) and bool(b["no"]) and (1 - max(b["no"])) - max(b["yes"]) >= width
