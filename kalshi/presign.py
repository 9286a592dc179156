"""Kalshi auth headers signed ahead of time, off the order path (kalshi-api.md §2).

Kalshi signs ``timestamp_ms + METHOD + path``, never the body, so the headers of a request whose method and path are
known in advance (``POST /trade-api/v2/portfolio/events/orders``: every new order; ``DELETE`` of a known resting
order) can be signed before the order exists. An RSA-PSS signature with a 2048-bit key costs ~0.35 ms of CPU on the
development machine (1 ms under load): a third of the decision latency budget. :class:`PresignPool` keeps a few
signed headers per wanted request, signs them in idle time (:meth:`PresignPool.refill`, which the REST transport
runs from the event loop between requests and on a timer), and hands each out at most once (:meth:`PresignPool.take`).

Freshness: an entry older than ``max_age_s`` is never sent: :meth:`PresignPool.take` discards it (``stale``), and
the refill re-signs entries once they are 3/4 that old, so a taken entry is normally younger than 0.75 s. The age is
checked on the monotonic clock AND against the wall clock (a stepped system clock makes the signed timestamp wrong
even when the monotonic age is small). The default 1 s is far inside any plausible exchange tolerance: Kalshi does
not document its tolerance (kalshi-api.md §2, "[unverified]"); the usual practice and the reference's advice for the
simulator are +/- 5-30 s (our simulator accepts 30 s); a pre-signed timestamp is at most 1 s in the past, which is
also what a request delayed 1 s in a client or proxy queue would look like. With no fresh entry the caller signs
inline, exactly as without a pool. ``KALSHI_PRESIGN_MAX_AGE_MS=0`` turns it off.

The pool holds only what the signer would produce anyway (key id, timestamp, signature of one method and path): no
private material; ``repr`` shows counts only.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from kalshi.signer import HEADER_TIMESTAMP, RequestSigner, signing_path

__all__ = ["DEFAULT_MAX_AGE_S", "PresignPool", "PresignStats"]

DEFAULT_MAX_AGE_S = 1.0
"""The default bound on a pre-signed header's age, seconds (see the module docstring for why 1 s)."""

_Key = tuple[str, str]


@dataclass
class PresignStats:
    """What the pool did (counters since it was built).

    Attributes:
        signed: headers signed ahead of time.
        taken: requests sent with a pre-signed header.
        missed: requests to a wanted (method, path) that found no fresh entry (signed inline).
        stale: entries discarded at :meth:`PresignPool.take` because they were older than the bound (never sent).
        refreshed: entries replaced by :meth:`PresignPool.refill` because they passed ``refresh_at`` of the bound.
    """

    signed: int = 0
    taken: int = 0
    missed: int = 0
    stale: int = 0
    refreshed: int = 0


class PresignPool:
    """Pre-signed Kalshi auth headers for known (method, path) pairs, each used at most once (module docstring).

    Not thread-safe: one event loop uses it (the REST transport's).

    Args:
        signer: the request signer (the same key the requests are signed with inline).
        max_age_s: never hand out an entry older than this, seconds (> 0).
        depth: entries kept per wanted request (the orders that can go out back to back without a refill; each
            costs a signature per ``refresh_at * max_age_s`` while held: 1 by default, enough for one market's
            orders, which the throttle spaces by 250 ms).
        max_keys: most wanted requests kept (least recently wanted dropped first), beside the permanent ones.
        idle_s: a permanent request neither wanted again nor taken for this long is dropped (a worker that stopped
            trading stops signing; the next :meth:`want` brings it back).
        idle_other_s: the same for the other requests (a resting order's cancel: the order may be gone already).
        refresh_at: re-sign an entry once it is this fraction of ``max_age_s`` old (0 < refresh_at < 1): the
            entries handed out are at most that old while the event loop keeps up; each costs one signature per
            ``refresh_at * max_age_s`` seconds (~1.3 per second per entry at the defaults).
        wall_ms: the wall clock, Unix ms (the signed timestamp; injectable for tests).
        monotonic: a monotonic clock, seconds (injectable for tests).

    Raises:
        ValueError: ``max_age_s <= 0``, ``depth < 1`` or ``max_keys < 1``.
    """

    def __init__(
        self,
        signer: RequestSigner,
        *,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        depth: int = 1,
        max_keys: int = 2,
        idle_s: float = 300.0,
        idle_other_s: float = 10.0,
        refresh_at: float = 0.75,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        if depth < 1 or max_keys < 1:
            raise ValueError(f"depth and max_keys must be >= 1, got {depth} and {max_keys}")
        if not 0 < refresh_at < 1:
            raise ValueError(f"refresh_at must be between 0 and 1, got {refresh_at}")
        self.signer = signer
        self.max_age_s = float(max_age_s)
        self.depth = depth
        self.max_keys = max_keys
        self.idle_s = idle_s
        self.idle_other_s = idle_other_s
        self.refresh_at = refresh_at
        self._wall_ms = wall_ms
        self._monotonic = monotonic
        self._permanent: set[_Key] = set()
        self._wanted: OrderedDict[_Key, int] = OrderedDict()
        self._entries: dict[_Key, deque[tuple[float, int, dict[str, str]]]] = {}
        self._used: dict[_Key, float] = {}
        self.stats = PresignStats()

    def __repr__(self) -> str:
        held = sum(len(q) for q in self._entries.values())
        return f"PresignPool(max_age_s={self.max_age_s}, wanted={len(self._wanted)}, held={held}, {self.stats})"

    @staticmethod
    def _key(method: str, path: str) -> _Key:
        return method.strip().upper(), signing_path(path)

    def want(self, method: str, path: str, *, depth: int | None = None, permanent: bool = False) -> None:
        """Keep ``depth`` (default: the pool's) fresh headers for ``method path`` from the next :meth:`refill` on.

        ``permanent`` requests (the order-creation POST) are never dropped; others (a resting order's DELETE) are
        dropped least-recently-wanted first beyond ``max_keys``, and by :meth:`forget`.

        Raises:
            ValueError: a path that is not absolute.
        """
        key = self._key(method, path)
        self._wanted[key] = depth or self.depth
        self._wanted.move_to_end(key)
        self._used[key] = self._monotonic()
        if permanent:
            self._permanent.add(key)
        others = [k for k in self._wanted if k not in self._permanent]
        for old in others[: max(0, len(others) - self.max_keys)]:
            self.forget(*old)

    def forget(self, method: str, path: str) -> None:
        """Stop keeping headers for ``method path`` and drop the ones held (e.g. the order is gone)."""
        key = self._key(method, path)
        self._wanted.pop(key, None)
        self._permanent.discard(key)
        self._entries.pop(key, None)
        self._used.pop(key, None)

    def wants(self, method: str, path: str) -> bool:
        """Whether ``method path`` is one of the pool's wanted requests."""
        return self._key(method, path) in self._wanted

    def _fresh(self, signed_at: float, timestamp_ms: int, now: float, wall_ms: int, bound_s: float) -> bool:
        return now - signed_at <= bound_s and abs(wall_ms - timestamp_ms) <= bound_s * 1000

    def take(self, method: str, path: str) -> dict[str, str] | None:
        """A fresh pre-signed header set for ``method path`` (removed from the pool: used once), or None.

        Entries older than ``max_age_s`` (monotonic age, or a wall clock that moved by more) are discarded, never
        returned. None when the request is not wanted or no fresh entry is left: the caller signs inline.
        """
        key = self._key(method, path)
        queue = self._entries.get(key)
        now, wall = self._monotonic(), self._wall_ms()
        while queue:
            signed_at, timestamp_ms, headers = queue.popleft()  # oldest first: the rest stay fresh longer
            if self._fresh(signed_at, timestamp_ms, now, wall, self.max_age_s):
                self.stats.taken += 1
                self._used[key] = now
                return headers
            self.stats.stale += 1
        if key in self._wanted:
            self.stats.missed += 1
            self._used[key] = now
        return None

    def refill(self, *, budget: int = 1) -> int:
        """Sign up to ``budget`` headers: replace entries past ``refresh_at`` of their bound, then fill each depth.

        Requests idle for longer than ``idle_s`` (``idle_other_s``) are dropped first.

        Returns:
            How many headers were signed (0: every wanted request holds its depth of entries younger than
            ``refresh_at * max_age_s``).
        """
        signed = 0
        now, wall = self._monotonic(), self._wall_ms()
        bound = self.max_age_s * self.refresh_at
        idle = [
            k
            for k, used in self._used.items()
            if now - used > (self.idle_s if k in self._permanent else self.idle_other_s)
        ]
        for key in idle:
            self.forget(*key)
        for key, depth in list(self._wanted.items()):
            queue = self._entries.setdefault(key, deque())
            while queue and not self._fresh(queue[0][0], queue[0][1], now, wall, bound):
                queue.popleft()
                self.stats.refreshed += 1
            while len(queue) < depth and signed < budget:
                queue.append(self._sign(key))
                signed += 1
            if signed >= budget:
                break
        self.stats.signed += signed
        return signed

    def next_refresh_in(self) -> float | None:
        """Seconds until the oldest held entry passes ``refresh_at`` of its bound (:meth:`refill` has work), or None.

        0 when a wanted request holds fewer entries than its depth.
        """
        oldest: float | None = None
        for key, depth in self._wanted.items():
            queue = self._entries.get(key)
            if not queue or len(queue) < depth:
                return 0.0
            signed_at = queue[0][0]
            oldest = signed_at if oldest is None else min(oldest, signed_at)
        if oldest is None:
            return None
        return max(0.0, oldest + self.max_age_s * self.refresh_at - self._monotonic())

    def _sign(self, key: _Key) -> tuple[float, int, dict[str, str]]:
        method, path = key
        timestamp_ms = self._wall_ms()
        signed_at = self._monotonic()
        headers = self.signer.headers(method, path, timestamp_ms)
        assert headers[HEADER_TIMESTAMP] == str(timestamp_ms)
        return signed_at, timestamp_ms, headers
