"""Portfolio reads (authenticated): balance, positions, orders, fills, settlements (kalshi-api.md §3.4-§3.5, §3.8)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from kalshi.models import (
    Balance,
    EventPosition,
    Fill,
    FillsPage,
    MarketPosition,
    Order,
    OrdersPage,
    PositionsPage,
    Settlement,
    SettlementsPage,
)
from kalshi.ratelimit import GET_ORDER_COST
from kalshi.rest.transport import PORTFOLIO_PAGE_LIMIT, OrderStatusFilter, RestTransport, path_segment

__all__ = ["PortfolioEndpoints"]


class PortfolioEndpoints(RestTransport):
    """Read-only portfolio endpoints, including the ``client_order_id`` lookup that resolves unknown outcomes."""

    async def get_balance(self) -> Balance:
        """``GET /portfolio/balance`` (kalshi-api.md §3.4): available cash and portfolio value in CENTS.

        Raises:
            KalshiCredentialsError: no signer. KalshiAuthError: 401/403. KalshiError: other mapped errors.

        """
        data = await self._request("GET", "/portfolio/balance", auth=True)
        return self._parse(Balance, data, "GET", self._path("/portfolio/balance"))

    async def get_positions(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        count_filter: str | None = "position",
        limit: int = PORTFOLIO_PAGE_LIMIT,
        max_pages: int | None = None,
    ) -> list[MarketPosition]:
        """Market positions from ``GET /portfolio/positions`` across all pages (kalshi-api.md §3.4).

        Args:
            ticker: only this market.
            event_ticker: only this event.
            count_filter: keep rows where this field is non-zero (``position``, ``total_traded`` or a
                comma list); ``None`` for every row. Default ``position`` (open positions only).
            limit: page size 1-1000.
            max_pages: page cap (``None`` = all).

        Returns:
            Positions with signed ``position_fp`` (+ YES, - NO).

        Raises:
            KalshiCredentialsError, KalshiAuthError, KalshiError: as for every authenticated read.

        """
        markets, _events = await self.get_positions_with_events(
            ticker=ticker, event_ticker=event_ticker, count_filter=count_filter, limit=limit, max_pages=max_pages
        )
        return markets

    async def get_positions_with_events(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        count_filter: str | None = "position",
        limit: int = PORTFOLIO_PAGE_LIMIT,
        max_pages: int | None = None,
    ) -> tuple[list[MarketPosition], list[EventPosition]]:
        """Like :meth:`get_positions`, also returning the event-level aggregates (§3.4).

        Raises:
            KalshiCredentialsError, KalshiAuthError, KalshiError: as for every authenticated read.

        """
        params = {"ticker": ticker, "event_ticker": event_ticker, "count_filter": count_filter}
        markets: list[MarketPosition] = []
        events: list[EventPosition] = []
        pages = self._iter_pages(
            "/portfolio/positions", params, PositionsPage, limit=limit, max_pages=max_pages, auth=True
        )
        async for page in pages:
            markets.extend(page.market_positions)
            events.extend(page.event_positions)
        return markets, events

    async def get_orders(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        status: OrderStatusFilter | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        limit: int = PORTFOLIO_PAGE_LIMIT,
        max_pages: int | None = None,
    ) -> list[Order]:
        """``GET /portfolio/orders`` across all pages (kalshi-api.md §3.5).

        Args:
            ticker: only this market.
            event_ticker: only this event (Kalshi accepts a comma list of up to 10).
            status: ``resting``, ``canceled`` or ``executed``.
            min_ts: created at or after, Unix seconds.
            max_ts: created at or before, Unix seconds.
            limit: page size 1-1000.
            max_pages: page cap (``None`` = all).

        Raises:
            KalshiCredentialsError, KalshiAuthError, KalshiError: as for every authenticated read.

        """
        out: list[Order] = []
        async for page in self._order_pages(
            ticker=ticker,
            event_ticker=event_ticker,
            status=status,
            min_ts=min_ts,
            max_ts=max_ts,
            limit=limit,
            max_pages=max_pages,
        ):
            out.extend(page.orders)
        return out

    async def _order_pages(
        self,
        *,
        ticker: str | None,
        event_ticker: str | None = None,
        status: OrderStatusFilter | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        limit: int = PORTFOLIO_PAGE_LIMIT,
        max_pages: int | None = None,
    ) -> AsyncGenerator[OrdersPage, None]:
        """Parsed pages of ``GET /portfolio/orders``."""
        if status is not None and status not in ("resting", "canceled", "executed"):
            raise ValueError(f"order status filter must be resting|canceled|executed, got {status!r}")
        params = {"ticker": ticker, "event_ticker": event_ticker, "status": status, "min_ts": min_ts, "max_ts": max_ts}
        async for page in self._iter_pages(
            "/portfolio/orders", params, OrdersPage, limit=limit, max_pages=max_pages, auth=True
        ):
            yield page

    async def get_order(self, order_id: str) -> Order:
        """``GET /portfolio/orders/{order_id}`` (kalshi-api.md §3.5; costs 2 read tokens).

        Raises:
            KalshiNotFoundError: unknown order. KalshiCredentialsError, KalshiAuthError, KalshiError.

        """
        endpoint = f"/portfolio/orders/{path_segment(order_id, 'order_id')}"
        data = await self._request("GET", endpoint, cost=GET_ORDER_COST, auth=True)
        order = data.get("order") if isinstance(data, dict) else None
        return self._parse(Order, order, "GET", self._path(endpoint))

    async def find_order_by_client_order_id(
        self,
        client_order_id: str,
        *,
        ticker: str | None = None,
        max_pages: int | None = 20,
    ) -> Order | None:
        """Find your order carrying ``client_order_id`` (the idempotency lookup; kalshi-api.md §3.5, §5.1).

        Looks at resting orders first (one call), then pages through all orders (newest first, as Kalshi
        lists them), stopping at the first match. If several orders carry the id (Kalshi only forbids
        reuse among open orders), a resting one wins.

        Args:
            client_order_id: the key sent with the order.
            ticker: the order's market (strongly recommended: keeps the listing small).
            max_pages: cap on pages of the all-orders pass (``None`` = all).

        Returns:
            The order, or ``None`` when no listed order carries the id.

        Raises:
            ValueError: empty ``client_order_id``.
            KalshiCredentialsError, KalshiAuthError, KalshiError: as for every authenticated read.

        """
        if not client_order_id:
            raise ValueError("client_order_id is empty")
        async with aclosing(self._order_pages(ticker=ticker, status="resting")) as resting_pages:
            async for page in resting_pages:
                for order in page.orders:
                    if order.client_order_id == client_order_id:
                        return order
        async with aclosing(self._order_pages(ticker=ticker, max_pages=max_pages)) as all_pages:
            async for page in all_pages:
                for order in page.orders:
                    if order.client_order_id == client_order_id:
                        return order
        return None

    async def get_fills(
        self,
        *,
        ticker: str | None = None,
        order_id: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        limit: int = PORTFOLIO_PAGE_LIMIT,
        max_pages: int | None = None,
    ) -> list[Fill]:
        """``GET /portfolio/fills`` across all pages (kalshi-api.md §3.4).

        Args:
            ticker: only this market.
            order_id: only fills of this order.
            min_ts: at or after, Unix seconds.
            max_ts: at or before, Unix seconds.
            limit: page size 1-1000.
            max_pages: page cap (``None`` = all).

        Raises:
            KalshiCredentialsError, KalshiAuthError, KalshiError: as for every authenticated read.

        """
        params = {"ticker": ticker, "order_id": order_id, "min_ts": min_ts, "max_ts": max_ts}
        out: list[Fill] = []
        async for page in self._iter_pages(
            "/portfolio/fills", params, FillsPage, limit=limit, max_pages=max_pages, auth=True
        ):
            out.extend(page.fills)
        return out

    async def get_settlements(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        limit: int = PORTFOLIO_PAGE_LIMIT,
        max_pages: int | None = None,
    ) -> list[Settlement]:
        """``GET /portfolio/settlements`` across all pages (kalshi-api.md §3.4); revenue in int cents.

        Raises:
            KalshiCredentialsError, KalshiAuthError, KalshiError: as for every authenticated read.

        """
        params = {"ticker": ticker, "event_ticker": event_ticker, "min_ts": min_ts, "max_ts": max_ts}
        out: list[Settlement] = []
        async for page in self._iter_pages(
            "/portfolio/settlements", params, SettlementsPage, limit=limit, max_pages=max_pages, auth=True
        ):
            out.extend(page.settlements)
        return out
