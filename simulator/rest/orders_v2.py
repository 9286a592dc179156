"""V2 order writes under ``/portfolio/events/orders`` (kalshi-api.md §3.6)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from aiohttp import web

from simulator import errors, wire
from simulator.accounts import Account
from simulator.context import SimContext
from simulator.errors import invalid_order
from simulator.httputil import (
    body,
    json_response,
    q_str,
)
from simulator.orders import (
    Order,
    opt_str,
    parse_count_text,
    parse_price_text,
    parse_v2_create,
    require_object,
)
from simulator.rest.common import (
    batch_answers,
    batch_client_order_id,
    batch_list,
    cancel_ids,
    cancel_response,
    nonneg_count,
    request_account,
    sim_ctx,
)

_SIX = Decimal("0.000001")


def _ts_ms(ctx: SimContext) -> int:
    """The answer's ``ts_ms``: the exchange clock as the client sees it (with the clock-skew fault)."""
    return ctx.exchange.now_ms + ctx.clock.offset_ms


def _v2_result(ctx: SimContext, account: Account, order: Order, fills_before: int) -> dict[str, Any]:
    fills = [f for f in account.fills[fills_before:] if f.order_id == order.order_id]
    filled = sum((f.count for f in fills), Decimal(0))
    out: dict[str, Any] = {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "fill_count": wire.count(filled),
        "remaining_count": wire.count(order.remaining_count),
        "ts_ms": _ts_ms(ctx),
    }
    if filled > 0:
        notional = sum((f.count * f.yes_price for f in fills), Decimal(0))
        fees = sum((f.fee for f in fills), Decimal(0))
        out["average_fill_price"] = wire.money((notional / filled).quantize(_SIX, rounding=ROUND_HALF_EVEN))
        out["average_fee_paid"] = wire.money((fees / filled).quantize(_SIX, rounding=ROUND_HALF_EVEN))
    return out


async def create_order_v2(request: web.Request) -> web.Response:
    """``POST /portfolio/events/orders`` (V2 create, §3.6).

    Returns 201 ``{order_id, client_order_id, fill_count, remaining_count, average_fill_price?,
    average_fee_paid?, ts_ms}`` with fp count strings and dollar strings.
    """
    ctx = sim_ctx(request)
    account = request_account(request)
    intent = parse_v2_create(body(request))
    before = len(account.fills)
    order = ctx.exchange.place_order(account, intent)
    return json_response(_v2_result(ctx, account, order, before), status=201)


def _v2_cancel_body(ctx: SimContext, order: Order, reduced: Decimal) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "reduced_by": wire.count(reduced),
        "reduced_by_fp": wire.count(reduced),
        "ts_ms": _ts_ms(ctx),
    }


async def cancel_order_v2(request: web.Request) -> web.Response:
    """``DELETE /portfolio/events/orders/{order_id}`` -> ``{order_id, client_order_id, reduced_by, ts_ms}``."""
    return cancel_response(request, _v2_cancel_body)


async def batch_create_orders_v2(request: web.Request) -> web.Response:
    """``POST /portfolio/events/orders/batched`` -> 201 ``{orders: [... , error]}``."""
    ctx = sim_ctx(request)
    account = request_account(request)

    def place(item: Any) -> dict[str, Any]:
        intent = parse_v2_create(item)
        before = len(account.fills)
        return _v2_result(ctx, account, ctx.exchange.place_order(account, intent), before)

    def failed(item: Any) -> dict[str, Any]:
        return {"order_id": None, "client_order_id": batch_client_order_id(item)}

    return json_response({"orders": batch_answers(batch_list(body(request), "orders"), place, failed)}, status=201)


async def batch_cancel_orders_v2(request: web.Request) -> web.Response:
    """``DELETE /portfolio/events/orders/batched`` with ``{orders: [{order_id}]}``."""
    ctx = sim_ctx(request)
    account = request_account(request)

    def cancel(order_id: str) -> dict[str, Any]:
        return _v2_cancel_body(ctx, *ctx.exchange.cancel_order(account, order_id))

    def failed(order_id: str) -> dict[str, Any]:
        return {"order_id": order_id, "client_order_id": None, "reduced_by": "0.00", "ts_ms": _ts_ms(ctx)}

    return json_response({"orders": batch_answers(cancel_ids(body(request)), cancel, failed)})


async def cancel_all_v2(request: web.Request) -> web.Response:
    """``DELETE /portfolio/events/orders``: cancel every resting order (optionally ``?market_ticker=``).

    Answers 204 with no body, as the spec declares (the cancellations show on ``GET /portfolio/orders``
    and the ``user_orders`` WebSocket channel).
    """
    ctx = sim_ctx(request)
    ticker = q_str(request, "market_ticker") or q_str(request, "ticker")
    ctx.exchange.cancel_all(request_account(request), ticker)
    return web.Response(status=204)


async def amend_order_v2(request: web.Request) -> web.Response:
    """``POST /portfolio/events/orders/{order_id}/amend`` with ``{ticker, side, price, count}``."""
    ctx = sim_ctx(request)
    account = request_account(request)
    data = require_object(body(request))
    ticker = opt_str(data, "ticker")
    if not ticker:
        raise errors.missing("ticker")
    side = opt_str(data, "side")
    if side not in ("bid", "ask"):
        raise invalid_order("side must be bid or ask")
    if data.get("price") is None:
        raise invalid_order("price is required")
    price = parse_price_text(data["price"], "price")
    count = parse_count_text(data["count"], "count") if data.get("count") is not None else None
    before = len(account.fills)
    _, order = ctx.exchange.amend_order(
        account,
        request.match_info["order_id"],
        ticker=ticker,
        book_side=side,
        yes_price=price,
        max_fillable=count,
        updated_client_order_id=opt_str(data, "updated_client_order_id"),
    )
    result = _v2_result(ctx, account, order, before)
    result["fill_count"] = wire.count(order.fill_count)
    return json_response(result)


async def decrease_order_v2(request: web.Request) -> web.Response:
    """``POST /portfolio/events/orders/{order_id}/decrease`` with ``reduce_by``/``reduce_to`` fp strings."""
    ctx = sim_ctx(request)
    data = require_object(body(request))
    reduce_by = nonneg_count(data["reduce_by"], "reduce_by") if data.get("reduce_by") is not None else None
    reduce_to = nonneg_count(data["reduce_to"], "reduce_to") if data.get("reduce_to") is not None else None
    order = ctx.exchange.decrease_order(
        request_account(request), request.match_info["order_id"], reduce_by=reduce_by, reduce_to=reduce_to
    )
    return json_response(
        {
            "order_id": order.order_id,
            "client_order_id": order.client_order_id,
            "remaining_count": wire.count(order.remaining_count),
            "ts_ms": ctx.exchange.now_ms + ctx.clock.offset_ms,
        }
    )
