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

When a critical component is down the trader pauses itself and probes again after durable timers of
``degraded_backoff_s`` (10, 20, 30, then 60 s), interruptible by signals; the backoff step is carried
across continue-as-new. An authentication failure pauses until an operator sends ``resume``
(retrying bad credentials helps nobody).

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
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ActivityCancellationType, ParentClosePolicy

from models.ids import close_workflow_id, epoch_key, run_token
from models.market_data import LocateInput, MarketDataInput
from models.trader import (
    CalibrationInput,
    CalibrationReport,
    CalibrationSnapshot,
    CancelOrdersInput,
    CancelOrdersResult,
    CarriedState,
    CloseQuote,
    CloseQuoteInput,
    CloseRequest,
    CloseResult,
    CloseStatus,
    ComponentCategory,
    ComponentHealth,
    EpochInput,
    EpochMarket,
    EpochSummary,
    ExitDecision,
    ExitReason,
    ForceCloseRequest,
    LifecycleState,
    OrderGroupInput,
    OrderGroupState,
    OverallStatus,
    PauseRequest,
    PendingOrder,
    PositionView,
    RecordBatch,
    RejectedMessage,
    RiskLimits,
    RiskLimitsUpdate,
    Side,
    StatusTransition,
    StopRequest,
    TraderConfig,
    TraderInput,
    TraderStatus,
    validation_line,
)
from workflows.calibration import build_report
from workflows.common import error_line, error_type, rest_retry_policy
from workflows.market_data import market_data_workflow_id
from workflows.names import (
    CALIBRATION_SNAPSHOT,
    CANCEL_RESTING_ORDERS,
    ENSURE_ORDER_GROUP,
    GET_CLOSE_QUOTE,
    PATCH_EPOCH_FALLBACK,
    PATCH_OPERATOR_HANDLERS_V2,
    PATCH_PENDING_ORDERS_V2,
    PATCH_RUN_SCOPED_ORDER_IDS,
    PATCH_SESSION_PNL,
    PATCH_STOP_UNTIL_FLAT,
    QUERY_STATUS,
    RESET_ORDER_GROUP,
    RUN_ACTOR_EPOCH,
    RUN_TRADING_EPOCH,
    SA_ENV,
    SA_MODE,
    SA_STATE,
    SIGNAL_PAUSE,
    SIGNAL_RECALIBRATE,
    SIGNAL_RESUME,
    SIGNAL_STOP,
    TRADER_WORKFLOW,
    UPDATE_FORCE_CLOSE,
    UPDATE_SET_RISK_LIMITS,
)
from workflows.rules import evaluate_exits

_KNOWN_IDS_TAIL = 500
_MAX_PARALLEL_CLOSES = 10
_PNL_TICKERS = 100


class _AuthFailure(Exception):
    """Calibration hit a non-retryable authentication error."""


@workflow.defn(name=TRADER_WORKFLOW)
class TraderWorkflow:
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

    # ------------------------------------------------------------------ main loop

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
            self._transition(LifecycleState.CALIBRATING, "recalibration")
        self._recalibrate_requested = False
        try:
            report = await self._calibrate()
        except _AuthFailure as err:
            self._pause(f"authentication failed: {err} (fix the key, then send resume)", operator=True)
            return
        if not report.can_trade:
            if workflow.patched(PATCH_PENDING_ORDERS_V2):
                why = pause_reason(report)
            else:
                down = [c.name for c in report.components if c.category == ComponentCategory.CRITICAL and not c.healthy]
                why = f"critical component down: {', '.join(down)}" if down else "exchange trading is paused"
            self._pause(why, operator=False)
            return
        self.s.backoff_step = 0

        if self.config.cancel_resting_on_start and not self.s.startup_cleanup_done:
            await self._cancel_leftover_orders(report)
        self.s.startup_cleanup_done = True

        paused_for_group = await self._manage_order_group(report)
        if paused_for_group:
            return
        await self._close_positions(report)
        if self._interrupted():
            return

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
            summary = await self._trading_epoch(report)
        if summary is not None:
            self.s.last_epoch = summary
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
        self.s.cycle += 1
        self._cycles_this_run += 1
        workflow.metric_meter().create_counter("kalshi_trader_cycles", "Recalibration cycles completed").add(1)
        self._update_details()

    # ------------------------------------------------------------------ calibration

    async def _calibrate(self) -> CalibrationReport:
        tracked = sorted(set(self.s.positions_opened_at))
        v2 = workflow.patched(PATCH_PENDING_ORDERS_V2)
        if v2 and self.s.pending_client_order_ids:
            # Ids carried from before pending-orders-v2 have no ticker; they age out like the others.
            self._add_pending([PendingOrder(client_order_id=c) for c in self.s.pending_client_order_ids])
            self.s.pending_client_order_ids = []
        try:
            snapshot: CalibrationSnapshot = await workflow.execute_activity(
                CALIBRATION_SNAPSHOT,
                CalibrationInput(
                    series_tickers=self.config.series_tickers,
                    extra_tickers=tracked,
                    settlements_since=self.s.last_settlement_check,
                    order_group_id=self.s.order_group_id,
                    pending_client_order_ids=[] if v2 else list(self.s.pending_client_order_ids),
                    pending_orders=list(self.s.pending_orders) if v2 else [],
                    market_data=self._market_data_locator(),
                ),
                result_type=CalibrationSnapshot,
                start_to_close_timeout=timedelta(seconds=self.config.activity_timeout_s),
                retry_policy=self._retry(),
                summary="calibrate: exchange, portfolio, markets (parallel)",
            )
        except ActivityError as err:
            if error_type(err) == "KalshiAuthError":
                raise _AuthFailure(error_line(err)) from err
            report = self._failed_report(error_line(err))
            self.s.last_calibration = report
            self.s.mode = report.overall_status
            self._publish_search_attributes()
            return report
        if v2:
            report, opened = build_report(
                snapshot,
                self.config,
                self.s.positions_opened_at,
                self.s.known_client_order_ids,
                [p.client_order_id for p in self.s.pending_orders],
                own_tickers=self.s.own_tickers,
            )
            self.s.own_tickers = []
            unresolved = set(report.drift.unresolved_pending)
            self.s.pending_orders = [p for p in self.s.pending_orders if p.client_order_id in unresolved]
            report.drift.expired_pending = self._expire_pending()
        else:
            report, opened = build_report(
                snapshot,
                self.config,
                self.s.positions_opened_at,
                self.s.known_client_order_ids,
                self.s.pending_client_order_ids,
            )
        self.s.positions_opened_at = opened
        if not v2:
            self.s.pending_client_order_ids = list(report.drift.unresolved_pending)
        if snapshot.settlements is not None:
            self.s.last_settlement_check = snapshot.exchange_time
        self.s.last_calibration = report
        self.s.mode = report.overall_status
        self._publish_search_attributes()
        return report

    def _market_data_locator(self) -> LocateInput | None:
        """What the calibration needs to ensure and inspect the market-data workflow (None when off)."""
        if not self.config.epoch.use_websocket:
            return None
        start = self.config.market_data or MarketDataInput(
            environment=self.config.environment, series_tickers=self.config.series_tickers
        )
        wid = self.config.market_data_workflow_id or market_data_workflow_id(self.config.environment.value)
        return LocateInput(workflow_id=wid, task_queue=workflow.info().task_queue, start=start)

    def _add_pending(self, orders: list[PendingOrder]) -> None:
        """Note orders of unknown outcome (with their ticker and the workflow time) for lookup."""
        now = workflow.now()
        known = {p.client_order_id for p in self.s.pending_orders}
        for order in orders:
            if order.client_order_id not in known:
                self.s.pending_orders.append(order.model_copy(update={"since": order.since or now}))
                known.add(order.client_order_id)

    def _expire_pending(self) -> list[str]:
        """Drop pending orders older than ``pending_order_max_age_s`` or beyond ``max_pending_orders``."""
        now = workflow.now()
        max_age = self.config.pending_order_max_age_s
        kept = [p for p in self.s.pending_orders if p.since is None or (now - p.since).total_seconds() <= max_age]
        expired = [p.client_order_id for p in self.s.pending_orders if p not in kept]
        overflow = len(kept) - self.config.max_pending_orders
        if overflow > 0:
            expired += [p.client_order_id for p in kept[:overflow]]
            kept = kept[overflow:]
        if expired:
            workflow.logger.warning("dropping %d unresolved client order ids: %s", len(expired), ", ".join(expired))
        self.s.pending_orders = kept
        return expired

    def _failed_report(self, error: str) -> CalibrationReport:
        """A report for a calibration whose activity failed outright: the exchange is unreachable."""
        return CalibrationReport(
            at=workflow.now(),
            duration_ms=0,
            components=[
                ComponentHealth(name="exchange_rest", category=ComponentCategory.CRITICAL, healthy=False, error=error),
                ComponentHealth(name="order_tracking", category=ComponentCategory.CRITICAL, healthy=False, error=error),
            ],
            overall_status=OverallStatus.PAUSED,
            can_trade=False,
            errors={"calibration": error},
        )

    async def _cancel_leftover_orders(self, report: CalibrationReport) -> None:
        """Cancel resting orders left by a previous run (``cancel_resting_on_start``)."""
        ids = [o.order_id for o in report.resting_orders]
        if not ids:
            return
        try:
            result: CancelOrdersResult = await workflow.execute_activity(
                CANCEL_RESTING_ORDERS,
                CancelOrdersInput(order_ids=ids, reason="start-up: resting orders from a previous run"),
                result_type=CancelOrdersResult,
                start_to_close_timeout=timedelta(seconds=self.config.activity_timeout_s),
                retry_policy=self._retry(),
                summary=f"cancel {len(ids)} leftover resting orders",
            )
            workflow.logger.info("start-up cancelled %d resting orders", len(result.cancelled))
        except ActivityError as err:
            workflow.logger.warning("start-up cancel of resting orders failed: %s", error_line(err))

    # ------------------------------------------------------------------ order group

    async def _manage_order_group(self, report: CalibrationReport) -> bool:
        """Create the order group if missing; reset it once the rolling window has passed after a trigger.

        Kalshi's order group is the burst breaker (kalshi-api.md §3.7): it triggers when contracts
        filled in a rolling 15 s window exceed the limit, cancelling the group's resting orders and
        rejecting new ones until reset. A trigger is noticed from the group's state (where the
        exchange reports it) or from an epoch whose orders were rejected for it. The group is reset
        deliberately after ``order_group_window_s``; ``max_group_triggers_before_pause`` triggers in
        consecutive cycles escalate to an operator pause.

        Returns:
            True when repeated triggers escalated to a pause.

        """
        timeout = timedelta(seconds=self.config.activity_timeout_s)
        limit = self.config.order_group_contracts_limit
        try:
            if self.s.order_group_id is None or report.order_group_exists is False:
                state: OrderGroupState = await workflow.execute_activity(
                    ENSURE_ORDER_GROUP,
                    OrderGroupInput(order_group_id=None, contracts_limit=limit),
                    result_type=OrderGroupState,
                    start_to_close_timeout=timeout,
                    retry_policy=self._retry(),
                    summary=f"create order group (limit {limit} contracts / 15 s)",
                )
                self.s.order_group_id = state.order_group_id
                self.s.order_group_triggered_at = None
                self.s.order_group_trigger_pending = False
                return False
            triggered = report.order_group_triggered is True or self.s.order_group_trigger_pending
            if not triggered:
                self.s.order_group_triggered_at = None
                self.s.group_trigger_streak = 0
                return False
            if self.s.order_group_triggered_at is None:
                self.s.order_group_triggered_at = report.at
                self.s.group_trigger_streak += 1
            if self.s.group_trigger_streak >= self.config.max_group_triggers_before_pause:
                self._pause(
                    f"order group triggered in {self.s.group_trigger_streak} consecutive cycles (burst breaker)",
                    operator=True,
                )
                return True
            waited = (report.at - self.s.order_group_triggered_at).total_seconds()
            if waited < self.config.order_group_window_s:
                await workflow.sleep(self.config.order_group_window_s - waited, summary="order group window")
            await workflow.execute_activity(
                RESET_ORDER_GROUP,
                OrderGroupInput(order_group_id=self.s.order_group_id, contracts_limit=limit),
                result_type=OrderGroupState,
                start_to_close_timeout=timeout,
                retry_policy=self._retry(),
                summary="reset order group",
            )
            self.s.order_group_triggered_at = None
            self.s.order_group_trigger_pending = False
        except ActivityError as err:
            workflow.logger.warning("order group management failed: %s", error_line(err))
        return False

    # ------------------------------------------------------------------ exits and closes

    async def _close_positions(self, report: CalibrationReport) -> None:
        decisions = evaluate_exits(report.positions, report.cash_flow.balance_cents, self.config.exits)
        await self._run_closes(decisions)
        await self._process_force_closes()

    async def _process_force_closes(self) -> None:
        """Run closes asked for by the ``force_close`` update, resolving each waiting update.

        The live position is read first (``get_close_quote``): the last calibration may predate it.
        """
        while self._force_close_queue:
            key, ticker = self._force_close_queue.pop(0)
            self._closing_add(ticker)
            try:
                self._force_close_results[key] = await self._force_close(ticker)
            finally:
                self._closing_done(ticker)

    async def _force_close(self, ticker: str) -> CloseResult:
        def result(status: CloseStatus, error: str | None = None) -> CloseResult:
            return CloseResult(
                ticker=ticker,
                side="yes",
                reason=ExitReason.FORCE_CLOSE,
                tag=f"close_position:{ExitReason.FORCE_CLOSE.value}",
                requested_contracts=Decimal(0),
                status=status,
                error=error,
                at=workflow.now(),
            )

        try:
            quote: CloseQuote = await workflow.execute_activity(
                GET_CLOSE_QUOTE,
                CloseQuoteInput(ticker=ticker),
                result_type=CloseQuote,
                start_to_close_timeout=timedelta(seconds=self.config.activity_timeout_s),
                retry_policy=self._retry(),
                summary=f"force close: read {ticker}",
            )
        except ActivityError as err:
            failed = result(CloseStatus.FAILED, error_line(err))
            self._record_close(failed)
            return failed
        if quote.position_contracts == 0:
            return result(CloseStatus.ALREADY_FLAT)
        side: Side = "yes" if quote.position_contracts > 0 else "no"
        decision = ExitDecision(
            ticker=ticker, side=side, contracts=abs(quote.position_contracts), reason=ExitReason.FORCE_CLOSE
        )
        [closed] = await self._run_closes([decision])
        return closed

    async def _run_closes(self, decisions: list[ExitDecision]) -> list[CloseResult]:
        """Start one ``ClosePositionWorkflow`` child per decision (at most 10 at once) and record results."""
        results: list[CloseResult] = []
        for start in range(0, len(decisions), _MAX_PARALLEL_CLOSES):
            batch = decisions[start : start + _MAX_PARALLEL_CLOSES]
            tasks = [asyncio.create_task(self._close_one(d)) for d in batch]
            for task in tasks:
                results.append(await task)
        return results

    async def _close_one(self, decision: ExitDecision) -> CloseResult:
        self._closing_add(decision.ticker)
        try:
            return await self._close_child(decision)
        finally:
            self._closing_done(decision.ticker)

    def _closing_add(self, ticker: str) -> None:
        self._closing[ticker] = self._closing.get(ticker, 0) + 1

    def _closing_done(self, ticker: str) -> None:
        left = self._closing.get(ticker, 0) - 1
        if left > 0:
            self._closing[ticker] = left
        else:
            self._closing.pop(ticker, None)

    async def _close_child(self, decision: ExitDecision) -> CloseResult:
        info = workflow.info()
        self._close_seq += 1
        if workflow.patched(PATCH_RUN_SCOPED_ORDER_IDS):
            # Unique per run: a terminated-and-restarted or reset trader never meets an earlier close.
            token = run_token(info.first_execution_run_id, info.run_id)
            child_id = close_workflow_id(
                info.workflow_id,
                decision.ticker,
                decision.side,
                decision.reason.value,
                token,
                self.s.cycle,
                self._close_seq,
            )
        else:
            child_id = (
                f"{info.workflow_id}/close/{decision.ticker}/{decision.side}/c{self.s.cycle}"
                f"/g{self.s.generation}/{decision.reason.value}/{self._close_seq}"
            )
        request = CloseRequest(
            ticker=decision.ticker,
            side=decision.side,
            contracts=decision.contracts,
            reason=decision.reason,
            settings=self.config.close,
            activity_timeout_s=self.config.activity_timeout_s,
        )
        try:
            result: CloseResult = await workflow.execute_child_workflow(
                "ClosePositionWorkflow",
                request,
                id=child_id,
                result_type=CloseResult,
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                static_summary=f"close {decision.side.upper()} {decision.ticker}: {decision.reason.value}",
            )
        except ChildWorkflowError as err:
            result = CloseResult(
                ticker=decision.ticker,
                side=decision.side,
                reason=decision.reason,
                tag=f"close_position:{decision.reason.value}",
                requested_contracts=decision.contracts,
                status=CloseStatus.FAILED,
                error=error_line(err),
                at=workflow.now(),
                workflow_id=child_id,
            )
        self._remember_ids(result.client_order_ids)
        self._record_close(result)
        if result.closed_contracts > 0 and result.remaining_contracts <= 0:
            self.s.positions_opened_at.pop(decision.ticker, None)
        return result

    def _record_close(self, result: CloseResult) -> None:
        self.s.recent_closes.append(result)
        del self.s.recent_closes[: -self.config.recent_closes_size]
        self.s.closes_total += 1
        pnl = result.realized_pnl_dollars
        if pnl is not None and workflow.patched(PATCH_SESSION_PNL):
            self.s.realized_pnl_dollars += pnl
            self.s.close_fees_dollars += result.fees_dollars
            by_ticker = self.s.realized_pnl_by_ticker
            by_ticker[result.ticker] = by_ticker.pop(result.ticker, Decimal(0)) + pnl
            for stale in list(by_ticker)[: max(len(by_ticker) - _PNL_TICKERS, 0)]:
                del by_ticker[stale]
        workflow.logger.info(
            "close %s %s %s: %s %s/%s contracts",
            result.tag,
            result.side,
            result.ticker,
            result.status.value,
            result.closed_contracts,
            result.requested_contracts,
        )

    # ------------------------------------------------------------------ trading epoch

    async def _trading_epoch(self, report: CalibrationReport) -> EpochSummary | None:
        """Trade until the next recalibration or an interrupting signal.

        With healthy WebSocket market data the reactive actor loop runs on the worker queue that holds
        the books (``run_actor_epoch``); otherwise, or when that worker cannot take it, the REST polling
        epoch runs on the shared queue for the rest of the cycle.
        """
        info = workflow.info()
        deadline = workflow.now() + timedelta(seconds=self.config.recalibration_interval_s)
        viable = {v.ticker: v for v in report.markets if v.viable}
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
            if self._interrupted():
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
            await workflow.wait_condition(lambda: task.done() or self._interrupted())
            if not task.done():
                task.cancel()
            return await task
        except (ActivityError, asyncio.CancelledError) as err:
            if isinstance(err, asyncio.CancelledError) and not task.cancelled():
                raise
            workflow.logger.warning("trading epoch ended without a summary: %s", error_line(err))
            return None

    # ------------------------------------------------------------------ pause, stop

    def _interrupted(self) -> bool:
        return (
            self._stop_request is not None
            or self._pause_request is not None
            or self._recalibrate_requested
            or bool(self._force_close_queue)
        )

    def _enter_operator_pause(self, request: PauseRequest) -> None:
        self._resume_requested = False
        self._pause(request.reason, operator=True)

    def _pause(self, reason: str, *, operator: bool) -> None:
        self.s.pause_reason = reason
        self.s.paused_by_operator = operator
        if self.s.state != LifecycleState.PAUSED:
            self._transition(LifecycleState.PAUSED, reason)
        else:
            self._update_details()

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
            except _AuthFailure as err:
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
            except _AuthFailure as err:
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
                    else f"flat where the market trades; {_describe(stuck)} remain in markets that no longer "
                    "trade (they await settlement)"
                )
                return report
            if rounds >= self.config.stop_close_all_max_rounds:
                what = _describe(report.positions) if readable else "positions unknown (the exchange is unreachable)"
                self.s.stop_outcome = f"could not flatten after {rounds} rounds: {what} remain"
                workflow.logger.warning("stop close_all: %s", self.s.stop_outcome)
                return report
            rounds += 1
            progress = False
            if readable and report.can_trade:
                decisions = [
                    ExitDecision(ticker=p.ticker, side=p.side, contracts=p.contracts, reason=ExitReason.STOP_CLOSE_ALL)
                    for p in tradeable
                ]
                results = await self._run_closes(decisions)
                progress = any(r.closed_contracts > 0 for r in results)
            if not progress:
                steps = self.config.degraded_backoff_s
                delay = steps[min(rounds - 1, len(steps) - 1)]
                why = "the exchange cannot trade now" if not report.can_trade else "nothing filled"
                workflow.logger.info("stop close_all round %d: %s; retrying in %gs", rounds, why, delay)
                await workflow.sleep(delay, summary=f"stop close_all: retry in {delay:g}s ({why})")

    # ------------------------------------------------------------------ signals, query, updates

    @workflow.signal(name=SIGNAL_PAUSE, description='Pause trading: {"reason": "..."} (optional).')
    def pause(self, payload: Any = None, *extra: Any) -> None:
        """Pause: cancel the running epoch and place no orders until ``resume``."""
        request = self._parse(SIGNAL_PAUSE, PauseRequest, payload, extra)
        if request is not None:
            self._pause_request = request

    @workflow.signal(name=SIGNAL_RESUME, description="Resume trading after a pause (recalibrates first).")
    def resume(self, payload: Any = None, *extra: Any) -> None:
        """Resume from any pause; the trader recalibrates before trading. Ignored when not paused."""
        if extra or payload not in (None, {}, ""):
            self._reject(SIGNAL_RESUME, "resume takes no input")
            return
        if workflow.patched(PATCH_OPERATOR_HANDLERS_V2):
            # The latest of pause/resume wins: a resume cancels a queued pause AND ends a current pause.
            queued = self._pause_request is not None
            self._pause_request = None
            if self.s.state == LifecycleState.PAUSED:
                self._resume_requested = True
            elif not queued:
                workflow.logger.info("resume ignored: the trader is %s, not paused", self.s.state.value)
            return
        if self._pause_request is not None:
            self._pause_request = None  # a pause and its resume in the same task cancel out
        elif self.s.state == LifecycleState.PAUSED:
            self._resume_requested = True
        else:
            workflow.logger.info("resume ignored: the trader is %s, not paused", self.s.state.value)

    @workflow.signal(name=SIGNAL_STOP, description='Stop the trader: {"close_all": true} flattens positions first.')
    def stop(self, payload: Any = None, *extra: Any) -> None:
        """Stop the trader; with ``close_all`` every position is closed first."""
        request = self._parse(SIGNAL_STOP, StopRequest, payload, extra)
        if request is not None:
            self._stop_request = request

    @workflow.signal(name=SIGNAL_RECALIBRATE, description="End the current epoch and recalibrate now.")
    def recalibrate(self, payload: Any = None, *extra: Any) -> None:
        """Recalibrate now (ends the running epoch; probes immediately while recovering). Input is ignored."""
        self._recalibrate_requested = True

    @workflow.query(name=QUERY_STATUS, description="Trader status: state, mode, cycle, positions, closes, history.")
    def status(self) -> TraderStatus:
        """The trader's status as a :class:`TraderStatus` (JSON on the CLI)."""
        info = workflow.info()
        cal = self.s.last_calibration
        return TraderStatus(
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            environment=self.config.environment,
            state=self.s.state,
            mode=self.s.mode,
            pause_reason=self.s.pause_reason,
            cycle=self.s.cycle,
            generation=self.s.generation,
            recalibration_interval_s=self.config.recalibration_interval_s,
            cash_cents=cal.cash_flow.balance_cents if cal else None,
            positions=cal.positions if cal else [],
            last_calibration=cal,
            last_epoch=self.s.last_epoch,
            recent_closes=list(self.s.recent_closes),
            status_history=list(self.s.status_history),
            order_group_id=self.s.order_group_id,
            risk=self.config.risk,
            exits=self.config.exits,
            pending_client_order_ids=list(self.s.pending_client_order_ids)
            + [p.client_order_id for p in self.s.pending_orders],
            rejected_messages=list(self.s.rejected_messages),
            pending_orders=list(self.s.pending_orders),
            realized_pnl_dollars=self.s.realized_pnl_dollars,
            close_fees_dollars=self.s.close_fees_dollars,
            realized_pnl_by_ticker=dict(self.s.realized_pnl_by_ticker),
            stop_outcome=self.s.stop_outcome,
        )

    @workflow.update(name=UPDATE_SET_RISK_LIMITS, description="Change risk limits / exit thresholds; returns them.")
    def set_risk_limits(self, payload: Any) -> RiskLimits:
        """Apply a validated :class:`RiskLimitsUpdate`; takes effect from the next epoch.

        The whole resulting configuration is validated (``RiskLimitsUpdate.apply``): nulls, values out
        of range and combinations that cannot work are refused by the validator, before history.

        Raises:
            ApplicationError: the payload is invalid (only reachable if the validator was skipped; fails
                the update, never the workflow task).
        """
        if workflow.patched(PATCH_OPERATOR_HANDLERS_V2):
            try:
                risk, exits = RiskLimitsUpdate.model_validate(payload).apply(self.config.risk, self.config.exits)
            except ValidationError as err:
                raise ApplicationError(
                    f"invalid set_risk_limits payload: {validation_line(err)}",
                    type="InvalidPayload",
                    non_retryable=True,
                ) from None
            except ValueError as err:
                raise ApplicationError(
                    f"set_risk_limits refused: {err}", type="InvalidPayload", non_retryable=True
                ) from None
            self.config.risk, self.config.exits = risk, exits
            self._update_details()
            return self.config.risk
        update = RiskLimitsUpdate.model_validate(payload)
        risk_fields = set(RiskLimits.model_fields) & update.model_fields_set
        exit_fields = {"take_profit_pct", "stop_loss_pct", "cash_reserve_cents"} & update.model_fields_set
        self.config.risk = self.config.risk.model_copy(update={f: getattr(update, f) for f in risk_fields})
        self.config.exits = self.config.exits.model_copy(update={f: getattr(update, f) for f in exit_fields})
        self._update_details()
        return self.config.risk

    @set_risk_limits.validator
    def _validate_risk_limits(self, payload: Any) -> None:
        try:
            update = RiskLimitsUpdate.model_validate(payload)
        except ValidationError as err:
            raise ValueError(f"invalid set_risk_limits payload: {validation_line(err)}") from None
        try:
            update.apply(self.config.risk, self.config.exits)
        except ValueError as err:
            raise ValueError(f"set_risk_limits refused: {err}") from None

    @workflow.update(name=UPDATE_FORCE_CLOSE, description='Close one market now: {"ticker": "..."}; returns the close.')
    async def force_close(self, payload: Any) -> CloseResult:
        """Close the position in one market now (reason ``force_close``) and return the result.

        Raises:
            ApplicationError: the payload is invalid (only reachable if the validator was skipped).
        """
        if workflow.patched(PATCH_OPERATOR_HANDLERS_V2):
            try:
                request = ForceCloseRequest.model_validate(payload)
            except ValidationError as err:
                raise ApplicationError(
                    f"invalid force_close payload: {validation_line(err)}", type="InvalidPayload", non_retryable=True
                ) from None
            info = workflow.current_update_info()
            key = info.id if info is not None else f"{request.ticker}:{workflow.now().isoformat()}"
        else:
            request = ForceCloseRequest.model_validate(payload)
            key = request.ticker
        self._force_close_queue.append((key, request.ticker))
        await workflow.wait_condition(lambda: key in self._force_close_results)
        return self._force_close_results.pop(key)

    @force_close.validator
    def _validate_force_close(self, payload: Any) -> None:
        try:
            request = ForceCloseRequest.model_validate(payload)
        except ValidationError as err:
            raise ValueError(f"invalid force_close payload: {validation_line(err)}") from None
        if self.s.state in (LifecycleState.STOPPING, LifecycleState.STOPPED):
            raise ValueError(f"trader is {self.s.state.value}; force_close refused")
        if any(ticker == request.ticker for _, ticker in self._force_close_queue):
            raise ValueError(f"a force_close of {request.ticker} is already queued")
        if request.ticker in self._closing:
            raise ValueError(f"{request.ticker} is being closed right now; see the status query for the result")

    def _parse(self, handler: str, model: type[Any], payload: Any, extra: tuple[Any, ...] = ()) -> Any:
        """Validate a signal payload; a bad one is recorded in ``rejected_messages`` and None returned.

        Signal handlers take ``*extra`` so a signal sent with several arguments (``--input`` twice) is
        rejected here instead of raising TypeError in the SDK, which would fail the workflow task.
        """
        if extra:
            self._reject(handler, f"{handler} takes one JSON argument, got {1 + len(extra)}")
            return None
        try:
            return model.model_validate(payload if payload is not None else {})
        except ValidationError as err:
            self._reject(handler, validation_line(err))
            return None

    def _reject(self, handler: str, error: str) -> None:
        workflow.logger.warning("rejected %s payload: %s", handler, error)
        self.s.rejected_messages.append(RejectedMessage(at=workflow.now(), handler=handler, error=error))
        del self.s.rejected_messages[:-10]

    # ------------------------------------------------------------------ bookkeeping

    def _retry(self) -> RetryPolicy:
        return rest_retry_policy(self.config.activity_max_attempts)

    def _should_continue_as_new(self) -> bool:
        if self._cycles_this_run >= self.config.continue_as_new_after_cycles:
            return True
        return workflow.info().is_continue_as_new_suggested()

    def _remember_ids(self, ids: list[str]) -> None:
        if ids:
            self.s.known_client_order_ids.extend(ids)
            del self.s.known_client_order_ids[:-_KNOWN_IDS_TAIL]

    def _transition(self, new_state: LifecycleState, result: str) -> None:
        now = workflow.now()
        previous = self.s.state
        entered = self.s.state_entered_at or now
        entry = StatusTransition(
            at=now,
            state=new_state,
            previous_state=previous,
            time_in_previous_s=round((now - entered).total_seconds(), 3),
            result=result,
        )
        history = self.s.status_history
        routine = {previous, new_state} == {LifecycleState.CALIBRATING, LifecycleState.TRADING}
        # Collapse routine cycles: replace the entry two back (same direction) and count the repeat.
        if (
            routine
            and len(history) >= 2
            and history[-2].state == new_state
            and history[-2].previous_state == previous
            and {history[-1].state, history[-1].previous_state} == {LifecycleState.CALIBRATING, LifecycleState.TRADING}
        ):
            entry.repeats = history.pop(-2).repeats + 1
        history.append(entry)
        del history[: -self.config.status_history_size]
        self.s.state = new_state
        self.s.state_entered_at = now
        if new_state != LifecycleState.PAUSED:
            self.s.pause_reason = None if new_state != LifecycleState.STOPPING else self.s.pause_reason
        workflow.logger.info("state %s -> %s: %s", previous.value, new_state.value, result)
        self._publish_search_attributes()
        self._update_details()

    def _publish_search_attributes(self, force: bool = False) -> None:
        """Upsert state/mode/env search attributes only when they change (each upsert is a history event).

        ``KalshiTraderState`` shows ``trading`` during recalibration too (the flip every cycle would
        cost two events per cycle); the ``status`` query has the exact state.
        """
        self._publish_metrics()
        state = self.s.state.value
        if self.s.state == LifecycleState.CALIBRATING and self._sa_state == LifecycleState.TRADING.value:
            state = LifecycleState.TRADING.value
        mode = self.s.mode.value if self.s.mode else "unknown"
        updates = []
        if force or state != self._sa_state:
            updates.append(SA_STATE.value_set(state))
        if force or mode != self._sa_mode:
            updates.append(SA_MODE.value_set(mode))
        if force:
            updates.append(SA_ENV.value_set(self.config.environment.value))
        if updates:
            current = workflow.info().typed_search_attributes
            if not force and current.get(SA_STATE) == state and current.get(SA_MODE) == mode:
                self._sa_state, self._sa_mode = state, mode
                return
            workflow.upsert_search_attributes(updates)
            self._sa_state, self._sa_mode = state, mode

    def _publish_metrics(self) -> None:
        """Export the exact state and the mode as one-hot gauges labelled by ``workflow_id``.

        ``kalshi_trader_state{state}`` and ``kalshi_trader_mode{mode}`` are 1 for the current value and 0 for
        the others. Workflow metrics are not emitted during replay (temporal.md §6), so after a worker restart
        they reappear at the next state change or calibration. SDK gauges refuse negative values (a
        ``ValueError`` here would fail the workflow task): only 0/1 are set here; money gauges are set by the
        calibration activity.
        """
        meter = workflow.metric_meter().with_additional_attributes({"workflow_id": workflow.info().workflow_id})
        state = meter.create_gauge("kalshi_trader_state", "1 for the trader's current lifecycle state")
        for s in LifecycleState:
            state.set(int(s == self.s.state), {"state": s.value})
        mode = meter.create_gauge("kalshi_trader_mode", "1 for the last calibration's overall status")
        for m in OverallStatus:
            mode.set(int(m == self.s.mode), {"mode": m.value})

    def _update_details(self) -> None:
        """Set the Web UI's current details: a readable status table (no history event)."""
        workflow.set_current_details(render_details(self.config, self.s))


def render_details(config: TraderConfig, s: CarriedState) -> str:
    """Markdown status table for the Web UI (``workflow.set_current_details``)."""
    cal = s.last_calibration
    lines = [
        f"**Kalshi trader ({config.environment.value})** - state `{s.state.value}`"
        + (f" ({s.pause_reason})" if s.pause_reason else ""),
        "",
        "| field | value |",
        "|---|---|",
        f"| mode | {s.mode.value if s.mode else 'unknown'} |",
        f"| cycle / generation | {s.cycle} / {s.generation} |",
        f"| recalibration interval | {config.recalibration_interval_s:g} s |",
        f"| cash | {_cents(cal.cash_flow.balance_cents) if cal else 'n/a'}"
        f" (reserve {_cents(config.exits.cash_reserve_cents)}) |",
        f"| last calibration | {cal.overall_status.value + f' in {cal.duration_ms} ms' if cal else 'n/a'} |",
        f"| viable markets | {', '.join(cal.viable_markets) if cal and cal.viable_markets else 'none'} |",
        f"| order group | {s.order_group_id or 'none'} |",
        f"| orders placed / closes | {s.orders_placed_total} / {s.closes_total} |",
        f"| realised P&L of closes (session) | {_dollars(s.realized_pnl_dollars)} after "
        f"${s.close_fees_dollars:,.2f} fees |",
    ]
    if s.pending_orders:
        lines.append(f"| orders of unknown outcome | {len(s.pending_orders)} (looked up at each calibration) |")
    if s.stop_outcome:
        lines.append(f"| stop | {s.stop_outcome} |")
    if s.last_epoch:
        e = s.last_epoch
        decisions = ", ".join(f"{k} {v}" for k, v in sorted(e.decisions.items())) or "none"
        counts = f"{e.updates_seen} updates, {e.orders_placed} orders"
        lines.append(f"| last epoch | {e.driver}, {e.ended_by}: {counts}, {decisions} |")
    if cal and cal.positions:
        lines += [
            "",
            "| position | side | contracts | avg cost | mark | unrealised P&L | realised P&L (closes) |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in cal.positions:
            pnl = (
                f"{p.unrealized_pnl_dollars:+.2f} ({p.pnl_pct * 100:+.1f}%)"
                if p.pnl_pct is not None and p.unrealized_pnl_dollars is not None
                else "n/a"
            )
            mark = p.mark_dollars if p.mark_dollars is not None else "n/a"
            realized = s.realized_pnl_by_ticker.get(p.ticker)
            lines.append(
                f"| {p.ticker} | {p.side} | {p.contracts} | {p.avg_cost_dollars:.4f} | {mark} | {pnl} | "
                f"{_dollars(realized) if realized is not None else 'n/a'} |"
            )
    if s.recent_closes:
        lines += [
            "",
            "| close | ticker | status | contracts | avg price | fees | realised P&L |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in s.recent_closes[-5:]:
            avg = c.average_price_dollars or "n/a"
            pnl = _dollars(c.realized_pnl_dollars) if c.realized_pnl_dollars is not None else "n/a"
            lines.append(
                f"| {c.tag} | {c.ticker} | {c.status.value} | {c.closed_contracts}/{c.requested_contracts} | {avg} "
                f"| ${c.fees_dollars:,.2f} | {pnl} |"
            )
    return "\n".join(lines)


def _dollars(amount: Decimal) -> str:
    """``+$1.23`` / ``-$0.40``."""
    sign = "-" if amount < 0 else "+"
    return f"{sign}${abs(amount):,.2f}"


def _describe(positions: list[PositionView]) -> str:
    """``3 YES KX-A, 2 NO KX-B`` (or ``none``)."""
    return ", ".join(f"{p.contracts} {p.side.upper()} {p.ticker}" for p in positions) or "none"


def pause_reason(report: CalibrationReport) -> str:
    """Why a calibration that cannot trade pauses the trader, in the operator's words.

    An exchange-wide trading pause (``trading_active=false``) or a closed exchange is named as such; a
    failed component is named with its error.
    """
    down = [c for c in report.components if c.category == ComponentCategory.CRITICAL and not c.healthy]
    if report.exchange_active is False:
        return "the exchange is not active (Kalshi exchange_active=false: closed or under maintenance)"
    if report.trading_active is False and all(c.name == "exchange_rest" for c in down):
        return "exchange-wide trading pause (Kalshi trading_active=false); probing again with backoff"
    if not down:
        return "exchange trading is paused"
    return "critical component down: " + "; ".join(f"{c.name} ({c.error})" if c.error else c.name for c in down)


def _cents(cents: int | None) -> str:
    if cents is None:
        return "n/a"
    return f"${Decimal(cents) / 100:,.2f}"


__all__ = ["TraderWorkflow", "render_details"]
