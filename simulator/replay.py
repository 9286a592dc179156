"""Tape replay: applies recorded frames and scheduled exchange actions in exchange-time order.

The :class:`ReplayEngine` is the exchange's scheduler (:class:`simulator.ledger.Scheduler`): a heap
of ``(tape ms, priority, arrival)`` actions holding lifecycle transitions, order expiries and, per
market, the next batch of tape frames. :meth:`ReplayEngine.advance_to` runs every action due by a tape
time; :meth:`ReplayEngine.sync` does that for the clock's current time without blocking the event loop
for long; :meth:`ReplayEngine.run` is the background task that keeps the exchange current while the
clock runs.

Frame order (docs/simulator.md "Replay"): a market's frames are applied in **file order**; a frame's
replay time is its own time (``msg.ts_ms``, or ``recv_ms`` for snapshots) but never earlier than any
frame before it in the file (a running maximum), because a few frames are slightly out of exchange-time
order and a snapshot must not be overtaken by the deltas that follow it. Consecutive frames with the
same replay time form a batch; inside a batch ``trade`` frames are applied before book frames, so that a
trade reduces the queue ahead of an account order before the delta that removes the traded size (the
tape writes the delta first). The folded book at any batch boundary is exactly the straightforward fold
of the file.

Files are opened lazily: a market's tape is opened 60 s (tape) before its ``open_time`` (or at start
if that is later) and closed when exhausted.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from simulator.clock import ExchangeClock
from simulator.exchange import Exchange
from simulator.ledger import PRIORITY_OPEN, PRIORITY_TAPE
from simulator.market import MarketState
from simulator.tape import DELTA, SNAPSHOT, TRADE, TapeFrame

log = logging.getLogger(__name__)

TAPE_OPEN_LEAD_MS = 60_000


class TapeCursor:
    """Reads one market's frames lazily and hands them out in same-time batches (module docstring)."""

    def __init__(self, ticker: str, frames: Iterator[TapeFrame]) -> None:
        self.ticker = ticker
        self._frames = frames
        self._peek: TapeFrame | None = None
        self._cummax = 0
        self.exhausted = False

    def _next(self) -> TapeFrame | None:
        if self._peek is not None:
            peeked, self._peek = self._peek, None
            return peeked
        if self.exhausted:
            return None
        frame = next(self._frames, None)
        if frame is None:
            self.close()
        return frame

    def next_batch(self) -> tuple[int, list[TapeFrame]] | None:
        """Return ``(replay time ms, frames)`` of the next batch, or None at the end of the tape."""
        first = self._next()
        if first is None:
            return None
        when = max(self._cummax, first.time_ms)
        self._cummax = when
        batch = [first]
        while True:
            frame = self._next()
            if frame is None:
                break
            if max(self._cummax, frame.time_ms) != when:
                self._peek = frame
                break
            batch.append(frame)
        return when, batch

    def close(self) -> None:
        """Close the underlying file(s) (idempotent)."""
        if not self.exhausted:
            self.exhausted = True
            close = getattr(self._frames, "close", None)
            if close is not None:
                close()


@dataclass
class ReplayStats:
    """Counters for ``GET /sim/v1/health`` and benchmarks: frames applied and the wall time spent."""

    frames: int = 0
    batches: int = 0
    actions: int = 0
    busy_ns: int = 0
    open_tapes: int = 0


class ReplayEngine:
    """Drives an :class:`Exchange` from its tapes and its scheduled actions on an :class:`ExchangeClock`.

    Args:
        exchange: the exchange; the engine installs itself as its scheduler.
        clock: the exchange clock.
        chunk: actions processed between yields to the event loop in :meth:`sync`.

    """

    def __init__(self, exchange: Exchange, clock: ExchangeClock, *, chunk: int = 2_000) -> None:
        self.exchange = exchange
        self.clock = clock
        self.chunk = chunk
        self.stats = ReplayStats()
        self._heap: list[tuple[int, int, int, Callable[[], None]]] = []
        self._arrival = itertools.count()
        self._cursors: dict[str, TapeCursor] = {}
        self._lock: asyncio.Lock | None = None
        self._wake: asyncio.Event | None = None
        exchange.scheduler = self
        clock.on_change(self._on_clock_change)

    # -- scheduling ------------------------------------------------------------------------------
    def schedule(self, time_ms: int, priority: int, action: Callable[[], None]) -> None:
        """Run ``action`` when replay reaches ``time_ms`` (tape); ties by ``priority`` then arrival."""
        heapq.heappush(self._heap, (time_ms, priority, next(self._arrival), action))

    def start(self) -> None:
        """Initialise lifecycles and tape openings for the start time, and fold the tapes up to it.

        Markets whose tapes end before the start are skipped.
        """
        start = self.exchange.now_ms
        self.exchange.init_lifecycle()
        for state in self.exchange.markets.values():
            definition = state.definition
            if definition.tape is None:
                state.tape_state = "none"
                continue
            if definition.close_ms + TAPE_OPEN_LEAD_MS < start:
                state.tape_state = "skipped"
                continue
            self.schedule(definition.open_ms - TAPE_OPEN_LEAD_MS, PRIORITY_OPEN, self._tape_opener(state.ticker))
        if self._heap and self._heap[0][0] < start:
            self.exchange.now_ms = self._heap[0][0]  # the initial fold keeps the frames' own times
        self.advance_to(start)

    def _tape_opener(self, ticker: str) -> Callable[[], None]:
        return lambda: self._open_tape(ticker)

    def _open_tape(self, ticker: str) -> None:
        state = self.exchange.markets[ticker]
        source = state.definition.tape
        if source is None or ticker in self._cursors or state.tape_stopped:
            return
        cursor = TapeCursor(ticker, source.frames())
        self._cursors[ticker] = cursor
        state.tape_state = "open"
        self.stats.open_tapes += 1
        self._schedule_next(state, cursor)

    def _schedule_next(self, state: MarketState, cursor: TapeCursor) -> None:
        batch = cursor.next_batch()
        if batch is None:
            self._close_tape(state, "done")
            return
        when, frames = batch
        self.schedule(when, PRIORITY_TAPE, lambda: self._apply(state, cursor, frames))

    def _close_tape(self, state: MarketState, why: str) -> None:
        cursor = self._cursors.pop(state.ticker, None)
        if cursor is not None:
            cursor.close()
            self.stats.open_tapes -= 1
        state.tape_state = why

    def _apply(self, state: MarketState, cursor: TapeCursor, frames: list[TapeFrame]) -> None:
        if state.tape_stopped:
            self._close_tape(state, "stopped")
            return
        exchange = self.exchange
        ticker = state.ticker
        for frame in frames:
            if frame.type == TRADE:
                exchange.tape_trade(ticker, frame.msg)
        for frame in frames:
            if frame.type == DELTA:
                exchange.tape_delta(ticker, frame.msg)
            elif frame.type == SNAPSHOT:
                exchange.tape_snapshot(ticker, frame.msg)
        state.frames_applied += len(frames)
        state.last_frame_ms = frames[-1].time_ms
        self.stats.frames += len(frames)
        self.stats.batches += 1
        self._schedule_next(state, cursor)

    def close(self) -> None:
        """Close every open tape file (on server stop)."""
        for state_ticker in list(self._cursors):
            self._close_tape(self.exchange.markets[state_ticker], "stopped")

    # -- advancing -------------------------------------------------------------------------------
    def next_due_ms(self) -> int | None:
        """Tape time of the next scheduled action, or None if nothing is scheduled."""
        return self._heap[0][0] if self._heap else None

    def advance_to(self, target_ms: int, max_actions: int | None = None) -> bool:
        """Run every action due at or before ``target_ms`` (tape).

        Returns False if ``max_actions`` stopped it early (call again to continue), True when the exchange
        is at ``target_ms``.
        """
        began = time.perf_counter_ns()
        done = 0
        exchange = self.exchange
        try:
            while self._heap and self._heap[0][0] <= target_ms:
                if max_actions is not None and done >= max_actions:
                    return False
                when, _, _, action = heapq.heappop(self._heap)
                if when > exchange.now_ms:
                    exchange.now_ms = when
                try:
                    action()
                except Exception:
                    log.exception("replay action at %d failed", when)
                done += 1
            if target_ms > exchange.now_ms:
                exchange.now_ms = target_ms
            return True
        finally:
            self.stats.actions += done
            self.stats.busy_ns += time.perf_counter_ns() - began

    async def sync(self) -> None:
        """Bring the exchange to the clock's current tape time.

        Yields to the event loop every ``chunk`` actions; concurrent callers wait for each other.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            target = self.clock.now_ms()
            done = self.advance_to(target, self.chunk)
            while not done:
                await asyncio.sleep(0)  # let other requests run between chunks
                done = self.advance_to(target, self.chunk)

    def _on_clock_change(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def run(self, max_sleep_s: float = 0.01) -> None:
        """Background task: keep the exchange at the clock's time while the clock runs.

        It sleeps until the next scheduled action is due (at most ``max_sleep_s`` wall seconds), and
        waits for a clock change while paused. Cancel the task to stop it.
        """
        self._wake = asyncio.Event()
        while True:
            if self.clock.paused:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self.sync()
            due = self.next_due_ms()
            delay = max_sleep_s
            if due is not None:
                wall = self.clock.wall_delay_s(due - self.clock.now_ms())
                if wall is not None:
                    delay = min(max_sleep_s, max(0.001, float(wall)))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
