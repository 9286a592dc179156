"""A cancellation that arrives together with a wake-up ends the epoch's lease loop and the hub's waits.

On Python 3.11 ``asyncio.wait_for`` swallows a cancellation that lands in the same event-loop iteration as its inner
result (CPython gh-86296). The epoch's lease loop waited that way for :meth:`EpochLease.beat_soon` (called after
every order write): an order written as the epoch ended left the loop renewing forever and the epoch activity never
returned (``bench_market_data`` hung with the learned policy). These tests make exactly that coincidence.
"""

from __future__ import annotations

import asyncio

import pytest

from kalshi.ingest import UpdateStream, wait_event
from trading.fencing import EpochLease


def _lease() -> EpochLease:
    return EpochLease(heartbeat_timeout_s=10, details=dict, renew=None)


async def test_a_cancel_with_a_wake_up_ends_the_lease_loop() -> None:
    lease = _lease()
    task = asyncio.ensure_future(lease.run())
    await asyncio.sleep(0.01)  # the loop waits for a wake-up
    lease.beat_soon()  # an order was written ...
    task.cancel()  # ... as the epoch ends
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done, "the lease loop kept running after its cancellation"
    assert task.cancelled()


async def test_stop_ends_the_lease_loop_even_without_the_cancellation() -> None:
    lease = _lease()
    task = asyncio.ensure_future(lease.run())
    await asyncio.sleep(0.01)
    lease.stop()
    await asyncio.wait_for(task, timeout=2)
    assert task.done() and not task.cancelled()


async def test_wait_event_never_swallows_a_cancellation() -> None:
    event = asyncio.Event()
    assert not await wait_event(event, 0.01)  # timed out: False
    task = asyncio.ensure_future(wait_event(event, 10))
    await asyncio.sleep(0.01)
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_event(event, 10)  # already set: True at once


async def test_the_update_stream_wait_propagates_a_cancellation() -> None:
    stream = UpdateStream()
    task = asyncio.ensure_future(stream.next(10))
    await asyncio.sleep(0.01)
    stream.mark("T", 0.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await stream.next(0) == {"T": 0.0}  # the update is still there for the next taker
