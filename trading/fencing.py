"""Fencing: at most one trading epoch per Kalshi account writes orders at any moment.

(1) In one process, :class:`EpochFence` makes a new epoch cancel and wait for any earlier epoch of the same
account before it reads the exchange, so an in-flight write of the old one lands first.
(2) Across processes and server incidents, every epoch holds an :class:`EpochLease`: it renews it by a heartbeat
RPC every fifth of the heartbeat timeout and right after every order write; each acknowledged renewal sent at
``t`` makes the lease valid until ``t + heartbeat_timeout / 2``. The server times an attempt out only
``heartbeat_timeout`` after the last heartbeat it recorded, so a zombie attempt (server restart, terminate,
network partition) stops writing orders at least half a heartbeat timeout before any retry can start; an
answer that the attempt is gone ends it at once (docs/architecture.md "Exactly-once").
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from kalshi.ingest import wait_event
from trading.attempt import Renewal

if TYPE_CHECKING:
    from trading.epoch import EpochCore

log = logging.getLogger(__name__)


class EpochLease:
    """Proof, renewed by heartbeat RPCs, that the Temporal server still runs this activity attempt.

    ``valid()`` is True while the last acknowledged renewal was SENT less than ``heartbeat_timeout / 2`` ago
    (monotonic clock) and the server has neither cancelled nor forgotten the attempt. The server only times the
    attempt out ``heartbeat_timeout`` after the last heartbeat it recorded, and it recorded that one after it was
    sent: so the lease always ends at least half a heartbeat timeout before a retry of this activity can be
    scheduled (temporal.md §3 "Timeouts").

    Without a server to renew with (``renew`` is None: an ``ActivityEnvironment`` in a benchmark) the lease is
    always valid and says so in the log; a worker always has one.

    Args:
        heartbeat_timeout_s: the activity's heartbeat timeout, seconds.
        details: called for the heartbeat details to send (the resume information).
        renew: one heartbeat RPC (:meth:`trading.attempt.Attempt.renew`), or None without a server.
    """

    def __init__(
        self,
        heartbeat_timeout_s: float,
        details: Callable[[], Any],
        renew: Callable[[Any], Awaitable[Renewal]] | None,
    ) -> None:
        self.lease_s = heartbeat_timeout_s / 2
        self.interval_s = max(0.05, heartbeat_timeout_s / 5)
        self.min_gap_s = self.interval_s / 2  # after order writes: at most one RPC per this many seconds
        self._details = details
        self._valid_until = -math.inf
        if renew is None:
            log.warning("no Temporal client in this activity context: the epoch lease is not enforced")
            self._valid_until = math.inf
        self._renew = renew
        self._wake = asyncio.Event()
        self.changed = asyncio.Event()
        self.lost: str | None = None
        self.cancel_requested = False
        self.beats = 0
        self.failures = 0
        self._stopped = False

    def valid(self) -> bool:
        """Whether this attempt may write an order now."""
        return self.lost is None and not self.cancel_requested and time.monotonic() < self._valid_until

    def remaining_s(self) -> float:
        """Seconds the lease has left (<= 0 when expired)."""
        return self._valid_until - time.monotonic()

    def beat_soon(self) -> None:
        """Renew now rather than at the next interval (after an order write)."""
        self._wake.set()

    async def beat(self) -> bool:
        """Send one renewal; True when the server acknowledged it (the lease is extended)."""
        if self._renew is None:
            return True
        sent = time.monotonic()
        try:
            renewal = await asyncio.wait_for(self._renew(self._details()), timeout=max(self.lease_s, 0.05))
        except TimeoutError as err:
            renewal = Renewal("failed", repr(err))
        if renewal.status in ("cancel_requested", "reset"):
            self.cancel_requested = True
            log.info("epoch lease: the server says %s", "reset" if renewal.status == "reset" else "cancel requested")
            self.changed.set()
            return False
        if renewal.status == "gone":
            self.failures += 1
            self.lost = "superseded"
            log.warning("epoch lease lost: the server no longer runs this attempt (%s)", renewal.detail)
            self.changed.set()
            return False
        if renewal.status == "failed":
            self.failures += 1
            log.debug("epoch heartbeat not acknowledged: %s", renewal.detail)
            return False
        self.beats += 1
        self._valid_until = max(self._valid_until, sent + self.lease_s)
        return True

    def stop(self) -> None:
        """End :meth:`run` at its next step (the epoch is over); the caller cancels its task as well."""
        self._stopped = True
        self._wake.set()

    async def run(self) -> None:
        """Renew every ``interval_s``, sooner after :meth:`beat_soon` (never twice within ``min_gap_s``).

        Ends on :meth:`stop`, a lost or cancelled attempt, or cancellation.

        The wake-up wait is :func:`kalshi.ingest.wait_event`, not ``asyncio.wait_for``: on Python 3.11 ``wait_for``
        swallows a cancellation that arrives in the same loop iteration as its inner result (an order write's
        :meth:`beat_soon` as the epoch ends), and this loop then renewed forever: an epoch activity that never
        returned (seen in ``bench_market_data``). :meth:`stop` ends the loop whatever happens to the cancellation.
        """
        while self.lost is None and not self.cancel_requested and not self._stopped:
            started = time.monotonic()
            await wait_event(self._wake, self.interval_s)
            self._wake.clear()
            if self._stopped:
                return
            gap = self.min_gap_s - (time.monotonic() - started)
            if gap > 0:
                await asyncio.sleep(gap)
            if self._stopped:
                return
            await self.beat()


class EpochFence:
    """At most one trading epoch per Kalshi account in this process (one registry entry per account).

    :meth:`acquire` supersedes the current holder: marks it, cancels its task and waits until that task has
    finished, so its in-flight order write (shielded from cancellation) has landed before the new epoch reads
    positions from the exchange.
    """

    _by_account: ClassVar[dict[str, EpochFence]] = {}

    def __init__(self) -> None:
        self._holder: tuple[asyncio.Task[Any], EpochCore] | None = None
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[EpochCore], None]] = []

    @property
    def holder(self) -> EpochCore | None:
        """The epoch placing orders for the account in this process now, or None (operators' and tests' view)."""
        holder = self._holder
        return holder[1] if holder is not None and not holder[0].done() else None

    @classmethod
    def for_account(cls, account: str) -> EpochFence:
        """The fence of ``account`` (``<REST base URL>|<API key id>``) in this process."""
        fence = cls._by_account.get(account)
        if fence is None:
            fence = cls._by_account[account] = cls()
        return fence

    def add_listener(self, callback: Callable[[EpochCore], None]) -> None:
        """Call ``callback(core)`` each time an epoch takes the fence, before it rebuilds or trades (synchronously).

        For a paced replay (:mod:`workers.pacer`), which must see every epoch of the account from its start.
        """
        self._listeners.append(callback)

    async def acquire(self, core: EpochCore) -> EpochCore | None:
        """Make ``core`` (running in the current task) the account's only epoch; return the one superseded."""
        task = asyncio.current_task()
        assert task is not None
        async with self._lock:
            holder = self._holder
            superseded = None
            if holder is not None and holder[0] is not task and not holder[0].done():
                superseded = holder[1]
                superseded.supersede(f"superseded by epoch {core.inp.epoch_id}")
                holder[0].cancel()
                await asyncio.wait({holder[0]})
            self._holder = (task, core)
            for callback in list(self._listeners):
                callback(core)
            return superseded

    def release(self, core: EpochCore) -> None:
        """Forget ``core`` if it is still the holder."""
        if self._holder is not None and self._holder[1] is core:
            self._holder = None
