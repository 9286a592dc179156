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

from kalshi.models.common import (
    BOOK_SIDE_OF,
    Action,
    ApiErrorBody,
    BookSide,
    KalshiModel,
    OrderStatus,
    SelfTradePrevention,
    Side,
    TimeInForce,
    legacy_cents_to_dollars,
)
from kalshi.models.exchange import ExchangeStatus
from kalshi.models.markets import BookSweep, Market, MarketsPage, Orderbook, OrderbookLevel, PriceRange
from kalshi.models.order_groups import OrderGroup, OrderGroupsPage
from kalshi.models.orders import (
    BatchCancelResult,
    CancelOrderV1Response,
    CancelOrderV2Response,
    CreateOrderRequest,
    CreateOrderV2Response,
    Order,
    OrderAck,
    OrdersPage,
)
from kalshi.models.portfolio import (
    Balance,
    EventPosition,
    Fill,
    FillsPage,
    MarketPosition,
    PositionsPage,
    Settlement,
    SettlementsPage,
)

__all__ = [
    "BOOK_SIDE_OF",
    "Action",
    "ApiErrorBody",
    "Balance",
    "BatchCancelResult",
    "BookSide",
    "BookSweep",
    "CancelOrderV1Response",
    "CancelOrderV2Response",
    "CreateOrderRequest",
    "CreateOrderV2Response",
    "EventPosition",
    "ExchangeStatus",
    "Fill",
    "FillsPage",
    "KalshiModel",
    "Market",
    "MarketPosition",
    "MarketsPage",
    "Order",
    "OrderAck",
    "OrderGroup",
    "OrderGroupsPage",
    "OrderStatus",
    "Orderbook",
    "OrderbookLevel",
    "OrdersPage",
    "PositionsPage",
    "PriceRange",
    "SelfTradePrevention",
    "Settlement",
    "SettlementsPage",
    "Side",
    "TimeInForce",
    "legacy_cents_to_dollars",
]
