"""Kalshi Trade API v2 client library: signer, REST client, rate limiter, errors, environments.

Knows nothing of Temporal. Wire objects live in :mod:`kalshi.models`; the wire reference is
``reference/kalshi-api.md``.
"""

from kalshi.clock import ExchangeClock
from kalshi.environments import KalshiEndpoints, KalshiEnvironment
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
)
from kalshi.ratelimit import RateLimiter, RateLimitTier, TokenBucket
from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner, generate_key_pair

__all__ = [
    "ExchangeClock",
    "KalshiAuthError",
    "KalshiCredentialsError",
    "KalshiDuplicateOrderError",
    "KalshiEndpoints",
    "KalshiEnvironment",
    "KalshiError",
    "KalshiNotFoundError",
    "KalshiOutcomeUnknownError",
    "KalshiRateLimitedError",
    "KalshiRejectedError",
    "KalshiResponseError",
    "KalshiRestClient",
    "KalshiUnavailableError",
    "RateLimitTier",
    "RateLimiter",
    "RequestSigner",
    "TokenBucket",
    "generate_key_pair",
]
