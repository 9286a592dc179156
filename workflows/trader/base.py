"""The state every part of ``TraderWorkflow`` shares, and the helpers they all call.

``TraderWorkflow`` (:mod:`workflows.trader.workflow`) is this base plus four parts, each a class in a module of
its own: the calibration steps (:mod:`workflows.trader.calibrate`), the closes (:mod:`workflows.trader.closes`),
the trading epoch (:mod:`workflows.trader.epoch`) and the operator's signal, query and update handlers
(:mod:`workflows.trader.handlers`). The parts hold no state of their own: every attribute is declared here and
set in ``TraderWorkflow.__init__``; a part calls only its own methods and this base's. Where a method lives
changes no command the workflow issues (replay).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import MetricMeter, RetryPolicy

from models.market_data import LocateInput, MarketDataInput
from models.trader import (
    CalibrationReport,
    CarriedState,
    CloseResult,
    ComponentCategory,
    EpochSummary,
    LifecycleState,
    OverallStatus,
    PauseRequest,
    SettlementRecord,
    StatusTransition,
    StopRequest,
    TraderConfig,
)
from workflows.calibration import FALLBACK_IDS, describe_mode, mode_limits
from workflows.common import rest_retry_policy
from workflows.market_data import market_data_workflow_id
from workflows.names import (
    SA_ENV,
    SA_MODE,
    SA_STATE,
)
from workflows.trader.details import render_details

_KNOWN_IDS_TAIL = 500
_PNL_TICKERS = 100


def _add_by_ticker(by_ticker: dict[str, Decimal], ticker: str, amount: Decimal) -> None:
    """Add ``amount`` to ``ticker``'s entry (moved to the end); keep the last :data:`_PNL_TICKERS` markets."""
    by_ticker[ticker] = by_ticker.pop(ticker, Decimal(0)) + amount
    for stale in list(by_ticker)[: max(len(by_ticker) - _PNL_TICKERS, 0)]:
        del by_ticker[stale]


class AuthFailure(Exception):
    """Calibration hit a non-retryable authentication error."""


class TraderBase:
    """The trader workflow's state and shared helpers (see the module docstring).

    Attributes:
        config: the trader's configuration (risk limits and exits change with ``set_risk_limits``).
        s: everything carried across continue-as-new.
        _pause_request, _resume_requested, _stop_request, _recalibrate_requested: operator signals not yet
            acted on.
        _force_close_queue: ``force_close`` requests as (result key, ticker); the key is the update id (the
            ticker before operator-handlers-v2).
        _force_close_results: results waiting under their key until the update handler takes them.
        _closing: ticker -> closes running (rule, force or stop closes).
        _close_seq: closes started in this run (part of each close's workflow id).
        _cycles_this_run: cycles since this run started (continue-as-new cap).
        _sa_state, _sa_mode: the search attribute values last upserted.
        _background_closes: close tasks that outlived their cycle's ``degraded.close_wait_s`` (a close waiting out
            an exchange pause); awaited before continue-as-new.
        _probe_change: why the last health probe ended the epoch (a component changed), None otherwise.
        _epoch_positions: the last epoch's own view of its markets' positions, compared with the exchange's at the
            next calibration (then cleared).
    """

    config: TraderConfig
    s: CarriedState
    _pause_request: PauseRequest | None
    _resume_requested: bool
    _stop_request: StopRequest | None
    _recalibrate_requested: bool
    _force_close_queue: list[tuple[str, str]]
    _force_close_results: dict[str, CloseResult]
    _closing: dict[str, int]
    _close_seq: int
    _cycles_this_run: int
    _sa_state: str | None
    _sa_mode: str | None
    _background_closes: list[asyncio.Task[CloseResult]]
    _probe_change: str | None
    _epoch_positions: dict[str, Decimal] | None

    # Helpers every part calls: retry policy, id memory, interruption, pause, status transitions.

    def _retry(self) -> RetryPolicy:
        return rest_retry_policy(self.config.activity_max_attempts)

    def _remember_ids(self, ids: list[str]) -> None:
        if ids:
            self.s.known_client_order_ids.extend(ids)
            del self.s.known_client_order_ids[:-_KNOWN_IDS_TAIL]

    def _add_session_pnl(self, summary: EpochSummary | None, settlements: list[SettlementRecord]) -> None:
        """Sum an epoch's realised P&L and fees, and settlements' P&L, into the session (patch live-policy)."""
        if summary is not None:
            self.s.trading_realized_pnl_dollars += summary.realized_pnl_dollars
            self.s.trading_fees_dollars += summary.fees_dollars
            for ticker, pnl in summary.realized_pnl_by_ticker.items():
                _add_by_ticker(self.s.trading_realized_by_ticker, ticker, pnl)
        for st in settlements:
            self.s.settlement_pnl_dollars += st.pnl_dollars
            _add_by_ticker(self.s.settlement_pnl_by_ticker, st.ticker, st.pnl_dollars)

    async def _watch_health(self, done: asyncio.Future[Any]) -> None:
        """Wait until ``done`` or an interruption, probing health on its cadence (implemented by ``EpochSteps``).

        Raises:
            NotImplementedError: on a class without the epoch steps (never the case for ``TraderWorkflow``).
        """
        raise NotImplementedError

    def _interrupted(self) -> bool:
        return (
            self._stop_request is not None
            or self._pause_request is not None
            or self._recalibrate_requested
            or bool(self._force_close_queue)
        )

    def _pause(self, reason: str, *, operator: bool, kind: str | None = None) -> None:
        """Enter (or stay in) ``paused`` with ``reason``.

        Args:
            reason: the operator-facing reason (``pause_reason``).
            operator: an operator pause (waits for ``resume``) rather than a failure (probes with backoff).
            kind: the pause's category, the ``reason`` label of ``kalshi_trader_pauses_total``: ``operator``,
                ``authentication``, ``order_group``, ``exchange_inactive``, ``trading_paused``,
                ``critical_component`` (default: ``operator`` or ``critical_component``).
        """
        self.s.pause_reason = reason
        self.s.paused_by_operator = operator
        if self.s.state != LifecycleState.PAUSED:
            label = kind or ("operator" if operator else "critical_component")
            self._meter().create_counter("kalshi_trader_pauses", "Pauses entered, by reason").add(1, {"reason": label})
            self._transition(LifecycleState.PAUSED, reason)
        else:
            self._update_details()

    def _note_mode(self, report: CalibrationReport) -> None:
        """Take the report's overall status as the trader's mode; a change is a status-history entry with its reason.

        The entry (``mode``/``previous_mode`` set, ``state`` unchanged) says which components are down, which
        fallbacks stand in and what the trader does differently (:func:`workflows.calibration.describe_mode`);
        the time spent in the previous mode is added to ``mode_seconds``. The ``KalshiTraderMode`` search
        attribute follows (upserted only on change). No command is issued besides that upsert, so histories
        recorded before this entry existed replay unchanged.
        """
        new, old = report.overall_status, self.s.mode
        now = workflow.now()
        if new != old:
            since = self.s.mode_since or now
            spent = round((now - since).total_seconds(), 3)
            if old is not None:
                self.s.mode_seconds[old.value] = round(self.s.mode_seconds.get(old.value, 0.0) + spent, 3)
            self.s.mode_since = now
            why = describe_mode(report, mode_limits(report, self.config))
            entry = StatusTransition(
                at=now,
                state=self.s.state,
                previous_state=self.s.state,
                time_in_previous_s=spent if old is not None else 0.0,
                result=f"mode {old.value if old else 'unknown'} -> {why}",
                mode=new,
                previous_mode=old,
            )
            self.s.status_history.append(entry)
            del self.s.status_history[: -self.config.status_history_size]
            self.s.mode = new
            workflow.logger.info("mode %s -> %s", old.value if old else "unknown", why)
            self._meter().create_counter("kalshi_trader_mode_changes", "Mode changes, by new mode").add(
                1, {"mode": new.value}
            )
        self._publish_search_attributes()

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
        meter = self._meter()
        state = meter.create_gauge("kalshi_trader_state", "1 for the trader's current lifecycle state")
        for s in LifecycleState:
            state.set(int(s == self.s.state), {"state": s.value})
        mode = meter.create_gauge("kalshi_trader_mode", "1 for the last calibration's overall status")
        for m in OverallStatus:
            mode.set(int(m == self.s.mode), {"mode": m.value})
        seconds = meter.create_gauge_float(
            "kalshi_trader_mode_seconds", "Seconds spent in each mode this session (the current period included)"
        )
        for name, value in self._mode_seconds().items():
            seconds.set(value, {"mode": name})
        meter.create_gauge("kalshi_trader_backoff_step", "Index of the next recovery probe's timer while paused").set(
            self.s.backoff_step if self.s.state == LifecycleState.PAUSED else 0
        )
        cal = self.s.last_calibration
        if cal is not None:
            healthy = meter.create_gauge(
                "kalshi_trader_component_healthy", "1 when the component was healthy at the last calibration"
            )
            for c in cal.components:
                healthy.set(int(c.healthy), {"component": c.name, "category": c.category.value})
            active = {
                c.fallback_id
                for c in cal.components
                if not c.healthy and c.category == ComponentCategory.OPTIONAL and c.fallback_id is not None
            }
            fallback = meter.create_gauge("kalshi_trader_fallback_active", "1 when the fallback stands in")
            for fid in FALLBACK_IDS:
                fallback.set(int(fid in active), {"fallback": fid})

    def _meter(self) -> MetricMeter:
        """The workflow's metric meter with the ``workflow_id`` label (replay-safe: nothing is emitted on replay)."""
        return workflow.metric_meter().with_additional_attributes({"workflow_id": workflow.info().workflow_id})

    def _mode_seconds(self) -> dict[str, float]:
        """Seconds spent in each mode, the current period included (workflow clock)."""
        out = {m.value: self.s.mode_seconds.get(m.value, 0.0) for m in OverallStatus}
        if self.s.mode is not None and self.s.mode_since is not None:
            current = (workflow.now() - self.s.mode_since).total_seconds()
            out[self.s.mode.value] = round(out[self.s.mode.value] + current, 3)
        return out

    def _market_data_locator(self) -> LocateInput | None:
        """What the calibration needs to ensure and inspect the market-data workflow (None when off)."""
        if not self.config.epoch.use_websocket:
            return None
        start = self.config.market_data or MarketDataInput(
            environment=self.config.environment, series_tickers=self.config.series_tickers
        )
        wid = self.config.market_data_workflow_id or market_data_workflow_id(self.config.environment.value)
        return LocateInput(workflow_id=wid, task_queue=workflow.info().task_queue, start=start)

    def _update_details(self) -> None:
        """Set the Web UI's current details: a readable status table (no history event)."""
        workflow.set_current_details(render_details(self.config, self.s))
