"""Portfolio reads: balance, positions, fills, settlements, resting-order value (kalshi-api.md §3.4)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from models.money import floor_to_cents
from simulator import wire
from simulator.errors import invalid_param
from simulator.httputil import (
    json_response,
    paginate,
    q_int,
    q_list,
    q_str,
)
from simulator.rest.common import (
    in_bounds,
    request_account,
    sim_ctx,
)


async def get_balance(request: web.Request) -> web.Response:
    """``GET /portfolio/balance`` (§3.4): ``balance`` = free cash in int cents (floor)."""
    ctx = sim_ctx(request)
    account = request_account(request)
    free = ctx.exchange.free_cash(account)
    value = ctx.exchange.portfolio_value(account)
    return json_response(
        {
            "balance": floor_to_cents(free),
            "balance_dollars": wire.money(free),
            "portfolio_value": floor_to_cents(value),
            "portfolio_value_dollars": wire.money(value),
            "updated_ts": (max(account.updated_ms, ctx.exchange.now_ms) + ctx.clock.offset_ms) // 1000,
            "balance_breakdown": wire.indexed_balance(free),
        }
    )


async def get_positions(request: web.Request) -> web.Response:
    """``GET /portfolio/positions`` (§3.4): market and event positions, filters and cursor."""
    ctx = sim_ctx(request)
    ex = ctx.exchange
    account = request_account(request)
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


async def list_fills(request: web.Request) -> web.Response:
    """``GET /portfolio/fills`` (§3.4): newest first; filters ticker, order_id, min_ts, max_ts."""
    ctx = sim_ctx(request)
    account = request_account(request)
    ticker, order_id = q_str(request, "ticker"), q_str(request, "order_id")
    min_ts, max_ts = q_int(request, "min_ts"), q_int(request, "max_ts")
    rows = [
        f
        for f in reversed(account.fills)
        if (not ticker or f.ticker == ticker)
        and (not order_id or f.order_id == order_id)
        and in_bounds((f.ts_ms + ctx.clock.offset_ms) // 1000, min_ts, max_ts)
    ]
    page, cursor = paginate(request, rows, lambda f: f.seq, "fills", descending=True)
    return json_response({"fills": [wire.fill_json(f, ctx.clock.offset_ms) for f in page], "cursor": cursor})


async def list_settlements(request: web.Request) -> web.Response:
    """``GET /portfolio/settlements`` (§3.4): newest first; ``revenue`` in int cents."""
    ctx = sim_ctx(request)
    account = request_account(request)
    ticker, event_ticker = q_str(request, "ticker"), q_str(request, "event_ticker")
    min_ts, max_ts = q_int(request, "min_ts"), q_int(request, "max_ts")
    rows = [
        s
        for s in reversed(account.settlements)
        if (not ticker or s.ticker == ticker)
        and (not event_ticker or s.event_ticker == event_ticker)
        and in_bounds((s.ts_ms + ctx.clock.offset_ms) // 1000, min_ts, max_ts)
    ]
    page, cursor = paginate(request, rows, lambda s: s.seq, "settlements", descending=True)
    return json_response(
        {"settlements": [wire.settlement_json(s, ctx.clock.offset_ms) for s in page], "cursor": cursor}
    )


async def total_resting_order_value(request: web.Request) -> web.Response:
    """``GET /portfolio/summary/total_resting_order_value``: int cents, plus the per-shard dollar breakdown."""
    ctx = sim_ctx(request)
    value = ctx.exchange.resting_order_value(request_account(request))
    return json_response(
        {"total_resting_order_value": wire.cents(value), "resting_order_value_breakdown": wire.indexed_balance(value)}
    )
