"""``TraderWorkflow``: the durable entity that calibrates, trades, recalibrates and closes positions.

One workflow per account and environment (id ``kalshi-trader-<env>``, task queue ``kalshi-trader``).
Shape (ARCHITECTURE.md "Workflows")::

    initializing -> calibrating -> trading <-> calibrating (every recalibration_interval_s)
                          |            |
                          +--> paused <+  (pause signal, or a critical component down)
                                  |
                               stopping -> stopped

One cycle = calibrate (one activity running every exchange check in parallel; the workflow turns the
facts into a :class:`CalibrationReport`), reconcile drift, manage the order group, evaluate the exit
rules and close positions (one ``ClosePositionWorkflow`` child each, in parallel), then one trading
epoch activity that lasts until the next recalibration. Signals ``pause``/``resume``/``stop``/
``recalibrate`` cancel the epoch at once (the activity heartbeats, so cancellation reaches it within
about 0.8 x its heartbeat timeout) and are handled at the top of the loop.

When a critical component is down the trader pauses itself (after one immediate retry when the failure is
transient) and probes again after durable timers of ``degraded_backoff_s`` (10, 20, 30, then 60 s),
interruptible by signals; the backoff step is carried across continue-as-new. An authentication failure pauses
until an operator sends ``resume`` (retrying bad credentials helps nobody). When an optional component is down
the trader is in degraded mode: the epoch gets the mode's effective limits, closing-only flag and REST fallbacks,
a health probe every ``degraded.health_probe_interval_s`` notices recovery (and new failures) between
calibrations, and every mode change is a status-history entry with its reason (docs/architecture.md
"Degraded mode").

Exactly-once (issue 6; docs/architecture.md "Exactly-once"): every client_order_id is scoped to this
run of this execution (:mod:`models.ids`: ``first_execution_run_id``, ``run_id``, cycle; the epoch adds
its attempt and a sequence), so a terminate-and-start or a ``temporal workflow reset`` never re-sends or
adopts an earlier run's order; the epoch activity fences itself (one epoch per account, a heartbeat
lease) and rebuilds its state from the exchange before deciding. Operator input never wedges the
workflow: every handler validates its payload, ``set_risk_limits`` validates the whole new
configuration, ``force_close`` results are keyed by update id, signals received while draining before
continue-as-new are carried over. Each behaviour change is behind a ``workflow.patched`` id
(``workflows.names.PATCH_*``), so histories recorded before it replay unchanged.

Determinism: no I/O, clock, randomness or heavy imports here; time is ``workflow.now()`` and the
exchange time inside activity results; client order ids are uuid5 of stable workflow data.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError

from models.trader import (
    CalibrationReport,
    CancelOrdersInput,
    CancelOrdersResult,
    CarriedState,
    CloseResult,
    CloseStatus,
    ComponentCategory,
    ExitDecision,
    ExitReason,
    LifecycleState,
    PauseRequest,
    StopRequest,
    TraderConfig,
    TraderInput,
    TraderStatus,
)
from workflows.calibration import is_transient_failure
from workflows.common import error_line
from workflows.names import (
    CANCEL_RESTING_ORDERS,
    PATCH_DEGRADED_MODE,
    PATCH_EPOCH_FALLBACK,
    PATCH_LIVE_POLICY,
    PATCH_OPERATOR_HANDLERS_V2,
    PATCH_PENDING_ORDERS_V2,
    PATCH_STOP_UNTIL_FLAT,
    TRADER_WORKFLOW,
)
from workflows.trader.base import AuthFailure
from workflows.trader.calibrate import CalibrationSteps
from workflows.trader.closes import CloseSteps
from workflows.trader.details import describe_positions, pause_kind, pause_reason
from workflows.trader.epoch import EpochSteps
from workflows.trader.handlers import OperatorHandlers


@workflow.defn(name=TRADER_WORKFLOW)
class TraderWorkflow(OperatorHandlers, CalibrationSteps, CloseSteps, EpochSteps):
    """The Kalshi trader entity workflow; see the module docstring for its lifecycle."""

    @workflow.init
    def __init__(self, inp: TraderInput) -> None:
        """Restore config and carried state before any handler runs (temporal.md §1 ``@workflow.init``)."""
        self.config: TraderConfig = inp.config
        self.s: CarriedState = inp.state or CarriedState()
        # Operator signals received while the previous run drained before continue-as-new (carried).
        self._pause_request: PauseRequest | None = self.s.queued_pause
        self._resume_requested = self.s.queued_resume
        self._stop_request: StopRequest | None = self.s.queued_stop
        self._recalibrate_requested = self.s.queued_recalibrate
        self.s.queued_pause = self.s.queued_stop = None
        self.s.queued_resume = self.s.queued_recalibrate = False
        # force_close requests: (result key, ticker); the key is the update id (the ticker before
        # operator-handlers-v2). Results wait under their key until the update handler takes them.
        self._force_close_queue: list[tuple[str, str]] = []
        self._force_close_results: dict[str, CloseResult] = {}
        self._closing: dict[str, int] = {}  # ticker -> closes running (rule, force or stop closes)
        self._close_seq = 0
        self._cycles_this_run = 0
        self._sa_state: str | None = None
        self._sa_mode: str | None = None
        self._background_closes: list[asyncio.Task[CloseResult]] = []
        self._probe_change: str | None = None
        self._epoch_positions: dict[str, Decimal] | None = None

    @workflow.run
    async def run(self, inp: TraderInput) -> TraderStatus:
        """Run the trader until stopped and return the final status.

        Continues as new on the server's suggestion or after ``continue_as_new_after_cycles`` cycles,
        carrying :class:`CarriedState` (handlers are drained first: temporal.md §1).
        """
        if self.s.state_entered_at is None:
            self.s.state_entered_at = workflow.now()
        self._publish_search_attributes(force=inp.state is None)
        if self.s.state == LifecycleState.INITIALIZING:
            self._transition(LifecycleState.CALIBRATING, "start-up")

        try:
            return await self._loop()
        except asyncio.CancelledError:
            # `temporal workflow cancel`: cancel resting orders (positions are left as they are), record
            # the stop, then let the cancellation complete the workflow as cancelled.
            if self.s.state not in (LifecycleState.STOPPING, LifecycleState.STOPPED):
                await self._stop(StopRequest(close_all=False, reason="workflow cancelled"))
            raise

    async def _loop(self) -> TraderStatus:
        while True:
            if self._stop_request is not None:
                await self._stop(self._stop_request)
                return self.status()
            if self._should_continue_as_new():
                await self._process_force_closes()
                if self._background_closes:
                    # A close waiting out an exchange pause belongs to this run: let it end first.
                    await workflow.wait_condition(lambda: all(t.done() for t in self._background_closes))
                    self._background_closes = []
                await workflow.wait_condition(workflow.all_handlers_finished)
                if workflow.patched(PATCH_OPERATOR_HANDLERS_V2):
                    # A pause/stop/resume/recalibrate that arrived during the drain goes to the next run.
                    self.s.queued_pause, self.s.queued_stop = self._pause_request, self._stop_request
                    self.s.queued_resume, self.s.queued_recalibrate = (
                        self._resume_requested,
                        self._recalibrate_requested,
                    )
                self.s.generation += 1
                self._update_details()
                workflow.continue_as_new(TraderInput(config=self.config, state=self.s))
            if self._pause_request is not None:
                self._enter_operator_pause(self._pause_request)
                self._pause_request = None
            if self.s.state == LifecycleState.PAUSED:
                await self._wait_while_paused()
                continue
            await self._cycle()

    async def _cycle(self) -> None:
        """One recalibration cycle: calibrate, reconcile, order group, exits and closes, trading epoch."""
        if self.s.state != LifecycleState.CALIBRATING:
            why = f"recalibration: {self._probe_change}" if self._probe_change else "recalibration"
            self._transition(LifecycleState.CALIBRATING, why)
        self._recalibrate_requested = False
        self._probe_change = None
        try:
            report = await self._calibrate(note_mode=False)
            if (
                not report.can_trade
                and workflow.patched(PATCH_DEGRADED_MODE)
                and self.config.degraded.retry_transient
                and is_transient_failure(report)
            ):
                workflow.logger.info("transient failure (%s): calibrating again at once", pause_reason(report))
                report = await self._calibrate(note_mode=False)
            self._note_mode(report)
        except AuthFailure as err:
            self._pause(
                f"authentication failed: {err} (fix the key, then send resume)", operator=True, kind="authentication"
            )
            return
        if not report.can_trade:
            if workflow.patched(PATCH_PENDING_ORDERS_V2):
                why = pause_reason(report)
            else:
                down = [c.name for c in report.components if c.category == ComponentCategory.CRITICAL and not c.healthy]
                why = f"critical component down: {', '.join(down)}" if down else "exchange trading is paused"
            self._pause(why, operator=False, kind=pause_kind(report))
            return
        self.s.backoff_step = 0

        if self.config.cancel_resting_on_start and not self.s.startup_cleanup_done:
            await self._cancel_leftover_orders(report)
        self.s.startup_cleanup_done = True

        paused_for_group = await self._manage_order_group(report)
        if paused_for_group:
            return
        closes = await self._close_positions(report)
        if self._interrupted() or self._probe_change is not None:
            # A probe during the close wait saw a component change (probe-during-close-wait): recalibrate now.
            return
        flat = (CloseStatus.CLOSED, CloseStatus.ALREADY_FLAT)
        closed = [c.ticker for c in closes if c.remaining_contracts <= 0 and c.status in flat]

        if not report.viable_markets and workflow.patched(PATCH_EPOCH_FALLBACK):
            # Nothing to trade: recalibrate soon (a market may open or get quoted) instead of idling a cycle.
            delay = self.config.no_viable_retry_s
            workflow.logger.info("no viable market: recalibrating in %gs", delay)
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    self._interrupted, timeout=delay, timeout_summary=f"no viable market: recalibrate in {delay:g}s"
                )
            summary = None
        else:
            self._transition(LifecycleState.TRADING, f"{len(report.viable_markets)} viable markets")
            summary = await self._trading_epoch(report, closed)
        if summary is not None:
            self.s.last_epoch = summary
            self._epoch_positions = dict(summary.positions) if summary.positions is not None else None
            self.s.orders_placed_total += summary.orders_placed
            self._remember_ids(summary.client_order_ids)
            self._remember_ids(summary.unresolved_client_order_ids)
            if workflow.patched(PATCH_PENDING_ORDERS_V2):
                self._add_pending(summary.unresolved_orders)
                self.s.own_tickers = list(summary.filled_tickers)
            else:
                self.s.pending_client_order_ids.extend(summary.unresolved_client_order_ids)
            if summary.ended_by == "order_group_triggered":
                self.s.order_group_trigger_pending = True
            if workflow.patched(PATCH_LIVE_POLICY):
                self._add_session_pnl(summary, [])
        self.s.cycle += 1
        self._cycles_this_run += 1
        workflow.metric_meter().create_counter("kalshi_trader_cycles", "Recalibration cycles completed").add(1)
        self._update_details()

    def _enter_operator_pause(self, request: PauseRequest) -> None:
        self._resume_requested = False
        self._pause(request.reason, operator=True)

    async def _wait_while_paused(self) -> None:
        """Wait in ``paused``: for an operator resume, or a durable backoff timer before the next probe."""
        operator = self.s.paused_by_operator

        def wake() -> bool:
            return (
                self._stop_request is not None
                or self._resume_requested
                or (self._recalibrate_requested and not operator)  # probe now; never un-pauses an operator
                or bool(self._force_close_queue)
                or (self._pause_request is not None and not operator)
            )

        if operator:
            await workflow.wait_condition(wake)
            self._recalibrate_requested = False
        else:
            steps = self.config.degraded_backoff_s
            delay = steps[min(self.s.backoff_step, len(steps) - 1)]
            try:
                await workflow.wait_condition(wake, timeout=delay, timeout_summary=f"recovery probe in {delay:g}s")
            except TimeoutError:
                self.s.backoff_step += 1
                self._transition(LifecycleState.CALIBRATING, f"recovery probe #{self.s.backoff_step}")
                return
        if self._force_close_queue:
            await self._process_force_closes()
        if self._pause_request is not None:
            self._enter_operator_pause(self._pause_request)
            self._pause_request = None
            return
        if self._stop_request is not None:
            return
        if self._resume_requested or self._recalibrate_requested:
            self._resume_requested = False
            self.s.backoff_step = 0
            self.s.pause_reason = None
            self.s.paused_by_operator = False
            self.s.group_trigger_streak = 0
            self._transition(LifecycleState.CALIBRATING, "resume")

    async def _stop(self, request: StopRequest) -> None:
        """Stop: optionally flatten every position, cancel resting orders, end in ``stopped``.

        With ``close_all`` (patch ``stop-until-flat``) it stays in ``stopping`` and works in rounds:
        calibrate (positions from the exchange), close every position in an open market, repeat until
        flat; rounds that made no progress or could not reach the exchange wait ``degraded_backoff_s``.
        After ``stop_close_all_max_rounds`` rounds, or when only positions in markets that no longer
        trade remain (they await settlement), it stops and ``stop_outcome`` says plainly what is left.
        """
        self._transition(LifecycleState.STOPPING, f"stop requested ({request.reason}); close_all={request.close_all}")
        if request.close_all and workflow.patched(PATCH_STOP_UNTIL_FLAT):
            report = await self._flatten_for_stop()
            outcome = self.s.stop_outcome
        else:
            try:
                report = await self._calibrate()
            except AuthFailure as err:
                report = self._failed_report(str(err))
            if request.close_all:
                decisions = [
                    ExitDecision(ticker=p.ticker, side=p.side, contracts=p.contracts, reason=ExitReason.STOP_CLOSE_ALL)
                    for p in report.positions
                ]
                await self._run_closes(decisions)
            outcome = None
        await self._process_force_closes()
        await self._cancel_resting(report, "stop")
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._transition(LifecycleState.STOPPED, f"{request.reason}; {outcome}" if outcome else request.reason)

    async def _cancel_resting(self, report: CalibrationReport, reason: str) -> None:
        ids = [o.order_id for o in report.resting_orders]
        if ids:
            try:
                await workflow.execute_activity(
                    CANCEL_RESTING_ORDERS,
                    CancelOrdersInput(order_ids=ids, reason=reason),
                    result_type=CancelOrdersResult,
                    start_to_close_timeout=timedelta(seconds=self.config.activity_timeout_s),
                    retry_policy=self._retry(),
                    summary=f"cancel {len(ids)} resting orders",
                )
            except ActivityError as err:
                workflow.logger.warning("cancel on %s failed: %s", reason, error_line(err))

    async def _flatten_for_stop(self) -> CalibrationReport:
        """Close positions in rounds until flat (see :meth:`_stop`); sets ``stop_outcome``; returns the last report."""
        rounds = 0
        resting_cancelled = False
        while True:
            try:
                report = await self._calibrate()
            except AuthFailure as err:
                self.s.stop_outcome = f"could not flatten: authentication failed ({err}); positions may remain"
                return self._failed_report(str(err))
            readable = any(c.name == "order_tracking" and c.healthy for c in report.components)
            if readable and not resting_cancelled:
                # Resting orders (left by hand or an older run) could add to positions while we flatten.
                await self._cancel_resting(report, "stop close_all")
                report.resting_orders = []
                resting_cancelled = True
            tradeable = [p for p in report.positions if p.market_status in ("active", "open")]
            stuck = [p for p in report.positions if p.market_status not in ("active", "open")]
            if readable and not tradeable:
                self.s.stop_outcome = (
                    "flat"
                    if not stuck
                    else f"flat where the market trades; {describe_positions(stuck)} remain in markets that no longer "
                    "trade (they await settlement)"
                )
                return report
            if rounds >= self.config.stop_close_all_max_rounds:
                what = (
                    describe_positions(report.positions)
                    if readable
                    else "positions unknown (the exchange is unreachable)"
                )
                self.s.stop_outcome = f"could not flatten after {rounds} rounds: {what} remain"
                workflow.logger.warning("stop close_all: %s", self.s.stop_outcome)
                return report
            rounds += 1
            progress = False
            if readable and report.can_trade:
                decisions = [
                    ExitDecision(ticker=p.ticker, side=p.side, contracts=p.contracts, reason=ExitReason.STOP_CLOSE_ALL)
                    for p in tradeable
                    if p.ticker not in self._closing  # a close still running there (degraded-mode) is enough
                ]
                results = await self._run_closes(decisions)
                progress = any(r.closed_contracts > 0 for r in results)
            if not progress:
                steps = self.config.degraded_backoff_s
                delay = steps[min(rounds - 1, len(steps) - 1)]
                why = "the exchange cannot trade now" if not report.can_trade else "nothing filled"
                workflow.logger.info("stop close_all round %d: %s; retrying in %gs", rounds, why, delay)
                await workflow.sleep(delay, summary=f"stop close_all: retry in {delay:g}s ({why})")

    def _should_continue_as_new(self) -> bool:
        if self._cycles_this_run >= self.config.continue_as_new_after_cycles:
            return True
        return workflow.info().is_continue_as_new_suggested()
