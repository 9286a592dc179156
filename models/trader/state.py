"""The trader workflow's input, everything it carries across continue-as-new, and its ``status`` answer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from models.common import Environment
from models.money import Dollars
from models.trader.calibration import CalibrationReport, PendingOrder
from models.trader.closes import CloseResult
from models.trader.config import ExitRules, RiskLimits, TraderConfig
from models.trader.enums import LifecycleState, OverallStatus
from models.trader.epoch import EpochSummary, PolicyInUse
from models.trader.health import ModeLimits, ProbeResult
from models.trader.market import PositionView
from models.trader.operator import PauseRequest, RejectedMessage, StatusTransition, StopRequest


class CarriedState(BaseModel):
    """All of ``TraderWorkflow``'s state, carried through continue-as-new (kept small).

    Attributes:
        state: lifecycle state.
        mode: overall status of the last calibration.
        pause_reason: why paused (operator reason or the failing component).
        paused_by_operator: True when a ``pause`` signal (not a failure) paused the trader.
        backoff_step: index into ``degraded_backoff_s`` while recovering.
        cycle: recalibration cycles completed (across runs).
        generation: how many times the workflow continued as new.
        order_group_id: Kalshi order group created at calibration.
        order_group_triggered_at: when a trigger was noticed (exchange time).
        order_group_trigger_pending: an epoch saw orders rejected because the group is triggered.
        group_trigger_streak: consecutive cycles that found the group triggered.
        pending_client_order_ids: client order ids sent but not yet confirmed by a sync.
        known_client_order_ids: recently issued ids (tail), to tell our resting orders from others.
        positions_opened_at: when each held position was first seen (exchange clock).
        last_calibration: the last report.
        last_epoch: the last epoch summary.
        recent_closes: the last closes (tail).
        status_history: the last transitions (tail).
        state_entered_at: when the current state began (workflow clock).
        started_resting_cleanup: whether start-up cancellation of resting orders has been done.
        orders_placed_total, closes_total, cycles_since_start: counters across runs.
        rejected_messages: last rejected signal/update payloads.
        last_settlement_check: exchange time of the last settlement read.
        recorded_until: the last status transition / close handed to the recorder (workflow clock).
        pending_orders: orders of unknown outcome with their ticker (supersedes
            ``pending_client_order_ids``, which holds ids carried from older runs), bounded and aged out.
        own_tickers: markets where the last epoch's orders filled: a new position there is the
            trader's own, not drift.
        queued_pause, queued_stop, queued_resume, queued_recalibrate: operator signals received while the
            run drained before continue-as-new, handed to the next run.
        realized_pnl_dollars, close_fees_dollars: session totals over every close (dollars; P&L after
            fees, fees alone).
        realized_pnl_by_ticker: realised P&L after fees per market over the session (dollars; last 100
            markets).
        stop_outcome: how the stop ended (what could not be flattened, if anything).
        trading_realized_pnl_dollars, trading_fees_dollars: session totals of the epochs' own trades (realised
            P&L after fees, fees alone; dollars).
        trading_realized_by_ticker: the epochs' realised P&L after fees per market (last 100 markets).
        settlement_pnl_dollars: session total of settlements: payout - cost of the settled contracts - fee.
        settlement_pnl_by_ticker: the same per market (last 100 markets).
        mode_since: when the current mode began (workflow clock).
        mode_seconds: seconds spent in each mode before the current one began (``mode`` value -> seconds;
            the status answer adds the current period).
        limits: the mode and effective limits the last epoch traded with (fallbacks, closing only).
        last_probe: the last health probe between calibrations.

    """

    state: LifecycleState = LifecycleState.INITIALIZING
    mode: OverallStatus | None = None
    pause_reason: str | None = None
    paused_by_operator: bool = False
    backoff_step: int = 0
    cycle: int = 0
    generation: int = 0
    order_group_id: str | None = None
    order_group_triggered_at: datetime | None = None
    order_group_trigger_pending: bool = False
    group_trigger_streak: int = 0
    pending_client_order_ids: list[str] = Field(default_factory=list)
    known_client_order_ids: list[str] = Field(default_factory=list)
    positions_opened_at: dict[str, datetime] = Field(default_factory=dict)
    last_calibration: CalibrationReport | None = None
    last_epoch: EpochSummary | None = None
    recent_closes: list[CloseResult] = Field(default_factory=list)
    status_history: list[StatusTransition] = Field(default_factory=list)
    state_entered_at: datetime | None = None
    startup_cleanup_done: bool = False
    orders_placed_total: int = 0
    closes_total: int = 0
    rejected_messages: list[RejectedMessage] = Field(default_factory=list)
    last_settlement_check: datetime | None = None
    recorded_until: datetime | None = None
    pending_orders: list[PendingOrder] = Field(default_factory=list)
    own_tickers: list[str] = Field(default_factory=list)
    queued_pause: PauseRequest | None = None
    queued_stop: StopRequest | None = None
    queued_resume: bool = False
    queued_recalibrate: bool = False
    realized_pnl_dollars: Dollars = Decimal(0)
    close_fees_dollars: Dollars = Decimal(0)
    realized_pnl_by_ticker: dict[str, Dollars] = Field(default_factory=dict)
    stop_outcome: str | None = None
    trading_realized_pnl_dollars: Dollars = Decimal(0)
    trading_fees_dollars: Dollars = Decimal(0)
    trading_realized_by_ticker: dict[str, Dollars] = Field(default_factory=dict)
    settlement_pnl_dollars: Dollars = Decimal(0)
    settlement_pnl_by_ticker: dict[str, Dollars] = Field(default_factory=dict)
    mode_since: datetime | None = None
    mode_seconds: dict[str, float] = Field(default_factory=dict)
    limits: ModeLimits | None = None
    last_probe: ProbeResult | None = None


class TraderInput(BaseModel):
    """``TraderWorkflow`` input: the config, and the carried state (None on the very first start)."""

    config: TraderConfig = Field(default_factory=TraderConfig)
    state: CarriedState | None = None


class TraderStatus(BaseModel):
    """The ``status`` query's answer (JSON via ``temporal workflow query --name status``).

    Attributes:
        workflow_id, run_id: identifiers of this run.
        environment: sim | demo | prod.
        state: lifecycle state.
        mode: overall status of the last calibration.
        pause_reason: why paused.
        cycle: cycles completed; generation: continue-as-new count.
        recalibration_interval_s: the cycle length in seconds.
        cash_cents: free cash at the last calibration, cents.
        positions: held positions with P&L.
        last_calibration: the last report (with duration_ms and overall_status).
        last_epoch: the last epoch summary.
        recent_closes: the last closes, with reasons.
        status_history: the last transitions.
        order_group_id: current order group.
        risk: current risk limits; exits: current exit thresholds.
        pending_client_order_ids: orders sent but not yet confirmed.
        rejected_messages: last rejected signal/update payloads.
        pending_orders: the unconfirmed orders with their market and age.
        realized_pnl_dollars: realised P&L after fees of every close this session (dollars).
        close_fees_dollars: fees of those closes (dollars).
        realized_pnl_by_ticker: the same per market.
        stop_outcome: how a stop ended (None while running).
        policy: the configured policy (``EpochSettings.policy``; ``set_policy`` changes it from the next epoch).
        policy_in_use: what the last epoch ran (name, model and feature version, and the fallback reason when it
            could not run the configured one).
        unrealized_pnl_dollars: mark-to-market P&L of the held positions at the last calibration (dollars; each
            position's figure is in ``positions``).
        trading_realized_pnl_dollars, trading_fees_dollars: realised P&L after fees and fees of the epochs' trades.
        settlement_pnl_dollars: realised P&L of settlements (payout - cost - fee).
        session_realized_pnl_dollars: closes + trades + settlements, after fees (dollars).
        session_realized_by_ticker: the same per market.
        backoff_step: index into ``degraded_backoff_s`` while paused by a failure (the next probe's timer).
        limits: the mode and EFFECTIVE limits the trader trades with: position cap, cash reserve, closing only
            (and why), the fallbacks in force (component, fallback, what it does).
        last_probe: the last health probe between calibrations (components, mode, what changed).
        mode_since: when the current mode began.
        mode_seconds: seconds spent in each mode this session, the current one included.

    """

    workflow_id: str
    run_id: str
    environment: Environment
    state: LifecycleState
    mode: OverallStatus | None
    pause_reason: str | None
    cycle: int
    generation: int
    recalibration_interval_s: float
    cash_cents: int | None
    positions: list[PositionView]
    last_calibration: CalibrationReport | None
    last_epoch: EpochSummary | None
    recent_closes: list[CloseResult]
    status_history: list[StatusTransition]
    order_group_id: str | None
    risk: RiskLimits
    exits: ExitRules
    pending_client_order_ids: list[str]
    rejected_messages: list[RejectedMessage]
    pending_orders: list[PendingOrder] = Field(default_factory=list)
    realized_pnl_dollars: Dollars = Decimal(0)
    close_fees_dollars: Dollars = Decimal(0)
    realized_pnl_by_ticker: dict[str, Dollars] = Field(default_factory=dict)
    stop_outcome: str | None = None
    policy: str = "imbalance"
    policy_in_use: PolicyInUse | None = None
    unrealized_pnl_dollars: Dollars = Decimal(0)
    trading_realized_pnl_dollars: Dollars = Decimal(0)
    trading_fees_dollars: Dollars = Decimal(0)
    settlement_pnl_dollars: Dollars = Decimal(0)
    session_realized_pnl_dollars: Dollars = Decimal(0)
    session_realized_by_ticker: dict[str, Dollars] = Field(default_factory=dict)
    backoff_step: int = 0
    limits: ModeLimits | None = None
    last_probe: ProbeResult | None = None
    mode_since: datetime | None = None
    mode_seconds: dict[str, float] = Field(default_factory=dict)
