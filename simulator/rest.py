"""The Kalshi Trade API v2 REST surface under ``/trade-api/v2`` (kalshi-api.md §3).

Same paths, JSON shapes and status codes as Kalshi, in the era-superset form of :mod:`simulator.wire`.
Public market-data endpoints (``/exchange``, ``/markets``, ``/events``, ``/series``) need no
authentication; everything under ``/portfolio`` and ``/account`` requires a signed request
(:mod:`simulator.auth`). The middleware applies, in order: injected latency and failures
(:mod:`simulator.faults`), authentication, rate limits (:mod:`simulator.ratelimit`), then brings the
exchange to the clock's current time before the handler runs. Handlers do no awaiting after that,
so each request sees and changes one consistent exchange state.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from aiohttp import web

from models.money import floor_to_cents
from simulator import errors, wire
from simulator import market as mk
from simulator.accounts import Account
from simulator.auth import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from simulator.context import SimContext
from simulator.errors import ApiError, invalid_order, invalid_param, not_found
from simulator.faults import fault_body
from simulator.httputil import (
    BODY_KEY,
    body,
    error_response,
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
    parse_price_text,
    parse_v1_create,
    parse_v2_create,
    require_object,
    v1_count,
    v1_yes_price,
)
from simulator.ratelimit import classify
from simulator.timeutil import iso_ms

log = logging.getLogger(__name__)

API_PREFIX = "/trade-api/v2"
CTX_KEY: web.AppKey[SimContext] = web.AppKey("sim_context", SimContext)
ACCOUNT_KEY: web.RequestKey[Account] = web.RequestKey("sim_account", Account)
MAX_BATCH = 20
_SIX = Decimal("0.000001")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _ctx(request: web.Request) -> SimContext:
    return request.app[CTX_KEY]


def _account(request: web.Request) -> Account:
    account = request.get(ACCOUNT_KEY)
    if account is None:
        raise errors.ApiError(401, errors.AUTHENTICATION_ERROR, "MISSING_AUTH_HEADERS", message="authentication_error")
    return account


def _is_public(api_path: str) -> bool:
    return api_path.startswith(("/exchange", "/markets", "/events", "/series"))


def _batch_items(method: str, api_path: str, raw: bytes) -> int:
    if not api_path.endswith("/batched"):
        return 0
    try:
        parsed = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return 0
    if not isinstance(parsed, dict):
        return 0
    body_items = parsed.get("orders") or parsed.get("ids") or []
    return len(body_items) if isinstance(body_items, list) else 0


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency and injected failures, auth, rate limits and clock sync around every API request."""
    ctx = _ctx(request)
    ctx.requests += 1
    faults = ctx.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    rule = faults.take(request.method, request.path)
    if rule is not None and not rule.after_processing:
        if rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule.status is not None:
            return json_response(fault_body(rule.status), status=rule.status)
        rule = None
    api_path = request.path[len(API_PREFIX) :] or "/"
    try:
        raw = await request.read() if request.can_read_body else b""
        request[BODY_KEY] = raw
        key_id: str | None = None
        has_auth = any(h in request.headers for h in (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
        signed_path = request.url.raw_path
        if not _is_public(api_path):
            key_id = ctx.keys.verify(request.method, signed_path, request.headers)
        elif has_auth:
            try:
                key_id = ctx.keys.verify(request.method, signed_path, request.headers)
            except ApiError:
                key_id = None
        if key_id is not None:
            account = ctx.exchange.accounts.get(key_id)
            if account is None:
                account = ctx.exchange.create_account(key_id)
            request[ACCOUNT_KEY] = account
        kind, cost = classify(request.method, api_path, _batch_items(request.method, api_path, raw))
        who = key_id if key_id is not None else f"anon:{request.remote}"
        if not ctx.limiter.allow(who, kind, cost):
            response: web.StreamResponse = json_response({"error": "too many requests"}, status=429)
        else:
            await ctx.sync()
            response = await handler(request)
    except ApiError as exc:
        response = error_response(exc)
    except web.HTTPException as exc:
        code = {404: errors.NOT_FOUND, 405: "method_not_allowed"}.get(exc.status, "bad_request")
        response = json_response(
            {"error": {"code": code, "message": exc.reason, "details": request.path}}, status=exc.status
        )
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        response = json_response(
            {"error": {"code": "internal_server_error", "message": "internal server error", "details": ""}}, status=500
        )
    if rule is not None:
        if rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule.status is not None:
            return json_response(fault_body(rule.status), status=rule.status)
    return response


# =================================================================================================
# exchange, markets, events, series (public)
# =================================================================================================
async def exchange_status(request: web.Request) -> web.Response:
    """``GET /exchange/status`` (§3.1)."""
    ex = _ctx(request).exchange
    return json_response(
        {
            "exchange_active": not ex.exchange_paused,
            "trading_active": not (ex.exchange_paused or ex.trading_paused),
            "exchange_estimated_resume_time": None,
        }
    )


async def exchange_schedule(request: web.Request) -> web.Response:
    """``GET /exchange/schedule`` (§3.1): the simulator trades around the clock, no maintenance."""
    day = [{"open_time": "00:00", "close_time": "24:00"}]
    hours: dict[str, Any] = {
        d: day for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    }
    ctx = _ctx(request)
    start, end = ctx.catalog.time_range_ms()
    hours.update({"start_time": iso_ms(start + ctx.clock.offset_ms), "end_time": iso_ms(end + ctx.clock.offset_ms)})
    return json_response({"schedule": {"standard_hours": [hours], "maintenance_windows": []}})


async def user_data_timestamp(request: web.Request) -> web.Response:
    """``GET /exchange/user_data_timestamp`` (§3.0): portfolio reads are always current here."""
    return json_response({"as_of_time": iso_ms(_ctx(request).served_now_ms())})


def _market_dict(ctx: SimContext, state: mk.MarketState) -> dict[str, Any]:
    event = ctx.catalog.events.get(state.definition.event_ticker)
    category = str(event.raw_event.get("category", "")) if event else ""
    return wire.market_json(state, ctx.clock.offset_ms, category)


def _served_s(ctx: SimContext, tape_ms: int | None) -> int | None:
    return None if tape_ms is None else (tape_ms + ctx.clock.offset_ms) // 1000


async def list_markets(request: web.Request) -> web.Response:
    """``GET /markets`` (§3.2) with event/series/tickers/status/time filters and cursor pagination."""
    ctx = _ctx(request)
    status = q_str(request, "status")
    if status is not None and status not in mk.STATUS_FILTERS:
        raise invalid_param(f"status must be one of {', '.join(mk.STATUS_FILTERS)}")
    wanted = mk.STATUS_FILTERS[status] if status else None
    event_ticker = q_str(request, "event_ticker")
    series_ticker = q_str(request, "series_ticker")
    tickers = set(q_list(request, "tickers"))
    bounds = {
        name: q_int(request, name)
        for name in (
            "min_close_ts",
            "max_close_ts",
            "min_created_ts",
            "max_created_ts",
            "min_settled_ts",
            "max_settled_ts",
        )
    }
    rows: list[tuple[int, mk.MarketState]] = []
    for index, state in enumerate(ctx.exchange.markets.values()):
        d = state.definition
        if wanted is not None and state.status not in wanted:
            continue
        if event_ticker and d.event_ticker != event_ticker:
            continue
        if series_ticker and d.series_ticker != series_ticker:
            continue
        if tickers and d.ticker not in tickers:
            continue
        if not _in_bounds(_served_s(ctx, state.close_ms), bounds["min_close_ts"], bounds["max_close_ts"]):
            continue
        if not _in_bounds(_served_s(ctx, d.created_ms), bounds["min_created_ts"], bounds["max_created_ts"]):
            continue
        if (bounds["min_settled_ts"] is not None or bounds["max_settled_ts"] is not None) and not _in_bounds(
            _served_s(ctx, state.settled_ms), bounds["min_settled_ts"], bounds["max_settled_ts"]
        ):
            continue
        rows.append((index, state))
    page, cursor = paginate(request, rows, lambda r: r[0], "markets", descending=False)
    return json_response({"markets": [_market_dict(ctx, s) for _, s in page], "cursor": cursor})


def _in_bounds(value: int | None, lo: int | None, hi: int | None) -> bool:
    if lo is None and hi is None:
        return True
    if value is None:
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


async def get_market(request: web.Request) -> web.Response:
    """``GET /markets/{ticker}`` (§3.2); 404 for an unknown ticker."""
    ctx = _ctx(request)
    state = ctx.exchange.market(request.match_info["ticker"])
    return json_response({"market": _market_dict(ctx, state)})


def _depth(request: web.Request) -> int:
    depth = q_int(request, "depth", 0, lo=-1_000_000, hi=1_000_000)
    assert depth is not None
    return depth


async def get_orderbook(request: web.Request) -> web.Response:
    """``GET /markets/{ticker}/orderbook?depth=N`` (§3.3): displayed bids, ascending, best last."""
    state = _ctx(request).exchange.market(request.match_info["ticker"])
    return json_response(wire.orderbook_json(state.book, _depth(request)))


async def get_orderbooks(request: web.Request) -> web.Response:
    """``GET /markets/orderbooks?tickers=A&tickers=B`` (§3.3): 1-100 tickers."""
    ex = _ctx(request).exchange
    tickers = q_list(request, "tickers")
    if not 1 <= len(tickers) <= 100:
        raise invalid_param("tickers must name 1 to 100 markets")
    depth = _depth(request)
    out = []
    for ticker in tickers:
        book = wire.orderbook_json(ex.market(ticker).book, depth)
        out.append({"ticker": ticker, **book})
    return json_response({"orderbooks": out})


async def list_trades(request: web.Request) -> web.Response:
    """``GET /markets/trades`` (§3.2): public trades, newest first; filters ticker, min_ts, max_ts."""
    ctx = _ctx(request)
    ticker = q_str(request, "ticker")
    min_ts, max_ts = q_int(request, "min_ts"), q_int(request, "max_ts")
    logs = [ctx.trade_log.by_market.get(ticker, ())] if ticker else list(ctx.trade_log.by_market.values())
    rows = [r for lg in logs for r in lg if _in_bounds(r[1].ts_ms // 1000, min_ts, max_ts)]
    rows.sort(key=lambda r: r[0], reverse=True)
    page, cursor = paginate(request, rows, lambda r: r[0], "trades", descending=True)
    return json_response({"trades": [wire.trade_json(t) for _, t in page], "cursor": cursor})


def _event_status_ok(ctx: SimContext, tickers: tuple[str, ...], wanted: tuple[str, ...] | None) -> bool:
    if wanted is None:
        return True
    return any(ctx.exchange.markets[t].status in wanted for t in tickers if t in ctx.exchange.markets)


async def list_events(request: web.Request) -> web.Response:
    """``GET /events``: events filtered by ``series_ticker`` and ``status``, cursor pagination."""
    ctx = _ctx(request)
    status = q_str(request, "status")
    if status is not None and status not in mk.STATUS_FILTERS:
        raise invalid_param(f"status must be one of {', '.join(mk.STATUS_FILTERS)}")
    wanted = mk.STATUS_FILTERS[status] if status else None
    series_ticker = q_str(request, "series_ticker")
    nested = request.query.get("with_nested_markets", "false").lower() == "true"
    rows = [
        (i, e)
        for i, e in enumerate(ctx.catalog.events.values())
        if (not series_ticker or e.series_ticker == series_ticker) and _event_status_ok(ctx, e.market_tickers, wanted)
    ]
    page, cursor = paginate(request, rows, lambda r: r[0], "events", descending=False, maximum=200)
    out = []
    for _, event in page:
        item = wire.event_json(event, ctx.clock.offset_ms)
        if nested:
            item["markets"] = [_market_dict(ctx, ctx.exchange.markets[t]) for t in event.market_tickers]
        out.append(item)
    return json_response({"events": out, "cursor": cursor})


async def get_event(request: web.Request) -> web.Response:
    """``GET /events/{event_ticker}``: ``{event, markets}``; 404 for an unknown event."""
    ctx = _ctx(request)
    event = ctx.catalog.events.get(request.match_info["event_ticker"])
    if event is None:
        raise not_found(f"event {request.match_info['event_ticker']}")
    markets = [_market_dict(ctx, ctx.exchange.markets[t]) for t in event.market_tickers]
    return json_response({"event": wire.event_json(event, ctx.clock.offset_ms), "markets": markets})


async def list_series(request: web.Request) -> web.Response:
    """``GET /series``: every series (optionally one ``category``)."""
    ctx = _ctx(request)
    category = q_str(request, "category")
    rows = [wire.series_json(s) for s in ctx.catalog.series.values() if not category or s.category == category]
    return json_response({"series": rows})


async def get_series(request: web.Request) -> web.Response:
    """``GET /series/{series_ticker}`` (minimal Series object); 404 if unknown."""
    ctx = _ctx(request)
    series = ctx.catalog.series.get(request.match_info["series_ticker"])
    if series is None:
        raise not_found(f"series {request.match_info['series_ticker']}")
    return json_response({"series": wire.series_json(series)})


# =================================================================================================
# portfolio reads
# =================================================================================================
async def get_balance(request: web.Request) -> web.Response:
    """``GET /portfolio/balance`` (§3.4): ``balance`` = free cash in int cents (floor)."""
    ctx = _ctx(request)
    account = _account(request)
    free = ctx.exchange.free_cash(account)
    value = ctx.exchange.portfolio_value(account)
    return json_response(
        {
            "balance": floor_to_cents(free),
            "balance_dollars": wire.money(free),
            "portfolio_value": floor_to_cents(value),
            "portfolio_value_dollars": wire.money(value),
            "updated_ts": (max(account.updated_ms, ctx.exchange.now_ms) + ctx.clock.offset_ms) // 1000,
        }
    )


async def get_positions(request: web.Request) -> web.Response:
    """``GET /portfolio/positions`` (§3.4): market and event positions, filters and cursor."""
    ctx = _ctx(request)
    ex = ctx.exchange
    account = _account(request)
    ticker = q_str(request, "ticker")
    event_ticker = q_str(request, "event_ticker")
    count_filter = q_list(request, "count_filter")
    for name in count_filter:
        if name not in ("position", "total_traded"):
            raise invalid_param("count_filter values are position and total_traded")
    rows = []
    for pos in ex.positions_for(account):
        if ticker and pos.ticker != ticker:
            continue
        if event_ticker and pos.event_ticker != event_ticker:
            continue
        if "position" in count_filter and pos.position == 0:
            continue
        if "total_traded" in count_filter and pos.total_traded == 0:
            continue
        rows.append(pos)
    page, cursor = paginate(request, rows, lambda p: p.ticker, "positions", descending=False)
    market_positions = [wire.position_json(p, ex.resting_count(account, p.ticker), ctx.clock.offset_ms) for p in page]
    by_event: dict[str, list[Any]] = {}
    for pos in page:
        by_event.setdefault(pos.event_ticker, []).append(pos)
    event_positions = [wire.event_position_json(e, ps) for e, ps in sorted(by_event.items())]
    return json_response({"market_positions": market_positions, "event_positions": event_positions, "cursor": cursor})


async def list_orders(request: web.Request) -> web.Response:
    """``GET /portfolio/orders`` (§3.5): the account's orders, newest first.

    Filters: ticker, event_ticker (comma list), status, min_ts/max_ts (served Unix seconds of creation).
    """
    ctx = _ctx(request)
    account = _account(request)
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
        if not _in_bounds((order.created_ms + ctx.clock.offset_ms) // 1000, min_ts, max_ts):
            continue
        rows.append(order)
    rows.sort(key=lambda o: o.seq, reverse=True)
    page, cursor = paginate(request, rows, lambda o: o.seq, "orders", descending=True)
    return json_response({"orders": [ctx.exchange.order_dict(o) for o in page], "cursor": cursor})


async def get_order(request: web.Request) -> web.Response:
    """``GET /portfolio/orders/{order_id}`` (§3.5); 404 if the account has no such order."""
    ctx = _ctx(request)
    order = ctx.exchange.find_order(_account(request), request.match_info["order_id"])
    return json_response({"order": ctx.exchange.order_dict(order)})


def _queue_position(ctx: SimContext, order: Order) -> Decimal:
    if order.status != RESTING:
        return Decimal(0)
    level = ctx.exchange.markets[order.ticker].book.get(order.rest_side, order.rest_price)
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
    ctx = _ctx(request)
    order = ctx.exchange.find_order(_account(request), request.match_info["order_id"])
    ahead = _queue_position(ctx, order)
    return json_response({"queue_position": wire.whole(ahead), "queue_position_fp": wire.count(ahead)})


async def get_queue_positions(request: web.Request) -> web.Response:
    """``GET /portfolio/orders/queue_positions?market_tickers=...|event_ticker=...``."""
    ctx = _ctx(request)
    account = _account(request)
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


async def list_fills(request: web.Request) -> web.Response:
    """``GET /portfolio/fills`` (§3.4): newest first; filters ticker, order_id, min_ts, max_ts."""
    ctx = _ctx(request)
    account = _account(request)
    ticker, order_id = q_str(request, "ticker"), q_str(request, "order_id")
    min_ts, max_ts = q_int(request, "min_ts"), q_int(request, "max_ts")
    rows = [
        f
        for f in reversed(account.fills)
        if (not ticker or f.ticker == ticker)
        and (not order_id or f.order_id == order_id)
        and _in_bounds((f.ts_ms + ctx.clock.offset_ms) // 1000, min_ts, max_ts)
    ]
    page, cursor = paginate(request, rows, lambda f: f.seq, "fills", descending=True)
    return json_response({"fills": [wire.fill_json(f, ctx.clock.offset_ms) for f in page], "cursor": cursor})


async def list_settlements(request: web.Request) -> web.Response:
    """``GET /portfolio/settlements`` (§3.4): newest first; ``revenue`` in int cents."""
    ctx = _ctx(request)
    account = _account(request)
    ticker, event_ticker = q_str(request, "ticker"), q_str(request, "event_ticker")
    min_ts, max_ts = q_int(request, "min_ts"), q_int(request, "max_ts")
    rows = [
        s
        for s in reversed(account.settlements)
        if (not ticker or s.ticker == ticker)
        and (not event_ticker or s.event_ticker == event_ticker)
        and _in_bounds((s.ts_ms + ctx.clock.offset_ms) // 1000, min_ts, max_ts)
    ]
    page, cursor = paginate(request, rows, lambda s: s.seq, "settlements", descending=True)
    return json_response(
        {"settlements": [wire.settlement_json(s, ctx.clock.offset_ms) for s in page], "cursor": cursor}
    )


async def total_resting_order_value(request: web.Request) -> web.Response:
    """``GET /portfolio/summary/total_resting_order_value``: int cents."""
    ctx = _ctx(request)
    value = ctx.exchange.resting_order_value(_account(request))
    return json_response({"total_resting_order_value": wire.cents(value)})


async def account_limits(request: web.Request) -> web.Response:
    """``GET /account/limits`` (§5.4)."""
    _account(request)
    return json_response(_ctx(request).limiter.limits_json())


# =================================================================================================
# V1 orders (§3.5)
# =================================================================================================
async def create_order(request: web.Request) -> web.Response:
    """``POST /portfolio/orders`` -> 201 ``{order}``."""
    ctx = _ctx(request)
    intent = parse_v1_create(body(request))
    order = ctx.exchange.place_order(_account(request), intent)
    return json_response({"order": ctx.exchange.order_dict(order)}, status=201)


def _cancel_body(ctx: SimContext, order: Order, reduced: Decimal) -> dict[str, Any]:
    return {
        "order": ctx.exchange.order_dict(order),
        "reduced_by": wire.whole(reduced),
        "reduced_by_fp": wire.count(reduced),
    }


async def cancel_order(request: web.Request) -> web.Response:
    """``DELETE /portfolio/orders/{order_id}`` -> ``{order, reduced_by, reduced_by_fp}``."""
    ctx = _ctx(request)
    order, reduced = ctx.exchange.cancel_order(_account(request), request.match_info["order_id"])
    return json_response(_cancel_body(ctx, order, reduced))


def _batch_list(payload: Any, *keys: str) -> list[Any]:
    data = require_object(payload)
    for key in keys:
        if key in data and data[key] is not None:
            items = data[key]
            if not isinstance(items, list):
                raise errors.bad_request(f"{key} must be an array")
            if not items:
                raise invalid_param(f"{key} must not be empty")
            if len(items) > MAX_BATCH:
                raise invalid_param(f"at most {MAX_BATCH} orders per batch")
            return items
    raise errors.missing(keys[0])


async def batch_create_orders(request: web.Request) -> web.Response:
    """``POST /portfolio/orders/batched`` -> 201 ``{orders: [{client_order_id, order, error}]}``."""
    ctx = _ctx(request)
    account = _account(request)
    out = []
    for item in _batch_list(body(request), "orders"):
        coid = item.get("client_order_id") if isinstance(item, dict) else None
        try:
            order = ctx.exchange.place_order(account, parse_v1_create(item))
            out.append(
                {"client_order_id": order.client_order_id, "order": ctx.exchange.order_dict(order), "error": None}
            )
        except ApiError as exc:
            out.append({"client_order_id": coid, "order": None, "error": exc.batch_item()})
    return json_response({"orders": out}, status=201)


def _cancel_ids(payload: Any) -> list[str]:
    data = require_object(payload)
    if data.get("orders") is not None:
        items = _batch_list(data, "orders")
        ids = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("order_id"), str):
                raise errors.bad_request("each orders[] item needs an order_id string")
            ids.append(item["order_id"])
        return ids
    items = _batch_list(data, "ids")
    if not all(isinstance(i, str) for i in items):
        raise errors.bad_request("ids must be strings")
    return list(items)


async def batch_cancel_orders(request: web.Request) -> web.Response:
    """``DELETE /portfolio/orders/batched`` with ``{ids}`` or ``{orders: [{order_id}]}``."""
    ctx = _ctx(request)
    account = _account(request)
    out = []
    for order_id in _cancel_ids(body(request)):
        try:
            order, reduced = ctx.exchange.cancel_order(account, order_id)
            out.append({"order_id": order_id, **_cancel_body(ctx, order, reduced), "error": None})
        except ApiError as exc:
            out.append(
                {
                    "order_id": order_id,
                    "order": None,
                    "reduced_by": 0,
                    "reduced_by_fp": "0.00",
                    "error": exc.batch_item(),
                }
            )
    return json_response({"orders": out})


async def amend_order(request: web.Request) -> web.Response:
    """``POST /portfolio/orders/{order_id}/amend`` -> ``{old_order, order}``.

    ``count`` is the new max fillable count (fill_count + remaining), in contracts.
    """
    ctx = _ctx(request)
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
        _account(request),
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
            return _nonneg_count(as_fp, f"{name}_fp")
        return None

    return one("reduce_by"), one("reduce_to")


def _nonneg_count(value: Any, key: str) -> Decimal:
    if isinstance(value, str) and value.strip() in ("0", "0.0", "0.00"):
        return Decimal(0)
    return parse_count_text(value, key)


async def decrease_order(request: web.Request) -> web.Response:
    """``POST /portfolio/orders/{order_id}/decrease`` with ``reduce_by`` or ``reduce_to`` -> ``{order}``."""
    ctx = _ctx(request)
    reduce_by, reduce_to = _decrease_args(require_object(body(request)))
    order = ctx.exchange.decrease_order(
        _account(request), request.match_info["order_id"], reduce_by=reduce_by, reduce_to=reduce_to
    )
    return json_response({"order": ctx.exchange.order_dict(order)})


# =================================================================================================
# V2 orders (§3.6)
# =================================================================================================
def _v2_result(ctx: SimContext, account: Account, order: Order, fills_before: int) -> dict[str, Any]:
    fills = [f for f in account.fills[fills_before:] if f.order_id == order.order_id]
    filled = sum((f.count for f in fills), Decimal(0))
    out: dict[str, Any] = {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "fill_count": wire.count(filled),
        "remaining_count": wire.count(order.remaining_count),
        "ts_ms": ctx.exchange.now_ms + ctx.clock.offset_ms,
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
    ctx = _ctx(request)
    account = _account(request)
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
        "ts_ms": ctx.exchange.now_ms + ctx.clock.offset_ms,
    }


async def cancel_order_v2(request: web.Request) -> web.Response:
    """``DELETE /portfolio/events/orders/{order_id}`` -> ``{order_id, client_order_id, reduced_by, ts_ms}``."""
    ctx = _ctx(request)
    order, reduced = ctx.exchange.cancel_order(_account(request), request.match_info["order_id"])
    return json_response(_v2_cancel_body(ctx, order, reduced))


async def batch_create_orders_v2(request: web.Request) -> web.Response:
    """``POST /portfolio/events/orders/batched`` -> 201 ``{orders: [... , error]}``."""
    ctx = _ctx(request)
    account = _account(request)
    out = []
    for item in _batch_list(body(request), "orders"):
        try:
            intent = parse_v2_create(item)
            before = len(account.fills)
            order = ctx.exchange.place_order(account, intent)
            out.append({**_v2_result(ctx, account, order, before), "error": None})
        except ApiError as exc:
            coid = item.get("client_order_id") if isinstance(item, dict) else None
            out.append({"order_id": None, "client_order_id": coid, "error": exc.batch_item()})
    return json_response({"orders": out}, status=201)


async def batch_cancel_orders_v2(request: web.Request) -> web.Response:
    """``DELETE /portfolio/events/orders/batched`` with ``{orders: [{order_id}]}``."""
    ctx = _ctx(request)
    account = _account(request)
    out = []
    for order_id in _cancel_ids(body(request)):
        try:
            order, reduced = ctx.exchange.cancel_order(account, order_id)
            out.append({**_v2_cancel_body(ctx, order, reduced), "error": None})
        except ApiError as exc:
            out.append(
                {
                    "order_id": order_id,
                    "client_order_id": None,
                    "reduced_by": "0.00",
                    "ts_ms": ctx.exchange.now_ms + ctx.clock.offset_ms,
                    "error": exc.batch_item(),
                }
            )
    return json_response({"orders": out})


async def cancel_all_v2(request: web.Request) -> web.Response:
    """``DELETE /portfolio/events/orders``: cancel every resting order (optionally ``?market_ticker=``)."""
    ctx = _ctx(request)
    ticker = q_str(request, "market_ticker") or q_str(request, "ticker")
    done = ctx.exchange.cancel_all(_account(request), ticker)
    return json_response({"orders": [{**_v2_cancel_body(ctx, o, r), "error": None} for o, r in done]})


async def amend_order_v2(request: web.Request) -> web.Response:
    """``POST /portfolio/events/orders/{order_id}/amend`` with ``{ticker, side, price, count}``."""
    ctx = _ctx(request)
    account = _account(request)
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
    ctx = _ctx(request)
    data = require_object(body(request))
    reduce_by = _nonneg_count(data["reduce_by"], "reduce_by") if data.get("reduce_by") is not None else None
    reduce_to = _nonneg_count(data["reduce_to"], "reduce_to") if data.get("reduce_to") is not None else None
    order = ctx.exchange.decrease_order(
        _account(request), request.match_info["order_id"], reduce_by=reduce_by, reduce_to=reduce_to
    )
    return json_response(
        {
            "order_id": order.order_id,
            "client_order_id": order.client_order_id,
            "remaining_count": wire.count(order.remaining_count),
            "ts_ms": ctx.exchange.now_ms + ctx.clock.offset_ms,
        }
    )


# =================================================================================================
# order groups (§3.7)
# =================================================================================================
def _limit_from(data: dict[str, Any]) -> Decimal:
    as_int = opt_int(data, "contracts_limit")
    as_fp = data.get("contracts_limit_fp")
    if as_int is not None:
        limit = Decimal(as_int)
        if as_fp is not None and parse_count_text(as_fp, "contracts_limit_fp") != limit:
            raise invalid_order("contracts_limit and contracts_limit_fp disagree")
        return limit
    if as_fp is not None:
        return parse_count_text(as_fp, "contracts_limit_fp")
    raise invalid_order("contracts_limit is required")


def _group_json(ctx: SimContext, group: Any, *, with_id: bool) -> dict[str, Any]:
    ex = ctx.exchange
    out: dict[str, Any] = {}
    if with_id:
        out["id"] = group.order_group_id
        out["order_group_id"] = group.order_group_id
    out.update(
        {
            "is_auto_cancel_enabled": True,
            "contracts_limit": wire.whole(group.contracts_limit),
            "contracts_limit_fp": wire.count(group.contracts_limit),
            "status": "triggered" if group.triggered else "active",
            "triggered": group.triggered,
            "rolling_contracts_fp": wire.count(group.rolling_total(ex.now_ms)),
        }
    )
    return out


async def create_order_group(request: web.Request) -> web.Response:
    """``POST /portfolio/order_groups/create`` -> 201 ``{order_group_id}``."""
    ctx = _ctx(request)
    group = ctx.exchange.create_group(_account(request), _limit_from(require_object(body(request))))
    return json_response({"order_group_id": group.order_group_id}, status=201)


async def list_order_groups(request: web.Request) -> web.Response:
    """``GET /portfolio/order_groups`` -> ``{order_groups: [{id, is_auto_cancel_enabled, ...}]}``."""
    ctx = _ctx(request)
    account = _account(request)
    return json_response({"order_groups": [_group_json(ctx, g, with_id=True) for g in account.order_groups.values()]})


async def get_order_group(request: web.Request) -> web.Response:
    """``GET /portfolio/order_groups/{id}`` (§3.7).

    Returns ``{is_auto_cancel_enabled, orders, contracts_limit_fp, status, triggered}``: ``orders`` are
    the ids of the group's resting orders; ``status``/``triggered`` are simulator extras.
    """
    ctx = _ctx(request)
    group = ctx.exchange.get_group(_account(request), request.match_info["group_id"])
    out = _group_json(ctx, group, with_id=False)
    out["orders"] = [o.order_id for o in ctx.exchange.group_resting_orders(group)]
    return json_response(out)


async def reset_order_group(request: web.Request) -> web.Response:
    """``PUT /portfolio/order_groups/{id}/reset`` -> ``{}``."""
    ctx = _ctx(request)
    body(request, empty={})
    ctx.exchange.reset_group(_account(request), request.match_info["group_id"])
    return json_response({})


async def trigger_order_group(request: web.Request) -> web.Response:
    """``PUT /portfolio/order_groups/{id}/trigger`` -> ``{}``."""
    ctx = _ctx(request)
    body(request, empty={})
    ctx.exchange.trigger_group(_account(request), request.match_info["group_id"])
    return json_response({})


async def limit_order_group(request: web.Request) -> web.Response:
    """``PUT /portfolio/order_groups/{id}/limit`` with ``{contracts_limit}`` -> ``{}``."""
    ctx = _ctx(request)
    limit = _limit_from(require_object(body(request)))
    ctx.exchange.set_group_limit(_account(request), request.match_info["group_id"], limit)
    return json_response({})


async def delete_order_group(request: web.Request) -> web.Response:
    """``DELETE /portfolio/order_groups/{id}`` -> ``{}``."""
    ctx = _ctx(request)
    ctx.exchange.delete_group(_account(request), request.match_info["group_id"])
    return json_response({})


def make_api_app(ctx: SimContext) -> web.Application:
    """Build the ``/trade-api/v2`` sub-application.

    Static paths are registered before templated ones so ``/portfolio/orders/batched`` is not taken for
    an order id.
    """
    app = web.Application(middlewares=[api_middleware])
    app[CTX_KEY] = ctx
    r = app.router
    r.add_get("/exchange/status", exchange_status)
    r.add_get("/exchange/schedule", exchange_schedule)
    r.add_get("/exchange/user_data_timestamp", user_data_timestamp)
    r.add_get("/markets", list_markets)
    r.add_get("/markets/trades", list_trades)
    r.add_get("/markets/orderbooks", get_orderbooks)
    r.add_get("/markets/{ticker}", get_market)
    r.add_get("/markets/{ticker}/orderbook", get_orderbook)
    r.add_get("/events", list_events)
    r.add_get("/events/{event_ticker}", get_event)
    r.add_get("/series", list_series)
    r.add_get("/series/{series_ticker}", get_series)
    r.add_get("/account/limits", account_limits)
    r.add_get("/portfolio/balance", get_balance)
    r.add_get("/portfolio/positions", get_positions)
    r.add_get("/portfolio/fills", list_fills)
    r.add_get("/portfolio/settlements", list_settlements)
    r.add_get("/portfolio/summary/total_resting_order_value", total_resting_order_value)
    r.add_get("/portfolio/orders", list_orders)
    r.add_post("/portfolio/orders", create_order)
    r.add_post("/portfolio/orders/batched", batch_create_orders)
    r.add_delete("/portfolio/orders/batched", batch_cancel_orders)
    r.add_get("/portfolio/orders/queue_positions", get_queue_positions)
    r.add_get("/portfolio/orders/{order_id}", get_order)
    r.add_delete("/portfolio/orders/{order_id}", cancel_order)
    r.add_post("/portfolio/orders/{order_id}/amend", amend_order)
    r.add_post("/portfolio/orders/{order_id}/decrease", decrease_order)
    r.add_get("/portfolio/orders/{order_id}/queue_position", get_queue_position)
    r.add_post("/portfolio/events/orders", create_order_v2)
    r.add_delete("/portfolio/events/orders", cancel_all_v2)
    r.add_post("/portfolio/events/orders/batched", batch_create_orders_v2)
    r.add_delete("/portfolio/events/orders/batched", batch_cancel_orders_v2)
    r.add_delete("/portfolio/events/orders/{order_id}", cancel_order_v2)
    r.add_post("/portfolio/events/orders/{order_id}/amend", amend_order_v2)
    r.add_post("/portfolio/events/orders/{order_id}/decrease", decrease_order_v2)
    r.add_post("/portfolio/order_groups/create", create_order_group)
    r.add_get("/portfolio/order_groups", list_order_groups)
    r.add_get("/portfolio/order_groups/{group_id}", get_order_group)
    r.add_put("/portfolio/order_groups/{group_id}/reset", reset_order_group)
    r.add_put("/portfolio/order_groups/{group_id}/trigger", trigger_order_group)
    r.add_put("/portfolio/order_groups/{group_id}/limit", limit_order_group)
    r.add_delete("/portfolio/order_groups/{group_id}", delete_order_group)
    return app
