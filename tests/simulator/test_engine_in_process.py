"""The exchange engine (matching on replayed liquidity) runs in-process: no HTTP, no server, no event loop.

The RL training environment fills its orders with this same code, so it must stay importable and drivable
without the simulator's served half (docs/architecture.md "Layout").
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from decimal import Decimal

from models.fees import FeeSchedule, OrderFeeAccumulator
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
    fee = OrderFeeAccumulator(FeeSchedule.taker_only()).fill(count, yes_price, "buy", is_taker=True)
    assert account.cash == Decimal(10_000) + fee.cash_change_dollars
    assert account.fills[-1].fee == fee.net_fee_dollars
    assert account.positions[ticker].position == count
    assert state.book.best("no") == (no_price, no_size - count)  # consumed liquidity is not offered again
    assert [(f.ticker, f.post_position) for f in fills] == [(ticker, count)]
    assert [(d.side, d.price, d.delta) for d in deltas] == [("no", no_price, -count)]


# -- consumed liquidity stays consumed; fees through the per-order accumulator --------------------------------------


def _one_market(fee_schedule: FeeSchedule | None = None) -> tuple[Exchange, str]:
    catalog = build_synthetic_catalog(seed=3, markets=1)
    ticker, definition = next(iter(catalog.markets.items()))
    catalog.markets[ticker] = definition = dataclasses.replace(definition, fractional_trading_enabled=True)
    exchange = Exchange(catalog, EventBus(), offset_ms=0, start_ms=definition.open_ms + 1, fee_schedule=fee_schedule)
    exchange.init_lifecycle()
    return exchange, ticker


def _ioc(ticker: str, book_side: str, yes_price: str, count: str, coid: str) -> OrderIntent:
    return OrderIntent(
        ticker=ticker,
        client_order_id=coid,
        book_side=book_side,
        yes_price=Decimal(yes_price),
        count=Decimal(count),
        side="yes" if book_side == "bid" else "no",
        action="buy",
        time_in_force="immediate_or_cancel",
        self_trade_prevention_type="taker_at_cross",
        api="v2",
    )


def test_repeated_aggression_never_takes_more_than_the_tape_added() -> None:
    """A stream of crossing buys against one NO level: the total filled is bounded by what the tape ever put there."""
    exchange, ticker = _one_market()
    account = exchange.create_account("agg", balance_cents=10_000_000)
    book = exchange.markets[ticker].book
    exchange.apply_snapshot(ticker, {4000: 1_000}, {5500: 1_000})  # YES bid $0.40 x 10, NO bid $0.55 x 10
    added = 1_000
    filled = 0
    for i in range(30):
        order = exchange.place_order(account, _ioc(ticker, "bid", "0.45", "4", f"a{i}"))
        filled += int(order.fill_count * 100)
        # the tape keeps churning at the level: the owner cancels a little, then re-adds a little
        exchange.apply_delta(ticker, "no", 5500, -100)
        exchange.apply_delta(ticker, "no", 5500, +150)
        added += 150
        assert filled <= added, (i, filled, added)
        level = book.get("no", 5500)
        shown = level.tape_visible if level else 0
        best = book.best_cc("no")
        assert (best[1] if best else 0) == shown
    assert filled == added - (book.get("no", 5500).tape_visible if book.get("no", 5500) else 0)


def test_a_tape_decrease_pays_down_consumed_size_and_an_increase_shows_in_full() -> None:
    exchange, ticker = _one_market()
    account = exchange.create_account("agg", balance_cents=10_000_000)
    book = exchange.markets[ticker].book
    exchange.apply_snapshot(ticker, {4000: 1_000}, {5500: 1_000})
    exchange.place_order(account, _ioc(ticker, "bid", "0.45", "6", "a"))  # takes 6 of the 10 NO contracts
    assert book.best_cc("no") == (5500, 400)
    exchange.apply_delta(ticker, "no", 5500, -500)  # 5 of the 6 consumed contracts leave the tape: display unchanged
    assert book.best_cc("no") == (5500, 400)
    exchange.apply_delta(ticker, "no", 5500, +300)  # new size shows in full; the last consumed contract stays hidden
    assert book.best_cc("no") == (5500, 700)
    exchange.apply_snapshot(ticker, {4000: 1_000}, {5500: 900})  # a re-snapshot is a delta of +100: still hidden
    assert book.best_cc("no") == (5500, 800)
    exchange.apply_snapshot(ticker, {4000: 1_000}, {5500: 200})  # -700 pays the last consumed contract down
    assert book.best_cc("no") == (5500, 200)
    exchange.apply_delta(ticker, "no", 5500, -200)
    assert book.get("no", 5500) is None


def test_maker_fills_pay_the_maker_fee_on_series_that_charge_one() -> None:
    exchange, ticker = _one_market(FeeSchedule.for_series("quadratic_with_maker_fees"))
    maker = exchange.create_account("maker", balance_cents=1_000_000)
    exchange.apply_snapshot(ticker, {4000: 1_000}, {5500: 1_000})
    resting = exchange.place_order(
        maker,
        OrderIntent(
            ticker=ticker,
            client_order_id="m",
            book_side="bid",
            yes_price=Decimal("0.42"),
            count=Decimal(10),
            side="yes",
            action="buy",
            time_in_force="good_till_canceled",
            self_trade_prevention_type="taker_at_cross",
            api="v2",
            post_only=True,
        ),
    )
    assert resting.status == "resting"
    exchange.apply_trade(ticker, 4100, 1_000, "ask")  # a tape sell at $0.41 trades through the $0.42 bid
    assert resting.status == EXECUTED
    fill = maker.fills[-1]
    expected = OrderFeeAccumulator(FeeSchedule.for_series("quadratic_with_maker_fees")).fill(
        10, "0.42", "buy", is_taker=False
    )
    assert fill.is_taker is False and fill.fee == expected.net_fee_dollars == Decimal("0.05")  # 0.0175*10*.42*.58
    assert maker.cash == Decimal(10_000) - Decimal("4.20") - Decimal("0.05")


def test_many_small_fills_of_one_order_cost_what_one_fill_costs() -> None:
    """Kalshi's per-order accumulator: one taker order filled by 20 makers of 0.30 contract at one price pays the fee
    of one 6-contract fill, give or take the accumulator's last cent (docs.kalshi.com "Fee Rounding")."""
    exchange, ticker = _one_market()
    exchange.apply_snapshot(ticker, {4000: 1_000}, {5000: 1_000})
    for i in range(20):
        maker = exchange.create_account(f"maker{i}", balance_cents=100_000)
        resting = exchange.place_order(
            maker,
            OrderIntent(
                ticker=ticker,
                client_order_id=f"r{i}",
                book_side="ask",
                yes_price=Decimal("0.46"),
                count=Decimal("0.30"),
                side="no",
                action="buy",
                time_in_force="good_till_canceled",
                self_trade_prevention_type="taker_at_cross",
                api="v2",
            ),
        )
        assert resting.status == "resting"
    taker = exchange.create_account("taker", balance_cents=1_000_000)
    order = exchange.place_order(taker, _ioc(ticker, "bid", "0.46", "6", "walk"))
    assert order.fill_count == 6 and len(taker.fills) == 20
    assert {f.yes_price for f in taker.fills} == {Decimal("0.46")}
    paid = sum((f.fee for f in taker.fills), Decimal(0))
    assert Decimal(10_000) - taker.cash == 6 * Decimal("0.46") + paid
    assert taker.cash % Decimal("0.01") == 0
    one_fill = OrderFeeAccumulator(FeeSchedule.taker_only()).fill(6, "0.46", "buy", is_taker=True).net_fee_dollars
    assert one_fill <= paid <= one_fill + Decimal("0.01")
