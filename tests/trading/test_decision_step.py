"""The live epoch's decision step (trading/pipeline.py) over rl/decision: what the epoch decides, rejects and books.

The same cases the original pipeline was tested on (the imbalance rule, intents that cross the spread on the right
side, every reject reason, sells that skip the entry limits), now through the seam the epoch calls, in integer
units; plus the bookkeeping the live loop depends on: an acknowledged fill counted exactly once while ``fill`` frames
stream, Kalshi's net-position cash, the fee of a REST-booked fill, the decision interval, and degraded mode's
"no new positions".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from kalshi.models import OrderAck
from kalshi.models.ws import Fill as FillFrame
from kalshi.models.ws import MarketPositionUpdate
from kalshi.orderbook import TopOfBook
from models.trader import EpochInput, EpochMarket, EpochSettings, ExitRules, RiskLimits
from rl.decision import Limits, OrderIntent
from trading.live import baseline_policy
from trading.pipeline import BookUpdate, DecisionStep

T = "T-1"
NOW = 1_800_000_000_000
CLOSE = NOW + 900_000
RISK = RiskLimits(
    order_size_contracts=D(5),
    max_position_contracts=D(10),
    max_open_positions=2,
    max_spread_dollars=D("0.05"),
    per_market_throttle_ms=1000,
    max_entry_price_dollars=D("0.90"),
)
EXITS = ExitRules(market_closing_window_s=300, cash_reserve_cents=1_000)


def step(
    positions: dict[str, str] | None = None,
    cash_cents: int = 100_000,
    *,
    policy: str = "imbalance",
    polling: bool = False,
    interval_ms: int = 0,
    max_book_age_ms: float | None = None,
) -> DecisionStep:
    settings = EpochSettings(policy=policy, decision_interval_ms=interval_ms, max_consecutive_errors=3)
    inp = EpochInput(
        epoch_id="e",
        deadline=datetime.now(UTC) + timedelta(minutes=1),
        markets=[EpochMarket(ticker=T)],
        positions={k: D(v) for k, v in (positions or {}).items()},
        balance_cents=cash_cents,
        risk=RISK,
        exits=EXITS,
        settings=settings,
    )
    return DecisionStep(
        inp, baseline_policy(policy, settings, RISK), fills_from_acks=polling, max_book_age_ms=max_book_age_ms
    )


def update(yes_bid=4_000, yes_lots=3_000, no_bid=5_700, no_lots=1_000, *, now=NOW, close=CLOSE, age=0.0) -> BookUpdate:
    """YES bid 0.40 x 30, NO bid 0.57 x 10 (YES ask 0.43): imbalance +0.5 by default."""
    top = TopOfBook(
        yes_bid, yes_lots if yes_bid else 0, None if no_bid is None else 10_000 - no_bid, no_lots if no_bid else 0
    )
    return BookUpdate(T, top, now, close, age)


def intent_of(s: DecisionStep, u: BookUpdate | None = None) -> OrderIntent:
    """The order ``s`` decides on ``u`` (the default book); fails the test when it decides none."""
    decision = s.decide(u or update())
    assert decision is not None and decision.intent is not None, decision
    return decision.intent


@pytest.mark.parametrize(
    ("book", "position", "expected"),
    [
        ({}, None, "BUY_YES_TAKE"),
        ({"yes_lots": 1_000, "no_lots": 3_000}, None, "BUY_NO_TAKE"),
        ({"yes_lots": 1_000, "no_lots": 1_100}, None, "HOLD"),
        ({"no_bid": 5_000}, None, "HOLD"),  # spread 0.10 too wide to enter
        ({"yes_lots": 1_000, "no_lots": 3_000}, "5", "SELL_YES_TAKE"),
        ({}, "5", "BUY_YES_TAKE"),
        ({}, "-5", "SELL_NO_TAKE"),
        ({"yes_lots": 1_000, "no_lots": 3_000}, "-5", "BUY_NO_TAKE"),
        ({"yes_bid": None}, None, "HOLD"),
    ],
)
def test_the_imbalance_rule(book, position, expected) -> None:
    s = step({T: position} if position else None)
    decision = s.decide(update(**book))
    assert decision is not None and decision.action == expected


def test_intents_cross_the_spread_on_the_right_side() -> None:
    buy_yes = step().decide(update()).intent
    assert (buy_yes.side, buy_yes.action, buy_yes.price_dollars, buy_yes.count_contracts) == (
        "yes",
        "buy",
        D("0.43"),
        D(5),
    )
    assert (buy_yes.time_in_force, buy_yes.post_only, buy_yes.reduce_only) == ("immediate_or_cancel", False, False)
    buy_no = step().decide(update(yes_lots=1_000, no_lots=3_000)).intent
    assert (buy_no.side, buy_no.price_dollars) == ("no", D("0.60"))  # NO ask = 1 - YES bid
    sell_yes = step({T: "3"}).decide(update(yes_lots=1_000, no_lots=3_000)).intent
    assert (sell_yes.side, sell_yes.action, sell_yes.price_dollars, sell_yes.count_contracts, sell_yes.reduce_only) == (
        "yes",
        "sell",
        D("0.40"),
        D(3),
        True,
    )


def test_each_reject_reason() -> None:
    def reject(s: DecisionStep, u: BookUpdate | None = None) -> str | None:
        decision = s.decide(u or update())
        assert decision is not None
        return decision.reject

    assert reject(step()) is None
    assert reject(step(), update(close=NOW + 200_000)) == "market_closing"
    assert reject(step(), update(close=None)) == "market_unknown"
    assert reject(step(cash_cents=1_100)) == "cash_reserve"  # 5 x 0.43 + fee > $11 - $10 reserve
    assert reject(step({T: "8"})) == "position_limit"
    assert reject(step({"A": "1", "B": "-1"})) == "max_open_positions"
    assert reject(step(), update(yes_bid=9_300, no_bid=500)) == "price_cap"  # ask 0.95
    assert reject(step(max_book_age_ms=10), update(age=11)) == "stale_book"
    broken = step()
    for _ in range(3):
        broken.exchange_error()
    assert reject(broken) == "circuit_open"
    grouped = step()
    grouped.order_group_triggered = True
    assert reject(grouped) == "order_group_triggered"
    throttled = step()
    throttled.order_sent(intent_of(throttled), NOW)
    assert reject(throttled, update(now=NOW + 999)) == "throttle"
    assert reject(throttled, update(now=NOW + 1_000)) is None
    # a sell of a side not held: the one documented rename (the original said no_liquidity)
    flat = step()
    ctx = flat.pipeline.context(T, update().top, NOW, CLOSE)
    assert flat.pipeline.resolve(flat.live.space.index("SELL_YES_TAKE"), ctx).reject == "nothing_to_sell"


def test_sells_skip_entry_limits_but_not_the_closing_window() -> None:
    held = step({T: "3"}, cash_cents=0)
    held.order_group_triggered = True
    sell = held.decide(update(yes_lots=1_000, no_lots=3_000))
    assert sell.intent is not None and sell.intent.reduce_only  # no cash needed; reduce-only passes the group
    assert held.decide(update(yes_lots=1_000, no_lots=3_000, close=NOW + 10_000)).reject == "market_closing"


def test_degraded_mode_allows_only_reduce_only_orders() -> None:
    s = step({T: "3"})
    s.limits = Limits.from_settings(RISK, EXITS, max_consecutive_errors=3, no_new_positions="market data degraded")
    s.pipeline.limits = s.limits
    assert s.decide(update()).reject == "closing_only"  # the imbalance rule wants to add
    assert s.decide(update(yes_lots=1_000, no_lots=3_000, now=NOW + 5_000)).intent.reduce_only
    tight = Limits.from_settings(RISK, EXITS, degraded_max_position_contracts=D(2), degraded_cash_reserve_cents=50_000)
    assert (tight.max_position_lots, tight.cash_reserve_micro) == (200, 500_000_000)


def test_an_acknowledged_fill_counts_exactly_once_while_fill_frames_stream() -> None:
    s = step({T: "2"})
    intent = intent_of(s)  # buy 5 YES at 0.43
    ack = OrderAck(order_id="o1", client_order_id="c1", fill_count_fp=D(1), remaining_count_fp=D(0), status="canceled")
    s.acknowledged(intent, ack, NOW)  # the ack comes first: counts before any frame
    position = lambda: s.portfolio.market(T).position_lots  # noqa: E731
    assert position() == 300
    cash = s.portfolio.cash_micro
    s.fill_frame(FillFrame(market_ticker=T, order_id="o1", yes_price_cc=4_300, count_lots=100, book_side="bid",
                           fee_cost_dollars=D("0.02"), post_position_lots=300, is_taker=True))  # fmt: skip
    s.position_frame(MarketPositionUpdate(market_ticker=T, position_lots=300))  # the frame confirms it: still 3
    assert position() == 300
    assert s.portfolio.cash_micro == cash - 430_000 - 20_000  # Kalshi's net-position cash with the frame's fee
    assert s.streamed.unconfirmed_lots == 0
    # a frame before its ack (a partial fill) ...
    s.fill_frame(FillFrame(market_ticker=T, order_id="o2", yes_price_cc=4_300, count_lots=50, book_side="bid",
                           fee_cost_dollars=D("0.01"), post_position_lots=350))  # fmt: skip
    ack2 = OrderAck(order_id="o2", client_order_id="c2", fill_count_fp=D(1), remaining_count_fp=D(0), status="canceled")
    s.acknowledged(intent, ack2, NOW)  # ... the ack reports 1: only the unconfirmed 0.5 is added
    assert position() == 400
    s.fill_frame(FillFrame(market_ticker=T, order_id="o2", yes_price_cc=4_300, count_lots=50, book_side="bid",
                           fee_cost_dollars=D("0.01"), post_position_lots=400))  # fmt: skip
    assert position() == 400 and s.streamed.unconfirmed_lots == 0
    # a NO-side fill lowers it; a stale position frame cannot hide it
    sell = intent_of(s, update(yes_lots=1_000, no_lots=3_000, now=NOW + 5_000))
    s.acknowledged(sell, OrderAck(order_id="o3", client_order_id="c3", fill_count_fp=D(2), remaining_count_fp=D(0),
                                  status="canceled"), NOW)  # fmt: skip
    s.position_frame(MarketPositionUpdate(market_ticker=T, position_lots=400))
    assert position() == 200


def test_polling_books_acknowledged_fills_with_kalshis_fee() -> None:
    s = step(polling=True)
    intent = intent_of(s)
    ack = OrderAck(order_id="o1", client_order_id="c1", fill_count_fp=D(5), remaining_count_fp=D(0),
                   average_fill_price_dollars=D("0.43"), status="executed")  # fmt: skip
    s.acknowledged(intent, ack, NOW)
    # 5 x 0.43 = 2.15 + fee ceil(0.07 x 5 x 0.43 x 0.57 = 0.0858) = 0.09
    assert s.portfolio.cash_micro == 100_000 * 10_000 - 2_150_000 - 90_000
    assert s.portfolio.market(T).position_lots == 500 and s.portfolio.market(T).cost_micro == 2_150_000
    assert s.fees_micro == 90_000 and s.realized_micro[T] == -90_000


def test_the_decision_interval_and_exchange_time() -> None:
    s = step(interval_ms=100)
    assert s.decide(update(now=NOW)) is not None
    assert s.decide(update(now=NOW + 99)) is None
    assert s.decide(update(now=NOW + 100)) is not None
    assert s.skipped == 1
