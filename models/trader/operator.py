"""What the operator sends and sees.

Signal and update payloads (validated before they touch workflow state), the status history's entries and the
rejected messages.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, StrictBool, ValidationError, model_validator

from models.trader.config import ExitRules, RiskLimits, StrictModel, limit_problems, policy_problem
from models.trader.enums import LifecycleState, OverallStatus


class PauseRequest(StrictModel):
    """``pause`` signal payload: ``{"reason": "maintenance"}`` (reason optional)."""

    reason: str = Field(default="operator", max_length=200)


class StopRequest(StrictModel):
    """``stop`` signal payload: ``{"close_all": true, "reason": "..."}``."""

    close_all: StrictBool = False
    reason: str = Field(default="operator", max_length=200)


class ForceCloseRequest(StrictModel):
    """``force_close`` update payload: ``{"ticker": "KXGOLD15M-..."}``."""

    ticker: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class PolicyUpdate(StrictModel):
    """``set_policy`` update payload: ``{"policy": "rl:current"}`` (or ``imbalance``, ``hold``, ``rl:<version>``).

    Takes effect at the next epoch. The name is checked here (:func:`models.trader.config.policy_problem`); whether
    a model version exists only the worker can tell: a missing one falls back to ``fallback_policy`` and says so.
    """

    policy: str = Field(min_length=1, max_length=110)
    fallback_policy: Literal["imbalance", "hold"] | None = None

    @model_validator(mode="after")
    def _known(self) -> PolicyUpdate:
        problem = policy_problem(self.policy)
        if problem is not None:
            raise ValueError(problem)
        return self


class RiskLimitsUpdate(StrictModel):
    """``set_risk_limits`` update payload: any subset of :class:`RiskLimits` and exit thresholds.

    Every given field needs a value (``null`` is refused: leave a field out to keep it), within bounds
    a trader would use: contracts in 0.01 steps up to 1,000,000, dollar prices in 0.0001 steps, ms and
    cents as integers. :meth:`apply` validates the WHOLE resulting configuration, so a change that is
    fine alone but wrong with the current values (an order size above the position limit) is refused
    too. The ``set_risk_limits`` validator runs it, so a refused payload writes nothing to history.
    """

    order_size_contracts: Decimal | None = Field(default=None, gt=0, le=1_000_000, decimal_places=2)
    max_position_contracts: Decimal | None = Field(default=None, gt=0, le=10_000_000, decimal_places=2)
    max_open_positions: int | None = Field(default=None, ge=1, le=10_000)
    max_spread_dollars: Decimal | None = Field(default=None, gt=0, lt=1, decimal_places=4)
    per_market_throttle_ms: int | None = Field(default=None, ge=0, le=86_400_000)
    max_entry_price_dollars: Decimal | None = Field(default=None, gt=0, lt=1, decimal_places=4)
    take_profit_pct: Decimal | None = Field(default=None, gt=0, le=1000, decimal_places=6)
    stop_loss_pct: Decimal | None = Field(default=None, gt=0, le=1, decimal_places=6)
    cash_reserve_cents: int | None = Field(default=None, ge=0, le=10**12)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: object) -> object:
        if isinstance(data, dict):
            nulls = sorted(str(k) for k, v in data.items() if v is None)
            if nulls:
                raise ValueError(f"null is not a value for {', '.join(nulls)}: give a value or leave the field out")
        return data

    @model_validator(mode="after")
    def _not_empty(self) -> RiskLimitsUpdate:
        if not self.model_fields_set:
            raise ValueError("set_risk_limits needs at least one field")
        return self

    def apply(self, risk: RiskLimits, exits: ExitRules) -> tuple[RiskLimits, ExitRules]:
        """The new risk limits and exit rules: the current ones with this update's fields, validated whole.

        Raises:
            ValueError: a resulting value or combination is invalid (every problem, one line).
        """
        changes = {k: getattr(self, k) for k in self.model_fields_set}
        risk_changes = {k: v for k, v in changes.items() if k in RiskLimits.model_fields}
        exit_changes = {k: v for k, v in changes.items() if k in ExitRules.model_fields}
        try:
            new_risk = RiskLimits.model_validate({**risk.model_dump(), **risk_changes})
            new_exits = ExitRules.model_validate({**exits.model_dump(), **exit_changes})
        except ValidationError as err:
            raise ValueError(validation_line(err)) from None
        problems = limit_problems(new_risk, new_exits)
        if problems:
            raise ValueError("; ".join(problems))
        return new_risk, new_exits


def validation_line(err: ValidationError) -> str:
    """A pydantic validation error on one line: ``field: message; field: message`` (no input values)."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "payload"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


class StatusTransition(BaseModel):
    """One entry of the status history: when, into which state, how long the previous lasted, why.

    Routine recalibration cycles (trading -> calibrating -> trading) are collapsed: the latest pair is
    updated in place and ``repeats`` counts how many cycles it stands for, so pauses, resumes and
    failures stay visible in the tail.

    A change of MODE (fully_operational / degraded / paused) is an entry of its own: ``mode`` and
    ``previous_mode`` are set, ``state`` is the lifecycle state at that moment (unchanged),
    ``time_in_previous_s`` is the time spent in the previous mode and ``result`` says why (which components,
    which fallbacks, what the trader does differently).
    """

    at: datetime
    state: LifecycleState
    previous_state: LifecycleState | None = None
    time_in_previous_s: float = 0.0
    result: str = ""
    repeats: int = 0
    mode: OverallStatus | None = None
    previous_mode: OverallStatus | None = None


class RejectedMessage(BaseModel):
    """A signal or update payload that was rejected (and changed nothing)."""

    at: datetime
    handler: str
    error: str
