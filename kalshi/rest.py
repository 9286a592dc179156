"""Async REST client for the Kalshi Trade API v2 (kalshi-api.md §2-§5), one ``httpx.AsyncClient``.

What it guarantees:

* Every request is paced by the client-side token buckets (§5.4) and, when a signer is configured,
  signed over the exact URL path it sends (``/trade-api/v2/...``, no query; §2).
* Answers are parsed once into :mod:`models.kalshi` (Decimal dollars/contracts, int cents). JSON is
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
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from kalshi.clock import ExchangeClock
from kalshi.environments import KalshiEnvironment
from kalshi.errors import (
    KalshiAuthError,
    KalshiCredentialsError,
    KalshiDuplicateOrderError,
    KalshiError,
    KalshiNotFoundError,
    KalshiOutcomeUnknownError,
    KalshiRateLimitedError,
    KalshiRejectedError,
    KalshiResponseError,
    KalshiUnavailableError,
    error_from_response,
    parse_error_body,
)
from kalshi.ratelimit import (
    BATCH_CANCEL_ITEM_COST,
    CANCEL_ORDER_COST,
    DEFAULT_COST,
    GET_ORDER_COST,
    Bucket,
    RateLimiter,
)
from kalshi.signer import RequestSigner
from models.kalshi import (
    ApiErrorBody,
    Balance,
    BatchCancelResult,
    CancelOrderV1Response,
    CreateOrderRequest,
    CreateOrderV2Response,
    EventPosition,
    ExchangeStatus,
    Fill,
    FillsPage,
    Market,
    MarketPosition,
    MarketsPage,
    Order,
    OrderAck,
    Orderbook,
    OrderGroup,
    OrderGroupsPage,
    OrdersPage,
    PositionsPage,
    Settlement,
    SettlementsPage,
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

logger = logging.getLogger("kalshi.rest")

MarketStatusFilter = Literal["unopened", "open", "paused", "closed", "settled"]
"""``GET /markets`` status filter vocabulary (differs from ``Market.status``; kalshi-api.md §3.2)."""
OrderStatusFilter = Literal["resting", "canceled", "executed"]
"""``GET /portfolio/orders`` status filter (kalshi-api.md §3.5)."""
OrderApi = Literal["auto", "v2", "v1"]
"""Which order endpoints to use: ``auto`` = V2 with V1 fallback; ``v2``/``v1`` = only that one."""

MAX_PAGE_LIMIT = 1000
"""Largest ``limit`` Kalshi accepts on list endpoints (kalshi-api.md §3.0)."""
MARKETS_PAGE_LIMIT = 200
"""Default page size for ``GET /markets`` (market objects are large)."""
PORTFOLIO_PAGE_LIMIT = 1000
"""Default page size for orders, fills, positions and settlements."""
MULTI_ORDERBOOK_MAX = 100
"""Most tickers per ``GET /markets/orderbooks`` request (kalshi-api.md §3.3)."""
MARKETS_TICKERS_MAX = 100
"""Most tickers per ``GET /markets?tickers=`` request (a URL-length safety choice)."""
BATCH_CANCEL_MAX = 20
"""Most orders per batch cancel (kalshi-api.md §3.5)."""
ORDERBOOK_FALLBACK_CONCURRENCY = 8
"""Concurrent single-book GETs when ``/markets/orderbooks`` is unavailable (the limiter still paces them)."""
ORDER_GROUP_LIMIT_MAX = 1_000_000
"""Largest order-group ``contracts_limit`` (kalshi-api.md §3.7)."""

_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""Transport failures that happen before any request byte leaves: always safe to retry."""

_M = TypeVar("_M", bound=BaseModel)


def _segment(value: str, what: str) -> str:
    """Percent-encode one URL path segment (ticker, order id); ValueError when empty."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def _check_limit(limit: int) -> int:
    """Validate a page size: 1 <= limit <= 1000 (kalshi-api.md §3.0)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_LIMIT:
        raise ValueError(f"limit must be an int between 1 and {MAX_PAGE_LIMIT}, got {limit!r}")
    return limit


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    """Split ``items`` into lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _unique(items: Iterable[str]) -> list[str]:
    """De-duplicate, keeping first-seen order."""
    return list(dict.fromkeys(items))


def _is_route_missing(exc: KalshiError) -> bool:
    """Whether an error says the endpoint itself does not exist here (bare 404, 405, 410)."""
    if isinstance(exc, KalshiNotFoundError) and not exc.envelope:
        return True
    return exc.status in (405, 410)


class KalshiRestClient:
    """Typed async client for Kalshi's REST API (kalshi-api.md §3), usable as an async context manager.

    Args:
        base_url: REST base including ``/trade-api/v2`` (see :class:`kalshi.environments.KalshiEnvironment`).
        signer: request signer; ``None`` for public market data only (portfolio calls then raise
            :class:`~kalshi.errors.KalshiCredentialsError` without sending anything).
        rate_limiter: client-side token buckets; default: Basic tier (read 200/s, write 100/s).
        timeout_s: connect/read/write/pool timeout per request, seconds.
        transport: optional httpx transport (e.g. custom TLS or a Unix socket).
        limits: optional httpx connection-pool limits.
        order_api: ``auto`` (V2, falling back to V1 when V2 is missing), ``v2`` or ``v1``.
        lookup_delays_s: delays (seconds) before each ``client_order_id`` lookup attempt that resolves a
            write of unknown outcome; the number of entries is the number of attempts.
        local_time: wall clock in Unix seconds (injectable for tests).
        sleep: awaitable sleep in seconds used between lookup attempts (injectable for tests).
        user_agent: ``User-Agent`` header value.

    Raises:
        ValueError: a ``base_url`` that is not absolute http(s), or an empty ``lookup_delays_s``.

    """

    def __init__(
        self,
        base_url: str,
        signer: RequestSigner | None = None,
        rate_limiter: RateLimiter | None = None,
        timeout_s: float = 10.0,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits | None = None,
        order_api: OrderApi = "auto",
        lookup_delays_s: Sequence[float] = (0.0, 0.5, 1.5),
        local_time: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        user_agent: str = "kalshi-trader/0.1 (+httpx)",
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"base_url must be an absolute http(s) URL including /trade-api/v2, got {base_url!r}")
        if order_api not in ("auto", "v2", "v1"):
            raise ValueError(f"order_api must be 'auto', 'v2' or 'v1', got {order_api!r}")
        if not lookup_delays_s or any(d < 0 for d in lookup_delays_s):
            raise ValueError("lookup_delays_s needs at least one non-negative delay")
        self._base_url = str(url).rstrip("/")
        self._signer = signer
        self._limiter = rate_limiter if rate_limiter is not None else RateLimiter.for_tier("basic")
        self._order_api_mode: OrderApi = order_api
        self._order_api: Literal["v2", "v1"] = "v1" if order_api == "v1" else "v2"
        self._multi_orderbook_ok = True
        self._batch_cancel_ok = True
        self._lookup_delays_s = tuple(float(d) for d in lookup_delays_s)
        self._clock = ExchangeClock(local_time)
        self._sleep = sleep
        kwargs: dict[str, Any] = {}
        if transport is not None:
            kwargs["transport"] = transport
        if limits is not None:
            kwargs["limits"] = limits
        self._http = httpx.AsyncClient(
            base_url=self._base_url + "/",
            timeout=httpx.Timeout(timeout_s),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            follow_redirects=False,
            **kwargs,
        )

    @classmethod
    def for_environment(
        cls,
        env: KalshiEnvironment | str,
        signer: RequestSigner | None = None,
        *,
        rest_base_url: str | None = None,
        **kwargs: Any,
    ) -> KalshiRestClient:
        """Build a client for ``sim``, ``demo`` or ``prod`` (kalshi-api.md §1), optionally overriding the URL.

        Raises:
            ValueError: unknown environment or a malformed override URL.

        """
        environment = env if isinstance(env, KalshiEnvironment) else KalshiEnvironment.parse(env)
        endpoints = environment.endpoints(rest_base_url=rest_base_url)
        return cls(endpoints.rest_base_url, signer, **kwargs)

    # ------------------------------------------------------------------------------------------
    # Lifecycle and clock
    # ------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying HTTP connection pool (idempotent)."""
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"KalshiRestClient(base_url={self._base_url!r}, signer={self._signer!r}, order_api={self._order_api!r})"

    @property
    def base_url(self) -> str:
        """REST base URL including ``/trade-api/v2``, no trailing slash."""
        return self._base_url

    @property
    def key_id(self) -> str | None:
        """The API key id requests are signed with (which account they act for), None when unsigned."""
        return self._signer.key_id if self._signer is not None else None

    @property
    def order_api(self) -> Literal["v2", "v1"]:
        """Order endpoints currently in use (``v1`` after a fallback)."""
        return self._order_api

    @property
    def rate_limiter(self) -> RateLimiter:
        """The client-side token buckets."""
        return self._limiter

    @property
    def exchange_clock(self) -> ExchangeClock:
        """The exchange-clock estimator fed by every response's ``Date`` header."""
        return self._clock

    @property
    def server_time_offset_s(self) -> float:
        """Exchange time minus local time, seconds (0.0 until the first response)."""
        return self._clock.offset_s

    def exchange_now(self) -> datetime:
        """Estimated current exchange time (timezone-aware UTC), from the latest ``Date`` header."""
        return self._clock.now()

    # ------------------------------------------------------------------------------------------
    # Transport core
    # ------------------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        bucket: Bucket = "read",
        cost: int = DEFAULT_COST,
        auth: bool = False,
        write: bool = False,
    ) -> Any:
        """Send one request and return its decoded JSON body (``{}`` when empty).

        Args:
            method: HTTP method.
            endpoint: path below the base URL, starting with ``/`` (already percent-encoded).
            params: query parameters (``None`` values dropped; lists repeat the key).
            json_body: JSON body, or ``None`` for none.
            bucket: rate-limit bucket.
            cost: rate-limit tokens.
            auth: the endpoint requires credentials.
            write: the request changes state (failures after sending become "outcome unknown").

        Raises:
            KalshiCredentialsError: ``auth`` without a signer (nothing sent).
            KalshiOutcomeUnknownError: a write that may have been applied (timeout/drop after sending,
                408, 5xx).
            KalshiUnavailableError: reads failing on transport, 408, 5xx; any request not sent at all.
            KalshiError: the mapped error for other non-2xx answers (see :func:`kalshi.errors.error_from_response`).
            KalshiResponseError: a 2xx body that is not JSON (for writes: KalshiOutcomeUnknownError).

        """
        method = method.upper()
        request, path = self._build_request(method, endpoint, params=params, json_body=json_body)
        if auth and self._signer is None:
            raise KalshiCredentialsError(
                f"{method} {path} requires Kalshi API credentials, but the client has no signer",
                method=method,
                path=path,
            )
        await self._limiter.acquire(bucket, cost)
        self._sign(request, method, path)
        sent_at = self._clock.local_time()
        started = time.perf_counter()
        try:
            response = await self._http.send(request)
        except httpx.HTTPError as exc:
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.debug("%s %s -> %s in %.1f ms", method, path, type(exc).__name__, elapsed_ms)
            raise self._transport_error(exc, method, path, write) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._clock.observe(response.headers.get("date"), sent_at, self._clock.local_time())
        logger.debug("%s %s -> %d in %.1f ms", method, path, response.status_code, elapsed_ms)
        if 200 <= response.status_code < 300:
            try:
                return self._decode(response.content, method, path, response.status_code)
            except KalshiResponseError as exc:
                if not write:
                    raise
                # The exchange accepted the write but its answer is unreadable: it may have taken effect.
                raise KalshiOutcomeUnknownError(
                    exc.message, status=response.status_code, method=method, path=path
                ) from exc
        err = error_from_response(response.status_code, response.content, method=method, path=path)
        if write and isinstance(err, KalshiUnavailableError):
            raise KalshiOutcomeUnknownError(
                err.message,
                status=err.status,
                code=err.code,
                details=err.details,
                method=method,
                path=path,
                envelope=err.envelope,
            )
        raise err

    def _build_request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> tuple[httpx.Request, str]:
        """Build (not send) a request below the base URL; return it with its signing path.

        ``None`` query values are dropped and list values repeat the key. The signing path is the exact
        percent-encoded path that goes on the wire, without the query (kalshi-api.md §2).
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        request = self._http.build_request(method.upper(), endpoint.lstrip("/"), params=query or None, json=json_body)
        path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        return request, path

    def _sign(self, request: httpx.Request, method: str, path: str) -> None:
        """Add the three Kalshi auth headers when a signer is configured (fresh timestamp, §2)."""
        if self._signer is not None:
            request.headers.update(self._signer.headers(method, path))

    @staticmethod
    def _transport_error(exc: httpx.HTTPError, method: str, path: str, write: bool) -> KalshiError:
        """Classify a transport failure: never sent -> unavailable; maybe sent -> unknown for writes."""
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if isinstance(exc, _NOT_SENT_ERRORS) or not write:
            return KalshiUnavailableError(reason, method=method, path=path)
        return KalshiOutcomeUnknownError(reason, method=method, path=path)

    @staticmethod
    def _decode(content: bytes, method: str, path: str, status: int) -> Any:
        """Decode a 2xx JSON body with exact decimals; empty -> ``{}``."""
        if not content.strip():
            return {}
        try:
            return json.loads(content, parse_float=Decimal)
        except ValueError:
            raise KalshiResponseError(
                f"response is not JSON: {content[:120]!r}", status=status, method=method, path=path
            ) from None

    @staticmethod
    def _parse(model: type[_M], data: Any, method: str, path: str) -> _M:
        """Validate ``data`` as ``model``; a mismatch becomes :class:`KalshiResponseError` (one line)."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors()
            loc = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
            msg = errors[0]["msg"] if errors else ""
            raise KalshiResponseError(
                f"unexpected {model.__name__} shape ({exc.error_count()} errors; first at {loc or '<root>'}: {msg})",
                method=method,
                path=path,
            ) from None

    def _path(self, endpoint: str) -> str:
        """Full URL path (for messages) of an endpoint below the base."""
        return httpx.URL(self._base_url + endpoint).path

    async def _iter_pages(
        self,
        endpoint: str,
        params: Mapping[str, Any],
        *,
        limit: int,
        max_pages: int | None,
        auth: bool,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Yield decoded pages of a cursor-paginated list, following ``cursor`` until empty (§3.0).

        Stops after ``max_pages`` pages when given (logging that results were truncated).

        Raises:
            KalshiResponseError: a page that is not an object, or a cursor that repeats (a server loop).
            ValueError: bad ``limit`` or ``max_pages``.

        """
        _check_limit(limit)
        if max_pages is not None and max_pages < 1:
            raise ValueError(f"max_pages must be >= 1 or None, got {max_pages}")
        cursor: str | None = None
        seen: set[str] = set()
        pages = 0
        while True:
            query = dict(params)
            query["limit"] = limit
            if cursor:
                query["cursor"] = cursor
            data = await self._request("GET", endpoint, params=query, auth=auth)
            if not isinstance(data, dict):
                raise KalshiResponseError("list page is not a JSON object", method="GET", path=self._path(endpoint))
            yield data
            pages += 1
            raw_cursor = data.get("cursor")
            cursor = raw_cursor if isinstance(raw_cursor, str) and raw_cursor else None
            if cursor is None:
                return
            if cursor in seen:
                raise KalshiResponseError(
                    f"pagination cursor repeated after {pages} pages", method="GET", path=self._path(endpoint)
                )
            seen.add(cursor)
            if max_pages is not None and pages >= max_pages:
                logger.info("GET %s: stopped after max_pages=%d with more results available", endpoint, max_pages)
                return

    # ------------------------------------------------------------------------------------------
    # Exchange and market data (public)
    # ------------------------------------------------------------------------------------------

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
            wanted = _unique(tickers)
            if not wanted:
                return []
            groups = list(_chunks(wanted, MARKETS_TICKERS_MAX))
        out: list[Market] = []
        for group in groups:
            params = dict(base)
            if group is not None:
                params["tickers"] = ",".join(group)
            async for data in self._iter_pages("/markets", params, limit=limit, max_pages=max_pages, auth=False):
                out.extend(self._parse(MarketsPage, data, "GET", self._path("/markets")).markets)
        return out

    async def get_market(self, ticker: str) -> Market:
        """``GET /markets/{ticker}`` (kalshi-api.md §3.2).

        Raises:
            KalshiNotFoundError: unknown ticker (a market may 404 briefly right after creation).
            KalshiError: other mapped errors.

        """
        endpoint = f"/markets/{_segment(ticker, 'ticker')}"
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
        endpoint = f"/markets/{_segment(ticker, 'ticker')}/orderbook"
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
        wanted = _unique(tickers)
        if not wanted:
            return {}
        if self._multi_orderbook_ok:
            try:
                out: dict[str, Orderbook] = {}
                for group in _chunks(wanted, MULTI_ORDERBOOK_MAX):
                    out.update(await self._get_orderbooks_chunk(group))
                return out
            except KalshiError as exc:
                if not (isinstance(exc, KalshiNotFoundError) or exc.status in (405, 410)):
                    raise
                if _is_route_missing(exc):
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

    # ------------------------------------------------------------------------------------------
    # Portfolio reads (authenticated)
    # ------------------------------------------------------------------------------------------

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
        path = self._path("/portfolio/positions")
        async for data in self._iter_pages("/portfolio/positions", params, limit=limit, max_pages=max_pages, auth=True):
            page = self._parse(PositionsPage, data, "GET", path)
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
        path = self._path("/portfolio/orders")
        async for data in self._iter_pages("/portfolio/orders", params, limit=limit, max_pages=max_pages, auth=True):
            yield self._parse(OrdersPage, data, "GET", path)

    async def get_order(self, order_id: str) -> Order:
        """``GET /portfolio/orders/{order_id}`` (kalshi-api.md §3.5; costs 2 read tokens).

        Raises:
            KalshiNotFoundError: unknown order. KalshiCredentialsError, KalshiAuthError, KalshiError.

        """
        endpoint = f"/portfolio/orders/{_segment(order_id, 'order_id')}"
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
        path = self._path("/portfolio/fills")
        async for data in self._iter_pages("/portfolio/fills", params, limit=limit, max_pages=max_pages, auth=True):
            out.extend(self._parse(FillsPage, data, "GET", path).fills)
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
        path = self._path("/portfolio/settlements")
        async for data in self._iter_pages(
            "/portfolio/settlements", params, limit=limit, max_pages=max_pages, auth=True
        ):
            out.extend(self._parse(SettlementsPage, data, "GET", path).settlements)
        return out

    # ------------------------------------------------------------------------------------------
    # Orders (writes)
    # ------------------------------------------------------------------------------------------

    def _fall_back_to_v1(self, exc: KalshiError) -> bool:
        """Switch to V1 for the client's lifetime if ``exc`` says the V2 route is missing; report if so."""
        if self._order_api_mode != "auto" or not _is_route_missing(exc):
            return False
        self._order_api = "v1"
        logger.warning("Kalshi V2 order endpoints unavailable (%s); using V1 /portfolio/orders from now on", exc)
        return True

    async def create_order(self, req: CreateOrderRequest, *, lookup_first: bool = False) -> OrderAck:
        """Place a limit order, idempotently by ``client_order_id`` (kalshi-api.md §3.5, §3.6, §5.1).

        Sends V2 ``POST /portfolio/events/orders`` (falling back to V1 ``POST /portfolio/orders`` when V2
        is missing; orders with ``buy_max_cost_cents`` always use V1, which alone has that field).

        * 201 -> the ack (``already_existed=False``).
        * 409 duplicate -> the existing order is looked up and returned with ``already_existed=True``.
        * Timeout, dropped connection, 408 or 5xx after the request may have been sent -> the order is
          looked up by ``client_order_id`` (``lookup_delays_s`` attempts, tolerating read errors); found
          -> returned with ``already_existed=True``; otherwise :class:`KalshiOutcomeUnknownError`.
          The request is never re-sent here.

        Args:
            req: the order.
            lookup_first: look the ``client_order_id`` up BEFORE sending (use on activity retries: Kalshi
                only rejects duplicates among open orders, so a retried intent whose first attempt
                already executed would otherwise be placed twice).

        Returns:
            The normalised acknowledgement.

        Raises:
            KalshiRejectedError: 400/410/422 business reject (``code``/``details`` set).
            KalshiDuplicateOrderError: 409 but no order with this ``client_order_id`` could be found.
            KalshiOutcomeUnknownError: the order may exist and the lookup could not find it (retryable:
                re-sending the same ``client_order_id`` is the safe next step).
            KalshiAuthError: 401/403. KalshiNotFoundError: unknown market.
            KalshiRateLimitedError: 429 (nothing was placed). KalshiUnavailableError: not sent at all.
            KalshiCredentialsError: no signer.

        """
        if lookup_first:
            existing = await self.find_order_by_client_order_id(req.client_order_id, ticker=req.ticker)
            if existing is not None:
                return self._ack_for_existing(existing, req)
        try:
            return await self._place_order(req)
        except KalshiDuplicateOrderError as dup:
            found, lookup_error = await self._resolve_client_order_id(req)
            if found is not None:
                logger.info("create_order %s: 409 duplicate resolved to order %s", req.client_order_id, found.order_id)
                return self._ack_for_existing(found, req)
            if lookup_error is not None:
                raise KalshiOutcomeUnknownError(
                    f"409 duplicate for client_order_id={req.client_order_id} but the lookup failed: {lookup_error}",
                    client_order_id=req.client_order_id,
                    status=dup.status,
                    code=dup.code,
                    method=dup.method,
                    path=dup.path,
                ) from dup
            raise
        except KalshiOutcomeUnknownError as unknown:
            found, lookup_error = await self._resolve_client_order_id(req)
            if found is not None:
                logger.info(
                    "create_order %s: outcome unknown (%s) resolved to order %s",
                    req.client_order_id,
                    unknown.message,
                    found.order_id,
                )
                return self._ack_for_existing(found, req)
            outcome = f"lookup failed: {lookup_error}" if lookup_error is not None else "lookup found no order"
            raise KalshiOutcomeUnknownError(
                f"outcome unknown for client_order_id={req.client_order_id} after "
                f"{unknown.message or 'no answer'}; {outcome}",
                client_order_id=req.client_order_id,
                status=unknown.status,
                code=unknown.code,
                details=unknown.details,
                method=unknown.method,
                path=unknown.path,
            ) from unknown

    def _ack_for_existing(self, order: Order, req: CreateOrderRequest) -> OrderAck:
        """Ack an order found by ``client_order_id``, after checking it is this request's order.

        The ack reports the request's ``side``/``action`` (an exchange may store e.g. "buy NO at q" as the
        equivalent "sell YES at 1 - q", §8); counts and status are the order's.

        Raises:
            KalshiDuplicateOrderError: the id belongs to an order on another market or book side (an id
                collision, never "our" order).

        """
        if order.ticker != req.ticker or order.book_side != req.book_side:
            raise KalshiDuplicateOrderError(
                f"client_order_id={req.client_order_id} belongs to order {order.order_id} "
                f"({order.ticker} {order.book_side}), not to this request ({req.ticker} {req.book_side})",
                method="POST",
                path=self._path("/portfolio/orders"),
            )
        if order.yes_price_dollars != req.yes_price_dollars or order.initial_count_fp != req.count_fp:
            logger.warning(
                "order %s found for client_order_id=%s differs from the request: yes price %s vs %s, count %s vs %s",
                order.order_id,
                req.client_order_id,
                order.yes_price_dollars,
                req.yes_price_dollars,
                order.initial_count_fp,
                req.count_fp,
            )
        ack = OrderAck.from_order(order, already_existed=True)
        return ack.model_copy(update={"side": req.side, "action": req.action})

    async def _place_order(self, req: CreateOrderRequest) -> OrderAck:
        """POST the order once (V2, or V1 when chosen); map the answer to an ack."""
        if self._order_api == "v2" and req.buy_max_cost_cents is None:
            endpoint = "/portfolio/events/orders"
            try:
                data = await self._request(
                    "POST", endpoint, json_body=req.to_v2_body(), bucket="write", auth=True, write=True
                )
            except KalshiError as exc:
                if not self._fall_back_to_v1(exc):
                    raise
            else:
                try:
                    resp = self._parse(CreateOrderV2Response, data, "POST", self._path(endpoint))
                except KalshiResponseError as exc:
                    self._raise_embedded_error(data, "POST", self._path(endpoint))
                    raise KalshiOutcomeUnknownError(
                        f"2xx answer without a readable order: {exc.message}",
                        client_order_id=req.client_order_id,
                        method="POST",
                        path=self._path(endpoint),
                    ) from exc
                return OrderAck.from_v2_response(resp, req)
        endpoint = "/portfolio/orders"
        data = await self._request("POST", endpoint, json_body=req.to_v1_body(), bucket="write", auth=True, write=True)
        order_data = data.get("order") if isinstance(data, dict) else None
        if order_data is None:
            self._raise_embedded_error(data, "POST", self._path(endpoint))
            raise KalshiOutcomeUnknownError(
                "2xx answer without an 'order' object",
                client_order_id=req.client_order_id,
                method="POST",
                path=self._path(endpoint),
            )
        try:
            order = self._parse(Order, order_data, "POST", self._path(endpoint))
        except KalshiResponseError as exc:
            raise KalshiOutcomeUnknownError(
                f"2xx answer with an unreadable order: {exc.message}",
                client_order_id=req.client_order_id,
                method="POST",
                path=self._path(endpoint),
            ) from exc
        return OrderAck.from_order(order, already_existed=False)

    @staticmethod
    def _raise_embedded_error(data: Any, method: str, path: str) -> None:
        """Raise KalshiRejectedError if a 2xx body is really an error envelope with a code.

        A third-party report (kalshi-api.md §3.6) saw ``deprecated_v1_order_endpoint`` come back that way.
        """
        if isinstance(data, dict) and "error" in data:
            info = parse_error_body(data)
            if info.code:
                raise KalshiRejectedError(
                    info.message, code=info.code, details=info.details, method=method, path=path, envelope=True
                )

    async def _resolve_client_order_id(self, req: CreateOrderRequest) -> tuple[Order | None, KalshiError | None]:
        """Look the order up after a write of unknown outcome; tolerate transient read errors.

        Returns:
            ``(order, None)`` when found; ``(None, None)`` when every completed lookup found nothing;
            ``(None, last_error)`` when no lookup could complete.

        """
        last_error: KalshiError | None = None
        completed = False
        for delay in self._lookup_delays_s:
            if delay > 0:
                await self._sleep(delay)
            try:
                found = await self.find_order_by_client_order_id(req.client_order_id, ticker=req.ticker)
            except (KalshiUnavailableError, KalshiRateLimitedError, KalshiResponseError) as exc:
                last_error = exc
                logger.info("lookup of client_order_id=%s failed: %s", req.client_order_id, exc)
                continue
            if found is not None:
                return found, None
            completed = True
        return None, (None if completed else last_error)

    async def cancel_order(self, order_id: str, *, ticker: str | None = None) -> Order:
        """Cancel one order and return it as it now stands (kalshi-api.md §3.5, §3.6; 2 write tokens).

        V2 ``DELETE /portfolio/events/orders/{id}`` answers with ids only, so the order is then re-read
        with :meth:`get_order`; V1 ``DELETE /portfolio/orders/{id}`` returns ``{order, reduced_by_fp}``.
        The cancelled order has ``remaining_count_fp == 0`` and status ``canceled`` (``executed`` if it
        had already filled).

        Args:
            order_id: the exchange order id.
            ticker: the order's market (optional hint sent to V2 as ``market_ticker``).

        Raises:
            KalshiNotFoundError: unknown order.
            KalshiRejectedError: e.g. ``MARKET_INACTIVE`` after close.
            KalshiOutcomeUnknownError: the cancel may or may not have been applied (safe to repeat).
            KalshiCredentialsError, KalshiAuthError, KalshiRateLimitedError, KalshiUnavailableError.

        """
        segment = _segment(order_id, "order_id")
        if self._order_api == "v2":
            try:
                await self._request(
                    "DELETE",
                    f"/portfolio/events/orders/{segment}",
                    params={"market_ticker": ticker},
                    bucket="write",
                    cost=CANCEL_ORDER_COST,
                    auth=True,
                    write=True,
                )
            except KalshiError as exc:
                if not self._fall_back_to_v1(exc):
                    raise
            else:
                return await self.get_order(order_id)
        endpoint = f"/portfolio/orders/{segment}"
        data = await self._request("DELETE", endpoint, bucket="write", cost=CANCEL_ORDER_COST, auth=True, write=True)
        return self._parse(CancelOrderV1Response, data, "DELETE", self._path(endpoint)).order

    async def batch_cancel_orders(self, order_ids: Sequence[str]) -> list[BatchCancelResult]:
        """Cancel many orders, 20 per request (kalshi-api.md §3.5, §3.6; 2 write tokens per order).

        Uses ``DELETE /portfolio/events/orders/batched`` (V2) or ``DELETE /portfolio/orders/batched`` (V1)
        with body ``{"orders": [{"order_id": ...}]}``. If batch endpoints are forbidden for the key (403),
        cancels one by one instead (remembered for the client's lifetime).

        Returns:
            One result per distinct order id, in order; a failed item carries ``error`` (it does not raise).

        Raises:
            KalshiOutcomeUnknownError: a batch request may or may not have been applied (safe to repeat).
            KalshiCredentialsError, KalshiAuthError (401), KalshiRateLimitedError, KalshiUnavailableError.

        """
        ids = _unique(order_ids)
        results: list[BatchCancelResult] = []
        for chunk in _chunks(ids, BATCH_CANCEL_MAX):
            if self._batch_cancel_ok:
                try:
                    results.extend(await self._batch_cancel_chunk(chunk))
                    continue
                except KalshiAuthError as exc:
                    if exc.status != 403:
                        raise
                    self._batch_cancel_ok = False
                    logger.warning("batch cancel forbidden (%s); cancelling orders one by one", exc)
            for order_id in chunk:
                results.append(await self._cancel_one_as_result(order_id))
        return results

    async def _batch_cancel_chunk(self, chunk: list[str]) -> list[BatchCancelResult]:
        """One batch-cancel request (V2 path with V1 fallback)."""
        body = {"orders": [{"order_id": order_id} for order_id in chunk]}
        cost = BATCH_CANCEL_ITEM_COST * len(chunk)
        endpoint = "/portfolio/orders/batched"
        data: Any = None
        if self._order_api == "v2":
            try:
                data = await self._request(
                    "DELETE",
                    "/portfolio/events/orders/batched",
                    json_body=body,
                    bucket="write",
                    cost=cost,
                    auth=True,
                    write=True,
                )
                endpoint = "/portfolio/events/orders/batched"
            except KalshiError as exc:
                if not self._fall_back_to_v1(exc):
                    raise
        if data is None:
            data = await self._request(
                "DELETE", endpoint, json_body=body, bucket="write", cost=cost, auth=True, write=True
            )
        items = data.get("orders") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise KalshiResponseError(
                "batch cancel answer lacks an 'orders' list", method="DELETE", path=self._path(endpoint)
            )
        return [self._parse(BatchCancelResult, item, "DELETE", self._path(endpoint)) for item in items]

    async def _cancel_one_as_result(self, order_id: str) -> BatchCancelResult:
        """Cancel one order, folding business errors into a result item."""
        try:
            order = await self.cancel_order(order_id)
        except (KalshiNotFoundError, KalshiRejectedError) as exc:
            return BatchCancelResult(
                order_id=order_id, error=ApiErrorBody(code=exc.code, message=exc.message, details=exc.details)
            )
        return BatchCancelResult(order_id=order_id, client_order_id=order.client_order_id or None, order=order)

    async def cancel_all_resting(self, ticker: str | None = None) -> int:
        """Cancel every resting order (of one market, or all): list, then batch cancel.

        Returns:
            Number of orders cancelled without error.

        Raises:
            KalshiError: as :meth:`get_orders` and :meth:`batch_cancel_orders`.

        """
        resting = await self.get_orders(ticker=ticker, status="resting")
        if not resting:
            return 0
        results = await self.batch_cancel_orders([order.order_id for order in resting])
        return sum(1 for result in results if result.ok)

    # ------------------------------------------------------------------------------------------
    # Order groups (kalshi-api.md §3.7; write bucket)
    # ------------------------------------------------------------------------------------------

    @staticmethod
    def _check_contracts_limit(contracts_limit: int) -> int:
        """Validate an order-group limit: an int between 1 and 1,000,000 contracts."""
        if isinstance(contracts_limit, bool) or not isinstance(contracts_limit, int):
            raise ValueError(f"contracts_limit must be an int, got {contracts_limit!r}")
        if not 1 <= contracts_limit <= ORDER_GROUP_LIMIT_MAX:
            raise ValueError(f"contracts_limit must be between 1 and {ORDER_GROUP_LIMIT_MAX}, got {contracts_limit}")
        return contracts_limit

    async def create_order_group(self, contracts_limit: int) -> str:
        """``POST /portfolio/order_groups/create`` with ``{contracts_limit}`` -> 201 ``{order_group_id}``.

        Args:
            contracts_limit: most contracts the group's orders may fill in a rolling 15 s window (1-1,000,000).

        Returns:
            The new group's id.

        Raises:
            ValueError: limit out of range.
            KalshiOutcomeUnknownError: the group may have been created (a retry creates another group).
            KalshiError: other mapped errors.

        """
        endpoint = "/portfolio/order_groups/create"
        body = {"contracts_limit": self._check_contracts_limit(contracts_limit)}
        data = await self._request("POST", endpoint, json_body=body, bucket="write", auth=True, write=True)
        group_id = data.get("order_group_id") if isinstance(data, dict) else None
        if not isinstance(group_id, str) or not group_id:
            raise KalshiResponseError("answer lacks 'order_group_id'", method="POST", path=self._path(endpoint))
        return group_id

    async def list_order_groups(self) -> list[OrderGroup]:
        """``GET /portfolio/order_groups``: your groups with ``is_auto_cancel_enabled`` (and limit when sent).

        Raises:
            KalshiCredentialsError, KalshiAuthError, KalshiError: as for every authenticated call.

        """
        endpoint = "/portfolio/order_groups"
        data = await self._request("GET", endpoint, bucket="write", auth=True)
        return self._parse(OrderGroupsPage, data, "GET", self._path(endpoint)).order_groups

    async def get_order_group(self, order_group_id: str) -> OrderGroup:
        """``GET /portfolio/order_groups/{id}``: the group's flags, limit and order ids (id filled from the request).

        Raises:
            KalshiNotFoundError: unknown group. KalshiError: other mapped errors.

        """
        endpoint = f"/portfolio/order_groups/{_segment(order_group_id, 'order_group_id')}"
        data = await self._request("GET", endpoint, bucket="write", auth=True)
        if isinstance(data, dict) and isinstance(data.get("order_group"), dict):
            data = data["order_group"]
        if not isinstance(data, dict):
            raise KalshiResponseError("order group is not a JSON object", method="GET", path=self._path(endpoint))
        return self._parse(OrderGroup, {**data, "order_group_id": order_group_id}, "GET", self._path(endpoint))

    async def _order_group_put(self, order_group_id: str, action: str, body: dict[str, Any]) -> None:
        """PUT ``/portfolio/order_groups/{id}/{action}`` with a JSON body."""
        endpoint = f"/portfolio/order_groups/{_segment(order_group_id, 'order_group_id')}/{action}"
        await self._request("PUT", endpoint, json_body=body, bucket="write", auth=True, write=True)

    async def reset_order_group(self, order_group_id: str) -> None:
        """``PUT /portfolio/order_groups/{id}/reset`` with ``{}``: clear the triggered state and the 15 s counter.

        Raises:
            KalshiNotFoundError: unknown group. KalshiOutcomeUnknownError: may or may not be applied
            (safe to repeat). KalshiError: other mapped errors.

        """
        await self._order_group_put(order_group_id, "reset", {})

    async def trigger_order_group(self, order_group_id: str) -> None:
        """``PUT /portfolio/order_groups/{id}/trigger`` with ``{}``: cancel its resting orders, block new ones.

        Raises:
            KalshiNotFoundError: unknown group. KalshiOutcomeUnknownError (safe to repeat). KalshiError.

        """
        await self._order_group_put(order_group_id, "trigger", {})

    async def update_order_group_limit(self, order_group_id: str, contracts_limit: int) -> None:
        """``PUT /portfolio/order_groups/{id}/limit`` with ``{contracts_limit}`` (below current volume triggers it).

        Raises:
            ValueError: limit out of range. KalshiNotFoundError: unknown group. KalshiError: other mapped errors.

        """
        await self._order_group_put(
            order_group_id, "limit", {"contracts_limit": self._check_contracts_limit(contracts_limit)}
        )

    async def delete_order_group(self, order_group_id: str) -> None:
        """``DELETE /portfolio/order_groups/{id}``: remove the group and cancel its resting orders.

        Raises:
            KalshiNotFoundError: unknown group. KalshiOutcomeUnknownError (safe to repeat). KalshiError.

        """
        endpoint = f"/portfolio/order_groups/{_segment(order_group_id, 'order_group_id')}"
        await self._request("DELETE", endpoint, bucket="write", auth=True, write=True)
