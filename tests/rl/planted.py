"""A synthetic recorded-tape directory with a planted edge, in the exact layout of the shared gold tapes.

Each 15-minute market shows a book whose touch sizes give its result away: YES markets have 400 contracts on the
best YES bid and 40 on the best NO bid, NO markets the reverse, with a 5-cent spread (best YES bid $0.45, best NO
bid $0.50 at the open). As real order-flow imbalance does, it also leads the price: every 30 s the book moves a cent
toward the result (re-snapshotted), so the market drifts from $0.45/$0.50 to about $0.65/$0.70 (or the mirror) by
the closing window. A policy that buys the heavy side early earns the drift and the settlement, about $0.45 per
contract after Kalshi's fee; holding earns nothing. Away from the touch, sizes jitter every two seconds, so
observations move while the edge stays. Results are drawn with a seeded generator, so the time-ordered split sees
both kinds.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

SERIES = "KXPLANT15M"
START = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def write_planted_tapes(root: Path, markets: int = 40, seed: int = 0, every_s: float = 2.0) -> list[str]:
    """Write ``markets`` consecutive planted-edge markets under ``root``; return their tickers (time order)."""
    rng = random.Random(seed)
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    rows = []
    tickers = []
    for i in range(markets):
        open_t = START + i * WINDOW
        close_t = open_t + WINDOW
        event = f"{SERIES}-26MAR{open_t:%d%H%M}"
        ticker = f"{event}-{i:02d}"
        result = "yes" if rng.random() < 0.5 else "no"
        heavy, light = (40_000, 4_000) if result == "yes" else (4_000, 40_000)  # lots at the best YES / NO bid
        tickers.append(ticker)
        market = {
            "ticker": ticker,
            "event_ticker": event,
            "result": result,
            "status": "finalized",
            "price_level_structure": "linear_cent",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
            "fractional_trading_enabled": True,
            "settlement_timer_seconds": 5,
            "open_time": _iso(open_t),
            "close_time": _iso(close_t),
        }
        doc = {"response": {"event": {"event_ticker": event, "series_ticker": SERIES, "title": "planted"},
                            "markets": [market]}}  # fmt: skip
        (root / "metadata" / f"{event}.json").write_text(json.dumps(doc))
        rows.append(
            {
                "window": ticker,
                "event_ticker": event,
                "open_time": _iso(open_t),
                "close_time": _iso(close_t),
                "strike_type": "greater_or_equal",
                "floor_strike": "1",
                "status": "finalized",
                "result": result,
                "expiration_value": "1",
                "settlement_value_dollars": "1.0000" if result == "yes" else "0.0000",
                "settlement_ts": _iso(close_t + timedelta(seconds=6)),
                "price_level_structure": "linear_cent",
                "volume_fp": "0.00",
                "open_interest_fp": "0.00",
            }
        )
        frames = []
        t0 = _ms(open_t) + 5_000
        direction = 1 if result == "yes" else -1

        def ladder(
            shift: int, direction: int = direction, heavy: int = heavy, light: int = light
        ) -> tuple[dict[int, int], dict[int, int]]:
            top_yes, top_no = 45 + direction * shift, 50 - direction * shift
            yes = {top_yes: heavy, top_yes - 1: 30_000, top_yes - 2: 30_000, top_yes - 3: 30_000}
            no = {top_no: light, top_no - 1: 30_000, top_no - 2: 30_000, top_no - 3: 30_000}
            return yes, no

        def snapshot_frame(at: int, shift: int, seq: int, ticker: str = ticker) -> dict[str, object]:
            yes, no = ladder(shift)
            msg = {
                "market_ticker": ticker,
                "yes_dollars_fp": [[f"0.{p:02d}00", f"{s / 100:.2f}"] for p, s in sorted(yes.items())],
                "no_dollars_fp": [[f"0.{p:02d}00", f"{s / 100:.2f}"] for p, s in sorted(no.items())],
            }
            return {"recv_ms": at, "event": {"type": "orderbook_snapshot", "sid": 1, "seq": seq, "msg": msg}}

        frames.append(snapshot_frame(t0, 0, 1))
        t = t0
        seq = 1
        shift = 0
        end = _ms(close_t)
        step_ms = int(every_s * 1000)
        while t + step_ms < end:
            t += step_ms
            seq += 1
            if (t - t0) % 30_000 < step_ms and shift < 20:
                shift += 1
                frames.append(snapshot_frame(t, shift, seq))
                continue
            yes, no = ladder(shift)
            side = rng.choice(("yes", "no"))
            price = rng.choice(sorted(yes if side == "yes" else no)[:3])  # not the touch
            delta = rng.choice((-500, 500))
            msg = {
                "market_ticker": ticker,
                "price_dollars": f"0.{price:02d}00",
                "delta_fp": f"{delta / 100:.2f}",
                "side": side,
                "ts_ms": t,
            }
            frames.append({"recv_ms": t + 20, "event": {"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": msg}})
        frames.append(
            {"recv_ms": end + 500, "event": {"type": "orderbook_snapshot", "sid": 1, "seq": seq + 1,
                                             "msg": {"market_ticker": ticker}}}
        )  # fmt: skip
        folder = root / "events" / ticker
        folder.mkdir(parents=True, exist_ok=True)
        with gzip.open(folder / f"{open_t:%Y-%m-%d}.ndjson.gz", "wt") as fh:
            for frame in frames:
                fh.write(json.dumps(frame) + "\n")
    with (root / "MARKETS.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return tickers
