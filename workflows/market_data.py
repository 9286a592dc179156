"""``MarketDataWorkflow``: keeps one long-lived, heartbeating ingestion activity running on some worker.

Its own top-level workflow (deterministic id ``kalshi-md-<env>``), not a child of the trader: the
trader continues as new, and children would be terminated with it (temporal.md §1.5).

Loop: ask the shared task queue for a worker (``get_worker_queue``: whichever worker answers returns
its process-specific queue), run ``ingest_market_data`` on that queue with a schedule-to-start timeout
(a dead worker's queue is noticed without waiting forever) and a heartbeat timeout (a worker that dies
mid-run is noticed within it); when the run ends or fails, pick a worker again (possibly another one),
after a backoff when it failed (the backoff grows with consecutive failures; a run that was healthy
for ``healthy_after_s`` before it failed starts the count afresh, so the tenth worker death moves
ingestion as fast as the first). Every move is recorded (``status`` query). The activity's heartbeat
details carry the subscription state and counters; ``locate_market_data`` reads them for the trader.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, TimeoutType
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

from models.market_data import (
    IngestInput,
    IngestionMove,
    IngestSummary,
    MarketDataInput,
    MarketDataState,
    MarketDataStatus,
)
from workflows.common import error_line
from workflows.names import (
    GET_WORKER_QUEUE,
    INGEST_MARKET_DATA,
    MARKET_DATA_WORKFLOW,
    PATCH_MD_HEALTHY_RESET,
    QUERY_STATUS,
    SIGNAL_STOP,
)

_MOVES_TAIL = 20


def market_data_workflow_id(environment: str) -> str:
    """The market-data workflow id for an environment: ``kalshi-md-<env>``."""
    return f"kalshi-md-{environment}"


@workflow.defn(name=MARKET_DATA_WORKFLOW)
class MarketDataWorkflow:
    """Runs market-data ingestion on one worker at a time and moves it when that worker dies."""

    @workflow.init
    def __init__(self, inp: MarketDataInput) -> None:
        """Restore the carried state before handlers run."""
        self.inp = inp
        self.s: MarketDataState = inp.state or MarketDataState()
        self._running = False
        self._runs_this_execution = 0

    @workflow.run
    async def run(self, inp: MarketDataInput) -> MarketDataStatus:
        """Keep ingestion running until ``stop``; continues as new on suggestion or after N runs."""
        while not self.s.stopped:
            if (
                self._runs_this_execution >= self.inp.continue_as_new_after_restarts
                or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self.inp.model_copy(update={"state": self.s}))
            await self._run_once()
        return self.status()

    async def _run_once(self) -> None:
        try:
            queue: str = await workflow.execute_activity(
                GET_WORKER_QUEUE,
                result_type=str,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10)),
                summary="pick a worker for ingestion",
            )
        except ActivityError as err:  # only when retries are exhausted (never with this policy)
            await self._failed(None, error_line(err))
            return
        previous = self.s.queue
        if previous != queue or self.s.consecutive_failures:
            reason = "start" if previous is None else (self.s.last_error or "restart")
            self.s.moves.append(IngestionMove(at=workflow.now(), from_queue=previous, to_queue=queue, reason=reason))
            del self.s.moves[:-_MOVES_TAIL]
        self.s.queue = queue
        started = self.s.since = workflow.now()
        self.s.runs += 1
        self._runs_this_execution += 1
        self._running = True
        task = asyncio.ensure_future(
            workflow.execute_activity(
                INGEST_MARKET_DATA,
                IngestInput(
                    series_tickers=self.inp.series_tickers,
                    extra_tickers=self.inp.extra_tickers,
                    settings=self.inp.settings,
                ),
                result_type=IngestSummary,
                task_queue=queue,
                schedule_to_start_timeout=timedelta(seconds=self.inp.schedule_to_start_timeout_s),
                start_to_close_timeout=timedelta(seconds=self.inp.settings.max_run_s + 120),
                heartbeat_timeout=timedelta(seconds=self.inp.heartbeat_timeout_s),
                # One attempt per placement: a failure means "choose a worker again", not "retry here".
                retry_policy=RetryPolicy(maximum_attempts=1),
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                summary=f"ingest {', '.join(self.inp.series_tickers)} on {queue}",
            )
        )
        try:
            await workflow.wait_condition(lambda: task.done() or self.s.stopped)
            if not task.done():
                task.cancel()
            summary: IngestSummary = await task
        except (ActivityError, asyncio.CancelledError) as err:
            self._running = False
            if isinstance(err, asyncio.CancelledError) and not task.cancelled():
                raise  # the workflow itself is being cancelled
            if not self.s.stopped:
                ran_s = (workflow.now() - started).total_seconds()
                if (
                    ran_s >= self.inp.healthy_after_s
                    and not _never_started(err)
                    and workflow.patched(PATCH_MD_HEALTHY_RESET)
                ):
                    self.s.consecutive_failures = 0
                await self._failed(queue, error_line(err))
            return
        self._running = False
        self.s.consecutive_failures = 0
        self.s.last_error = None
        workflow.logger.info("ingestion on %s ended: %s", queue, summary.ended_by)

    async def _failed(self, queue: str | None, error: str) -> None:
        self.s.consecutive_failures += 1
        self.s.last_error = error
        steps = self.inp.restart_backoff_s
        delay = steps[min(self.s.consecutive_failures - 1, len(steps) - 1)]
        workflow.logger.warning("ingestion on %s failed (%s); choosing a worker again in %gs", queue, error, delay)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self.s.stopped, timeout=delay, timeout_summary="restart backoff")

    @workflow.signal(name=SIGNAL_STOP, description="Stop market-data ingestion and complete.")
    def stop(self, *ignored: Any) -> None:
        """Stop after the current ingestion run is cancelled (any input is ignored: it cannot fail the task)."""
        self.s.stopped = True

    @workflow.query(name=QUERY_STATUS, description="Where ingestion runs, since when, restarts and moves.")
    def status(self) -> MarketDataStatus:
        """The workflow's view: current worker queue, runs, failures and the last moves."""
        return MarketDataStatus(
            workflow_id=workflow.info().workflow_id,
            queue=self.s.queue,
            since=self.s.since,
            running=self._running,
            runs=self.s.runs,
            consecutive_failures=self.s.consecutive_failures,
            last_error=self.s.last_error,
            moves=list(self.s.moves),
        )


def _never_started(err: BaseException) -> bool:
    """Whether an ingestion failure is a schedule-to-start timeout (no worker picked the run up)."""
    cause = err.__cause__ if isinstance(err, ActivityError) else None
    return isinstance(cause, TemporalTimeoutError) and cause.type == TimeoutType.SCHEDULE_TO_START
