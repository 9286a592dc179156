"""The trader's operator interface: its signals, query and updates.

Signals ``pause``/``resume``/``stop``/``recalibrate``, query ``status``, updates ``set_risk_limits``,
``set_policy`` and ``force_close`` with their validators. Every payload is validated before it touches state: a bad
signal payload is logged, recorded in ``status.rejected_messages`` and changes nothing; a bad update is refused by its
validator (nothing written to history). No operator input can fail a workflow task.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from models.trader import (
    CloseResult,
    ForceCloseRequest,
    LifecycleState,
    PauseRequest,
    PolicyUpdate,
    RejectedMessage,
    RiskLimits,
    RiskLimitsUpdate,
    StopRequest,
    TraderStatus,
    validation_line,
)
from workflows.names import (
    PATCH_LIVE_POLICY,
    PATCH_OPERATOR_HANDLERS_V2,
    QUERY_STATUS,
    SIGNAL_PAUSE,
    SIGNAL_RECALIBRATE,
    SIGNAL_RESUME,
    SIGNAL_STOP,
    UPDATE_FORCE_CLOSE,
    UPDATE_SET_POLICY,
    UPDATE_SET_RISK_LIMITS,
)
from workflows.trader.base import TraderBase


class OperatorHandlers(TraderBase):
    """The handlers (inherited by ``TraderWorkflow``; the SDK registers a base class's handlers)."""

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

    @workflow.query(
        name=QUERY_STATUS, description="Trader status: state, mode, cycle, policy, positions and P&L, closes, history."
    )
    def status(self) -> TraderStatus:
        """The trader's status as a :class:`TraderStatus` (JSON on the CLI)."""
        info = workflow.info()
        cal = self.s.last_calibration
        s = self.s
        by_ticker: dict[str, Decimal] = {}
        for source in (s.realized_pnl_by_ticker, s.trading_realized_by_ticker, s.settlement_pnl_by_ticker):
            for ticker, pnl in source.items():
                by_ticker[ticker] = by_ticker.get(ticker, Decimal(0)) + pnl
        positions = cal.positions if cal else []
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
            policy=self.config.epoch.policy,
            policy_in_use=s.last_epoch.policy if s.last_epoch else None,
            unrealized_pnl_dollars=sum((p.unrealized_pnl_dollars or Decimal(0) for p in positions), Decimal(0)),
            trading_realized_pnl_dollars=s.trading_realized_pnl_dollars,
            trading_fees_dollars=s.trading_fees_dollars,
            settlement_pnl_dollars=s.settlement_pnl_dollars,
            session_realized_pnl_dollars=s.realized_pnl_dollars
            + s.trading_realized_pnl_dollars
            + s.settlement_pnl_dollars,
            session_realized_by_ticker=by_ticker,
            backoff_step=self.s.backoff_step,
            limits=self.s.limits,
            last_probe=self.s.last_probe,
            mode_since=self.s.mode_since,
            mode_seconds=self._mode_seconds(),
        )

    @workflow.update(
        name=UPDATE_SET_POLICY,
        description='Switch the trading policy from the next epoch: {"policy": "rl:current"}; returns the policy.',
    )
    def set_policy(self, payload: Any) -> str:
        """Apply a validated :class:`PolicyUpdate` (``imbalance``, ``hold``, ``rl:current``, ``rl:<version>``).

        Takes effect at the next epoch: the running epoch keeps its policy. Whether a model version exists only the
        worker can tell (no I/O here): a missing or unusable one runs ``fallback_policy``, and the epoch summary
        and ``status.policy_in_use`` say why.

        Raises:
            ApplicationError: the payload is invalid (only reachable if the validator was skipped; fails the update,
                never the workflow task).
        """
        workflow.patched(PATCH_LIVE_POLICY)
        try:
            update = PolicyUpdate.model_validate(payload)
        except ValidationError as err:
            raise ApplicationError(
                f"invalid set_policy payload: {validation_line(err)}", type="InvalidPayload", non_retryable=True
            ) from None
        epoch = self.config.epoch
        epoch.policy = update.policy
        if update.fallback_policy is not None:
            epoch.fallback_policy = update.fallback_policy
        workflow.logger.info("policy set to %s (fallback %s) from the next epoch", epoch.policy, epoch.fallback_policy)
        self._update_details()
        return epoch.policy

    @set_policy.validator
    def _validate_set_policy(self, payload: Any) -> None:
        try:
            PolicyUpdate.model_validate(payload)
        except ValidationError as err:
            raise ValueError(f"invalid set_policy payload: {validation_line(err)}") from None

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
