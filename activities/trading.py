"""The REST polling trading epoch as a Temporal activity (a thin adapter over :mod:`trading`).

``run_trading_epoch`` is a long-running, heartbeating activity that trades between recalibrations: it runs
:class:`trading.drivers.PollingEpoch` (fencing, the lease, the state rebuilt from the exchange, the decision step,
order execution: see :mod:`trading.epoch`) with this attempt as its :class:`activities.attempt.TemporalAttempt`,
and maps the Kalshi errors that end it (bad credentials) to non-retryable ``ApplicationError``
(:mod:`activities.errors`).
"""

from __future__ import annotations

from typing import Any

from temporalio import activity

from activities.attempt import TemporalAttempt
from activities.errors import kalshi_errors
from kalshi.rest import KalshiRestClient
from models.trader import EpochInput, EpochSummary
from recording.metrics import AppMetrics
from rl.policy import Policy
from trading.drivers import PollingEpoch
from workflows.names import RUN_TRADING_EPOCH


class TradingEpochActivities:
    """Holds the client and the policy for trading epochs on this worker.

    Args:
        client: an open, signed :class:`KalshiRestClient`.
        metrics: application metrics.
        policy: the decision policy; defaults to the baseline per epoch settings.
        recorder: the worker's write-behind recorder, or None.
    """

    def __init__(
        self,
        client: KalshiRestClient,
        metrics: AppMetrics,
        policy: Policy | None = None,
        recorder: Any | None = None,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.policy = policy
        self.recorder = recorder

    @activity.defn(name=RUN_TRADING_EPOCH)
    async def run_trading_epoch(self, inp: EpochInput) -> EpochSummary:
        """Trade the viable markets until ``inp.deadline`` or cancellation; return what happened.

        Raises:
            ApplicationError: non-retryable ``KalshiAuthError`` on bad credentials. Every other
                exchange error is counted; ``max_consecutive_errors`` in a row end the epoch early
                (``ended_by="circuit_breaker"``).
        """
        epoch = PollingEpoch(self.client, self.metrics, inp, TemporalAttempt(), self.policy, recorder=self.recorder)
        async with kalshi_errors():
            return await epoch.run()
