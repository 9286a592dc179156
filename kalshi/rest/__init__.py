"""Async REST client for the Kalshi Trade API v2 (kalshi-api.md §2-§5), one ``httpx.AsyncClient``.

What it guarantees:

* Every request is paced by the client-side token buckets (§5.4) and, when a signer is configured,
  signed over the exact URL path it sends (``/trade-api/v2/...``, no query; §2).
* Answers are parsed once into :mod:`kalshi.models` (Decimal dollars/contracts, int cents). JSON is
  decoded with ``parse_float=Decimal``, so no float ever appears.
* Failures are typed (:mod:`kalshi.errors`); nothing is retried here except the idempotent
  ``client_order_id`` lookup that resolves a write whose outcome is unknown. Retrying is the Temporal
  activity layer's job.
* Order creation never places the same ``client_order_id`` twice on its own: a 409 duplicate is looked
  up and returned (``already_existed=True``); a timeout, 408, 5xx or dropped connection after the request
  may have been sent is looked up too, and only if the lookup cannot find the order does
  :class:`~kalshi.errors.KalshiOutcomeUnknownError` escape. It never re-POSTs.
* The exchange clock is tracked from the HTTP ``Date`` header (:meth:`KalshiRestClient.exchange_now`).
* Authentication material is never logged; DEBUG logs one line per request (method, path, status, ms).

Orders go to the V2 endpoints (``/portfolio/events/orders``, §3.6) and fall back to V1
(``/portfolio/orders``, §3.5) for the client's lifetime when the V2 route is missing (a bare 404, 405)
or gone (410).

Modules: :mod:`~kalshi.rest.transport` (httpx, pacing, signing, errors, decoding, paging), one module of
endpoints per API area (:mod:`~kalshi.rest.markets`, :mod:`~kalshi.rest.portfolio`,
:mod:`~kalshi.rest.orders`, :mod:`~kalshi.rest.order_groups`), and :mod:`~kalshi.rest.client`, which
combines them into :class:`KalshiRestClient`.
"""

from kalshi.rest.client import KalshiRestClient
from kalshi.rest.transport import (
    BATCH_CANCEL_MAX,
    MAX_PAGE_LIMIT,
    MULTI_ORDERBOOK_MAX,
    MarketStatusFilter,
    OrderApi,
    OrderStatusFilter,
)

__all__ = [
    "BATCH_CANCEL_MAX",
    "MAX_PAGE_LIMIT",
    "MULTI_ORDERBOOK_MAX",
    "KalshiRestClient",
    "MarketStatusFilter",
    "OrderApi",
    "OrderStatusFilter",
]
