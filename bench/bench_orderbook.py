"""Order-book ingestion benchmark: JSON frame -> updated book, ours vs pykalshi 2.0.0, on a real Kalshi tape.

Usage::

    python -m bench.bench_orderbook [--repeat N] [--file PATH]

Input: one recorded market file of ``../shared/data/kalshi-gold15m`` (default
``KXGOLD15M-26AUG102130-30/2026-08-11.ndjson.gz``: 196,008 deltas). Every order-book frame (``sid`` 1:
``orderbook_snapshot`` and ``orderbook_delta``, what an ``orderbook_delta`` subscription delivers) is sliced
out of its ``{"recv_ms":..., "event": <frame>}`` line as the exact bytes Kalshi sent and held in memory
before timing. Both contenders get the identical list of ``bytes``.

Timed work per frame, for both contenders: JSON text -> typed message -> book updated -> best YES bid and
best YES ask read.

* ours: :func:`kalshi.models.ws.parse_frame` -> :meth:`kalshi.orderbook.BookStore.apply` -> ``best_yes_bid_cc``
  and ``best_yes_ask_cc``;
* pykalshi 2.0.0, as its ``Feed`` does it (``pykalshi.feed._parse_message``: ``json.loads`` then the
  channel's pydantic model) and as the ``OrderbookManager`` docstring shows: ``OrderbookSnapshotMessage`` /
  ``OrderbookDeltaMessage.model_validate(msg)`` -> ``apply_snapshot`` / ``apply_delta`` -> ``best_bid`` and
  ``best_ask``.

Reported: deltas/s per core (single thread; from CPU time, and wall time alongside) as the median of N
repeats, the ratio ours/pykalshi, peak traced memory of one pass (tracemalloc, input excluded), the
memory of 100 books at this tape's deepest book, and a correctness check: both books equal an independent
Decimal fold just before the close, and the tape's final (closing) snapshot at the end.

pykalshi is a benchmark-only dependency (the optional ``bench`` extra); product code never imports it.
"""

from __future__ import annotations

import gc
import gzip
import json
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from kalshi.models.ws import parse_frame
from kalshi.orderbook import BookStore

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kalshi-gold15m"
DEFAULT_FILE = DATA_DIR / "events" / "KXGOLD15M-26AUG102130-30" / "2026-08-11.ndjson.gz"
BOOK_TYPES = (b'"orderbook_delta"', b'"orderbook_snapshot"')

Levels = dict[str, dict[Decimal, Decimal]]


# --------------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------------


def load_frames(path: Path) -> tuple[list[bytes], int]:
    """Return the order-book frames of ``path`` as raw bytes (exactly as recorded) and the delta count."""
    frames: list[bytes] = []
    deltas = 0
    with gzip.open(path, "rb") as fh:
        for line in fh:
            start = line.index(b'"event":') + len(b'"event":')
            raw = line[start : line.rindex(b"}")].strip()
            head = json.loads(raw)["type"]
            if head == "orderbook_delta":
                deltas += 1
            elif head != "orderbook_snapshot":
                continue
            frames.append(bytes(raw))
    return frames, deltas


# --------------------------------------------------------------------------------------------------
# Contenders: each returns a function running the whole input on fresh books, and a way to read a book.
# --------------------------------------------------------------------------------------------------


def ours_run(frames: list[bytes]) -> BookStore:
    """JSON frame -> typed event -> book updated -> best bid / best ask read, for every frame."""
    store = BookStore()
    apply = store.apply
    parse = parse_frame
    for raw in frames:
        book = apply(parse(raw))
        if book is None:  # pragma: no cover - only book frames are fed
            raise RuntimeError(f"not a book frame: {raw[:80]!r}")
        book.best_yes_bid_cc  # noqa: B018 - the read is the point
        book.best_yes_ask_cc  # noqa: B018
    return store


def ours_levels(store: BookStore) -> dict[str, Levels]:
    return {t: {s: dict(v) for s, v in store[t].as_decimal_levels().items()} for t in store}


def pykalshi_run_factory() -> tuple[Callable[[list[bytes]], dict[str, Any]], str]:
    """Build pykalshi's runner (import deferred so the bench explains a missing optional dependency)."""
    try:
        import pykalshi
        from pykalshi import OrderbookManager
        from pykalshi.feed import OrderbookDeltaMessage, OrderbookSnapshotMessage
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit(f"pykalshi is not installed ({exc}); pip install 'pykalshi==2.0.0'") from exc
    version = getattr(pykalshi, "__version__", "?")
    loads = json.loads
    delta_model = OrderbookDeltaMessage.model_validate
    snapshot_model = OrderbookSnapshotMessage.model_validate

    def run(frames: list[bytes]) -> dict[str, Any]:
        books: dict[str, OrderbookManager] = {}
        for raw in frames:
            data = loads(raw)
            payload = data.get("msg", data)
            if data.get("type") == "orderbook_delta":
                msg = delta_model(payload)
                book = books[msg.market_ticker]
                book.apply_delta(msg.side, msg.price_dollars, msg.delta_fp)
            else:
                snap = snapshot_model(payload)
                book = books.get(snap.market_ticker) or books.setdefault(
                    snap.market_ticker, OrderbookManager(snap.market_ticker)
                )
                book.apply_snapshot(snap.yes_dollars, snap.no_dollars)
            book.best_bid  # noqa: B018 - the read is the point
            book.best_ask  # noqa: B018
        return books

    return run, version


def pykalshi_levels(books: dict[str, Any]) -> dict[str, Levels]:
    return {
        t: {
            "yes": {Decimal(p): Decimal(q) for p, q in b.yes.items()},
            "no": {Decimal(p): Decimal(q) for p, q in b.no.items()},
        }
        for t, b in books.items()
    }


# --------------------------------------------------------------------------------------------------
# Independent reference and checks
# --------------------------------------------------------------------------------------------------


def reference_fold(frames: list[bytes]) -> dict[str, Levels]:
    """The plainest possible exact fold (json + Decimal dicts), used as the oracle."""
    books: dict[str, Levels] = {}
    for raw in frames:
        e = json.loads(raw)
        m = e["msg"]
        if e["type"] == "orderbook_snapshot":
            books[m["market_ticker"]] = {
                s: {Decimal(p): Decimal(q) for p, q in m.get(f"{s}_dollars_fp", [])} for s in ("yes", "no")
            }
        else:
            side = books[m["market_ticker"]][m["side"]]
            price = Decimal(m["price_dollars"])
            qty = side.get(price, Decimal(0)) + Decimal(m["delta_fp"])
            if qty < 0:
                raise AssertionError(f"reference fold went negative at {m}")
            if qty == 0:
                side.pop(price, None)
            else:
                side[price] = qty
    return books


def timed(fn: Callable[[list[bytes]], Any], frames: list[bytes], repeat: int) -> tuple[list[float], list[float]]:
    """Run ``fn(frames)`` ``repeat`` times; return (CPU seconds, wall seconds) per run."""
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(repeat):
        gc.collect()
        c0, w0 = time.thread_time(), time.perf_counter()
        fn(frames)
        c1, w1 = time.thread_time(), time.perf_counter()
        cpu.append(c1 - c0)
        wall.append(w1 - w0)
    return cpu, wall


def peak_memory(fn: Callable[[list[bytes]], Any], frames: list[bytes]) -> int:
    """Peak bytes traced by tracemalloc during one run (the pre-read input is not counted)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        result = fn(frames)
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return peak - base


def hundred_books_bytes(frames: list[bytes]) -> tuple[int, int]:
    """Memory of 100 of OUR books, each holding this tape's deepest book state (levels, bytes)."""
    store = BookStore()
    deepest: dict[str, Any] = {}
    most = -1
    for raw in frames:
        book = store.apply(parse_frame(raw))
        if book is not None and book.level_count > most:
            most = book.level_count
            deepest = book.snapshot()
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        many = BookStore()
        for i in range(100):
            many.book(f"MARKET-{i:03d}").apply_wire_snapshot(deepest)
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return most, used - base


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


@click.command(help=__doc__.split("\n\n")[0] if __doc__ else None)
@click.option("--repeat", type=click.IntRange(min=1), default=5, show_default=True, help="Timed runs per contender.")
@click.option("--file", "tape", type=click.Path(path_type=Path), default=DEFAULT_FILE, help="A .ndjson.gz market file.")
def main(repeat: int, tape: Path) -> None:
    sys.exit(run(repeat, tape))


def run(repeat: int, tape: Path) -> int:
    """The benchmark (see the module docstring); returns the exit status (1 when the books disagree)."""
    if not tape.is_file():
        print(f"tape not found: {tape} (the recorded data lives in ../shared/data)", file=sys.stderr)
        return 2

    frames, deltas = load_frames(tape)
    snapshots = len(frames) - deltas
    pykalshi_run, pk_version = pykalshi_run_factory()
    print(f"tape      {tape}")
    print(f"input     {len(frames):,} order-book frames in memory ({deltas:,} deltas, {snapshots} snapshots)")
    print(f"python    {sys.version.split()[0]}; pykalshi {pk_version}; repeats {repeat} (median)")

    # Correctness first (untimed): just before the closing snapshot, and at the end.
    last_delta = max(i for i, raw in enumerate(frames) if b'"orderbook_delta"' in raw[:40])
    pre_close = frames[: last_delta + 1]
    want = reference_fold(pre_close)
    got_ours = ours_levels(ours_run(pre_close))
    got_pk = pykalshi_levels(pykalshi_run(pre_close))
    final_ref = reference_fold(frames)
    final_ours = ours_levels(ours_run(frames))
    final_pk = pykalshi_levels(pykalshi_run(frames))
    ok_pre = got_ours == want and got_pk == want
    ok_final = final_ours == final_ref and final_pk == final_ref
    levels_pre = sum(len(v) for b in want.values() for v in b.values())
    print(
        f"check     pre-close book ({levels_pre} levels): ours {'==' if got_ours == want else '!='} reference, "
        f"pykalshi {'==' if got_pk == want else '!='} reference; final (closing snapshot): "
        f"ours {'==' if final_ours == final_ref else '!='}, pykalshi {'==' if final_pk == final_ref else '!='}"
    )

    results: dict[str, tuple[float, float]] = {}
    for name, fn in (("ours", ours_run), ("pykalshi", pykalshi_run)):
        cpu, wall = timed(fn, frames, repeat)
        rate_cpu = deltas / statistics.median(cpu)
        rate_wall = deltas / statistics.median(wall)
        results[name] = (rate_cpu, rate_wall)
        peak = peak_memory(fn, frames)
        spread = f"{deltas / max(cpu):,.0f}..{deltas / min(cpu):,.0f}"
        print(
            f"{name:<9} {rate_cpu:>11,.0f} deltas/s per core (CPU; runs {spread}), {rate_wall:>11,.0f} deltas/s wall, "
            f"{statistics.median(cpu) * 1e6 / deltas:.2f} us/delta, peak traced {peak / 1e3:,.1f} KB"
        )
    ratio_cpu = results["ours"][0] / results["pykalshi"][0]
    ratio_wall = results["ours"][1] / results["pykalshi"][1]
    print(f"ratio     ours/pykalshi = {ratio_cpu:.1f}x (CPU), {ratio_wall:.1f}x (wall)")
    most, mem = hundred_books_bytes(frames)
    print(f"memory    100 of our books at this tape's deepest book ({most} levels each): {mem / 1e6:.2f} MB traced")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"          max RSS of this whole process (interpreter, both libraries, input, caches): {rss_mb:.0f} MB")
    target_ok = results["ours"][0] >= 400_000 and ratio_cpu >= 4
    print(
        f"targets   >= 400,000 deltas/s and >= 4x pykalshi: {'met' if target_ok else 'NOT met'}; "
        f"correctness: {'ok' if ok_pre and ok_final else 'MISMATCH'}"
    )
    return 0 if ok_pre and ok_final else 1


if __name__ == "__main__":
    main()
