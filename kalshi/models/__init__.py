"""Kalshi's wire types, parsed once at the edge into exact, unit-named Python values.

REST (kalshi-api.md §3), one module per API area, every name re-exported here::

    kalshi.models.common        KalshiModel, direction vocabulary (Side, Action, BookSide, ...), ApiErrorBody
    kalshi.models.exchange      ExchangeStatus
    kalshi.models.markets       Market, PriceRange, MarketsPage, Orderbook, OrderbookLevel, BookSweep
    kalshi.models.portfolio     Balance, MarketPosition, EventPosition, Fill, Settlement and their pages
    kalshi.models.orders        Order, OrderAck, CreateOrderRequest, cancel answers, OrdersPage
    kalshi.models.order_groups  OrderGroup, OrderGroupsPage

REST models hold Decimal dollars (``*_dollars``) and Decimal contracts (``*_fp``); see
:mod:`kalshi.models.common` for the wire eras and units. WebSocket frames (kalshi-api.md §6) live in
:mod:`kalshi.models.ws` and hold integer centi-cents and lots (its docstring says why).

Nothing here does I/O or knows of Temporal; :mod:`kalshi.rest` and :mod:`kalshi.ws` parse into these types.
"""

from kalshi.models import common, exchange, markets, order_groups, orders, portfolio
from kalshi.models.common import *  # noqa: F403 - the package re-exports every area's public names
from kalshi.models.exchange import *  # noqa: F403
from kalshi.models.markets import *  # noqa: F403
from kalshi.models.order_groups import *  # noqa: F403
from kalshi.models.orders import *  # noqa: F403
from kalshi.models.portfolio import *  # noqa: F403

__all__ = [
    *common.__all__,
    *exchange.__all__,
    *markets.__all__,
    *order_groups.__all__,
    *orders.__all__,
    *portfolio.__all__,
]
