"""The typed async Kalshi REST client: the transport with every API area's endpoints (see :mod:`kalshi.rest`)."""

from __future__ import annotations

from kalshi.rest.markets import MarketEndpoints
from kalshi.rest.order_groups import OrderGroupEndpoints
from kalshi.rest.orders import OrderEndpoints

__all__ = ["KalshiRestClient"]


class KalshiRestClient(MarketEndpoints, OrderEndpoints, OrderGroupEndpoints):
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
        presign_max_age_s: sign the order endpoints' auth headers ahead of time, in idle time, and never send one
            older than this many seconds (:mod:`kalshi.presign`; default 1 s); ``None`` or 0 signs every request
            when it is sent.

    Raises:
        ValueError: a ``base_url`` that is not absolute http(s), an empty ``lookup_delays_s``, or a negative
            ``presign_max_age_s``.

    """
