"""Seeded, deterministic synthetic tape: series ``KXSYNTH15M`` (docs/simulator.md "Synthetic generator").

Used when no recorded data directory is available. It produces consecutive 15-minute binary markets
("synthetic index up in the next 15 minutes?", strike type ``greater_or_equal``) and, for each, frames in
exactly the recorded WebSocket format (``orderbook_snapshot`` / ``orderbook_delta`` / ``trade``,
kalshi-api.md §6.5), so the same replay code drives both.

Model (all integer arithmetic, no floats):

* An underlying index (hundredths of a point) random-walks by ``randint(-30, 30)`` every tape second.
  The strike is the index at the open, rounded down to a whole point; the market settles ``yes`` when
  the index at the close is ``>=`` the strike.
* The fair YES value in cents is ``50 + 40 * (index - strike) // (18 * isqrt(seconds left))``, clamped to
  2..98 cents (on the ``linear_cent`` grid); on a sub-penny grid it is computed in centi-cents,
  ``5000 + 4000 * (index - strike) // (18 * isqrt(seconds left))``, and clamped to $0.002..$0.998.
* The book is a ladder of 8 bid levels per side around the fair value, on the market's tick grid: YES bids
  at the ``h``-th tick below the fair value and the 7 ticks under it, NO bids at ``$1 -`` the ``h'``-th tick
  above it and the 7 ticks above that (``h, h'`` in 1..2), with whole-contract sizes 5..300. On the default
  ``linear_cent`` grid the ticks are cents; with ``price_level_structure="tapered_deci_cent"`` the ladder
  steps $0.001 below $0.10 and above $0.90 (Kalshi's tapered deci-cent grid, kalshi-api.md §4), which the
  book reaches when the market nears its close far from the strike. Every 250 ms
  the ladder is re-targeted (stale levels removed first, new ones added, so the book is never crossed),
  one level's size jitters, and with probability 1/6 a taker trade hits the best bid or ask for 1..20
  contracts, written as a delta removing the size followed by the ``trade`` frame, as Kalshi does.
* The first snapshot comes 2 s after the open; an empty snapshot follows the close by 500 ms.

Everything derives from ``random.Random`` seeded with strings of ``(seed, market index)``, so a seed
reproduces the same markets, results and frames on every platform.
"""

from __future__ import annotations

import math
import random
import uuid
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from models.money import format_count, format_dollars
from simulator.tape import (
    DELTA,
    LINEAR_CENT,
    SNAPSHOT,
    TRADE,
    Catalog,
    EventDefinition,
    MarketDefinition,
    PriceRange,
    SeriesDefinition,
    TapeFrame,
)
from simulator.timeutil import iso_ms, ms_to_datetime, parse_iso_ms

SERIES_TICKER = "KXSYNTH15M"
DEFAULT_EPOCH_MS = parse_iso_ms("2026-01-05T00:00:00Z")
WINDOW_MS = 15 * 60 * 1000
STEP_MS = 250
WALK_EVERY_MS = 1000
LEVELS = 8
_NAMESPACE = uuid.UUID("6f1c2a52-8d0e-4c8e-9a55-5b0d2b6c1e01")


GRIDS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "linear_cent": ((0, 10_000, 100),),
    "tapered_deci_cent": ((0, 1_000, 10), (1_000, 9_000, 100), (9_000, 10_000, 10)),
    "deci_cent": ((0, 10_000, 10),),
}
"""The tick grids the generator can use, as ``(start_cc, end_cc, step_cc)`` bands (kalshi-api.md §4)."""


def grid_ticks(structure: str) -> tuple[int, ...]:
    """Every valid bid price of ``structure`` in centi-cents, ascending, strictly between $0 and $1."""
    return tuple(sorted({p for a, b, step in GRIDS[structure] for p in range(a, b + 1, step) if 0 < p < 10_000}))


def price_ranges(structure: str) -> tuple[PriceRange, ...]:
    """``price_ranges`` of ``structure`` in Decimal dollars (what the market metadata serves)."""
    if structure == "linear_cent":
        return LINEAR_CENT
    return tuple(
        PriceRange(Decimal(a).scaleb(-4), Decimal(b).scaleb(-4), Decimal(step).scaleb(-4))
        for a, b, step in GRIDS[structure]
    )


def _price(cc: int) -> str:
    return format_dollars(Decimal(cc).scaleb(-4))


def _count(n: int) -> str:
    return format_count(Decimal(n))


def _walk(seed: int, index: int, steps: int, start: int) -> Iterator[int]:
    rng = random.Random(f"{seed}/{index}/walk")
    value = start
    yield value
    for _ in range(steps):
        value += rng.randint(-30, 30)
        yield value


def _start_index(seed: int, index: int) -> int:
    rng = random.Random(f"{seed}/{index}/start")
    return 400_000 + rng.randint(-5_000, 5_000)


def _fair_cc(underlying: int, strike: int, seconds_left: int, structure: str) -> int:
    """The fair YES value in centi-cents (whole cents on ``linear_cent``, see the module docstring)."""
    denom = 18 * max(1, math.isqrt(max(1, seconds_left)))
    if structure == "linear_cent":
        return 100 * max(2, min(98, 50 + (40 * (underlying - strike)) // denom))
    return max(20, min(9_980, 5_000 + (4_000 * (underlying - strike)) // denom))


@dataclass(frozen=True)
class SyntheticTape:
    """The frame source of one synthetic market (see the module docstring for the model)."""

    seed: int
    index: int
    ticker: str
    market_id: str
    open_ms: int
    close_ms: int
    strike: int
    price_level_structure: str = "linear_cent"

    def frames(self) -> Iterator[TapeFrame]:
        """Yield the market's frames lazily, in time order."""
        structure = self.price_level_structure
        # Prices are held in grid units (cents on linear_cent, tenths of a cent otherwise): the same small ints,
        # set orders and draws as before sub-penny grids existed, so linear_cent tapes are unchanged.
        unit = 100 if structure == "linear_cent" else 10
        one = 10_000 // unit
        ticks = tuple(p // unit for p in grid_ticks(structure))
        rng = random.Random(f"{self.seed}/{self.index}/book")
        n_walk = (self.close_ms - self.open_ms) // WALK_EVERY_MS
        walk = list(_walk(self.seed, self.index, n_walk, _start_index(self.seed, self.index)))
        seq = 0
        trade_no = 0
        book: dict[str, dict[int, int]] = {"yes": {}, "no": {}}

        def delta(t: int, side: str, px: int, change: int) -> TapeFrame:
            nonlocal seq
            seq += 1
            level = book[side].get(px, 0) + change
            if level:
                book[side][px] = level
            else:
                book[side].pop(px, None)
            msg = {
                "market_ticker": self.ticker,
                "market_id": self.market_id,
                "price_dollars": _price(px * unit),
                "delta_fp": format_count(Decimal(change)),
                "side": side,
                "ts": iso_ms(t),
                "ts_ms": t,
            }
            return TapeFrame(t, DELTA, msg)

        def targets(fair: int, h_yes: int, h_no: int) -> dict[str, set[int]]:
            at = bisect_right(ticks, fair) - 1  # the highest tick at or below the fair value
            best_yes, best_ask = at - h_yes, at + h_no
            return {
                "yes": {ticks[i] for i in range(best_yes - LEVELS + 1, best_yes + 1) if 0 <= i < len(ticks)},
                "no": {one - ticks[i] for i in range(best_ask, best_ask + LEVELS) if 0 <= i < len(ticks)},
            }

        t = self.open_ms + 2000
        seconds_left = (self.close_ms - t) // 1000
        fair = _fair_cc(walk[(t - self.open_ms) // WALK_EVERY_MS], self.strike, seconds_left, structure) // unit
        want = targets(fair, rng.randint(1, 2), rng.randint(1, 2))
        for side in ("yes", "no"):
            for px in want[side]:
                book[side][px] = rng.randint(5, 300)
        seq += 1
        snap: dict[str, Any] = {"market_ticker": self.ticker, "market_id": self.market_id}
        for side in ("yes", "no"):
            if book[side]:
                snap[f"{side}_dollars_fp"] = [[_price(p * unit), _count(book[side][p])] for p in sorted(book[side])]
        yield TapeFrame(t, SNAPSHOT, snap)

        while True:
            t += STEP_MS
            if t >= self.close_ms:
                break
            seconds_left = max(1, (self.close_ms - t) // 1000)
            walk_at = walk[min(len(walk) - 1, (t - self.open_ms) // WALK_EVERY_MS)]
            fair = _fair_cc(walk_at, self.strike, seconds_left, structure) // unit
            want = targets(fair, rng.randint(1, 2), rng.randint(1, 2))
            for side in ("yes", "no"):
                for px in sorted(set(book[side]) - want[side]):
                    yield delta(t, side, px, -book[side][px])
            for side in ("yes", "no"):
                for px in sorted(want[side] - set(book[side])):
                    yield delta(t, side, px, rng.randint(5, 300))
            side = rng.choice(("yes", "no"))
            if book[side]:
                px = rng.choice(sorted(book[side]))
                size = book[side][px]
                change = rng.randint(-(size - 1), 50) if size > 1 else rng.randint(1, 50)
                if change:
                    yield delta(t, side, px, change)
            if rng.randint(1, 6) == 1:
                hit = rng.choice(("yes", "no"))
                if book[hit]:
                    px = max(book[hit])
                    count = rng.randint(1, min(20, book[hit][px]))
                    yield delta(t, hit, px, -count)
                    trade_no += 1
                    yes_units = px if hit == "yes" else one - px
                    taker_book_side = "ask" if hit == "yes" else "bid"
                    msg = {
                        "trade_id": str(uuid.uuid5(_NAMESPACE, f"{self.seed}/{self.index}/{trade_no}")),
                        "market_ticker": self.ticker,
                        "yes_price_dollars": _price(yes_units * unit),
                        "no_price_dollars": _price((one - yes_units) * unit),
                        "count_fp": _count(count),
                        "taker_side": "yes" if taker_book_side == "bid" else "no",
                        "taker_outcome_side": "yes" if taker_book_side == "bid" else "no",
                        "taker_book_side": taker_book_side,
                        "ts": t // 1000,
                        "ts_ms": t,
                    }
                    yield TapeFrame(t, TRADE, msg)
        yield TapeFrame(self.close_ms + 500, SNAPSHOT, {"market_ticker": self.ticker, "market_id": self.market_id})


def _ticker_time(ms: int) -> str:
    d = ms_to_datetime(ms)
    return d.strftime("%y%b%d%H%M").upper()


def build_synthetic_catalog(
    seed: int = 0, markets: int = 96, epoch_ms: int = DEFAULT_EPOCH_MS, price_level_structure: str = "linear_cent"
) -> Catalog:
    """Build ``markets`` consecutive 15-minute ``KXSYNTH15M`` markets starting at ``epoch_ms`` (tape ms).

    Args:
        seed: generator seed; the same seed yields the same markets, results and frames.
        markets: number of consecutive windows (default 96 = one day).
        epoch_ms: open time of the first window (default 2026-01-05T00:00:00Z).
        price_level_structure: the markets' tick grid: ``linear_cent`` (default), ``tapered_deci_cent`` or
            ``deci_cent`` (see :data:`GRIDS`).

    Returns:
        A catalog whose markets carry :class:`SyntheticTape` sources; fractional trading is disabled.

    Raises:
        ValueError: if ``markets`` < 1 or the grid is unknown.

    """
    if markets < 1:
        raise ValueError("synthetic generator needs at least one market")
    if price_level_structure not in GRIDS:
        raise ValueError(f"unknown price_level_structure {price_level_structure!r}; one of {', '.join(GRIDS)}")
    market_defs: dict[str, MarketDefinition] = {}
    events: dict[str, EventDefinition] = {}
    for index in range(markets):
        open_ms = epoch_ms + index * WINDOW_MS
        close_ms = open_ms + WINDOW_MS
        n_walk = (close_ms - open_ms) // WALK_EVERY_MS
        start = _start_index(seed, index)
        strike = (start // 100) * 100
        *_, final = _walk(seed, index, n_walk, start)
        result = "yes" if final >= strike else "no"
        event_ticker = f"{SERIES_TICKER}-{_ticker_time(close_ms)}"
        minute = ms_to_datetime(close_ms).minute
        ticker = f"{event_ticker}-{minute:02d}"
        market_id = str(uuid.uuid5(_NAMESPACE, f"{seed}/{index}/market"))
        strike_points = strike // 100
        raw_market: dict[str, Any] = {
            "title": "Synthetic index up in next 15 mins?",
            "yes_sub_title": f"Target Price: {strike_points:,}",
            "no_sub_title": f"Target Price: {strike_points:,}",
            "market_type": "binary",
            "strike_type": "greater_or_equal",
            "floor_strike": strike_points,
            "can_close_early": True,
            "rules_primary": (
                "If the synthetic index at the close is at least the target price, the market resolves to Yes."
            ),
            "rules_secondary": "Generated by the simulator's synthetic tape generator; not a real market.",
            "notional_value_dollars": "1.0000",
            "liquidity_dollars": "0.0000",
            "market_id": market_id,
        }
        settlement_ms = close_ms + 5_000
        market_defs[ticker] = MarketDefinition(
            ticker=ticker,
            event_ticker=event_ticker,
            series_ticker=SERIES_TICKER,
            open_ms=open_ms,
            close_ms=close_ms,
            created_ms=open_ms - 3_600_000,
            determination_ms=settlement_ms - 1000,
            settlement_ms=settlement_ms,
            settlement_timer_s=1,
            result=result,
            settlement_value=Decimal(1) if result == "yes" else Decimal(0),
            expiration_value=f"{final // 100}.{final % 100:02d}",
            price_level_structure=price_level_structure,
            price_ranges=price_ranges(price_level_structure),
            fractional_trading_enabled=False,
            raw_market=raw_market,
            tape=SyntheticTape(seed, index, ticker, market_id, open_ms, close_ms, strike, price_level_structure),
        )
        events[event_ticker] = EventDefinition(
            event_ticker,
            SERIES_TICKER,
            {
                "event_ticker": event_ticker,
                "series_ticker": SERIES_TICKER,
                "title": f"Synthetic 15 min · {strike_points:,} target",
                "sub_title": f"{iso_ms(open_ms)} to {iso_ms(close_ms)}",
                "category": "Synthetic",
                "mutually_exclusive": False,
                "collateral_return_type": "",
                "strike_date": iso_ms(close_ms),
                "strike_period": "",
                "product_metadata": {"cadence": "fifteen_min"},
            },
            (ticker,),
        )
    series = {
        SERIES_TICKER: SeriesDefinition(SERIES_TICKER, "Synthetic 15 min", "Synthetic", "fifteen_min"),
    }
    return Catalog("synthetic", f"synthetic generator (seed {seed}, {markets} markets)", series, events, market_defs)
