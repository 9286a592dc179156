"""Order reads and the V1 order writes under ``/portfolio/orders`` (kalshi-api.md §3.5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from simulator import errors, wire
from simulator.context import SimContext
from simulator.errors import invalid_order, invalid_param
from simulator.httputil import (
    body,
    json_response,
    paginate,
    q_int,
    q_list,
    q_str,
)
from simulator.orders import (
    RESTING,
    Order,
    book_side_of,
    opt_int,
    opt_str,
    parse_count_text,
    parse_v1_create,
    require_object,
    v1_count,
    v1_yes_price,
)
from simulator.rest.common import (
    batch_answers,
    batch_client_order_id,
    batch_list,
    cancel_ids,
    cancel_response,
    in_bounds,
    nonneg_count,
    request_account,
    sim_ctx,
)


async def list_orders(request: web.Request) -> web.Response:
    """``GET /portfolio/orders`` (§3.5): the account's orders, newest first.

    Filters: ticker, event_ticker (comma list), status, min_ts/max_ts (served Unix seconds of creation).
    """
    ctx = sim_ctx(request)
    account = request_account(request)
    ticker = q_str(request, "ticker")
    events = set(q_list(request, "event_ticker"))
    status = q_str(request, "status")
    if status is not None and status not in ("resting", "canceled", "executed"):
        raise invalid_param("status must be resting, canceled or executed")
    min_ts, max_ts = q_int(request, "min_ts"), q_int(request, "max_ts")
    rows = []
    for order in account.orders.values():
        if ticker and order.ticker != ticker:
            continue
        if events and ctx.exchange.markets[order.ticker].definition.event_ticker not in events:
            continue
        if status and order.status != status:
            continue
        if not in_bounds((order.created_ms + ctx.clock.offset_ms) // 1000, min_ts, max_ts):
            continue
        rows.append(order)
    rows.sort(key=lambda o: o.seq, reverse=True)
    page, cursor = paginate(request, rows, lambda o: o.seq, "orders", descending=True)
    return json_response({"orders": [ctx.exchange.order_dict(o) for o in page], "cursor": cursor})


async def get_order(request: web.Request) -> web.Response:
    """``GET /portfolio/orders/{order_id}`` (§3.5); 404 if the account has no such order."""
    ctx = sim_ctx(request)
    order = ctx.exchange.find_order(request_account(request), request.match_info["order_id"])
    return json_response({"order": ctx.exchange.order_dict(order)})


def _queue_position(ctx: SimContext, order: Order) -> Decimal:
    if order.status != RESTING:
        return Decimal(0)
    level = ctx.exchange.markets[order.ticker].book.get(order.rest_side, order.rest_price_cc)
    if level is None:
        return Decimal(0)
    ahead = order.queue_ahead
    for other in level.orders:
        if other is order:
            break
        ahead += other.remaining_count
    return ahead


async def get_queue_position(request: web.Request) -> web.Response:
    """``GET /portfolio/orders/{order_id}/queue_position``: contracts ahead of the order at its level."""
    ctx = sim_ctx(request)
    order = ctx.exchange.find_order(request_account(request), request.match_info["order_id"])
    ahead = _queue_position(ctx, order)
    return json_response({"queue_position": wire.whole(ahead), "queue_position_fp": wire.count(ahead)})


async def get_queue_positions(request: web.Request) -> web.Response:
    """``GET /portfolio/orders/queue_positions?market_tickers=...|event_ticker=...``."""
    ctx = sim_ctx(request)
    account = request_account(request)
    tickers = set(q_list(request, "market_tickers"))
    event_ticker = q_str(request, "event_ticker")
    if not tickers and not event_ticker:
        raise invalid_param("market_tickers or event_ticker is required")
    out = []
    for order in ctx.exchange.resting_orders(account):
        state = ctx.exchange.markets[order.ticker]
        if (tickers and order.ticker in tickers) or (event_ticker and state.definition.event_ticker == event_ticker):
            ahead = _queue_position(ctx, order)
            out.append(
                {
                    "order_id": order.order_id,
                    "market_ticker": order.ticker,
                    "queue_position": wire.whole(ahead),
                    "queue_position_fp": wire.count(ahead),
                }
            )
    return json_response({"queue_positions": out})


async def create_order(request: web.Request) -> web.Response:
    """``POST /portfolio/orders`` -> 201 ``{order}``."""
    ctx = sim_ctx(request)
    intent = parse_v1_create(body(request))
    order = ctx.exchange.place_order(request_account(request), intent)
    return json_response({"order": ctx.exchange.order_dict(order)}, status=201)


def _cancel_body(ctx: SimContext, order: Order, reduced: Decimal) -> dict[str, Any]:
    return {
        "order": ctx.exchange.order_dict(order),
        "reduced_by": wire.whole(reduced),
        "reduced_by_fp": wire.count(reduced),
    }


async def cancel_order(request: web.Request) -> web.Response:
    """``DELETE /portfolio/orders/{order_id}`` -> ``{order, reduced_by, reduced_by_fp}``."""
    return cancel_response(request, _cancel_body)


async def batch_create_orders(request: web.Request) -> web.Response:
    """``POST /portfolio/orders/batched`` -> 201 ``{orders: [{client_order_id, order, error}]}``."""
    ctx = sim_ctx(request)
    account = request_account(request)

    def place(item: Any) -> dict[str, Any]:
        order = ctx.exchange.place_order(account, parse_v1_create(item))
        return {"client_order_id": order.client_order_id, "order": ctx.exchange.order_dict(order)}

    def failed(item: Any) -> dict[str, Any]:
        return {"client_order_id": batch_client_order_id(item), "order": None}

    return json_response({"orders": batch_answers(batch_list(body(request), "orders"), place, failed)}, status=201)


async def batch_cancel_orders(request: web.Request) -> web.Response:
    """``DELETE /portfolio/orders/batched`` with ``{ids}`` or ``{orders: [{order_id}]}``."""
    ctx = sim_ctx(request)
    account = request_account(request)

    def cancel(order_id: str) -> dict[str, Any]:
        return {"order_id": order_id, **_cancel_body(ctx, *ctx.exchange.cancel_order(account, order_id))}

    def failed(order_id: str) -> dict[str, Any]:
        return {"order_id": order_id, "order": None, "reduced_by": 0, "reduced_by_fp": "0.00"}

    return json_response({"orders": batch_answers(cancel_ids(body(request)), cancel, failed)})


async def amend_order(request: web.Request) -> web.Response:
    """``POST /portfolio/orders/{order_id}/amend`` -> ``{old_order, order}``.

    ``count`` is the new max fillable count (fill_count + remaining), in contracts.
    """
    ctx = sim_ctx(request)
    data = require_object(body(request))
    ticker = opt_str(data, "ticker")
    if not ticker:
        raise errors.missing("ticker")
    side, action = opt_str(data, "side"), opt_str(data, "action")
    if side not in ("yes", "no") or action not in ("buy", "sell"):
        raise invalid_order("side (yes|no) and action (buy|sell) are required")
    yes_price = v1_yes_price(data, required=True)
    assert yes_price is not None
    old, order = ctx.exchange.amend_order(
        request_account(request),
        request.match_info["order_id"],
        ticker=ticker,
        book_side=book_side_of(side, action),
        yes_price=yes_price,
        max_fillable=v1_count(data, required=False),
        updated_client_order_id=opt_str(data, "updated_client_order_id"),
    )
    return json_response({"old_order": old, "order": ctx.exchange.order_dict(order)})


def _decrease_args(data: dict[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    def one(name: str) -> Decimal | None:
        as_int = opt_int(data, name)
        as_fp = data.get(f"{name}_fp")
        if as_int is not None and as_fp is not None and parse_count_text(as_fp, f"{name}_fp") != as_int:
            raise invalid_order(f"{name} and {name}_fp disagree")
        if as_int is not None:
            return Decimal(as_int)
        if as_fp is not None:
            return nonneg_count(as_fp, f"{name}_fp")
        return None

    return one("reduce_by"), one("reduce_to")


async def decrease_order(request: web.Request) -> web.Response:
    """``POST /portfolio/orders/{order_id}/decrease`` with ``reduce_by`` or ``reduce_to`` -> ``{order}``."""
    ctx = sim_ctx(request)
    reduce_by, reduce_to = _decrease_args(require_object(body(request)))
    order = ctx.exchange.decrease_order(
        request_account(request), request.match_info["order_id"], reduce_by=reduce_by, reduce_to=reduce_to
    )
    return json_response({"order": ctx.exchange.order_dict(order)})
