"""Token-bucket refill math with an injected clock (no wall-clock sleeps; kalshi-api.md §5.4)."""

from __future__ import annotations

import asyncio

import pytest

from kalshi.ratelimit import (
    DEFAULT_COST,
    TIER_LIMITS,
    BucketLimits,
    RateLimiter,
    RateLimitTier,
    TokenBucket,
)


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # let other waiters run, as a real sleep would


def test_tier_table() -> None:
    assert TIER_LIMITS[RateLimitTier.BASIC] == (BucketLimits(200, 400), BucketLimits(100, 100))
    assert TIER_LIMITS[RateLimitTier.ADVANCED] == (BucketLimits(300, 600), BucketLimits(300, 600))
    assert TIER_LIMITS[RateLimitTier.EXPERT] == (BucketLimits(600, 600), BucketLimits(600, 1200))
    assert TIER_LIMITS[RateLimitTier.PREMIER] == (BucketLimits(1000, 1000), BucketLimits(1000, 2000))
    assert TIER_LIMITS[RateLimitTier.PARAGON] == (BucketLimits(2000, 2000), BucketLimits(2000, 4000))
    assert TIER_LIMITS[RateLimitTier.PRIME] == (BucketLimits(4000, 4000), BucketLimits(4000, 8000))
    assert TIER_LIMITS[RateLimitTier.PRESTIGE] == (BucketLimits(10000, 10000), BucketLimits(8000, 16000))
    assert set(TIER_LIMITS) == set(RateLimitTier)


def test_try_acquire_and_refill() -> None:
    t = FakeTime()
    bucket = TokenBucket(100, 100, clock=t.clock, sleep=t.sleep)
    for _ in range(10):
        assert bucket.try_acquire(10) == 0.0
    assert bucket.tokens == 0
    assert bucket.try_acquire(10) == pytest.approx(0.1)  # 10 tokens at 100/s
    t.now += 0.05
    assert bucket.tokens == pytest.approx(5)
    t.now += 10  # refill is capped at capacity
    assert bucket.tokens == 100


async def test_acquire_waits_exactly_the_deficit() -> None:
    t = FakeTime()
    limiter = RateLimiter.for_tier("basic", clock=t.clock, sleep=t.sleep)
    # Basic write: 100 tokens/s, capacity 100 -> ten default-cost orders at once, then 10 per second.
    for _ in range(10):
        assert await limiter.acquire("write") == 0.0
    waited = await limiter.acquire("write", DEFAULT_COST)
    assert waited == pytest.approx(0.1)
    assert sum(t.sleeps) == pytest.approx(0.1)
    # A cancel costs 2: 0.02 s at 100/s.
    assert await limiter.acquire("write", 2) == pytest.approx(0.02)
    # The read bucket is independent and starts full (400).
    for _ in range(40):
        assert await limiter.acquire("read") == 0.0


async def test_concurrent_waiters_are_served_in_order() -> None:
    t = FakeTime()
    bucket = TokenBucket(10, 10, clock=t.clock, sleep=t.sleep)
    assert bucket.try_acquire(10) == 0.0
    order: list[int] = []

    async def take(i: int, cost: int) -> None:
        await bucket.acquire(cost)
        order.append(i)

    await asyncio.gather(take(1, 10), take(2, 1), take(3, 5))
    assert order == [1, 2, 3]  # the big first request is not starved by the small ones
    assert t.now - 1000.0 == pytest.approx(1.6)  # 16 tokens at 10/s
    assert bucket.tokens == pytest.approx(0)


async def test_batch_must_fit_capacity() -> None:
    t = FakeTime()
    limiter = RateLimiter.for_tier(RateLimitTier.BASIC, clock=t.clock, sleep=t.sleep)
    with pytest.raises(ValueError, match="exceeds bucket capacity"):
        await limiter.acquire("write", 20 * 10 + 1)  # 21 batch-create items at 10 tokens > 100
    assert t.sleeps == []
    assert await limiter.acquire("write", 20 * 2) == 0.0  # a 20-item batch cancel fits
    with pytest.raises(ValueError):
        await limiter.acquire("write", -1)
    with pytest.raises(ValueError):
        await limiter.acquire("bogus", 1)  # type: ignore[arg-type]


def test_constructor_validation() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 10)
    with pytest.raises(ValueError):
        TokenBucket(10, 0)
    with pytest.raises(ValueError, match="unknown Kalshi rate-limit tier"):
        RateLimiter.for_tier("platinum")
    assert RateLimiter.for_tier("PREMIER").write.capacity == 2000
