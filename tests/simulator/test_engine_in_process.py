"""The exchange engine (matching on replayed liquidity) runs in-process: no HTTP, no server, no event loop.

The RL training environment fills its orders with this same code, so it must stay importable and drivable
without the simulator's served half (docs/architecture.md "Layout").
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

from models.money import taker_fee_dollars
from simulator.clock import ExchangeClock
from simulator.events import BookDelta, EventBus, FillEvent
from simulator.exchange import Exchange
from simulator.orders import EXECUTED, OrderIntent
from simulator.replay import ReplayEngine
from simulator.synthetic import build_synthetic_catalog


def test_the_engine_imports_without_the_served_half() -> None:
    code = (
        "import sys\n"
        "import simulator.exchange, simulator.liquidity, simulator.matching, simulator.replay, simulator.synthetic\n"
        "served = ('aiohttp', 'simulator.server', 'simulator.rest', 'simulator.ws', 'simulator.control')\n"
        "print(sorted(m for m in sys.modules if m.startswith(served)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_crossing_order_fills_against_replayed_liquidity_in_process() -> None:
    catalog = build_synthetic_catalog(seed=0, markets=4)
    start = catalog.auto_start_ms()
    clock = ExchangeClock(start, paused=True)
    bus = EventBus()
    fills: list[FillEvent] = []
    deltas: list[BookDelta] = []
    bus.subscribe(fills.append, (FillEvent,))
    bus.subscribe(deltas.append, (BookDelta,))
    exchange = Exchange(catalog, bus, offset_ms=clock.offset_ms, start_ms=start)
    replay = ReplayEngine(exchange, clock)
    replay.start()
    replay.advance_to(start + 120_000)  # two tape minutes in: the first window trades

    ticker, state = next((t, s) for t, s in exchange.markets.items() if s.status == "active")
    best_no = state.book.best("no")
    assert best_no is not None
    no_price, no_size = best_no
    yes_price = 1 - no_price  # buying YES at 1 - (best NO bid) crosses it (kalshi-api.md §8)
    account = exchange.create_account("env-agent", balance_cents=1_000_000)
    count = Decimal(5)
    deltas.clear()

    order = exchange.place_order(
        account,
        OrderIntent(
            ticker=ticker,
            client_order_id="in-process-1",
            book_side="bid",
            yes_price=yes_price,
            count=count,
            side="yes",
            action="buy",
            time_in_force="immediate_or_cancel",
            self_trade_prevention_type="taker_at_cross",
            api="v2",
        ),
    )

    assert order.status == EXECUTED
    assert order.fill_count == count
    fee = taker_fee_dollars(count, yes_price)
    assert account.cash == Decimal(10_000) - count * yes_price - fee
    assert account.positions[ticker].position == count
    assert state.book.best("no") == (no_price, no_size - count)  # consumed liquidity is not offered again
    assert [(f.ticker, f.post_position) for f in fills] == [(ticker, count)]
    assert [(d.side, d.price, d.delta) for d in deltas] == [("no", no_price, -count)]
