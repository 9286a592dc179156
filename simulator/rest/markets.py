"""Public market data (kalshi-api.md §3.2, §3.3).

``/markets`` (filters, pagination), order books, trades, ``/events`` and ``/series``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from simulator import market as mk
from simulator import wire
from simulator.context import SimContext
from simulator.errors import invalid_param, not_found
from simulator.httputil import (
    json_response,
    paginate,
    q_int,
    q_list,
    q_str,
)
from simulator.rest.common import (
    in_bounds,
    served_s,
    sim_ctx,
)


def market_dict(ctx: SimContext, state: mk.MarketState) -> dict[str, Any]:
    """The wire Market of ``state`` with its event's category (served times)."""
    event = ctx.catalog.events.get(state.definition.event_ticker)
    category = str(event.raw_event.get("category", "")) if event else ""
    return wire.market_json(state, ctx.clock.offset_ms, category, legacy_status=ctx.config.legacy_market_status)


def _status_filter(request: web.Request) -> tuple[str, ...] | None:
    """The market statuses a ``status`` filter selects (§3.2 vocabulary), or None without a filter.

    Raises:
        ApiError: 400 ``invalid_parameters`` for a value outside ``unopened|open|paused|closed|settled``.

    """
    status = q_str(request, "status")
    if status is not None and status not in mk.STATUS_FILTERS:
        raise invalid_param(f"status must be one of {', '.join(mk.STATUS_FILTERS)}")
    return mk.STATUS_FILTERS[status] if status else None


async def list_markets(request: web.Request) -> web.Response:
    """``GET /markets`` (§3.2) with event/series/tickers/status/time filters and cursor pagination."""
    ctx = sim_ctx(request)
    wanted = _status_filter(request)
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
        if not in_bounds(served_s(ctx, state.close_ms), bounds["min_close_ts"], bounds["max_close_ts"]):
            continue
        if not in_bounds(served_s(ctx, d.created_ms), bounds["min_created_ts"], bounds["max_created_ts"]):
            continue
        if (bounds["min_settled_ts"] is not None or bounds["max_settled_ts"] is not None) and not in_bounds(
            served_s(ctx, state.settled_ms), bounds["min_settled_ts"], bounds["max_settled_ts"]
        ):
            continue
        rows.append((index, state))
    page, cursor = paginate(request, rows, lambda r: r[0], "markets", descending=False)
    return json_response({"markets": [market_dict(ctx, s) for _, s in page], "cursor": cursor})


async def get_market(request: web.Request) -> web.Response:
    """``GET /markets/{ticker}`` (§3.2); 404 for an unknown ticker."""
    ctx = sim_ctx(request)
    state = ctx.exchange.market(request.match_info["ticker"])
    return json_response({"market": market_dict(ctx, state)})


def _depth(request: web.Request) -> int:
    depth = q_int(request, "depth", 0, lo=-1_000_000, hi=1_000_000)
    assert depth is not None
    return depth


async def get_orderbook(request: web.Request) -> web.Response:
    """``GET /markets/{ticker}/orderbook?depth=N`` (§3.3): displayed bids, ascending, best last."""
    state = sim_ctx(request).exchange.market(request.match_info["ticker"])
    return json_response(wire.orderbook_json(state.book, _depth(request)))


async def get_orderbooks(request: web.Request) -> web.Response:
    """``GET /markets/orderbooks?tickers=A&tickers=B`` (§3.3): 1-100 tickers."""
    ex = sim_ctx(request).exchange
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
    ctx = sim_ctx(request)
    ticker = q_str(request, "ticker")
    min_ts, max_ts = q_int(request, "min_ts"), q_int(request, "max_ts")
    logs = [ctx.trade_log.by_market.get(ticker, ())] if ticker else list(ctx.trade_log.by_market.values())
    rows = [r for lg in logs for r in lg if in_bounds(r[1].ts_ms // 1000, min_ts, max_ts)]
    rows.sort(key=lambda r: r[0], reverse=True)
    page, cursor = paginate(request, rows, lambda r: r[0], "trades", descending=True)
    return json_response({"trades": [wire.trade_json(t) for _, t in page], "cursor": cursor})


def _event_status_ok(ctx: SimContext, tickers: tuple[str, ...], wanted: tuple[str, ...] | None) -> bool:
    if wanted is None:
        return True
    return any(ctx.exchange.markets[t].status in wanted for t in tickers if t in ctx.exchange.markets)


async def list_events(request: web.Request) -> web.Response:
    """``GET /events``: events filtered by ``series_ticker`` and ``status``, cursor pagination."""
    ctx = sim_ctx(request)
    wanted = _status_filter(request)
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
            item["markets"] = [market_dict(ctx, ctx.exchange.markets[t]) for t in event.market_tickers]
        out.append(item)
    return json_response({"events": out, "cursor": cursor})


async def get_event(request: web.Request) -> web.Response:
    """``GET /events/{event_ticker}``: ``{event, markets}``; 404 for an unknown event."""
    ctx = sim_ctx(request)
    event = ctx.catalog.events.get(request.match_info["event_ticker"])
    if event is None:
        raise not_found(f"event {request.match_info['event_ticker']}")
    markets = [market_dict(ctx, ctx.exchange.markets[t]) for t in event.market_tickers]
    return json_response({"event": wire.event_json(event, ctx.clock.offset_ms), "markets": markets})


async def list_series(request: web.Request) -> web.Response:
    """``GET /series``: every series (optionally one ``category``)."""
    ctx = sim_ctx(request)
    category = q_str(request, "category")
    rows = [wire.series_json(s) for s in ctx.catalog.series.values() if not category or s.category == category]
    return json_response({"series": rows})


async def get_series(request: web.Request) -> web.Response:
    """``GET /series/{series_ticker}`` (minimal Series object); 404 if unknown."""
    ctx = sim_ctx(request)
    series = ctx.catalog.series.get(request.match_info["series_ticker"])
    if series is None:
        raise not_found(f"series {request.match_info['series_ticker']}")
    return json_response({"series": wire.series_json(series)})
