"""Baseline policy and pre-trade checks (pure steps 1-3 of the trading pipeline)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from models.trader import BookTop, ExitRules, RiskLimits, TradeAction
from rl.policy import ImbalancePolicy, build_observation
from rl.pretrade import PretradeState, check, intent_for

RISK = RiskLimits(
    order_size_contracts=D(5),
    max_position_contracts=D(10),
    max_open_positions=2,
    max_spread_dollars=D("0.05"),
    per_market_throttle_ms=1000,
    max_entry_price_dollars=D("0.90"),
)
EXITS = ExitRules(market_closing_window_s=300, cash_reserve_cents=1_000)


def obs(yes_bid="0.40", yes_size="30", no_bid="0.57", no_size="10", position="0", cash=100_000, closes_in=900.0):
    book = BookTop(
        yes_bid_dollars=D(yes_bid) if yes_bid else None,
        yes_bid_size=D(yes_size),
        no_bid_dollars=D(no_bid) if no_bid else None,
        no_bid_size=D(no_size),
    )
    return build_observation("T-1", book, D(position), cash, closes_in)


def test_observation_derives_ask_spread_and_imbalance() -> None:
    o = obs()
    assert o.yes_ask_dollars == D("0.43") and o.spread_dollars == D("0.03")
    assert o.imbalance == D("0.5")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, TradeAction.BUY_YES),  # imbalance +0.5
        ({"yes_size": "10", "no_size": "30"}, TradeAction.BUY_NO),
        ({"yes_size": "10", "no_size": "11"}, TradeAction.HOLD),
        ({"no_bid": "0.50"}, TradeAction.HOLD),  # spread 0.10 too wide to enter
        ({"position": "5", "yes_size": "10", "no_size": "30"}, TradeAction.SELL_YES),
        ({"position": "5"}, TradeAction.BUY_YES),
        ({"position": "-5"}, TradeAction.SELL_NO),
        ({"position": "-5", "yes_size": "10", "no_size": "30"}, TradeAction.BUY_NO),
        ({"yes_bid": None}, TradeAction.HOLD),
    ],
)
def test_imbalance_policy(kwargs, expected) -> None:
    assert ImbalancePolicy(D("0.35"), D("0.05")).select_action(obs(**kwargs)) == expected


def test_intents_cross_the_spread_on_the_right_side() -> None:
    o = obs(position="3")
    buy_yes = intent_for(TradeAction.BUY_YES, o, RISK)
    buy_no = intent_for(TradeAction.BUY_NO, o, RISK)
    sell_yes = intent_for(TradeAction.SELL_YES, o, RISK)
    assert (buy_yes.side, buy_yes.action, buy_yes.price_dollars, buy_yes.count_contracts) == (
        "yes",
        "buy",
        D("0.43"),
        D(5),
    )
    assert (buy_no.side, buy_no.price_dollars) == ("no", D("0.60"))  # NO ask = 1 - YES bid
    assert (sell_yes.side, sell_yes.action, sell_yes.price_dollars, sell_yes.count_contracts, sell_yes.reduce_only) == (
        "yes",
        "sell",
        D("0.40"),
        D(3),
        True,
    )
    assert intent_for(TradeAction.SELL_NO, o, RISK) is None  # nothing held on NO
    assert intent_for(TradeAction.HOLD, o, RISK) is None


def run_check(o, state, now_ms=10_000.0, **kw):
    intent = intent_for(kw.pop("action", TradeAction.BUY_YES), o, RISK)
    assert intent is not None
    return check(intent, o, state, RISK, EXITS, now_ms, max_consecutive_errors=3, **kw)


def test_pretrade_checks_each_reason() -> None:
    assert run_check(obs(), PretradeState(balance_cents=100_000)) is None
    assert run_check(obs(closes_in=200), PretradeState(balance_cents=100_000)) == "market_closing"
    assert (
        run_check(obs(), PretradeState(balance_cents=1_100)) == "cash_reserve"
    )  # 5 x 0.43 + fee > 100 - reserve 1000c
    assert run_check(obs(position="8"), PretradeState(positions={"T-1": D(8)}, balance_cents=10**6)) == "position_limit"
    full = PretradeState(positions={"A": D(1), "B": D(-1)}, balance_cents=10**6)
    assert run_check(obs(), full) == "max_open_positions"
    assert run_check(obs(), PretradeState(balance_cents=10**6, last_order_ms={"T-1": 9_500.0})) == "throttle"
    assert run_check(obs(), PretradeState(balance_cents=10**6, consecutive_errors=3)) == "circuit_open"
    assert run_check(obs(), PretradeState(balance_cents=10**6, order_group_triggered=True)) == "order_group_triggered"
    assert run_check(obs(yes_bid="0.93", no_bid="0.05"), PretradeState(balance_cents=10**6)) == "price_cap"  # ask 0.95
    assert run_check(obs(), PretradeState(balance_cents=10**6), max_book_age_ms=-1) == "stale_book"
    assert run_check(obs(closes_in=None), PretradeState(balance_cents=10**6)) == "market_unknown"


def test_sells_skip_entry_limits_but_not_the_closing_window() -> None:
    held = PretradeState(positions={"T-1": D(3)}, balance_cents=0, order_group_triggered=True)
    o = obs(position="3")
    assert run_check(o, held, action=TradeAction.SELL_YES) is None  # no cash needed; reduce-only passes the group
    assert run_check(obs(position="3", closes_in=10), held, action=TradeAction.SELL_YES) == "market_closing"


@pytest.mark.parametrize(
    ("book_side", "count", "price", "before", "fee", "expected"),
    [
        ("bid", "10", "0.40", "0", "0.17", "-4.17"),  # buy 10 YES flat
        ("ask", "10", "0.45", "10", "0", "4.50"),  # sell 10 YES held: pay 5.50 for NO, redeem 10 pairs
        ("ask", "10", "0.45", "0", "0", "-5.50"),  # buy 10 NO flat at 0.55
        ("bid", "4", "0.70", "-10", "0", "1.20"),  # buy 4 YES while short 10 NO: pay 2.80, redeem 4
        ("bid", "12", "0.70", "-10", "0", "1.60"),  # 10 net, 2 open: pay 8.40, redeem 10
    ],
)
def test_fill_cash_delta_follows_the_net_position_model(book_side, count, price, before, fee, expected) -> None:
    from rl.pretrade import fill_cash_delta_dollars

    assert fill_cash_delta_dollars(book_side, D(count), D(price), D(before), D(fee)) == D(expected)


def test_streamed_positions_count_an_acknowledged_fill_exactly_once() -> None:
    from trading.positions import StreamedPositions

    positions = {"T-1": D(2)}
    book = StreamedPositions(positions)
    book.acknowledged("T-1", "o1", D(1))  # the ack comes first: counts before any frame
    assert positions["T-1"] == 3
    book.fill("T-1", "o1", D(1))
    book.position("T-1", D(3))  # the frame confirms it: still 3, not 4
    assert positions["T-1"] == 3
    book.fill("T-1", "o2", D("0.5"))  # a frame before its ack (partial) ...
    book.position("T-1", D("3.5"))
    book.acknowledged("T-1", "o2", D(1))  # ... the ack reports 1: only the unconfirmed 0.5 is added
    assert positions["T-1"] == 4
    book.fill("T-1", "o2", D("0.5"))
    book.position("T-1", D(4))
    assert positions["T-1"] == 4
    book.acknowledged("T-1", "o3", D(-2))  # a NO-side fill lowers it; a stale position frame cannot hide it
    book.position("T-1", D(4))
    assert positions["T-1"] == 2
