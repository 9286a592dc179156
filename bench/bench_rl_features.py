"""Observation cost: ``rl.features.observe`` on a real Kalshi tape, per call, one core.

Usage::

    python -m bench.bench_rl_features

Input: one recorded gold market (``KXGOLD15M-26AUG050000-00``: ~37,000 book updates, ~1,000 trades), folded
through the product's book (``BookStore.apply_frame``) with the trades fed to the feature state, exactly as the
training environment and the live loop will do. The book and state are rebuilt for every repeat; only the
``observe`` calls are timed.

Also reported: the memory one market's feature history retains at its close (what the worker's
:class:`trading.live.FeatureStore` holds per followed market until the hub releases it): the state's own lists and
the int objects only they keep alive, in bytes (``sys.getsizeof``, each object counted once).

Reported (medians over the repeats): ns per observation measured as the loop's total CPU time divided by the
number of calls (no per-call timer), and the p50/p99 of per-call ``perf_counter_ns`` timings (those include the
timer's own ~60 ns), with and without a preallocated output array. The training environment's target is
20,000 steps/s on one core (50 us per step for everything); the observation's share of that is printed.
"""

from __future__ import annotations

import gc
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from kalshi.models.ws import Trade
from kalshi.orderbook import BookStore
from rl.features import N_FEATURES, MarketFeatureState, observe

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kalshi-gold15m"
TICKER = "KXGOLD15M-26AUG050000-00"
OPEN_MS, CLOSE_MS = 1_785_901_500_000, 1_785_902_400_000  # 2026-08-05T03:45Z .. 04:00Z (MARKETS.csv)
REPEATS = 5


def _frames() -> list[tuple[int, bytes]]:
    out = []
    for path in sorted((DATA_DIR / "events" / TICKER).glob("*.ndjson.gz")):
        with gzip.open(path, "rb") as fh:
            for line in fh:
                record = json.loads(line)
                out.append((int(record["recv_ms"]), json.dumps(record["event"]).encode()))
    return out


def retained_bytes(state: MarketFeatureState) -> int:
    """Bytes a feature state keeps alive: the object, its lists, and their int elements (each object once).

    Small ints CPython caches (-5..256) are shared by the whole process and not counted.
    """
    seen: set[int] = set()
    total = sys.getsizeof(state)
    for name in MarketFeatureState.__slots__:
        value = getattr(state, name)
        if isinstance(value, list):
            total += sys.getsizeof(value)
            for item in value:
                if id(item) not in seen and not (isinstance(item, int) and -5 <= item <= 256):
                    seen.add(id(item))
                    total += sys.getsizeof(item)
    return total


def _fold_state(frames: list[tuple[int, bytes]]) -> tuple[MarketFeatureState, int, int]:
    """The feature state after the whole tape (as the live store feeds it); with its mid and trade entries."""
    store = BookStore()
    state = MarketFeatureState(open_ms=OPEN_MS, close_ms=CLOSE_MS, reference_capital_micro=1, position_scale_lots=1)
    for recv_ms, raw in frames:
        event = store.apply_frame(raw, recv_ms)
        if type(event) is Trade:
            state.on_trade(event.yes_price_cc, event.count_lots, event.taker_outcome_side, event.ts_ms or recv_ms)
            continue
        book = store.get(TICKER)
        if book is not None and book.trusted and book.last_update_ts_ms is not None:
            state.on_book(book, book.last_update_ts_ms)
    return state, len(state._mid2), len(state._trade_ts) - 1


def _run(frames: list[tuple[int, bytes]], mode: str) -> tuple[int, int, list[int]]:
    """One fold of the tape; ``mode``: "fold" (no observation), "observe", "observe_new" or "per_call".

    Returns (observations, CPU ns of the whole fold, per-call samples in ns for "per_call").
    """
    store = BookStore()
    state = MarketFeatureState(
        open_ms=OPEN_MS, close_ms=CLOSE_MS, reference_capital_micro=1_000_000_000, position_scale_lots=2_000
    )
    state.set_portfolio(position_lots=500, cost_micro=2_400_000, cash_micro=997_600_000)
    out = np.empty(N_FEATURES, dtype=np.float32)
    calls = 0
    samples: list[int] = []
    clock = time.perf_counter_ns
    start = time.process_time_ns()
    for recv_ms, raw in frames:
        event = store.apply_frame(raw, recv_ms)
        if type(event) is Trade:
            ts = event.ts_ms if event.ts_ms is not None else recv_ms
            state.on_trade(event.yes_price_cc, event.count_lots, event.taker_outcome_side, ts)
            continue
        book = store.get(TICKER)
        if book is None or not book.trusted or book.last_update_ts_ms is None:
            continue
        now = book.last_update_ts_ms
        calls += 1
        if mode == "observe":
            observe(book, state, now, out)
        elif mode == "observe_new":
            observe(book, state, now)
        elif mode == "per_call":
            t0 = clock()
            observe(book, state, now, out)
            samples.append(clock() - t0)
        else:
            state.on_book(book, now)
    return calls, time.process_time_ns() - start, samples


def main() -> None:
    if not (DATA_DIR / "events" / TICKER).is_dir():
        print(f"skipped: recorded data not found under {DATA_DIR}")
        return
    frames = _frames()
    gc.disable()
    try:
        cost: dict[str, list[float]] = {"observe": [], "observe_new": []}
        p50, p99 = [], []
        calls = 0
        for _ in range(REPEATS):
            calls, base, _ = _run(frames, "fold")
            for mode in cost:
                _, spent, _ = _run(frames, mode)
                cost[mode].append((spent - base) / calls)
            _, _, samples = _run(frames, "per_call")
            samples.sort()
            p50.append(samples[len(samples) // 2])
            p99.append(samples[int(len(samples) * 0.99)])
        pre, new = statistics.median(cost["observe"]), statistics.median(cost["observe_new"])
        print(f"{TICKER}: {calls} observations per pass, {REPEATS} passes (medians)")
        print(f"observe, preallocated output: {pre:,.0f} ns per call (CPU time of the fold with it minus without)")
        print(f"observe, new array per call:  {new:,.0f} ns per call")
        print(
            f"per-call wall time (incl. the timer): p50 {statistics.median(p50):,.0f} ns, p99 {statistics.median(p99):,.0f} ns"
        )
        print(f"share of the env's 50 us step budget (20,000 steps/s): {pre / 50_000:.0%}")
        state, mids, trades = _fold_state(frames)
        size = retained_bytes(state)
        print(
            f"memory retained per followed market at its close: {size / 1024:,.0f} KiB "
            f"({mids:,} mid changes, {trades:,} trades; released when the hub releases the market)"
        )
    finally:
        gc.enable()


if __name__ == "__main__":
    main()
