"""WebSocket market-data ingestion in one process: the hub of live books and the ingestion loop.

Client-side, no Temporal: the ``ingest_market_data`` activity (:mod:`activities.market_data`) drives
:class:`IngestionLoop` with ``on_tick`` = its heartbeat, ``kalshi-trader record`` with a progress line. One
:class:`MarketDataHub` per worker process publishes the loop's WebSocket client and book feed to the actor loop
on the same process (:mod:`trading.drivers`): coalesced "book changed" notifications (:class:`UpdateStream`),
the private ``fill`` / ``market_positions`` / ``order_group_updates`` events, and lifecycle wake-ups.

The loop discovers the markets to hold (open markets of the configured series, markets with a position, extra
tickers), subscribes their order books and trades, and hands every frame to an optional recorder
(:class:`IngestRecorder`, implemented by :class:`recording.recorder.Recorder`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, Protocol

from kalshi.errors import KalshiAuthError, KalshiError
from kalshi.feed import MarketDataFeed
from kalshi.models import Market
from kalshi.models.ws import (
    Fill,
    MarketLifecycle,
    MarketPositionUpdate,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    Trade,
    UserOrderUpdate,
)
from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner
from kalshi.ws import KalshiWebSocketClient, Subscription
from kalshi.ws.events import Connected, ConnectionFailed, Disconnected, SubscriptionReset
from models.market_data import IngestInput, IngestSummary

log = logging.getLogger(__name__)


class IngestRecorder(Protocol):
    """What the ingestion loop records into (:class:`recording.recorder.Recorder`); every call must not block."""

    def record_frame(self, raw: bytes, event: Any, recv_ms: int, /) -> bool:
        """Persist one received frame (with its parsed event and receipt time, Unix ms)."""
        ...

    def record_fill(self, fill: Fill, /, *, recv_ms: int) -> bool:
        """Persist one of our fills as a row."""
        ...

    def record_position(self, position: MarketPositionUpdate, /, *, at_ms: int) -> bool:
        """Persist one position update as a row."""
        ...

    def record_market(self, market: Market, /, *, source_url: str) -> bool:
        """Persist a market definition (open/close times, result: what makes a recording a replayable tape)."""
        ...


PRIVATE_CHANNELS = ("fill", "market_positions", "order_group_updates", "user_orders")


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``event`` is set or ``timeout_s`` seconds passed; True when it is set.

    ``asyncio.wait`` over the event's waiter rather than ``asyncio.wait_for``: on Python 3.11 ``wait_for`` swallows
    a cancellation that arrives in the same loop iteration as the event (CPython gh-86296, fixed in 3.12), so a
    cancelled ingestion or epoch loop would carry on. Here a cancellation always propagates.
    """
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=max(timeout_s, 0.0))
    finally:
        waiter.cancel()
    return event.is_set()


class StreamHealth(NamedTuple):
    """The market-data streams of one process right now (what degraded mode's components are made of).

    Attributes:
        attached: an ingestion run holds the hub (a WebSocket client and a book feed exist).
        connected: the WebSocket is connected.
        fill: the ``fill`` channel is subscribed (fills of our orders arrive).
        positions: the ``market_positions`` channel is subscribed (position updates arrive).
    """

    attached: bool
    connected: bool
    fill: bool
    positions: bool


def _subscribed(client: KalshiWebSocketClient, channel: str) -> bool:
    return any(s.sid is not None for s in client.subscriptions if s.channel == channel)


class UpdateStream:
    """Coalesced "this market's book changed" notifications for one consumer.

    The hub marks tickers as their frames are applied; the consumer takes every pending ticker at once
    with the ``time.perf_counter()`` of its oldest unseen update (where decision latency starts). A
    burst of deltas for one market becomes one decision on its latest book: memory is bounded by the
    number of markets and the consumer never falls behind a stale queue.

    Attributes:
        marked: book updates marked so far.
        taken: tickers handed to the consumer so far (``marked - taken`` updates were coalesced into a later one).
        trades: public trades mark their market too (see :meth:`MarketDataHub.updates`).
    """

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self._pending: dict[str, float] = {}
        self._event = asyncio.Event()
        self._gate = gate
        self.marked = 0
        self.taken = 0
        self.trades = False

    def mark(self, ticker: str, received_at: float, *, count: bool = True) -> None:
        """Record an update of ``ticker`` received at ``received_at`` (perf_counter seconds).

        ``count=False`` re-marks a ticker the consumer took but put back (e.g. its order was still in flight), so
        the coalescing counters count each book update once.
        """
        if count:
            self.marked += 1
        elif ticker in self._pending:
            return
        else:
            self.taken -= 1
        if ticker not in self._pending:
            self._pending[ticker] = received_at
        self._event.set()

    async def next(self, timeout_s: float) -> dict[str, float]:
        """Every pending ticker with its first unseen receipt time; ``{}`` after ``timeout_s`` of quiet.

        While the hub's gate is closed (:meth:`MarketDataHub.hold_updates`, a paced replay delivering one
        millisecond's frames) nothing is taken: ``{}`` after ``timeout_s``, the updates stay pending.
        """
        if not self._pending:
            await wait_event(self._event, timeout_s)
        gate = self._gate
        if gate is not None and not gate.is_set():
            await wait_event(gate, timeout_s)
            if not gate.is_set():
                return {}
        self._event.clear()
        batch, self._pending = self._pending, {}
        self.taken += len(batch)
        return batch


class MarketDataHub:
    """The worker process's live market data: the WebSocket client, the book feed, update fan-out.

    Exactly one ingestion activity owns it at a time (:meth:`attach` / :meth:`detach`); actor-loop
    activities on the same worker read it.

    Args:
        queue: this process's worker-specific task queue name.

    Attributes:
        markets: the definitions of the markets the ingestion loop follows, by ticker (its discovery adds them and
            :meth:`release_markets` removes them).
        exchange_ms: the latest exchange time seen on a book delta or a trade (Unix ms, on the exchange's clock;
            never goes back), or None before the first: the actor loop's clock (a decision is made on a frame, so
            the frame's time is the freshest exchange time it can know, to the millisecond, at any replay speed).
    """

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.client: KalshiWebSocketClient | None = None
        self.feed: MarketDataFeed | None = None
        self.markets: dict[str, Market] = {}
        self._streams: set[UpdateStream] = set()
        self._private: set[Callable[[Any], None]] = set()
        self._frames: list[Callable[[Any], None]] = []
        self._released: list[Callable[[str], None]] = []
        self.lifecycle = asyncio.Event()
        self.exchange_ms: int | None = None
        self.connection_changed = asyncio.Event()
        self._remove_listener: Callable[[], None] | None = None
        self._gate = asyncio.Event()
        self._gate.set()

    def attach(self, client: KalshiWebSocketClient, feed: MarketDataFeed) -> None:
        """Make ``client``/``feed`` this worker's market data (register AFTER the feed, so books are current)."""
        self.client, self.feed = client, feed
        self._remove_listener = client.add_listener(self._on_event)

    def stream_health(self) -> StreamHealth:
        """Whether the WebSocket is connected and the private ``fill`` / ``market_positions`` channels subscribed."""
        client = self.client
        if client is None or self.feed is None:
            return StreamHealth(False, False, False, False)
        return StreamHealth(
            True, client.connected, _subscribed(client, "fill"), _subscribed(client, "market_positions")
        )

    def detach(self) -> None:
        """Forget the client and feed (ingestion ended); actor loops then see no market data."""
        if self._remove_listener is not None:
            self._remove_listener()
        self._remove_listener = None
        self.client = self.feed = None

    @contextlib.contextmanager
    def updates(self, *, trades: bool = False) -> Iterator[UpdateStream]:
        """Subscribe to book-changed notifications for the duration of the block.

        Args:
            trades: mark a market on its public trades too (a learned policy decides after every exchange event, as
                in training, where a trade without a book change is a decision point as well).
        """
        stream = UpdateStream(self._gate)
        stream.trades = trades
        self._streams.add(stream)
        try:
            yield stream
        finally:
            self._streams.discard(stream)

    def pending_updates(self) -> int:
        """Markets marked as changed that a consumer has not taken yet (0: every actor loop has seen every update).

        A paced replay (:mod:`workers.pacer`) waits for 0 before moving the exchange clock on.
        """
        return sum(len(stream._pending) for stream in self._streams)

    def hold_updates(self, hold: bool) -> None:
        """Close (True) or open (False) the gate of every update consumer (:meth:`UpdateStream.next`).

        A paced replay (:mod:`workers.pacer`) closes it while the frames of one exchange millisecond arrive, so the
        actor loop decides once on the book after all of them, never on a part of the burst (the WebSocket reader
        may deliver them over several event-loop turns). Open by default; live trading never closes it.
        """
        if hold:
            self._gate.clear()
        else:
            self._gate.set()

    def wake(self) -> None:
        """Wake every consumer waiting in :meth:`UpdateStream.next` (it returns ``{}`` and re-checks its loop)."""
        for stream in self._streams:
            stream._event.set()

    @contextlib.contextmanager
    def private_events(self, handler: Callable[[Any], None]) -> Iterator[None]:
        """Call ``handler(event)`` for every fill, market position, order-group and own-order event during the block."""
        self._private.add(handler)
        try:
            yield
        finally:
            self._private.discard(handler)

    def add_frame_listener(self, handler: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``handler(event)`` for every order-book snapshot, delta and public trade, after the feed applied it.

        For per-frame state that must see every frame, not the coalesced updates (the learned policy's feature
        history, :mod:`trading.live`). Runs on the reader's path: it must be fast and must not raise (an exception
        is logged and swallowed). Returns the function that removes it.
        """
        self._frames.append(handler)

        def remove() -> None:
            if handler in self._frames:
                self._frames.remove(handler)

        return remove

    def add_release_listener(self, handler: Callable[[str], None]) -> Callable[[], None]:
        """Call ``handler(ticker)`` when the hub forgets a market (:meth:`release_markets`); returns its remover.

        For per-market state kept beside the books (the learned policy's feature history, :mod:`trading.live`), so
        a worker running for days on 15-minute markets holds only the markets it still follows. Like a frame
        listener it must be fast and must not raise (an exception is logged and swallowed).
        """
        self._released.append(handler)

        def remove() -> None:
            if handler in self._released:
                self._released.remove(handler)

        return remove

    def release_markets(self, tickers: Iterable[str]) -> None:
        """Forget the definitions of ``tickers`` and tell every release listener, once per ticker the hub held.

        Called by the ingestion loop for markets it no longer follows: no longer open (closed, determined, settled
        or finalized: a lifecycle event triggers the discovery at once) and not held, or dropped from the
        configuration. A ticker the hub does not hold is ignored.
        """
        for ticker in tickers:
            if self.markets.pop(ticker, None) is None:
                continue
            for handler in list(self._released):
                try:
                    handler(ticker)
                except Exception:  # a consumer's bug must not break ingestion
                    log.exception("release listener failed on %s", ticker)

    def _on_event(self, event: Any, raw: bytes | None, recv_ms: int) -> None:
        kind = type(event)
        if kind is OrderbookDelta or kind is OrderbookSnapshot or kind is Trade:
            ts = event.ts_ms
            if ts is not None and (self.exchange_ms is None or ts > self.exchange_ms):
                self.exchange_ms = ts
            for handler in self._frames:
                try:
                    handler(event)
                except Exception:  # a consumer's bug must not break ingestion
                    log.exception("frame listener failed on %r", event)
            now = time.perf_counter()
            trade = kind is Trade
            for stream in self._streams:
                if not trade or stream.trades:
                    stream.mark(event.market_ticker, now)
        elif isinstance(event, Fill | MarketPositionUpdate | OrderGroupUpdate | UserOrderUpdate):
            for handler in list(self._private):
                try:
                    handler(event)
                except Exception:  # a consumer's bug must not break ingestion
                    log.exception("private event handler failed on %r", event)
        elif isinstance(event, MarketLifecycle):
            self.lifecycle.set()
        elif isinstance(event, Connected | Disconnected | ConnectionFailed | SubscriptionReset):
            self.connection_changed.set()  # heartbeat the new state at once (the calibration reads it)


class IngestionLoop:
    """One ingestion run: the WebSocket, the books, market discovery and recording (no Temporal inside).

    Used by the ``ingest_market_data`` activity (``on_tick`` = heartbeat) and by ``kalshi-trader record``
    (``on_tick`` = progress line). Subscribes ``orderbook_delta`` (through the feed) and ``trade`` for
    the markets discovered, ``market_lifecycle_v2`` for every market, and the private ``fill``,
    ``market_positions``, ``order_group_updates`` and ``user_orders`` channels when signed.

    Args:
        rest: REST client for discovery (open markets of the series, held positions, definitions).
        ws_url: the WebSocket URL.
        signer: signs the handshake (None: public channels only, no private channels).
        hub: where the client and the feed are published for the actor loop.
        recorder: write-behind recorder of frames, fills, positions and market definitions, or None.
        inp: series, extra tickers and settings.
    """

    def __init__(
        self,
        rest: KalshiRestClient,
        ws_url: str,
        signer: RequestSigner | None,
        hub: MarketDataHub,
        recorder: IngestRecorder | None,
        inp: IngestInput,
    ) -> None:
        self.rest = rest
        self.ws_url = ws_url
        self.signer = signer
        self.hub = hub
        self.recorder = recorder if inp.settings.record else None
        self.inp = inp

    async def run(
        self, on_tick: Callable[[dict[str, Any]], None] | None = None, should_stop: Callable[[], bool] | None = None
    ) -> IngestSummary:
        """Ingest until ``max_run_s``, ``should_stop()`` or cancellation; returns the summary.

        Raises:
            KalshiAuthError: the exchange refused the credentials (REST or WebSocket).
        """
        settings = self.inp.settings
        started = time.monotonic()
        summary = IngestSummary(queue=self.hub.queue)
        client = KalshiWebSocketClient(
            self.ws_url,
            self.signer,
            silence_timeout_s=settings.silence_timeout_s,
            backoff_max_s=settings.reconnect_backoff_max_s,
        )
        async with client:
            feed = MarketDataFeed(client)
            self.hub.attach(client, feed)
            remove_recorder = client.add_listener(self._record) if self.recorder is not None else None
            try:
                subs = client.new_subscriptions("market_lifecycle_v2")
                if self.signer is not None:
                    subs += client.new_subscriptions(list(PRIVATE_CHANNELS))
                trades = client.new_subscriptions("trade", [])
                await client.activate([*subs, *trades])
                next_discovery = 0.0
                while True:
                    if time.monotonic() - started >= settings.max_run_s:
                        summary.ended_by = "max_run"
                        break
                    if should_stop is not None and should_stop():
                        summary.ended_by = "worker_shutdown"
                        break
                    client.raise_if_failed()
                    if time.monotonic() >= next_discovery or self.hub.lifecycle.is_set():
                        self.hub.lifecycle.clear()
                        await self._discover(feed, trades[0])
                        next_discovery = time.monotonic() + settings.discovery_interval_s
                    if self.signer is not None:
                        # A private channel the exchange ended (error 10) and refused again comes back here.
                        await client.retry_refused()
                    self.hub.connection_changed.clear()
                    if on_tick is not None:
                        on_tick(self._details(client, feed))
                    await self._wait_tick(settings.heartbeat_interval_s)
            except asyncio.CancelledError:
                summary.ended_by = "cancelled"
            finally:
                if remove_recorder is not None:
                    remove_recorder()
                summary.markets = list(feed.markets)
                summary.connected = client.connected
                summary.counters = feed.metrics()
                self.hub.detach()
        return summary

    async def _wait_tick(self, seconds: float) -> None:
        """Sleep until the next tick: ``seconds``, a lifecycle event or a change of the connection's state."""
        waits = [
            asyncio.ensure_future(self.hub.lifecycle.wait()),
            asyncio.ensure_future(self.hub.connection_changed.wait()),
        ]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _discover(self, feed: MarketDataFeed, trades: Subscription) -> None:
        """Subscribe new open markets of the series and held positions; drop finished ones."""
        try:
            wanted: dict[str, Market] = {}
            for series in self.inp.series_tickers:
                for m in await self.rest.get_markets(series_ticker=series, status="open"):
                    wanted[m.ticker] = m
            held = set()
            if self.signer is not None:
                held = {p.ticker for p in await self.rest.get_positions() if p.position_fp != 0}
            missing = sorted((held | set(self.inp.extra_tickers)) - wanted.keys())
            if missing:
                for m in await self.rest.get_markets(tickers=missing):
                    wanted[m.ticker] = m
            current = set(feed.markets)
            gone = sorted(current - wanted.keys())
            finished = await self.rest.get_markets(tickers=gone) if gone and self.recorder is not None else []
        except KalshiAuthError:
            raise
        except KalshiError as err:
            log.warning("market discovery failed (keeping the current set): %s", err)
            return
        # Markets the hub still holds but no longer wants (a settled or closed market, a position closed): also
        # those that ended while no ingestion ran (the hub outlives an ingestion run; the feed does not).
        released = sorted(self.hub.markets.keys() - wanted.keys())
        self.hub.markets.update(wanted)
        new = [wanted[t] for t in sorted(wanted.keys() - current)]
        if self.recorder is not None:
            # Definitions (open/close times, result) make recordings exportable as replayable tapes.
            for m in [*new, *finished]:
                self.recorder.record_market(m, source_url=self.rest.base_url)
        if new:
            await feed.add_markets(new)
            await feed.client.update_subscription(trades, "add_markets", [m.ticker for m in new])
            log.info("subscribed %s", ", ".join(m.ticker for m in new))
        if gone:
            await feed.remove_markets(gone)
            await feed.client.update_subscription(trades, "delete_markets", gone)
            log.info("unsubscribed %s", ", ".join(gone))
        if released:
            self.hub.release_markets(released)

    def _details(self, client: KalshiWebSocketClient, feed: MarketDataFeed) -> dict[str, Any]:
        return {
            "queue": self.hub.queue,
            "connected": client.connected,
            "state": str(client.state),
            "markets": list(feed.markets),
            "private_channels": _subscribed(client, "fill"),
            "fill_channel": _subscribed(client, "fill"),
            "position_channel": _subscribed(client, "market_positions"),
            **feed.metrics(),
        }

    def _record(self, event: Any, raw: bytes | None, recv_ms: int) -> None:
        """Hand every received frame to the recorder (never blocks); fills and positions also as rows."""
        recorder = self.recorder
        if raw is None or recorder is None:
            return
        recorder.record_frame(raw, event, recv_ms)
        if isinstance(event, Fill):
            recorder.record_fill(event, recv_ms=recv_ms)
        elif isinstance(event, MarketPositionUpdate):
            recorder.record_position(event, at_ms=recv_ms)
