"""The REST polling trading epoch and the ``predict`` activity (thin adapters over :mod:`trading`).

``run_trading_epoch`` is a long-running, heartbeating activity that trades between recalibrations: it resolves the
configured policy (:class:`trading.live.PolicyLibrary`; a learned policy falls back here, the REST epoch has no live
book history), runs :func:`trading.drivers.run_polling` over a :class:`trading.epoch.EpochCore` (fencing, the lease,
the state rebuilt from the exchange, the decision step, order execution) with this attempt as its
:class:`activities.attempt.TemporalAttempt`, and maps the Kalshi errors that end it (bad credentials) to
non-retryable ``ApplicationError`` (:mod:`activities.errors`).

``predict`` answers the policy's decision for each market without trading (:func:`trading.predict.predict`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import activity

from activities.attempt import TemporalAttempt, heartbeating
from activities.errors import kalshi_errors
from kalshi.ingest import MarketDataHub
from kalshi.rest import KalshiRestClient
from models.trader import EpochInput, EpochSummary, PredictInput, PredictResult
from recording.metrics import AppMetrics
from trading.drivers import run_polling
from trading.epoch import EpochCore
from trading.live import PolicyLibrary
from trading.predict import predict
from workflows.names import PREDICT, RUN_TRADING_EPOCH


@dataclass
class TradingEpochActivities:
    """Holds the client and the policy library for trading epochs on this worker.

    Attributes:
        client: an open, signed :class:`KalshiRestClient`.
        metrics: application metrics.
        policies: this worker's policy library (None: the configured baseline, or the fallback).
        recorder: the worker's write-behind recorder, or None.
        hub: this worker's market data (``predict`` reads its live books when present), or None.
    """

    client: KalshiRestClient
    metrics: AppMetrics
    policies: PolicyLibrary | None = None
    recorder: Any | None = None
    hub: MarketDataHub | None = None

    @activity.defn(name=RUN_TRADING_EPOCH)
    async def run_trading_epoch(self, inp: EpochInput) -> EpochSummary:
        """Trade the viable markets until ``inp.deadline`` or cancellation; return what happened.

        Raises:
            ApplicationError: non-retryable ``KalshiAuthError`` on bad credentials. Every other
                exchange error is counted; ``max_consecutive_errors`` in a row end the epoch early
                (``ended_by="circuit_breaker"``).
        """
        live = None
        if self.policies is not None:
            live = await heartbeating(self.policies.resolve(inp.settings, inp.risk, live_books=False))
        core = EpochCore(self.client, self.metrics, inp, TemporalAttempt(), live, recorder=self.recorder)
        async with kalshi_errors():
            return await run_polling(core)

    @activity.defn(name=PREDICT)
    async def predict(self, inp: PredictInput) -> PredictResult:
        """The policy's decision for each market of ``inp`` (nothing is placed); see :mod:`trading.predict`.

        Raises:
            ApplicationError: the REST order books could not be read (retryable unless authentication).
        """
        policies = self.policies or PolicyLibrary(None, self.metrics)
        async with kalshi_errors():
            return await heartbeating(predict(inp, self.client, policies, self.hub))
