"""Balance, positions, orders, acks, fills, settlements and order groups in every wire era."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from kalshi.models import (
    Balance,
    BatchCancelResult,
    CancelOrderV1Response,
    CancelOrderV2Response,
    CreateOrderRequest,
    CreateOrderV2Response,
    EventPosition,
    Fill,
    FillsPage,
    MarketPosition,
    Order,
    OrderAck,
    OrderGroup,
    OrderGroupsPage,
    OrdersPage,
    PositionsPage,
    Settlement,
)

D = Decimal


# ---------------------------------------------------------------- balance


def test_balance_is_integer_cents() -> None:
    b = Balance.model_validate({"balance": 425_050, "portfolio_value": 1200, "updated_ts": 1_767_225_600})
    assert b.balance_cents == 425_050 and b.portfolio_value_cents == 1200
    assert b.balance_dollars == D("4250.50") and b.portfolio_value_dollars == D("12.00")
    assert b.updated_ts == 1_767_225_600
    assert Balance.model_validate(b.model_dump(mode="json")) == b


def test_balance_refuses_floats_and_strings() -> None:
    with pytest.raises(ValidationError):
        Balance.model_validate({"balance": 4250.5, "portfolio_value": 0})
    with pytest.raises(ValidationError):
        Balance.model_validate({"balance": "4250", "portfolio_value": 0})


# ---------------------------------------------------------------- positions


def test_market_position_current_fields() -> None:
    p = MarketPosition.model_validate(
        {
            "ticker": "T",
            "position_fp": "-12.50",
            "market_exposure_dollars": "7.250000",
            "realized_pnl_dollars": "-0.3000",
            "total_traded_dollars": "20.0000",
            "fees_paid_dollars": "0.190000",
            "resting_orders_count": 2,
            "last_updated_ts": "2026-08-05T03:50:01.123456Z",
        }
    )
    assert p.position_fp == D("-12.5") and p.held_side == "no" and p.contracts_held_fp == D("12.5")
    assert p.market_exposure_dollars == D("7.25") and p.fees_paid_dollars == D("0.19")
    assert p.realized_pnl_dollars == D("-0.30")
    assert p.last_updated_ts == datetime(2026, 8, 5, 3, 50, 1, 123456, tzinfo=UTC)


def test_market_position_legacy_ints() -> None:
    p = MarketPosition.model_validate(
        {
            "ticker": "T",
            "position": 5,
            "market_exposure": 1200,
            "realized_pnl": -50,
            "total_traded": 2000,
            "fees_paid": 18,
            "resting_orders_count": 0,
        }
    )
    assert p.position_fp == D(5) and p.held_side == "yes"
    assert p.market_exposure_dollars == D("12.00")
    assert p.realized_pnl_dollars == D("-0.50")
    assert p.total_traded_dollars == D("20.00")
    assert p.fees_paid_dollars == D("0.18")
    assert p.last_updated_ts is None
    flat = MarketPosition.model_validate({"ticker": "T", "position_fp": "0.00"})
    assert flat.held_side is None


def test_event_position_both_eras() -> None:
    legacy = EventPosition.model_validate(
        {
            "event_ticker": "E",
            "total_cost": 1500,
            "total_cost_shares": 30,
            "event_exposure": 1500,
            "realized_pnl": 0,
            "fees_paid": 21,
        }
    )
    modern = EventPosition.model_validate(
        {
            "event_ticker": "E",
            "total_cost_dollars": "15.0000",
            "total_cost_shares_fp": "30.00",
            "event_exposure_dollars": "15.0000",
            "realized_pnl_dollars": "0.0000",
            "fees_paid_dollars": "0.2100",
        }
    )
    assert legacy == modern
    assert modern.total_cost_dollars == D(15) and modern.total_cost_shares_fp == D(30)


def test_positions_page() -> None:
    page = PositionsPage.model_validate(
        {"market_positions": [{"ticker": "T", "position_fp": "3.00"}], "event_positions": None, "cursor": None}
    )
    assert page.market_positions[0].position_fp == 3 and page.event_positions == [] and page.cursor is None


# ---------------------------------------------------------------- orders


def _legacy_order(**extra: Any) -> dict[str, Any]:
    return {
        "order_id": "ord-1",
        "user_id": "u-1",
        "client_order_id": "cid-1",
        "ticker": "T",
        "side": "yes",
        "action": "buy",
        "type": "limit",
        "status": "resting",
        "yes_price": 40,
        "no_price": 60,
        "fill_count": 2,
        "remaining_count": 8,
        "initial_count": 10,
        "taker_fees": 2,
        "maker_fees": 0,
        "taker_fill_cost": 80,
        "maker_fill_cost": 0,
        "queue_position": 0,
        "created_time": "2026-01-01T00:00:00Z",
        **extra,
    }


def test_order_legacy_ints() -> None:
    o = Order.model_validate(_legacy_order())
    assert (o.yes_price_dollars, o.no_price_dollars, o.price_dollars) == (D("0.40"), D("0.60"), D("0.40"))
    assert (o.fill_count_fp, o.remaining_count_fp, o.initial_count_fp) == (D(2), D(8), D(10))
    assert o.taker_fees_dollars == D("0.02") and o.taker_fill_cost_dollars == D("0.80")
    assert o.fees_dollars == D("0.02")
    assert o.book_side == "bid" and o.outcome_side == "yes"  # completed from side/action (§8)
    assert o.is_resting


def test_order_era_c_fixed_point_only() -> None:
    o = Order.model_validate(
        {
            "order_id": "ord-2",
            "client_order_id": "cid-2",
            "ticker": "T",
            "side": "no",
            "action": "sell",
            "outcome_side": "yes",
            "book_side": "bid",
            "status": "executed",
            "yes_price_dollars": "0.3550",
            "no_price_dollars": "0.6450",
            "fill_count_fp": "2.50",
            "remaining_count_fp": "0.00",
            "initial_count_fp": "2.50",
            "taker_fill_cost_dollars": "1.612500",
            "maker_fill_cost_dollars": "0.000000",
            "taker_fees_dollars": "0.040000",
            "maker_fees_dollars": "0.000000",
            "order_group_id": "",
            "last_update_time": "2026-01-01T00:00:01Z",
        }
    )
    assert o.price_dollars == D("0.645")  # NO price for a NO order
    assert o.fill_count_fp == D("2.5") and o.order_group_id is None
    assert o.status == "executed" and not o.is_resting


@pytest.mark.parametrize(
    ("fields", "side", "action", "book_side", "outcome_side"),
    [
        ({"book_side": "bid"}, "yes", "buy", "bid", "yes"),
        ({"book_side": "ask"}, "no", "buy", "ask", "no"),
        ({"side": "bid"}, "yes", "buy", "bid", "yes"),  # V2-shaped "side"
        ({"outcome_side": "no"}, "no", "buy", "ask", "no"),
        ({"side": "yes", "book_side": "ask"}, "yes", "sell", "ask", "no"),
        ({"side": "no", "book_side": "bid"}, "no", "sell", "bid", "yes"),
        ({"action": "sell", "book_side": "bid"}, "no", "sell", "bid", "yes"),
        ({"action": "sell", "book_side": "ask"}, "yes", "sell", "ask", "no"),
        ({"side": "no", "action": "buy"}, "no", "buy", "ask", "no"),
    ],
)
def test_order_direction_completion(
    fields: dict[str, str], side: str, action: str, book_side: str, outcome_side: str
) -> None:
    payload = {"order_id": "o", "ticker": "T", "status": "resting", "yes_price_dollars": "0.4000", **fields}
    o = Order.model_validate(payload)
    assert (o.side, o.action, o.book_side, o.outcome_side) == (side, action, book_side, outcome_side)
    assert o.no_price_dollars == D("0.60")  # completed from the YES price


def test_order_refuses_float_price_and_missing_price() -> None:
    with pytest.raises(ValidationError, match="refusing float"):
        Order.model_validate(_legacy_order(yes_price=None, no_price=None, yes_price_dollars=0.4))
    with pytest.raises(ValidationError):
        Order.model_validate(_legacy_order(yes_price=None, no_price=None))


def test_orders_page() -> None:
    page = OrdersPage.model_validate({"orders": [_legacy_order()], "cursor": "next"})
    assert page.cursor == "next" and page.orders[0].order_id == "ord-1"


# ---------------------------------------------------------------- acks


def _req(**extra: Any) -> CreateOrderRequest:
    base: dict[str, Any] = {
        "ticker": "T",
        "side": "no",
        "action": "buy",
        "count_fp": D(10),
        "price_dollars": D("0.60"),
        "client_order_id": "cid-9",
    }
    return CreateOrderRequest(**{**base, **extra})


def test_ack_from_v2_response_resting_with_partial_fill() -> None:
    resp = CreateOrderV2Response.model_validate(
        {
            "order_id": "o9",
            "client_order_id": "cid-9",
            "fill_count": "4.00",
            "remaining_count": "6.00",
            "average_fill_price": "0.3900",
            "average_fee_paid": "0.0171",
            "ts_ms": 1_767_225_600_123,
        }
    )
    ack = OrderAck.from_v2_response(resp, _req())
    assert ack.status == "resting" and not ack.already_existed
    assert ack.fill_count_fp == D(4) and ack.remaining_count_fp == D(6)
    # the V2 average is a YES-book price; the ack reports the price of the order's side (NO here)
    assert ack.average_fill_price_dollars == D("0.61")
    assert ack.average_fee_paid_dollars == D("0.0171")
    assert ack.ts_ms == 1_767_225_600_123
    assert (ack.ticker, ack.side, ack.action) == ("T", "no", "buy")


@pytest.mark.parametrize(
    ("fill", "remaining", "status"),
    [
        ("10.00", "0.00", "executed"),
        ("4.00", "0.00", "canceled"),
        ("0.00", "0.00", "canceled"),
        ("0.00", "10.00", "resting"),
    ],
)
def test_ack_status_derivation(fill: str, remaining: str, status: str) -> None:
    resp = CreateOrderV2Response.model_validate(
        {"order_id": "o", "client_order_id": "c", "fill_count": fill, "remaining_count": remaining}
    )
    ack = OrderAck.from_v2_response(resp, _req(time_in_force="immediate_or_cancel"))
    assert ack.status == status
    assert ack.average_fill_price_dollars is None


def test_ack_from_order_marks_existing() -> None:
    ack = OrderAck.from_order(Order.model_validate(_legacy_order()), already_existed=True)
    assert ack.already_existed and ack.status == "resting" and ack.order_id == "ord-1"
    assert ack.client_order_id == "cid-1" and ack.fill_count_fp == D(2)
    assert OrderAck.model_validate(ack.model_dump(mode="json")) == ack


def test_cancel_responses() -> None:
    v1 = CancelOrderV1Response.model_validate(
        {"order": _legacy_order(status="canceled", remaining_count=0), "reduced_by": 8}
    )
    assert v1.reduced_by_fp == D(8) and v1.order.status == "canceled"
    v2 = CancelOrderV2Response.model_validate(
        {"order_id": "o", "client_order_id": "c", "reduced_by": "8.00", "ts_ms": 1}
    )
    assert v2.reduced_by_fp == D(8)


def test_batch_cancel_items() -> None:
    ok = BatchCancelResult.model_validate({"order_id": "a", "reduced_by_fp": "3.00", "error": None})
    assert ok.ok and ok.reduced_by_fp == D(3)
    bad = BatchCancelResult.model_validate(
        {
            "order_id": "b",
            "order": None,
            "reduced_by": 0,
            "error": {"code": "not_found", "message": "not found", "details": ""},
        }
    )
    assert not bad.ok and bad.error is not None and bad.error.code == "not_found"


# ---------------------------------------------------------------- fills and settlements


def test_fill_current_fields() -> None:
    f = Fill.model_validate(
        {
            "fill_id": "f1",
            "trade_id": "f1",
            "order_id": "o1",
            "ticker": "T",
            "side": "yes",
            "action": "sell",
            "outcome_side": "no",
            "book_side": "ask",
            "count_fp": "3.00",
            "yes_price_dollars": "0.5500",
            "no_price_dollars": "0.4500",
            "is_taker": True,
            "fee_cost": "0.060000",
            "created_time": "2026-01-01T00:00:00Z",
            "ts": 1_767_225_600,
        }
    )
    assert f.count_fp == D(3) and f.price_dollars == D("0.55") and f.fee_cost_dollars == D("0.06")
    assert f.outcome_side == "no"  # selling YES reports the opposite letter (§8)


def test_fill_legacy_fields() -> None:
    legacy = Fill.model_validate(
        {
            "trade_id": "t1",
            "order_id": "o1",
            "market_ticker": "T",
            "side": "no",
            "action": "buy",
            "count": 3,
            "price": 0.45,
            "yes_price": 55,
            "no_price": 45,
            "is_taker": False,
            "created_time": "2026-01-01T00:00:00Z",
        }
    )
    assert legacy.fill_id == "t1" and legacy.ticker == "T"
    assert legacy.yes_price_dollars == D("0.55") and legacy.price_dollars == D("0.45")
    assert legacy.fee_cost_dollars == 0 and legacy.book_side == "ask"
    fixed = Fill.model_validate(
        {
            "fill_id": "t2",
            "order_id": "o1",
            "ticker": "T",
            "side": "no",
            "action": "buy",
            "count": 3,
            "yes_price_fixed": "0.5550",
            "no_price_fixed": "0.4450",
            "is_taker": True,
            "fee_cost": "0.07",
        }
    )
    assert fixed.trade_id == "t2" and fixed.no_price_dollars == D("0.445")
    page = FillsPage.model_validate({"fills": None, "cursor": ""})
    assert page.fills == [] and page.cursor is None


def test_settlement_revenue_is_cents() -> None:
    s = Settlement.model_validate(
        {
            "ticker": "T",
            "event_ticker": "E",
            "market_result": "yes",
            "yes_count_fp": "10.00",
            "no_count_fp": "0.00",
            "yes_total_cost_dollars": "4.000000",
            "no_total_cost_dollars": "0.000000",
            "revenue": 1000,
            "settled_time": "2026-08-05T04:00:04Z",
            "fee_cost": "0.0000",
            "value": 100,
        }
    )
    assert s.revenue_cents == 1000 and s.revenue_dollars == D("10.00") and s.value_cents == 100
    legacy = Settlement.model_validate(
        {
            "ticker": "T",
            "event_ticker": "E",
            "market_result": "no",
            "yes_count": 0,
            "yes_total_cost": 0,
            "no_count": 5,
            "no_total_cost": 250,
            "revenue": 500,
            "settled_time": "2026-08-05T04:00:04Z",
            "fee_cost": "0.00",
            "value": None,
        }
    )
    assert legacy.no_count_fp == D(5) and legacy.no_total_cost_dollars == D("2.50") and legacy.value_cents is None
    with pytest.raises(ValidationError):
        Settlement.model_validate({**s.model_dump(), "revenue_cents": 10.0})


# ---------------------------------------------------------------- order groups


def test_order_group_list_and_get_shapes() -> None:
    page = OrderGroupsPage.model_validate(
        {
            "order_groups": [
                {"id": "og1", "is_auto_cancel_enabled": True, "contracts_limit_fp": "50.00"},
                {"id": "og2", "is_auto_cancel_enabled": False, "contracts_limit": 10},
            ]
        }
    )
    assert [g.order_group_id for g in page.order_groups] == ["og1", "og2"]
    assert page.order_groups[0].contracts_limit_fp == D(50) and page.order_groups[1].contracts_limit_fp == D(10)
    got = OrderGroup.model_validate({"order_group_id": "og1", "is_auto_cancel_enabled": True, "orders": ["a", "b"]})
    assert got.order_ids == ["a", "b"] and got.contracts_limit_fp is None
    assert got.triggered is None  # Kalshi's documented shape does not say
    assert OrderGroup.model_validate({"order_group_id": "og1", "is_triggered": True}).triggered is True
    assert OrderGroup.model_validate(got.model_dump(mode="json")) == got


def test_informational_ints_are_lenient() -> None:
    b = Balance.model_validate({"balance": 100, "portfolio_value": 0, "updated_ts": "2026-01-01T00:00:00Z"})
    assert b.updated_ts is None and b.balance_cents == 100
    assert Balance.model_validate({"balance": 100, "updated_ts": "1767225600"}).updated_ts == 1_767_225_600
    p = MarketPosition.model_validate(
        {"ticker": "T", "position_fp": "1.00", "resting_orders_count": None, "last_updated_ts": "0001-01-01T00:00:00Z"}
    )
    assert p.resting_orders_count is None and p.last_updated_ts is not None and p.last_updated_ts.year == 1
