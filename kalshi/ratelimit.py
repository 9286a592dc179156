"""Client-side token buckets mirroring Kalshi's rate limits (kalshi-api.md §5.4).

Kalshi meters every request in **tokens** against two per-key buckets, **read** and **write** (write
covers order create/amend/cancel/decrease, order groups, RFQ quotes; read covers everything else). Most
requests cost 10 tokens; a single cancel and ``GET /portfolio/orders/{id}`` cost 2; a batch costs the
sum of its items (10 per created order, 2 per cancelled order) and must fit in the bucket at once.
Buckets refill continuously; there are no windows and no penalty box.

Pacing ourselves below the exchange's limit avoids 429s (which Kalshi answers without a Retry-After).
The limiter only ever waits; it never fails a request, except one that can never fit (cost > capacity).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = [
    "BATCH_CANCEL_ITEM_COST",
    "BATCH_CREATE_ITEM_COST",
    "CANCEL_ORDER_COST",
    "DEFAULT_COST",
    "GET_ORDER_COST",
    "TIER_LIMITS",
    "Bucket",
    "BucketLimits",
    "RateLimitTier",
    "RateLimiter",
    "TokenBucket",
]

Bucket = Literal["read", "write"]
"""Which of Kalshi's two buckets a request draws from."""

DEFAULT_COST = 10
"""Tokens for a request without a listed cost (kalshi-api.md §5.4)."""
CANCEL_ORDER_COST = 2
"""Tokens for a single-order cancel (V1 ``DELETE /portfolio/orders/{id}`` or the V2 equivalent)."""
GET_ORDER_COST = 2
"""Tokens for ``GET /portfolio/orders/{order_id}``."""
BATCH_CREATE_ITEM_COST = 10
"""Tokens per order in a batch create (batches save nothing)."""
BATCH_CANCEL_ITEM_COST = 2
"""Tokens per order in a batch cancel."""


class RateLimitTier(StrEnum):
    """Kalshi API usage tiers (kalshi-api.md §5.4; ``GET /account/limits`` reports yours)."""

    BASIC = "basic"
    ADVANCED = "advanced"
    EXPERT = "expert"
    PREMIER = "premier"
    PARAGON = "paragon"
    PRIME = "prime"
    PRESTIGE = "prestige"


@dataclass(frozen=True, slots=True)
class BucketLimits:
    """Refill rate and capacity of one bucket.

    Attributes:
        refill_per_s: tokens added per second (continuous).
        capacity: most tokens the bucket holds (the burst size).

    """

    refill_per_s: int
    capacity: int


def _tier(
    read_per_s: int, read_capacity_s: int, write_per_s: int, write_capacity_s: int
) -> tuple[BucketLimits, BucketLimits]:
    """Build a tier's (read, write) limits from budgets in tokens/s and capacities in seconds of budget."""
    return (
        BucketLimits(read_per_s, read_per_s * read_capacity_s),
        BucketLimits(write_per_s, write_per_s * write_capacity_s),
    )


TIER_LIMITS: dict[RateLimitTier, tuple[BucketLimits, BucketLimits]] = {
    # Capacity: 2 s of budget for Basic/Advanced read and for write above Basic; 1 s for Basic write
    # and for read above Advanced (kalshi-api.md §5.4).
    RateLimitTier.BASIC: _tier(200, 2, 100, 1),
    RateLimitTier.ADVANCED: _tier(300, 2, 300, 2),
    RateLimitTier.EXPERT: _tier(600, 1, 600, 2),
    RateLimitTier.PREMIER: _tier(1000, 1, 1000, 2),
    RateLimitTier.PARAGON: _tier(2000, 1, 2000, 2),
    RateLimitTier.PRIME: _tier(4000, 1, 4000, 2),
    RateLimitTier.PRESTIGE: _tier(10000, 1, 8000, 2),
}
"""(read, write) bucket limits per tier, in tokens/second and tokens."""

_EPSILON = 1e-9
"""Tolerance for float refill arithmetic, in tokens (so a wait of exactly the computed time suffices)."""

Clock = Callable[[], float]
"""Monotonic clock in seconds."""
Sleep = Callable[[float], Awaitable[object]]
"""Awaitable sleep taking seconds."""


class TokenBucket:
    """One continuously refilling token bucket; starts full.

    Concurrent :meth:`acquire` calls are served first come, first served (an asyncio lock is held while
    waiting), so a large request is not starved by a stream of small ones.

    Args:
        refill_per_s: tokens added per second (> 0).
        capacity: maximum tokens held (> 0).
        clock: monotonic time source in seconds; defaults to :func:`time.monotonic`.
        sleep: awaitable sleep in seconds; defaults to :func:`asyncio.sleep`.

    Raises:
        ValueError: non-positive rate or capacity.

    """

    def __init__(
        self,
        refill_per_s: float,
        capacity: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if refill_per_s <= 0 or capacity <= 0:
            raise ValueError(f"refill_per_s and capacity must be > 0, got {refill_per_s}, {capacity}")
        self.refill_per_s = float(refill_per_s)
        self.capacity = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(capacity)
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        """Add the tokens earned since the last update, up to capacity."""
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.refill_per_s)
        self._updated = now

    @property
    def tokens(self) -> float:
        """Tokens available now (after refill)."""
        self._refill()
        return self._tokens

    def _check_cost(self, cost: float) -> None:
        """Raise ValueError for a negative cost or one that can never fit."""
        if cost < 0:
            raise ValueError(f"cost must be >= 0 tokens, got {cost}")
        if cost > self.capacity:
            raise ValueError(f"cost {cost} tokens exceeds bucket capacity {self.capacity:g}; it can never be served")

    def try_acquire(self, cost: float) -> float:
        """Take ``cost`` tokens if available now.

        Args:
            cost: tokens needed (0 <= cost <= capacity).

        Returns:
            ``0.0`` when the tokens were taken; otherwise the seconds to wait until they will be
            available (nothing is taken).

        Raises:
            ValueError: ``cost`` negative or larger than the capacity.

        """
        self._check_cost(cost)
        self._refill()
        if self._tokens + _EPSILON >= cost:
            self._tokens = max(0.0, self._tokens - cost)
            return 0.0
        return (cost - self._tokens) / self.refill_per_s

    async def acquire(self, cost: float) -> float:
        """Wait until ``cost`` tokens are available, then take them.

        Args:
            cost: tokens needed (0 <= cost <= capacity).

        Returns:
            Total seconds spent sleeping (0.0 when served at once).

        Raises:
            ValueError: ``cost`` negative or larger than the capacity (raised before any waiting).

        """
        self._check_cost(cost)
        waited = 0.0
        async with self._lock:
            while True:
                wait_s = self.try_acquire(cost)
                if wait_s <= 0:
                    return waited
                await self._sleep(wait_s)
                waited += wait_s


class RateLimiter:
    """Kalshi's two buckets, read and write (kalshi-api.md §5.4).

    Args:
        read: limits of the read bucket.
        write: limits of the write bucket.
        clock: monotonic time source in seconds (inject a fake in tests).
        sleep: awaitable sleep in seconds (inject a fake in tests).

    """

    def __init__(
        self,
        read: BucketLimits,
        write: BucketLimits,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.read = TokenBucket(read.refill_per_s, read.capacity, clock=clock, sleep=sleep)
        self.write = TokenBucket(write.refill_per_s, write.capacity, clock=clock, sleep=sleep)

    @classmethod
    def for_tier(
        cls,
        tier: RateLimitTier | str = RateLimitTier.BASIC,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> RateLimiter:
        """Build the limiter for a Kalshi usage tier (default Basic: read 200/s cap 400, write 100/s cap 100).

        Raises:
            ValueError: an unknown tier name.

        """
        try:
            key = RateLimitTier(tier.lower() if isinstance(tier, str) else tier)
        except ValueError:
            raise ValueError(
                f"unknown Kalshi rate-limit tier {tier!r}: expected one of {', '.join(t.value for t in RateLimitTier)}"
            ) from None
        read, write = TIER_LIMITS[key]
        return cls(read, write, clock=clock, sleep=sleep)

    def bucket(self, name: Bucket) -> TokenBucket:
        """Return the ``"read"`` or ``"write"`` bucket; ValueError for anything else."""
        if name == "read":
            return self.read
        if name == "write":
            return self.write
        raise ValueError(f"unknown bucket {name!r}: expected 'read' or 'write'")

    async def acquire(self, bucket: Bucket, cost: float = DEFAULT_COST) -> float:
        """Wait until ``cost`` tokens are available in ``bucket`` and take them.

        Args:
            bucket: ``"read"`` or ``"write"``.
            cost: tokens (default 10; see the module constants for listed costs).

        Returns:
            Seconds spent waiting.

        Raises:
            ValueError: unknown bucket, negative cost, or cost larger than the bucket's capacity.

        """
        return await self.bucket(bucket).acquire(cost)
