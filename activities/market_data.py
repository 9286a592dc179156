"""Market data on a worker-specific task queue: WebSocket ingestion and the reactive trading loop.

Every worker process has a unique task queue (``kalshi-trader-<host>-<id>``) and one
:class:`MarketDataHub`. ``ingest_market_data`` (started by ``MarketDataWorkflow`` on that queue) holds
the Kalshi WebSocket (:class:`kalshi.ws.KalshiWebSocketClient`) and the order books
(:class:`kalshi.feed.MarketDataFeed`) in the hub for as long as it runs, heartbeating its subscription
state and counters. ``run_actor_epoch`` runs on the SAME queue, so it reads those books in memory and
runs the 4-step pipeline on every order-book update of a traded market (ARCHITECTURE.md "Two loops,
two speeds"): ``build_observation -> select_action -> pre-trade checks -> execute``. Positions and
cash follow the private ``market_positions`` and ``fill`` channels; an order-group ``triggered`` event
stops entries at once.

On the shared queue: ``get_worker_queue`` (answers this process's queue name: how the workflow picks a
worker). Where ingestion runs and how healthy it is comes from :mod:`activities.market_data_location`
(the calibration activity calls it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from temporalio import activity

from activities.errors import to_application_error
from activities.trading import EpochCore
from kalshi.convert import book_top
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
)
from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner
from kalshi.ws import KalshiWebSocketClient, Subscription
from models.market_data import IngestInput, IngestSummary
from models.trader import EpochInput, EpochSettings, EpochSummary
from recording.metrics import AppMetrics
from rl.pretrade import fill_cash_delta_dollars
from workflows.names import GET_WORKER_QUEUE, INGEST_MARKET_DATA, RUN_ACTOR_EPOCH

log = logging.getLogger(__name__)

PRIVATE_CHANNELS = ("fill", "market_positions", "order_group_updates")


class UpdateStream:
    """Coalesced "this market's book changed" notifications for one consumer.

    The hub marks tickers as their frames are applied; the consumer takes every pending ticker at once
    with the ``time.perf_counter()`` of its oldest unseen update (where decision latency starts). A
    burst of deltas for one market becomes one decision on its latest book: memory is bounded by the
    number of markets and the consumer never falls behind a stale queue.
    """

    def __init__(self) -> None:
        self._pending: dict[str, float] = {}
        self._event = asyncio.Event()

    def mark(self, ticker: str, received_at: float) -> None:
        """Record an update of ``ticker`` received at ``received_at`` (perf_counter seconds)."""
        if ticker not in self._pending:
            self._pending[ticker] = received_at
        self._event.set()

    async def next(self, timeout_s: float) -> dict[str, float]:
        """Every pending ticker with its first unseen receipt time; ``{}`` after ``timeout_s`` of quiet."""
        if not self._pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout=max(timeout_s, 0.0))
        self._event.clear()
        batch, self._pending = self._pending, {}
        return batch


class MarketDataHub:
    """The worker process's live market data: the WebSocket client, the book feed, update fan-out.

    Exactly one ingestion activity owns it at a time (:meth:`attach` / :meth:`detach`); actor-loop
    activities on the same worker read it.

    Args:
        queue: this process's worker-specific task queue name.
    """

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.client: KalshiWebSocketClient | None = None
        self.feed: MarketDataFeed | None = None
        self.markets: dict[str, Market] = {}
        self._streams: set[UpdateStream] = set()
        self._private: set[Callable[[Any], None]] = set()
        self.lifecycle = asyncio.Event()
        self._remove_listener: Callable[[], None] | None = None

    def attach(self, client: KalshiWebSocketClient, feed: MarketDataFeed) -> None:
        """Make ``client``/``feed`` this worker's market data (register AFTER the feed, so books are current)."""
        self.client, self.feed = client, feed
        self._remove_listener = client.add_listener(self._on_event)

    def detach(self) -> None:
        """Forget the client and feed (ingestion ended); actor loops then see no market data."""
        if self._remove_listener is not None:
            self._remove_listener()
        self._remove_listener = None
        self.client = self.feed = None

    @contextlib.contextmanager
    def updates(self) -> Iterator[UpdateStream]:
        """Subscribe to book-changed notifications for the duration of the block."""
        stream = UpdateStream()
        self._streams.add(stream)
        try:
            yield stream
        finally:
            self._streams.discard(stream)

    @contextlib.contextmanager
    def private_events(self, handler: Callable[[Any], None]) -> Iterator[None]:
        """Call ``handler(event)`` for every fill, market position and order-group event during the block."""
        self._private.add(handler)
        try:
            yield
        finally:
            self._private.discard(handler)

    def _on_event(self, event: Any, raw: bytes | None, recv_ms: int) -> None:
        if isinstance(event, OrderbookDelta | OrderbookSnapshot):
            now = time.perf_counter()
            for stream in self._streams:
                stream.mark(event.market_ticker, now)
        elif isinstance(event, Fill | MarketPositionUpdate | OrderGroupUpdate):
            for handler in list(self._private):
                try:
                    handler(event)
                except Exception:  # a consumer's bug must not break ingestion
                    log.exception("private event handler failed on %r", event)
        elif isinstance(event, MarketLifecycle):
            self.lifecycle.set()


class IngestionLoop:
    """One ingestion run: the WebSocket, the books, market discovery and recording (no Temporal inside).

    Used by the ``ingest_market_data`` activity (``on_tick`` = heartbeat) and by ``kalshi-trader record``
    (``on_tick`` = progress line). Subscribes ``orderbook_delta`` (through the feed) and ``trade`` for
    the markets discovered, ``market_lifecycle_v2`` for every market, and the private ``fill``,
    ``market_positions`` and ``order_group_updates`` channels when signed.

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
        recorder: Any | None,
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
        client = KalshiWebSocketClient(self.ws_url, self.signer, silence_timeout_s=settings.silence_timeout_s)
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
                    if on_tick is not None:
                        on_tick(self._details(client, feed))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.hub.lifecycle.wait(), timeout=settings.heartbeat_interval_s)
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

    def _details(self, client: KalshiWebSocketClient, feed: MarketDataFeed) -> dict[str, Any]:
        return {
            "queue": self.hub.queue,
            "connected": client.connected,
            "state": str(client.state),
            "markets": list(feed.markets),
            "private_channels": any(s.sid is not None for s in client.subscriptions if s.channel == "fill"),
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


class MarketDataActivities:
    """Activities bound to this worker's hub, REST client and WebSocket endpoint.

    Args:
        rest: the signed REST client (discovery, orders).
        ws_url: the WebSocket URL (``.../trade-api/ws/v2``).
        signer: signs the WebSocket handshake.
        metrics: application metrics.
        hub: this process's :class:`MarketDataHub`.
        recorder: optional write-behind recorder; every frame is handed to ``recorder.record_frame``.
    """

    def __init__(
        self,
        rest: KalshiRestClient,
        ws_url: str,
        signer: RequestSigner | None,
        metrics: AppMetrics,
        hub: MarketDataHub,
        recorder: Any | None = None,
    ) -> None:
        self.rest = rest
        self.ws_url = ws_url
        self.signer = signer
        self.metrics = metrics
        self.hub = hub
        self.recorder = recorder

    def queue_activity(self) -> Callable[[], Any]:
        """The ``get_worker_queue`` activity for the SHARED queue: answers this process's queue name."""
        queue = self.hub.queue

        @activity.defn(name=GET_WORKER_QUEUE)
        async def get_worker_queue() -> str:
            """Answer the worker process's own task queue (temporal.md §3 worker-specific queues)."""
            return queue

        return get_worker_queue

    # ---------------------------------------------------------------- ingestion

    @activity.defn(name=INGEST_MARKET_DATA)
    async def ingest_market_data(self, inp: IngestInput) -> IngestSummary:
        """Hold the WebSocket and the order books of the series' open markets (and held positions).

        Re-discovers markets every ``discovery_interval_s`` and on lifecycle events (new 15-minute
        markets are added as they open, finished ones dropped), heartbeats its state every
        ``heartbeat_interval_s``, and returns after ``max_run_s``, on cancellation or at worker shutdown.
        Reconnects are the client's job (backoff with jitter); a 503 on the handshake shows in the
        heartbeat as ``ws_handshake_503s`` with ``connected: false``.

        Raises:
            ApplicationError: non-retryable ``KalshiAuthError`` on bad credentials.
        """
        loop = IngestionLoop(self.rest, self.ws_url, self.signer, self.hub, self.recorder, inp)
        try:
            summary = await loop.run(on_tick=activity.heartbeat, should_stop=activity.is_worker_shutdown)
        except KalshiAuthError as err:
            raise to_application_error(err) from err
        activity.logger.info("ingestion on %s ended (%s)", self.hub.queue, summary.ended_by)
        return summary

    # ---------------------------------------------------------------- actor loop

    @activity.defn(name=RUN_ACTOR_EPOCH)
    async def run_actor_epoch(self, inp: EpochInput) -> EpochSummary:
        """The reactive trading loop: decide on every order-book update until the deadline or cancellation.

        Returns ``ended_by="no_market_data"`` at once when this worker holds no market data (the
        workflow then falls back to the REST polling epoch). Books older than
        ``settings.max_book_age_ms`` or from a silent connection are never acted on (``stale_book``).
        """
        core = EpochCore(self.rest, self.metrics, inp, origin="actor", fills_from_acks=False, recorder=self.recorder)
        feed = self.hub.feed
        if feed is None:
            core.summary.ended_by = "no_market_data"
            return core.finish()
        traded = set(core.close_times)
        missing = [self.hub.markets.get(t) or t for t in sorted(traded - set(feed.markets))]
        if missing:
            await feed.add_markets(missing)
        settings = inp.settings

        def on_private(event: Any) -> None:
            if isinstance(event, MarketPositionUpdate):
                core.ws_position(event.market_ticker, event.position_contracts)
            elif isinstance(event, Fill):
                contracts = event.count_contracts
                signed = contracts if event.book_side == "bid" else -contracts
                post = event.post_position_contracts
                before = (
                    post - signed if post is not None else core.state.positions.get(event.market_ticker, Decimal(0))
                )
                core.ws_fill(event.market_ticker, event.order_id, contracts)
                if post is not None:
                    core.ws_position(event.market_ticker, before + signed)
                delta = fill_cash_delta_dollars(
                    "bid" if event.book_side == "bid" else "ask",
                    contracts,
                    event.yes_price_dollars,
                    before,
                    event.fee_cost_dollars or Decimal(0),
                )
                core.add_cash(delta)
            elif (
                isinstance(event, OrderGroupUpdate)
                and event.event_type == "triggered"
                and event.order_group_id == inp.order_group_id
            ):
                core.state.order_group_triggered = True

        with self.hub.updates() as stream, self.hub.private_events(on_private):
            try:
                async with core:
                    while not core.stopping():
                        batch = await stream.next(min(1.0, core.seconds_left()))
                        if batch:
                            await self._decide_batch(core, feed, batch, traded, settings)
                        core.heartbeat()
            except asyncio.CancelledError:
                if core.superseded is None:
                    core.summary.ended_by = "cancelled"
        return core.finish()

    async def _decide_batch(
        self,
        core: EpochCore,
        feed: MarketDataFeed,
        batch: dict[str, float],
        traded: set[str],
        settings: EpochSettings,
    ) -> None:
        """Run the pipeline on the latest book of every traded market in ``batch`` (ticker -> received at)."""
        now = self.rest.exchange_now()
        for ticker, received_at in batch.items():
            if ticker not in traded:
                continue
            book = feed.usable_book(ticker, max_connection_idle_ms=settings.max_connection_idle_ms)
            if book is None:
                core.reject("stale_book")
                continue
            age = feed.freshness(ticker).book_age_ms or 0
            await core.decide(
                ticker,
                book_top(book),
                now,
                received_at,
                book_age_ms=age,
                max_book_age_ms=settings.max_book_age_ms,
            )
            if core.state.order_group_triggered or core.stopping():
                break
