"""The trader's calibration steps (ARCHITECTURE.md "Workflows", steps 1-3 of a cycle).

The calibration activity and its report, orders of unknown outcome, start-up cleanup and the order group.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from models.trader import (
    CalibrationInput,
    CalibrationReport,
    CalibrationSnapshot,
    CancelOrdersInput,
    CancelOrdersResult,
    ComponentCategory,
    ComponentHealth,
    OrderGroupInput,
    OrderGroupState,
    OverallStatus,
    PendingOrder,
)
from workflows.calibration import build_report
from workflows.common import error_line, error_type
from workflows.names import (
    CALIBRATION_SNAPSHOT,
    CANCEL_RESTING_ORDERS,
    ENSURE_ORDER_GROUP,
    PATCH_LIVE_POLICY,
    PATCH_PENDING_ORDERS_V2,
    RESET_ORDER_GROUP,
)
from workflows.trader.base import AuthFailure, TraderBase


class CalibrationSteps(TraderBase):
    """Calibrate, reconcile pending orders, cancel leftovers, manage the order group."""

    async def _calibrate(self, *, note_mode: bool = True) -> CalibrationReport:
        """Run the calibration activity and build the report (kept in ``s.last_calibration``).

        Args:
            note_mode: take the report's overall status as the trader's mode now (:meth:`_note_mode`); the cycle
                passes False and notes it after a transient failure's immediate retry, so a failure that the retry
                clears never shows as a mode change.

        Raises:
            AuthFailure: the exchange refused the credentials.
        """
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
                raise AuthFailure(error_line(err)) from err
            report = self._failed_report(error_line(err))
            self.s.last_calibration = report
            if note_mode:
                self._note_mode(report)
            return report
        if v2:
            believed = self._epoch_positions
            self._epoch_positions = None
            report, opened = build_report(
                snapshot,
                self.config,
                self.s.positions_opened_at,
                self.s.known_client_order_ids,
                [p.client_order_id for p in self.s.pending_orders],
                own_tickers=self.s.own_tickers,
                epoch_positions=(
                    {t: v for t, v in believed.items() if t not in self._closing} if believed is not None else None
                ),
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
            # The first read returns the account's earlier settlements: only later ones are this session's.
            if (
                snapshot.settlements
                and self.s.last_settlement_check is not None
                and workflow.patched(PATCH_LIVE_POLICY)
            ):
                self._add_session_pnl(None, snapshot.settlements)
            self.s.last_settlement_check = snapshot.exchange_time
        self.s.last_calibration = report
        if note_mode:
            self._note_mode(report)
        if report.drift.mismatched_positions:
            workflow.logger.warning(
                "the last epoch's positions differ from the exchange's: %s",
                "; ".join(report.drift.mismatched_positions),
            )
        return report

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
                    kind="order_group",
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
