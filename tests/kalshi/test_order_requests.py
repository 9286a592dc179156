"""CreateOrderRequest validation and its V1 / V2 wire bodies (kalshi-api.md §3.5, §3.6, §8)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from kalshi.models import CreateOrderRequest, Market

D = Decimal


def req(**extra: Any) -> CreateOrderRequest:
    base: dict[str, Any] = {
        "ticker": "KXTEST-26JAN01-T50",
        "side": "yes",
        "action": "buy",
        "count_fp": D(10),
        "price_dollars": D("0.40"),
        "client_order_id": "wf-1:cycle-3:open/yes+=_x",
    }
    return CreateOrderRequest(**{**base, **extra})


# The §8 table, with the price of `side` = 0.40 in every case.
DIRECTION_CASES = [
    # side, action, book_side, yes price on the book
    ("yes", "buy", "bid", "0.4000"),
    ("yes", "sell", "ask", "0.4000"),
    ("no", "buy", "ask", "0.6000"),
    ("no", "sell", "bid", "0.6000"),
]


@pytest.mark.parametrize(("side", "action", "book_side", "yes_price"), DIRECTION_CASES)
def test_v2_body_maps_to_single_yes_book(side: str, action: str, book_side: str, yes_price: str) -> None:
    r = req(side=side, action=action)
    assert r.book_side == book_side
    assert r.yes_price_dollars == D(yes_price)
    assert r.to_v2_body() == {
        "ticker": "KXTEST-26JAN01-T50",
        "client_order_id": "wf-1:cycle-3:open/yes+=_x",
        "side": book_side,
        "count": "10.00",
        "price": yes_price,
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
        "post_only": False,
        "reduce_only": False,
        "cancel_order_on_pause": False,
    }


@pytest.mark.parametrize(("side", "action", "book_side", "yes_price"), DIRECTION_CASES)
def test_v1_body_keeps_side_and_action(side: str, action: str, book_side: str, yes_price: str) -> None:
    r = req(side=side, action=action)
    body = r.to_v1_body()
    assert body == {
        "ticker": "KXTEST-26JAN01-T50",
        "client_order_id": "wf-1:cycle-3:open/yes+=_x",
        "side": side,
        "action": action,
        "type": "limit",
        "count_fp": "10.00",
        "count": 10,
        f"{side}_price_dollars": "0.4000",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
        "post_only": False,
        "reduce_only": False,
        "cancel_order_on_pause": False,
    }
    cents = r.to_v1_body(price_format="cents")
    assert cents[f"{side}_price"] == 40 and f"{side}_price_dollars" not in cents
    both = r.to_v1_body(price_format="both")
    assert both[f"{side}_price"] == 40 and both[f"{side}_price_dollars"] == "0.4000"


def test_no_price_complement_is_exact_on_subpenny_prices() -> None:
    r = req(side="no", action="buy", price_dollars=D("0.0950"))
    assert r.to_v2_body()["price"] == "0.9050"
    assert r.to_v2_body()["side"] == "ask"
    assert r.no_price_dollars == D("0.095")
    v1 = r.to_v1_body(price_format="both")
    assert v1["no_price_dollars"] == "0.0950" and "no_price" not in v1  # not on the cent grid
    with pytest.raises(ValueError, match="whole number of cents"):
        r.to_v1_body(price_format="cents")


def test_fractional_count() -> None:
    r = req(count_fp=D("2.5"))
    assert r.to_v2_body()["count"] == "2.50"
    v1 = r.to_v1_body()
    assert v1["count_fp"] == "2.50" and "count" not in v1
    assert not r.is_whole_count


def test_optional_fields_in_bodies() -> None:
    r = req(
        time_in_force="good_till_canceled",
        post_only=True,
        order_group_id="og-1",
        expiration_ts=1_767_225_600,
        self_trade_prevention_type="maker",
        cancel_order_on_pause=True,
        reduce_only=True,
    )
    v2 = r.to_v2_body()
    assert v2["expiration_time"] == 1_767_225_600 and v2["order_group_id"] == "og-1"
    assert v2["post_only"] is True and v2["reduce_only"] is True and v2["cancel_order_on_pause"] is True
    assert v2["self_trade_prevention_type"] == "maker"
    v1 = r.to_v1_body()
    assert v1["expiration_ts"] == 1_767_225_600 and v1["order_group_id"] == "og-1"
    ioc = req(time_in_force="immediate_or_cancel")
    assert ioc.to_v2_body()["time_in_force"] == "immediate_or_cancel"


def test_buy_max_cost_is_v1_only() -> None:
    r = req(buy_max_cost_cents=500)
    assert r.to_v1_body()["buy_max_cost"] == 500
    with pytest.raises(ValueError, match="V1"):
        r.to_v2_body()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"count_fp": D(0)}, "count_fp must be > 0"),
        ({"count_fp": D("-1")}, "count_fp must be > 0"),
        ({"count_fp": D("1.005")}, "multiple of 0.01"),
        ({"price_dollars": D(0)}, "strictly between 0 and 1"),
        ({"price_dollars": D(1)}, "strictly between 0 and 1"),
        ({"price_dollars": D("0.40001")}, "more than 4 decimal places"),
        ({"client_order_id": ""}, "client_order_id"),
        ({"client_order_id": "x" * 65}, "client_order_id"),
        ({"client_order_id": "has space"}, "client_order_id"),
        ({"client_order_id": "semi;colon"}, "client_order_id"),
        ({"ticker": ""}, "ticker"),
        ({"ticker": " T"}, "ticker"),
        ({"side": "bid"}, "side"),
        ({"action": "hold"}, "action"),
        ({"time_in_force": "day"}, "time_in_force"),
        ({"self_trade_prevention_type": "none"}, "self_trade_prevention_type"),
        ({"expiration_ts": 1_767_225_600, "time_in_force": "immediate_or_cancel"}, "expiration_ts"),
        ({"expiration_ts": 0}, "expiration_ts"),
        ({"buy_max_cost_cents": 500, "action": "sell"}, "buy_max_cost_cents"),
        ({"buy_max_cost_cents": 0}, "buy_max_cost_cents"),
        ({"order_group_id": " "}, "order_group_id"),
        ({"postonly": True}, "postonly"),  # typos are rejected, not ignored
    ],
)
def test_validation_errors(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        req(**extra)


def test_floats_refused() -> None:
    with pytest.raises(ValidationError, match="refusing float"):
        req(price_dollars=0.4)
    with pytest.raises(ValidationError, match="refusing float"):
        req(count_fp=10.0)
    with pytest.raises(ValidationError):
        req(expiration_ts=1.5e9)
    with pytest.raises(ValidationError):
        req(buy_max_cost_cents=500.0)


def test_strings_and_ints_accepted_exactly() -> None:
    r = req(price_dollars="0.4", count_fp=3)
    assert r.price_dollars == D("0.4") and r.count_fp == D(3)
    assert r.to_v2_body()["price"] == "0.4000" and r.to_v1_body()["count"] == 3


def test_json_round_trip_for_activity_inputs() -> None:
    r = req(side="no", action="sell", count_fp=D("1.25"), order_group_id="og")
    dumped = r.model_dump(mode="json")
    assert dumped["price_dollars"] == "0.40" and dumped["count_fp"] == "1.25"
    assert CreateOrderRequest.model_validate(dumped) == r


def _market(**extra: Any) -> Market:
    return Market.model_validate(
        {
            "ticker": "KXTEST-26JAN01-T50",
            "event_ticker": "KXTEST-26JAN01",
            "status": "active",
            "open_time": "2026-01-01T00:00:00Z",
            "close_time": "2026-01-01T01:00:00Z",
            **extra,
        }
    )


def test_check_against_market() -> None:
    req().check_against_market(_market())
    with pytest.raises(ValueError, match="tick grid"):
        req(price_dollars=D("0.405")).check_against_market(_market())
    with pytest.raises(ValueError, match="fractional"):
        req(count_fp=D("1.5")).check_against_market(_market())
    req(count_fp=D("1.5")).check_against_market(_market(fractional_trading_enabled=True))
    with pytest.raises(ValueError, match="not active"):
        req().check_against_market(_market(status="closed"))
    with pytest.raises(ValueError, match="checked against"):
        req(ticker="OTHER").check_against_market(_market())
