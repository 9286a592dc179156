"""The trader's trading epoch: the WebSocket actor loop on the worker that holds the books, or REST polling."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

from models.ids import epoch_key
from models.trader import (
    CalibrationReport,
    EpochInput,
    EpochMarket,
    EpochSummary,
    HealthProbe,
    HealthProbeInput,
    ProbeResult,
    RecordBatch,
)
from workflows.calibration import epoch_fallbacks, evaluate_probe, mode_limits
from workflows.common import error_line
from workflows.names import (
    HEALTH_PROBE,
    PATCH_DEGRADED_MODE,
    PATCH_EPOCH_FALLBACK,
    PATCH_RUN_SCOPED_ORDER_IDS,
    RUN_ACTOR_EPOCH,
    RUN_TRADING_EPOCH,
)
from workflows.trader.base import TraderBase


class EpochSteps(TraderBase):
    """Schedule one trading epoch activity per cycle and cancel it on interrupting signals."""

    async def _trading_epoch(self, report: CalibrationReport, closed: list[str] | None = None) -> EpochSummary | None:
        """Trade until the next recalibration, an interrupting signal or a health probe that saw a change.

        With healthy WebSocket market data the reactive actor loop runs on the worker queue that holds
        the books (``run_actor_epoch``); otherwise, or when that worker cannot take it, the REST polling
        epoch runs on the shared queue for the rest of the cycle. With ``degraded-mode`` the epoch gets the
        mode's EFFECTIVE limits, closing-only flag and REST fallbacks (:func:`workflows.calibration.mode_limits`),
        markets with a close still running are left out, and an actor epoch that lost its market data ends
        the cycle (the next calibration sees the degraded mode) instead of polling for the rest of it.

        Args:
            report: this cycle's calibration.
            closed: markets this cycle's closes flattened (a position past its stop-loss there no longer
                holds entries back).
        """
        info = workflow.info()
        deadline = workflow.now() + timedelta(seconds=self.config.recalibration_interval_s)
        degraded_mode = workflow.patched(PATCH_DEGRADED_MODE)
        viable = {v.ticker: v for v in report.markets if v.viable and not (degraded_mode and v.ticker in self._closing)}
        scoped = workflow.patched(PATCH_RUN_SCOPED_ORDER_IDS)
        epoch = EpochInput(
            epoch_id=f"{info.workflow_id}:{self.s.cycle}",
            order_key=epoch_key(info.first_execution_run_id, info.run_id, self.s.cycle) if scoped else None,
            exchange_start=report.at if scoped else None,
            deadline=deadline,
            markets=[EpochMarket(ticker=t, close_time=v.close_time) for t, v in sorted(viable.items())],
            positions={p.ticker: (p.contracts if p.side == "yes" else -p.contracts) for p in report.positions},
            balance_cents=report.cash_flow.balance_cents or 0,
            risk=self.config.risk,
            exits=self.config.exits,
            settings=self.config.epoch,
            order_group_id=self.s.order_group_id,
            record=self._record_batch(report),
        )
        if degraded_mode:
            limits = mode_limits(report, self.config, closed or [])
            self.s.limits = limits
            epoch.risk = self.config.risk.model_copy(update={"max_position_contracts": limits.max_position_contracts})
            epoch.exits = self.config.exits.model_copy(update={"cash_reserve_cents": limits.cash_reserve_cents})
            epoch.mode = limits.mode
            epoch.closing_only = limits.closing_only
            epoch.fallbacks = epoch_fallbacks(limits, self.config.degraded.fallback_refresh_s)
            self._update_details()
        md = report.market_data
        if (
            self.config.epoch.use_websocket
            and md is not None
            and md.queue is not None
            and md.connected
            and viable
            and workflow.patched("ws-actor-epoch")
        ):
            summary = await self._run_epoch(
                RUN_ACTOR_EPOCH, epoch, md.queue, f"react to {len(viable)} markets on {md.queue}"
            )
            if self._interrupted() or self._probe_change is not None:
                return summary
            if degraded_mode and summary is not None and summary.ended_by == "market_data_lost":
                workflow.logger.warning("the actor epoch lost its market data: recalibrating now")
                return summary
            if summary is None:
                # The actor epoch could not start or died (its worker is gone): poll over REST instead.
                if not (workflow.patched(PATCH_EPOCH_FALLBACK) and workflow.now() < deadline):
                    return None
                workflow.logger.warning(
                    "actor epoch on %s failed: polling over REST for the rest of the cycle", md.queue
                )
            elif summary.ended_by != "no_market_data":
                return summary
            else:
                workflow.logger.warning("no market data on %s: polling over REST for the rest of the cycle", md.queue)
            epoch.epoch_id += ":rest"
            if scoped:
                epoch.order_key = epoch_key(info.first_execution_run_id, info.run_id, self.s.cycle, leg="rest")
        return await self._run_epoch(
            RUN_TRADING_EPOCH, epoch, None, f"poll {len(viable)} markets for {self.config.recalibration_interval_s:g}s"
        )

    def _record_batch(self, report: CalibrationReport) -> RecordBatch:
        """The report, transitions and closes not yet handed to the worker's recorder (see EpochInput)."""
        since = self.s.recorded_until
        batch = RecordBatch(
            workflow_id=workflow.info().workflow_id,
            report=report,
            transitions=[t for t in self.s.status_history if since is None or t.at > since],
            closes=[c for c in self.s.recent_closes if c.at is not None and (since is None or c.at > since)],
        )
        self.s.recorded_until = workflow.now()
        return batch

    async def _run_epoch(
        self, activity_type: str, epoch: EpochInput, queue: str | None, summary: str
    ) -> EpochSummary | None:
        """Run one epoch activity (on ``queue``, or the workflow's), cancelling it on interrupting signals."""
        on_worker_queue = queue is not None
        probing = workflow.patched(PATCH_DEGRADED_MODE)
        task = asyncio.ensure_future(
            workflow.execute_activity(
                activity_type,
                epoch,
                result_type=EpochSummary,
                task_queue=queue,
                # A worker-specific queue whose worker died would never start it: notice within 10 s.
                schedule_to_start_timeout=timedelta(seconds=10) if on_worker_queue else None,
                start_to_close_timeout=timedelta(seconds=self.config.recalibration_interval_s + 60),
                heartbeat_timeout=timedelta(seconds=self.config.epoch.heartbeat_timeout_s),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_interval=timedelta(seconds=5),
                    # On a worker queue a retry would go to the same (maybe dead) worker: one attempt.
                    maximum_attempts=1 if on_worker_queue else 3,
                    non_retryable_error_types=["KalshiAuthError", "KalshiCredentialsError"],
                ),
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                summary=summary,
            )
        )
        try:
            if probing:
                await self._watch_health(task)
            else:
                await workflow.wait_condition(lambda: task.done() or self._interrupted())
            if not task.done():
                task.cancel()
            return await task
        except (ActivityError, asyncio.CancelledError) as err:
            if isinstance(err, asyncio.CancelledError) and not task.cancelled():
                raise
            workflow.logger.warning("trading epoch ended without a summary: %s", error_line(err))
            return None

    async def _watch_health(self, epoch: asyncio.Future[Any]) -> None:
        """Wait for the epoch (or the closes) to end or an interruption, probing every ``health_probe_interval_s``.

        A probe (the ``health_probe`` activity: exchange status, balance, the market-data streams) that finds a
        component changed since the last calibration (recovered or down), or that fails, sets ``_probe_change``
        and returns: the caller cancels the epoch and the loop recalibrates at once (so degraded mode is entered
        and left within one probe interval, and a critical outage is caught by the first probe).
        """
        interval = self.config.degraded.health_probe_interval_s
        next_probe = workflow.now() + timedelta(seconds=interval)
        while True:
            wait = (next_probe - workflow.now()).total_seconds()
            try:
                await workflow.wait_condition(
                    lambda: epoch.done() or self._interrupted(),
                    timeout=wait,
                    timeout_summary=f"health probe in {wait:.3g}s",
                )
                return
            except TimeoutError:
                pass
            next_probe += timedelta(seconds=interval)  # a steady cadence: the probe's own duration is not added
            probe = asyncio.ensure_future(self._health_probe())

            def settled(probe: asyncio.Future[ProbeResult] = probe) -> bool:
                return probe.done() or epoch.done() or self._interrupted()

            await workflow.wait_condition(settled)
            if not probe.done():
                probe.cancel()
                with contextlib.suppress(asyncio.CancelledError, ActivityError):
                    await probe
                return
            result = probe.result()
            if next_probe <= workflow.now():  # a probe slower than the interval: the next one a full interval on
                next_probe = workflow.now() + timedelta(seconds=interval)
            if result.changed is not None:
                self._probe_change = result.changed
                workflow.logger.info("health probe: %s: recalibrating now", result.changed)
                return

    async def _health_probe(self) -> ProbeResult:
        """Run one health probe and judge it against the last calibration (kept in ``s.last_probe``)."""
        try:
            raw: HealthProbe = await workflow.execute_activity(
                HEALTH_PROBE,
                HealthProbeInput(market_data=self._market_data_locator()),
                result_type=HealthProbe,
                start_to_close_timeout=timedelta(seconds=self.config.activity_timeout_s),
                retry_policy=RetryPolicy(maximum_attempts=1),
                summary="health probe: exchange status, balance, market-data streams",
            )
        except ActivityError as err:
            line = error_line(err)
            result = ProbeResult(at=workflow.now(), failed=line, changed=f"health probe failed ({line})")
            outcome = "failed"
        else:
            result = evaluate_probe(raw, self.s.last_calibration, workflow.now())
            outcome = "changed" if result.changed is not None else "unchanged"
        self.s.last_probe = result
        self._meter().create_counter("kalshi_trader_health_probes", "Health probes between calibrations").add(
            1, {"result": outcome}
        )
        return result
