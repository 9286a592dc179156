"""Exchange and market data endpoints (public): exchange status, markets, order books (kalshi-api.md §3.1-§3.3)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from kalshi.errors import KalshiError, KalshiNotFoundError, KalshiResponseError
from kalshi.models import ExchangeStatus, Market, MarketsPage, Orderbook
from kalshi.rest.transport import (
    MARKETS_PAGE_LIMIT,
    MARKETS_TICKERS_MAX,
    MULTI_ORDERBOOK_MAX,
    ORDERBOOK_FALLBACK_CONCURRENCY,
    MarketStatusFilter,
    RestTransport,
    chunked,
    is_route_missing,
    logger,
    path_segment,
    unique_in_order,
)

__all__ = ["MarketEndpoints"]


class MarketEndpoints(RestTransport):
    """``GET /exchange/status``, ``/markets``, ``/markets/{ticker}``, order books (single and batched)."""

    async def get_exchange_status(self) -> ExchangeStatus:
        """``GET /exchange/status`` (kalshi-api.md §3.1): whether the exchange and trading are active.

        Raises:
            KalshiUnavailableError: transport failure or 5xx (the endpoint itself can answer 503).
            KalshiError: other mapped errors.

        """
        data = await self._request("GET", "/exchange/status")
        return self._parse(ExchangeStatus, data, "GET", self._path("/exchange/status"))

    async def get_markets(
        self,
        *,
        series_ticker: str | None = None,
        event_ticker: str | None = None,
        tickers: Sequence[str] | None = None,
        status: MarketStatusFilter | None = None,
        min_close_ts: int | None = None,
        max_close_ts: int | None = None,
        limit: int = MARKETS_PAGE_LIMIT,
        max_pages: int | None = None,
    ) -> list[Market]:
        """``GET /markets`` across all pages (kalshi-api.md §3.2).

        Args:
            series_ticker: only this series.
            event_ticker: only this event.
            tickers: only these markets (sent as a comma list, 100 per request).
            status: ``unopened|open|paused|closed|settled`` (filter vocabulary; e.g. ``open`` returns
                markets whose ``status`` is ``active``).
            min_close_ts: close time lower bound, Unix seconds.
            max_close_ts: close time upper bound, Unix seconds.
            limit: page size, 1-1000 (default 200).
            max_pages: stop after this many pages per request (``None`` = all).

        Returns:
            Markets in exchange order.

        Raises:
            ValueError: bad limit/max_pages or status.
            KalshiError: mapped transport/HTTP errors; KalshiResponseError for unreadable pages.

        """
        if status is not None and status not in ("unopened", "open", "paused", "closed", "settled"):
            raise ValueError(f"status filter must be unopened|open|paused|closed|settled, got {status!r}")
        base: dict[str, Any] = {
            "series_ticker": series_ticker,
            "event_ticker": event_ticker,
            "status": status,
            "min_close_ts": min_close_ts,
            "max_close_ts": max_close_ts,
        }
        groups: list[list[str] | None] = [None]
        if tickers is not None:
            wanted = unique_in_order(tickers)
            if not wanted:
                return []
            groups = list(chunked(wanted, MARKETS_TICKERS_MAX))
        out: list[Market] = []
        for group in groups:
            params = dict(base)
            if group is not None:
                params["tickers"] = ",".join(group)
            async for page in self._iter_pages(
                "/markets", params, MarketsPage, limit=limit, max_pages=max_pages, auth=False
            ):
                out.extend(page.markets)
        return out

    async def get_market(self, ticker: str) -> Market:
        """``GET /markets/{ticker}`` (kalshi-api.md §3.2).

        Raises:
            KalshiNotFoundError: unknown ticker (a market may 404 briefly right after creation).
            KalshiError: other mapped errors.

        """
        endpoint = f"/markets/{path_segment(ticker, 'ticker')}"
        data = await self._request("GET", endpoint)
        market = data.get("market") if isinstance(data, dict) else None
        return self._parse(Market, market, "GET", self._path(endpoint))

    async def get_orderbook(self, ticker: str, depth: int = 0) -> Orderbook:
        """``GET /markets/{ticker}/orderbook`` (kalshi-api.md §3.3): YES and NO bids, best last.

        Args:
            ticker: market ticker.
            depth: levels per side, 1-100; 0 (default) or negative = all levels.

        Raises:
            KalshiNotFoundError: unknown ticker.
            KalshiError: other mapped errors.

        """
        endpoint = f"/markets/{path_segment(ticker, 'ticker')}/orderbook"
        params = {"depth": depth} if depth > 0 else None
        data = await self._request("GET", endpoint, params=params)
        if not isinstance(data, dict):
            raise KalshiResponseError("order book is not a JSON object", method="GET", path=self._path(endpoint))
        return self._parse(Orderbook, {**data, "ticker": ticker}, "GET", self._path(endpoint))

    async def get_orderbooks(self, tickers: Sequence[str]) -> dict[str, Orderbook]:
        """Order books of several markets: ``GET /markets/orderbooks?tickers=A&tickers=B`` (§3.3).

        Sends up to 100 tickers per request. If the server lacks that endpoint (a 404/405/410), falls back
        to concurrent single-book GETs (remembered for the client's lifetime when the route is missing).

        Returns:
            ``{ticker: Orderbook}``; a ticker the multi-book endpoint did not return is absent.

        Raises:
            KalshiNotFoundError: in fallback mode, an unknown ticker.
            KalshiError: other mapped errors.

        """
        wanted = unique_in_order(tickers)
        if not wanted:
            return {}
        if self._multi_orderbook_ok:
            try:
                out: dict[str, Orderbook] = {}
                for group in chunked(wanted, MULTI_ORDERBOOK_MAX):
                    out.update(await self._get_orderbooks_chunk(group))
                return out
            except KalshiError as exc:
                if not (isinstance(exc, KalshiNotFoundError) or exc.status in (405, 410)):
                    raise
                if is_route_missing(exc):
                    self._multi_orderbook_ok = False
                    logger.info("GET /markets/orderbooks unavailable (%s); using single-book requests", exc)
        semaphore = asyncio.Semaphore(ORDERBOOK_FALLBACK_CONCURRENCY)

        async def one(ticker: str) -> Orderbook:
            async with semaphore:
                return await self.get_orderbook(ticker)

        # Every request runs to completion; the first failure (in ticker order) is then raised as is.
        results = await asyncio.gather(*(one(ticker) for ticker in wanted), return_exceptions=True)
        books: dict[str, Orderbook] = {}
        for ticker, result in zip(wanted, results, strict=True):
            if isinstance(result, BaseException):
                raise result
            books[ticker] = result
        return books

    async def _get_orderbooks_chunk(self, tickers: list[str]) -> dict[str, Orderbook]:
        """One ``GET /markets/orderbooks`` request for at most 100 tickers."""
        endpoint = "/markets/orderbooks"
        data = await self._request("GET", endpoint, params={"tickers": tickers})
        items = data.get("orderbooks") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise KalshiResponseError("missing 'orderbooks' list", method="GET", path=self._path(endpoint))
        out: dict[str, Orderbook] = {}
        for item in items:
            book = self._parse(Orderbook, item, "GET", self._path(endpoint))
            out[book.ticker] = book
        return out
