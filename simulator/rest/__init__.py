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

from aiohttp import web

from simulator.context import SimContext
from simulator.rest import exchange_info, markets, order_groups, orders_v1, orders_v2, portfolio
from simulator.rest.common import API_PREFIX, CTX_KEY, ObservedResponse, api_middleware, observe_responses

__all__ = ["API_PREFIX", "CTX_KEY", "ObservedResponse", "make_api_app", "observe_responses"]


def make_api_app(ctx: SimContext) -> web.Application:
    """Build the ``/trade-api/v2`` sub-application.

    Static paths are registered before templated ones so ``/portfolio/orders/batched`` is not taken for
    an order id.
    """
    app = web.Application(middlewares=[api_middleware])
    app[CTX_KEY] = ctx
    r = app.router
    r.add_get("/exchange/status", exchange_info.exchange_status)
    r.add_get("/exchange/schedule", exchange_info.exchange_schedule)
    r.add_get("/exchange/user_data_timestamp", exchange_info.user_data_timestamp)
    r.add_get("/markets", markets.list_markets)
    r.add_get("/markets/trades", markets.list_trades)
    r.add_get("/markets/orderbooks", markets.get_orderbooks)
    r.add_get("/markets/{ticker}", markets.get_market)
    r.add_get("/markets/{ticker}/orderbook", markets.get_orderbook)
    r.add_get("/events", markets.list_events)
    r.add_get("/events/{event_ticker}", markets.get_event)
    r.add_get("/series", markets.list_series)
    r.add_get("/series/{series_ticker}", markets.get_series)
    r.add_get("/account/limits", exchange_info.account_limits)
    r.add_get("/portfolio/balance", portfolio.get_balance)
    r.add_get("/portfolio/positions", portfolio.get_positions)
    r.add_get("/portfolio/fills", portfolio.list_fills)
    r.add_get("/portfolio/settlements", portfolio.list_settlements)
    r.add_get("/portfolio/summary/total_resting_order_value", portfolio.total_resting_order_value)
    r.add_get("/portfolio/orders", orders_v1.list_orders)
    r.add_post("/portfolio/orders", orders_v1.create_order)
    r.add_post("/portfolio/orders/batched", orders_v1.batch_create_orders)
    r.add_delete("/portfolio/orders/batched", orders_v1.batch_cancel_orders)
    r.add_get("/portfolio/orders/queue_positions", orders_v1.get_queue_positions)
    r.add_get("/portfolio/orders/{order_id}", orders_v1.get_order)
    r.add_delete("/portfolio/orders/{order_id}", orders_v1.cancel_order)
    r.add_post("/portfolio/orders/{order_id}/amend", orders_v1.amend_order)
    r.add_post("/portfolio/orders/{order_id}/decrease", orders_v1.decrease_order)
    r.add_get("/portfolio/orders/{order_id}/queue_position", orders_v1.get_queue_position)
    r.add_post("/portfolio/events/orders", orders_v2.create_order_v2)
    r.add_delete("/portfolio/events/orders", orders_v2.cancel_all_v2)
    r.add_post("/portfolio/events/orders/batched", orders_v2.batch_create_orders_v2)
    r.add_delete("/portfolio/events/orders/batched", orders_v2.batch_cancel_orders_v2)
    r.add_delete("/portfolio/events/orders/{order_id}", orders_v2.cancel_order_v2)
    r.add_post("/portfolio/events/orders/{order_id}/amend", orders_v2.amend_order_v2)
    r.add_post("/portfolio/events/orders/{order_id}/decrease", orders_v2.decrease_order_v2)
    r.add_post("/portfolio/order_groups/create", order_groups.create_order_group)
    r.add_get("/portfolio/order_groups", order_groups.list_order_groups)
    r.add_get("/portfolio/order_groups/{group_id}", order_groups.get_order_group)
    r.add_put("/portfolio/order_groups/{group_id}/reset", order_groups.reset_order_group)
    r.add_put("/portfolio/order_groups/{group_id}/trigger", order_groups.trigger_order_group)
    r.add_put("/portfolio/order_groups/{group_id}/limit", order_groups.limit_order_group)
    r.add_delete("/portfolio/order_groups/{group_id}", order_groups.delete_order_group)
    return app
