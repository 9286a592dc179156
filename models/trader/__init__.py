"""Trader domain objects: configuration, carried workflow state, calibration reports, closes, status.

Everything here crosses the Temporal boundary (workflow inputs, activity inputs/results, query and
signal payloads), so every model is a pydantic v2 model serialised by ``pydantic_data_converter``.
Money is ``Decimal`` dollars (``*_dollars``) or ``int`` cents (``*_cents``); contract counts are
``Decimal`` contracts (``*_contracts`` or Kalshi's ``*_fp``); durations carry ``_s`` (seconds) or
``_ms`` (milliseconds) in their names. Secrets never appear in any of these models: workflow
histories are readable in the Web UI (ARCHITECTURE.md "Activities and idempotency").

The package splits them by area; import from ``models.trader`` (this module re-exports every public name):

* :mod:`models.trader.enums`: lifecycle states, statuses, exit reasons, actions;
* :mod:`models.trader.config`: :class:`TraderConfig` and its parts (exit rules, risk limits, epoch and close
  settings);
* :mod:`models.trader.market`: book top, market snapshot, exchange position, the P&L view;
* :mod:`models.trader.calibration`: the calibration snapshot and report;
* :mod:`models.trader.closes`: exits, closes, and the REST activities' inputs and results;
* :mod:`models.trader.epoch`: the trading epoch's input and summary;
* :mod:`models.trader.health`: the health probe, the fallbacks and the effective limits of degraded mode;
* :mod:`models.trader.operator`: signal and update payloads, status history entries;
* :mod:`models.trader.state`: the workflow input, the carried state, the status answer.
"""

from models.trader.calibration import (
    CalibrationInput,
    CalibrationReport,
    CalibrationSnapshot,
    CashFlow,
    ComponentHealth,
    Drift,
    MarketViability,
    PendingOrder,
    PortfolioHealth,
    RestingOrder,
    SettlementRecord,
)
from models.trader.closes import (
    PAUSE_CODES,
    CancelOrdersInput,
    CancelOrdersResult,
    CloseQuote,
    CloseQuoteInput,
    CloseRequest,
    CloseResult,
    ExitDecision,
    OrderGroupInput,
    OrderGroupState,
    OrderOutcome,
    PlaceOrderInput,
)
from models.trader.config import (
    BASELINE_POLICIES,
    CloseSettings,
    DegradedSettings,
    EpochSettings,
    ExitRules,
    RiskLimits,
    StrictModel,
    TraderConfig,
    limit_problems,
    policy_problem,
)
from models.trader.enums import (
    CloseStatus,
    ComponentCategory,
    ExitReason,
    LifecycleState,
    OverallStatus,
    Side,
    TradeAction,
)
from models.trader.epoch import (
    EpochInput,
    EpochMarket,
    EpochSummary,
    PolicyInUse,
    PredictedDecision,
    PredictInput,
    PredictResult,
    RecordBatch,
)
from models.trader.health import (
    ActiveFallback,
    EpochFallbacks,
    HealthProbe,
    HealthProbeInput,
    ModeLimits,
    ProbeResult,
)
from models.trader.market import (
    BookTop,
    ExchangePosition,
    MarketSnapshot,
    PositionView,
    build_position_views,
    is_sellable,
)
from models.trader.operator import (
    ForceCloseRequest,
    PauseRequest,
    PolicyUpdate,
    RejectedMessage,
    RiskLimitsUpdate,
    StatusTransition,
    StopRequest,
    validation_line,
)
from models.trader.state import CarriedState, TraderInput, TraderStatus

__all__ = [
    "BASELINE_POLICIES",
    "PAUSE_CODES",
    "ActiveFallback",
    "BookTop",
    "CalibrationInput",
    "CalibrationReport",
    "CalibrationSnapshot",
    "CancelOrdersInput",
    "CancelOrdersResult",
    "CarriedState",
    "CashFlow",
    "CloseQuote",
    "CloseQuoteInput",
    "CloseRequest",
    "CloseResult",
    "CloseSettings",
    "CloseStatus",
    "ComponentCategory",
    "ComponentHealth",
    "DegradedSettings",
    "Drift",
    "EpochFallbacks",
    "EpochInput",
    "EpochMarket",
    "EpochSettings",
    "EpochSummary",
    "ExchangePosition",
    "ExitDecision",
    "ExitReason",
    "ExitRules",
    "ForceCloseRequest",
    "HealthProbe",
    "HealthProbeInput",
    "LifecycleState",
    "MarketSnapshot",
    "MarketViability",
    "ModeLimits",
    "OrderGroupInput",
    "OrderGroupState",
    "OrderOutcome",
    "OverallStatus",
    "PauseRequest",
    "PendingOrder",
    "PlaceOrderInput",
    "PolicyInUse",
    "PolicyUpdate",
    "PortfolioHealth",
    "PositionView",
    "PredictInput",
    "PredictResult",
    "PredictedDecision",
    "ProbeResult",
    "RecordBatch",
    "RejectedMessage",
    "RestingOrder",
    "RiskLimits",
    "RiskLimitsUpdate",
    "SettlementRecord",
    "Side",
    "StatusTransition",
    "StopRequest",
    "StrictModel",
    "TradeAction",
    "TraderConfig",
    "TraderInput",
    "TraderStatus",
    "build_position_views",
    "is_sellable",
    "limit_problems",
    "policy_problem",
    "validation_line",
]
