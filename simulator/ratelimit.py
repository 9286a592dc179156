"""Per-key token-bucket rate limits (kalshi-api.md §5.4), on the **real** wall clock.

Each API key has a Read and a Write bucket. A request costs tokens (default 10; a single cancel 2;
``GET /portfolio/orders/{id}`` 2; batch create 10 per order; batch cancel 2 per order); a whole batch
must fit at once. Buckets refill continuously at the tier's rate and hold ``capacity_s`` seconds of
budget. When a bucket lacks the tokens the request gets 429 ``{"error": "too many requests"}`` with no
``Retry-After`` header.

Write covers order create, amend, cancel and decrease (V1 and V2) and order-group changes; Read covers
everything else. Unauthenticated public requests are limited per client address on a Read bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

DEFAULT_COST = 10
CANCEL_COST = 2
GET_ORDER_COST = 2


@dataclass(frozen=True)
class Tier:
    """A usage tier: refill rates in tokens/second and bucket capacities in seconds of refill."""

    read_rate: int
    write_rate: int
    read_capacity_s: int
    write_capacity_s: int


TIERS: dict[str, Tier] = {
    "basic": Tier(200, 100, 2, 1),
    "advanced": Tier(300, 300, 2, 2),
    "expert": Tier(600, 600, 1, 2),
    "premier": Tier(1000, 1000, 1, 2),
    "paragon": Tier(2000, 2000, 1, 2),
    "prime": Tier(4000, 4000, 1, 2),
    "prestige": Tier(10000, 8000, 1, 2),
}
"""Kalshi's tiers (§5.4): Basic 200/100 tokens/s with 2 s read / 1 s write capacity, and the rest."""

TIER_NAMES = (*TIERS, "off")


class TokenBucket:
    """A continuously refilling bucket of integer-ish tokens (exact Decimal arithmetic).

    Args:
        rate: tokens added per second.
        capacity: maximum tokens held (the bucket starts full).
        now_ns: monotonic time source in ns (default :func:`time.monotonic_ns`).

    """

    def __init__(self, rate: int, capacity: int, now_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self.rate = Decimal(rate)
        self.capacity = Decimal(capacity)
        self._now = now_ns
        self._tokens = self.capacity
        self._at = now_ns()

    @property
    def tokens(self) -> Decimal:
        """Tokens available now."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._now()
        elapsed = now - self._at
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + self.rate * Decimal(elapsed) / 1_000_000_000)
            self._at = now

    def take(self, cost: int) -> bool:
        """Remove ``cost`` tokens if available; return whether the request may proceed."""
        self._refill()
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False


class RateLimiter:
    """The Read and Write buckets of every key for one tier (or no limits for tier ``"off"``).

    Raises:
        ValueError: for an unknown tier name.

    """

    def __init__(self, tier: str = "basic", now_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self._now = now_ns
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self.tier_name = "off"
        self.tier: Tier | None = None
        self.set_tier(tier)

    def set_tier(self, tier: str) -> None:
        """Switch tier; existing buckets are dropped (they restart full).

        Raises:
            ValueError: for an unknown tier name.

        """
        if tier not in TIER_NAMES:
            raise ValueError(f"unknown rate-limit tier {tier!r}; choose one of {', '.join(TIER_NAMES)}")
        self.tier_name = tier
        self.tier = TIERS.get(tier)
        self._buckets.clear()

    def allow(self, who: str, kind: str, cost: int) -> bool:
        """Charge ``cost`` tokens to ``who``'s ``kind`` (``"read"``/``"write"``) bucket; False = 429."""
        if self.tier is None:
            return True
        bucket = self._buckets.get((who, kind))
        if bucket is None:
            if kind == "write":
                bucket = TokenBucket(self.tier.write_rate, self.tier.write_rate * self.tier.write_capacity_s, self._now)
            else:
                bucket = TokenBucket(self.tier.read_rate, self.tier.read_rate * self.tier.read_capacity_s, self._now)
            self._buckets[(who, kind)] = bucket
        return bucket.take(cost)

    def limits_json(self) -> dict[str, object]:
        """``GET /account/limits`` body: ``{usage_tier, read:{refill_rate, bucket_capacity}, write:{...}}``."""
        if self.tier is None:
            # No limit: report a budget no client can reach, so clients that pace themselves never wait.
            unlimited = {"refill_rate": UNLIMITED_TOKENS_PER_S, "bucket_capacity": UNLIMITED_TOKENS_PER_S}
            return {"usage_tier": "off", "read": unlimited, "write": dict(unlimited), "grants": []}
        t = self.tier
        return {
            "usage_tier": self.tier_name,
            "read": {"refill_rate": t.read_rate, "bucket_capacity": t.read_rate * t.read_capacity_s},
            "write": {"refill_rate": t.write_rate, "bucket_capacity": t.write_rate * t.write_capacity_s},
            "grants": [],
        }


UNLIMITED_TOKENS_PER_S = 1_000_000
"""What ``GET /account/limits`` reports for both buckets with ``--rate-limit-tier off`` (100,000 requests/s)."""


def classify(method: str, api_path: str, batch_items: int = 0) -> tuple[str, int]:
    """Return ``(bucket kind, cost in tokens)`` of a request.

    ``api_path`` is the path after ``/trade-api/v2``; ``batch_items`` the number of orders in a batch body.
    """
    order_paths = api_path.startswith(("/portfolio/orders", "/portfolio/events/orders"))
    group_paths = api_path.startswith("/portfolio/order_groups")
    if method == "GET":
        if (
            api_path.startswith("/portfolio/orders/")
            and api_path.count("/") == 3
            and not api_path.endswith("/queue_positions")
        ):
            return "read", GET_ORDER_COST
        return "read", DEFAULT_COST
    if order_paths:
        if api_path.endswith("/batched"):
            per = CANCEL_COST if method == "DELETE" else DEFAULT_COST
            return "write", per * max(1, batch_items)
        if method == "DELETE":
            return "write", CANCEL_COST
        return "write", DEFAULT_COST
    if group_paths:
        return "write", DEFAULT_COST
    return "read", DEFAULT_COST
