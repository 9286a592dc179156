"""The REST polling trading epoch as a Temporal activity (a thin adapter over :mod:`trading`).

``run_trading_epoch`` is a long-running, heartbeating activity that trades between recalibrations: it runs
:func:`trading.drivers.run_polling` over a :class:`trading.epoch.EpochCore` (fencing, the lease, the state rebuilt
from the exchange, the decision step, order execution) with this attempt as its
:class:`activities.attempt.TemporalAttempt`, and maps the Kalshi errors that end it (bad credentials) to
non-retryable ``ApplicationError`` (:mod:`activities.errors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import activity

from activities.attempt import TemporalAttempt
from activities.errors import kalshi_errors
from kalshi.rest import KalshiRestClient
from models.trader import EpochInput, EpochSummary
from recording.metrics import AppMetrics
from rl.policy import Policy
from trading.drivers import run_polling
from trading.epoch import EpochCore
from workflows.names import RUN_TRADING_EPOCH


@dataclass
class TradingEpochActivities:
    """Holds the client and the policy for trading epochs on this worker.

    Attributes:
        client: an open, signed :class:`KalshiRestClient`.
        metrics: application metrics.
        policy: the decision policy; defaults to the baseline per epoch settings.
        recorder: the worker's write-behind recorder, or None.
    """

    client: KalshiRestClient
    metrics: AppMetrics
    policy: Policy | None = None
    recorder: Any | None = None

    @activity.defn(name=RUN_TRADING_EPOCH)
    async def run_trading_epoch(self, inp: EpochInput) -> EpochSummary:
        """Trade the viable markets until ``inp.deadline`` or cancellation; return what happened.

        Raises:
            ApplicationError: non-retryable ``KalshiAuthError`` on bad credentials. Every other
                exchange error is counted; ``max_consecutive_errors`` in a row end the epoch early
                (``ended_by="circuit_breaker"``).
        """
        core = EpochCore(self.client, self.metrics, inp, TemporalAttempt(), self.policy, recorder=self.recorder)
        async with kalshi_errors():
            return await run_polling(core)
