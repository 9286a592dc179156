"""Market data on a worker-specific task queue: WebSocket ingestion and the reactive trading loop (adapters).

Every worker process has a unique task queue (``kalshi-trader-<host>-<id>``) and one
:class:`kalshi.ingest.MarketDataHub`. ``ingest_market_data`` (started by ``MarketDataWorkflow`` on that queue)
runs :class:`kalshi.ingest.IngestionLoop`, which holds the Kalshi WebSocket and the order books in the hub for as
long as it runs; the activity heartbeats its subscription state and counters. ``run_actor_epoch`` runs on the
SAME queue, so :func:`trading.drivers.run_actor` reads those books in memory and runs the decision step on
every order-book update of a traded market (ARCHITECTURE.md "Two loops, two speeds").

On the shared queue: ``get_worker_queue`` (answers this process's queue name: how the workflow picks a
worker). Where ingestion runs and how healthy it is comes from :mod:`activities.market_data_location`
(the calibration activity calls it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio import activity

from activities.attempt import TemporalAttempt, heartbeating
from activities.errors import kalshi_errors, to_application_error
from kalshi.errors import KalshiAuthError
from kalshi.ingest import IngestionLoop, MarketDataHub
from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner
from models.market_data import IngestInput, IngestSummary
from models.trader import EpochInput, EpochSummary
from recording.metrics import AppMetrics
from trading.drivers import run_actor
from trading.epoch import EpochCore
from trading.live import FeatureStore, PolicyLibrary
from workflows.names import GET_WORKER_QUEUE, INGEST_MARKET_DATA, RUN_ACTOR_EPOCH


@dataclass
class MarketDataActivities:
    """Activities bound to this worker's hub, REST client and WebSocket endpoint.

    Attributes:
        rest: the signed REST client (discovery, orders).
        ws_url: the WebSocket URL (``.../trade-api/ws/v2``).
        signer: signs the WebSocket handshake.
        metrics: application metrics.
        hub: this process's :class:`MarketDataHub`.
        recorder: optional write-behind recorder; every frame is handed to ``recorder.record_frame``.
        policies: this worker's policy library (None: the configured baseline, or the fallback).
        features: this worker's feature store (a learned policy's observations), None without the RL extra.
    """

    rest: KalshiRestClient
    ws_url: str
    signer: RequestSigner | None
    metrics: AppMetrics
    hub: MarketDataHub
    recorder: Any | None = None
    policies: PolicyLibrary | None = None
    features: FeatureStore | None = None

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

        Runs :func:`trading.drivers.run_actor` on this worker's hub with the configured policy
        (:class:`trading.live.PolicyLibrary`: a learned one is loaded once per process, its ``current`` pointer
        re-read every epoch; a model that cannot run falls back, and the summary says so). Returns
        ``ended_by="no_market_data"`` at once when this worker holds no market data (the workflow then falls back
        to the REST polling epoch).

        Raises:
            ApplicationError: non-retryable ``KalshiAuthError`` on bad credentials.
        """
        live = None
        if self.policies is not None:
            resolving = self.policies.resolve(inp.settings, inp.risk, live_books=self.hub.feed is not None)
            live = await heartbeating(resolving)
        core = EpochCore(
            self.rest,
            self.metrics,
            inp,
            TemporalAttempt(),
            live,
            driver="actor",
            recorder=self.recorder,
            features=self.features,
        )
        async with kalshi_errors():
            return await run_actor(core, self.hub)
