"""Enumerations of the trader's domain.

Their string values are a public interface: CLI inputs, search attributes, JSON.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class LifecycleState(StrEnum):
    """States of ``TraderWorkflow`` (ARCHITECTURE.md "Workflows").

    initializing -> calibrating -> trading <-> calibrating; any -> paused (signal or a critical
    component down) -> calibrating on resume/recovery; stopping -> stopped.
    """

    INITIALIZING = "initializing"
    CALIBRATING = "calibrating"
    TRADING = "trading"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"


class OverallStatus(StrEnum):
    """Outcome of a calibration: all components healthy, optional ones down, or a critical one down."""

    FULLY_OPERATIONAL = "fully_operational"
    DEGRADED = "degraded"
    PAUSED = "paused"


class ComponentCategory(StrEnum):
    """Critical components stop trading when unhealthy; optional ones have a fallback."""

    CRITICAL = "critical"
    OPTIONAL = "optional"


class ExitReason(StrEnum):
    """Why a position is closed; recorded on the close order as ``close_position:<reason>``."""

    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    CASH_RECOVERY = "cash_recovery"
    MARKET_CLOSING = "market_closing"
    MAX_HOLD_TIME = "max_hold_time"
    FORCE_CLOSE = "force_close"
    STOP_CLOSE_ALL = "stop_close_all"


class TradeAction(StrEnum):
    """The 5-action space of the trading policy (baseline now, RL later)."""

    HOLD = "HOLD"
    BUY_YES = "BUY_YES"
    SELL_YES = "SELL_YES"
    BUY_NO = "BUY_NO"
    SELL_NO = "SELL_NO"


class CloseStatus(StrEnum):
    """Outcome of one ``ClosePositionWorkflow``."""

    CLOSED = "closed"
    PARTIAL = "partial"
    UNFILLED = "unfilled"
    ALREADY_FLAT = "already_flat"
    FAILED = "failed"


Side = Literal["yes", "no"]
