"""The REST client's transport: one ``httpx.AsyncClient``, pacing, signing, typed errors, decoding, paging.

Every request is paced by the client-side token buckets (kalshi-api.md §5.4) and, when a signer is
configured, signed over the exact URL path it sends (``/trade-api/v2/...``, no query; §2). Answers are
decoded with ``parse_float=Decimal`` and parsed once into :mod:`kalshi.models`. Failures are typed
(:mod:`kalshi.errors`); nothing is retried here. The exchange clock is tracked from the ``Date`` header.
The endpoints of each API area are layered on top (:mod:`kalshi.rest.markets`, :mod:`kalshi.rest.portfolio`,
:mod:`kalshi.rest.orders`, :mod:`kalshi.rest.order_groups`).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
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
    KalshiCredentialsError,
    KalshiError,
    KalshiNotFoundError,
    KalshiOutcomeUnknownError,
    KalshiResponseError,
    KalshiUnavailableError,
    error_from_response,
)
from kalshi.presign import DEFAULT_MAX_AGE_S, PresignPool, PresignStats
from kalshi.ratelimit import DEFAULT_COST, Bucket, RateLimiter
from kalshi.signer import RequestSigner

__all__ = [
    "BATCH_CANCEL_MAX",
    "MARKETS_PAGE_LIMIT",
    "MARKETS_TICKERS_MAX",
    "MAX_PAGE_LIMIT",
    "MULTI_ORDERBOOK_MAX",
    "ORDERBOOK_FALLBACK_CONCURRENCY",
    "ORDER_GROUP_LIMIT_MAX",
    "PORTFOLIO_PAGE_LIMIT",
    "MarketStatusFilter",
    "OrderApi",
    "OrderStatusFilter",
    "RestTransport",
    "chunked",
    "is_route_missing",
    "path_segment",
    "unique_in_order",
]

logger = logging.getLogger("kalshi.rest")
"""The REST client's one logger (every module of :mod:`kalshi.rest` logs through it)."""

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

_JSON_CONTENT = (b"Content-Type", b"application/json")
_URL_CACHE_MAX = 256
"""Endpoints whose parsed URL is kept (the order endpoints; per-order paths come and go)."""


def path_segment(value: str, what: str) -> str:
    """Percent-encode one URL path segment (ticker, order id); ValueError when empty."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def _check_limit(limit: int) -> int:
    """Validate a page size: 1 <= limit <= 1000 (kalshi-api.md §3.0)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_LIMIT:
        raise ValueError(f"limit must be an int between 1 and {MAX_PAGE_LIMIT}, got {limit!r}")
    return limit


def chunked(items: Sequence[str], size: int) -> Iterable[list[str]]:
    """Split ``items`` into lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def unique_in_order(items: Iterable[str]) -> list[str]:
    """De-duplicate, keeping first-seen order."""
    return list(dict.fromkeys(items))


def is_route_missing(exc: KalshiError) -> bool:
    """Whether an error says the endpoint itself does not exist here (bare 404, 405, 410)."""
    if isinstance(exc, KalshiNotFoundError) and not exc.envelope:
        return True
    return exc.status in (405, 410)


class RestTransport:
    """The transport layer of :class:`kalshi.rest.KalshiRestClient` (see its docstring for the args)."""

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
        presign_max_age_s: float | None = DEFAULT_MAX_AGE_S,
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
        if presign_max_age_s is not None and presign_max_age_s < 0:
            raise ValueError(f"presign_max_age_s must be >= 0 or None, got {presign_max_age_s}")
        self._presign = (
            PresignPool(signer, max_age_s=presign_max_age_s)
            if signer is not None and presign_max_age_s  # None or 0: off (every request signed inline)
            else None
        )
        self._urls: dict[str, httpx.URL] = {}
        self._signing_paths: dict[str, str] = {}
        self._presign_timer: asyncio.TimerHandle | None = None
        self._presign_loop: asyncio.AbstractEventLoop | None = None
        self._presign_at = 0.0
        self._presign_closed = False
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
    ) -> Self:
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
        """Close the underlying HTTP connection pool and stop pre-signing (idempotent)."""
        if self._presign_timer is not None:
            self._presign_timer.cancel()
            self._presign_timer = None
        self._presign_closed = True
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

    @property
    def presign_stats(self) -> PresignStats | None:
        """What the pre-signed header pool did (:mod:`kalshi.presign`), or None when pre-signing is off."""
        return self._presign.stats if self._presign is not None else None

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
            if write:
                self._presign_schedule(0.0)
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.debug("%s %s -> %s in %.1f ms", method, path, type(exc).__name__, elapsed_ms)
            raise self._transport_error(exc, method, path, write) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        if write:
            self._presign_schedule(0.0)  # the write is out: re-sign what it used while its answer is read
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

        A request without query parameters while the client holds no cookies (every order write) is built
        directly from the endpoint's URL, parsed once, and the client's headers: the same request
        ``httpx.AsyncClient.build_request`` builds (same headers, the same compact UTF-8 JSON body), in ~25 us
        instead of ~90 us (bench/README.md "A learned policy in the live actor loop").
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if not query and not self._http.cookies:
            url = self._urls.get(endpoint)
            if url is None:
                if len(self._urls) >= _URL_CACHE_MAX:  # order ids make endpoints unbounded: start over
                    self._urls.clear()
                    self._signing_paths.clear()
                url = self._urls[endpoint] = self._http.build_request(method, endpoint.lstrip("/")).url
                self._signing_paths[endpoint] = url.raw_path.decode("ascii").split("?", 1)[0]
            if json_body is None:
                request = httpx.Request(method, url, headers=self._http.headers)
            else:
                body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
                request = httpx.Request(method, url, headers=[*self._http.headers.raw, _JSON_CONTENT], content=body)
            return request, self._signing_paths[endpoint]
        request = self._http.build_request(method.upper(), endpoint.lstrip("/"), params=query or None, json=json_body)
        path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        return request, path

    def _sign(self, request: httpx.Request, method: str, path: str) -> None:
        """Add the three Kalshi auth headers when a signer is configured (fresh timestamp, §2).

        A wanted request (:meth:`_presign_want`) takes a pre-signed header set younger than the pool's bound
        (:mod:`kalshi.presign`); otherwise, or when none is left, the headers are signed now.
        """
        if self._signer is None:
            return
        headers = self._presign.take(method, path) if self._presign is not None else None
        request.headers.update(headers if headers is not None else self._signer.headers(method, path))

    # ------------------------------------------------------------------------------------------
    # Pre-signed headers (kalshi.presign): signed in idle time, between requests and on a timer
    # ------------------------------------------------------------------------------------------

    def _signing_path(self, endpoint: str) -> str:
        """The exact (percent-encoded) path an endpoint below the base is signed with, no query."""
        path = self._signing_paths.get(endpoint)
        if path is None:
            path = httpx.URL(self._base_url + endpoint).raw_path.decode("ascii").split("?", 1)[0]
        return path

    def _presign_want(self, method: str, endpoint: str, *, permanent: bool = False) -> None:
        """Keep pre-signed headers for ``method endpoint`` (no-op when pre-signing is off); start the refill.

        ``permanent`` (the order endpoint): the pool's depth of headers, kept while orders are placed; otherwise one
        (a resting order's cancel), dropped when forgotten or crowded out.
        """
        if self._presign is None:
            return
        path = self._signing_path(endpoint)
        if permanent and self._presign.wants(method, path):
            return
        self._presign.want(method, path, permanent=permanent, depth=None if permanent else 1)
        self._presign_schedule(0.0)

    def _presign_forget(self, method: str, endpoint: str) -> None:
        """Stop pre-signing ``method endpoint`` (the resting order it cancels is gone)."""
        if self._presign is not None:
            self._presign.forget(method, self._signing_path(endpoint))

    def _presign_schedule(self, delay_s: float) -> None:
        """Run one refill step in ``delay_s`` (or sooner if one is already due earlier) on the running loop.

        In a fresh context: the signing must not see the context variables of the request that scheduled it.
        """
        if self._presign is None or self._presign_closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        at = loop.time() + delay_s
        timer = self._presign_timer
        if timer is not None and self._presign_loop is loop and not timer.cancelled() and self._presign_at <= at:
            return
        if timer is not None:
            timer.cancel()
        self._presign_at, self._presign_loop = at, loop
        self._presign_timer = loop.call_at(at, self._presign_step, context=contextvars.Context())

    def _presign_step(self) -> None:
        """Sign at most one header (one loop turn per signature), then schedule the next step or refresh."""
        self._presign_timer = None
        pool = self._presign
        if pool is None or self._presign_closed:
            return
        if pool.refill(budget=1):
            self._presign_schedule(0.0)
            return
        wait = pool.next_refresh_in()
        if wait is not None:
            self._presign_schedule(wait)

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
        model: type[_M],
        *,
        limit: int,
        max_pages: int | None,
        auth: bool,
    ) -> AsyncGenerator[_M, None]:
        """Yield the pages of a cursor-paginated list parsed as ``model``, following ``cursor`` until empty (§3.0).

        Stops after ``max_pages`` pages when given (logging that results were truncated).

        Raises:
            KalshiResponseError: a page that is not an object or does not parse, or a cursor that repeats (a
                server loop).
            ValueError: bad ``limit`` or ``max_pages``.

        """
        path = self._path(endpoint)
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
                raise KalshiResponseError("list page is not a JSON object", method="GET", path=path)
            yield self._parse(model, data, "GET", path)
            pages += 1
            raw_cursor = data.get("cursor")
            cursor = raw_cursor if isinstance(raw_cursor, str) and raw_cursor else None
            if cursor is None:
                return
            if cursor in seen:
                raise KalshiResponseError(f"pagination cursor repeated after {pages} pages", method="GET", path=path)
            seen.add(cursor)
            if max_pages is not None and pages >= max_pages:
                logger.info("GET %s: stopped after max_pages=%d with more results available", endpoint, max_pages)
                return
