"""Kalshi Trade API v2 client library: signer, REST client, WebSocket client, order books, wire types.

Knows nothing of Temporal. Wire types live in :mod:`kalshi.models` (REST) and :mod:`kalshi.models.ws`
(WebSocket); the wire reference is ``reference/kalshi-api.md``.

The names below are importable from the package (``from kalshi import KalshiRestClient``) and load their
module on first use, so importing a part (say the wire types, for a backtest or the training environment)
does not load the HTTP client.
"""

from __future__ import annotations

import importlib
from typing import Any

from kalshi import errors as _errors

_HOME = {
    "ExchangeClock": "kalshi.clock",
    "KalshiEndpoints": "kalshi.environments",
    "KalshiEnvironment": "kalshi.environments",
    "RateLimitTier": "kalshi.ratelimit",
    "RateLimiter": "kalshi.ratelimit",
    "TokenBucket": "kalshi.ratelimit",
    "KalshiRestClient": "kalshi.rest",
    "RequestSigner": "kalshi.signer",
    "generate_key_pair": "kalshi.signer",
    **dict.fromkeys(_errors.__all__, "kalshi.errors"),
}
"""Public name -> the module that defines it (every name of :mod:`kalshi.errors` is public here too)."""

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    """Resolve a public name from its module on first access (PEP 562)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'kalshi' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
