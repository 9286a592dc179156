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
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from temporalio import activity

from activities.errors import to_application_error
from activities.trading import EpochCore
from kalshi.convert import book_top
from kalshi.errors import KalshiAuthError
from kalshi.feed import MarketDataFeed
from kalshi.ingest import IngestionLoop, MarketDataHub
from kalshi.models.ws import (
    Fill,
    MarketPositionUpdate,
    OrderGroupUpdate,
)
from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner
from models.market_data import IngestInput, IngestSummary
from models.trader import EpochInput, EpochSettings, EpochSummary
from recording.metrics import AppMetrics
from rl.pretrade import fill_cash_delta_dollars
from workflows.names import GET_WORKER_QUEUE, INGEST_MARKET_DATA, RUN_ACTOR_EPOCH

log = logging.getLogger(__name__)


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
