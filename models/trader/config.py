"""The trader's configuration (workflow input; no secrets): exit rules, risk limits, epoch and close settings."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.common import Environment
from models.market_data import MarketDataInput


class StrictModel(BaseModel):
    """A model that refuses unknown fields (configuration and operator payloads: a typo is an error)."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class ExitRules(StrictModel):
    """Thresholds of the exit rules (``workflows.rules``).

    Attributes:
        take_profit_pct: close when unrealised P&L / cost >= this fraction (0.20 = +20 %).
        stop_loss_pct: close when unrealised P&L / cost <= -this fraction (0.10 = -10 %).
        max_hold_time_s: close a position held longer than this many seconds (3600 = 1 h).
        market_closing_window_s: close when the market closes in less than this many seconds (300).
        cash_reserve_cents: keep at least this much free cash (cents); below it, close the worst
            positions first (``cash_recovery``).

    """

    take_profit_pct: Decimal = Field(default=Decimal("0.20"), gt=0)
    stop_loss_pct: Decimal = Field(default=Decimal("0.10"), gt=0, le=1)
    max_hold_time_s: float = Field(default=3600.0, gt=0)
    market_closing_window_s: float = Field(default=300.0, ge=0)
    cash_reserve_cents: int = Field(default=10_000, ge=0)


class RiskLimits(StrictModel):
    """Pre-trade limits of the trading epoch; changeable at run time with the ``set_risk_limits`` update.

    Attributes:
        order_size_contracts: contracts per entry order.
        max_position_contracts: largest absolute signed position per market, in contracts.
        max_open_positions: how many markets may hold a position at once.
        max_spread_dollars: do not enter a market whose YES spread is wider than this.
        per_market_throttle_ms: minimum time between two orders in the same market (ms).
        max_entry_price_dollars: never pay more than this per contract on entry.

    """

    order_size_contracts: Decimal = Field(default=Decimal("5"), gt=0)
    max_position_contracts: Decimal = Field(default=Decimal("20"), gt=0)
    max_open_positions: int = Field(default=5, ge=1)
    max_spread_dollars: Decimal = Field(default=Decimal("0.05"), gt=0, lt=1)
    per_market_throttle_ms: int = Field(default=250, ge=0)
    max_entry_price_dollars: Decimal = Field(default=Decimal("0.90"), gt=0, lt=1)


BASELINE_POLICIES: Final = ("imbalance", "hold")
"""Baseline policies the live trader runs (:mod:`rl.decision.policies`; no model needed)."""

_MODEL_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def policy_problem(spec: object) -> str | None:
    """Why ``spec`` is not a policy the trader can be told to run, or None when it is one.

    Valid: ``imbalance``, ``hold``, ``rl:current`` (the model registry's ``current`` pointer, re-read between
    epochs) or ``rl:<model version>`` (a registry version id: letters, digits, ``.``, ``_``, ``-``). Whether the
    model exists is the worker's to find out (the workflow does no I/O); a missing one falls back with a status
    entry.
    """
    if not isinstance(spec, str):
        return f"a policy is a string, got {type(spec).__name__}"
    if spec in BASELINE_POLICIES:
        return None
    if spec.startswith("rl:") and _MODEL_VERSION.match(spec[3:]):
        return None
    return (
        f"unknown policy {spec[:80]!r}: use imbalance, hold, rl:current or rl:<model version> "
        "(letters, digits, '.', '_', '-')"
    )


class EpochSettings(StrictModel):
    """The trading epoch between recalibrations (the WebSocket actor loop, or REST polling as the fallback).

    Attributes:
        policy: ``imbalance`` (the documented baseline, :class:`rl.decision.ImbalancePolicy`), ``hold`` (never
            enters: a closing-only mode; exits still run at every recalibration), ``rl:current`` (the model
            registry's current model, re-read between epochs) or ``rl:<version>``; changeable at run time with the
            ``set_policy`` update (from the next epoch). See :func:`policy_problem`.
        fallback_policy: the baseline that runs when the policy cannot (a missing, corrupt or incompatible model, a
            worker without the RL extra, or an RL policy in the REST polling epoch, which has no live book
            history); the epoch summary and ``status`` say so.
        policy_seed: seed of a learned policy's sampling (its actions are sampled: docs/rl.md "Inference").
        decision_interval_ms: baselines: at most one decision per market per this many exchange milliseconds
            (0: every book update). A learned policy always uses its model's own interval.
        poll_interval_ms: how often the order books of viable markets are polled (ms).
        imbalance_threshold: baseline policy: |imbalance| of best-level sizes needed to act (0..1).
        heartbeat_timeout_s: Temporal heartbeat timeout of the epoch activity; cancellation
            (pause/stop) reaches the activity within about 0.8x this (temporal.md §3), and the epoch
            writes orders only while a heartbeat the server acknowledged was sent less than half of
            this ago (its lease, :class:`trading.fencing.EpochLease`): a retry never overlaps it.
        max_consecutive_errors: circuit breaker: the epoch ends early after this many REST errors
            in a row.
        max_book_age_ms: freshness: the actor loop never acts on a book whose last change is older
            than this (ms).
        max_connection_idle_ms: the actor loop never acts while the WebSocket has been silent longer
            than this (ms; the exchange pings every 10 s).
        use_websocket: trade from the WebSocket actor loop when market data is healthy (else, and as
            the fallback, the REST polling epoch).
        market_data_grace_ms: the actor loop ends its epoch (``ended_by="market_data_lost"``) when the
            WebSocket has been disconnected, or a private channel it relies on (``fill``,
            ``market_positions``) unsubscribed, for longer than this (ms); the workflow then recalibrates at
            once and trades in degraded mode on the REST fallbacks. A reconnect faster than this is ridden out.

    """

    policy: str = "imbalance"
    fallback_policy: Literal["imbalance", "hold"] = "imbalance"
    policy_seed: int = Field(default=0, ge=0, le=2**32 - 1)
    decision_interval_ms: int = Field(default=0, ge=0, le=3_600_000)
    poll_interval_ms: int = Field(default=2_000, ge=100)
    imbalance_threshold: Decimal = Field(default=Decimal("0.35"), ge=0, le=1)
    heartbeat_timeout_s: float = Field(default=4.0, ge=1)
    max_consecutive_errors: int = Field(default=5, ge=1)
    max_book_age_ms: int = Field(default=5_000, ge=1)
    max_connection_idle_ms: int = Field(default=15_000, ge=1)
    use_websocket: bool = True
    market_data_grace_ms: int = Field(default=5_000, ge=0)

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, v: str) -> str:
        problem = policy_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v


class DegradedSettings(StrictModel):
    """What the trader does differently in degraded mode (critical components up, an optional one down).

    Degraded mode is the calibration's ``overall_status == degraded``: the exchange's REST API and order
    tracking work, but an optional component (the order-book, fill or position WebSocket stream, the REST
    order books, settlements, the order group) does not, and its fallback stands in
    (:mod:`workflows.calibration`). The workflow hands the epoch EFFECTIVE limits (docs/architecture.md
    "Degraded mode"):

    Attributes:
        max_position_contracts: the position cap per market in degraded mode (contracts); the epoch uses
            ``min(this, risk.max_position_contracts)``: never above the normal limit.
        min_cash_reserve_cents: the free cash an entry must leave in degraded mode (cents); the epoch uses
            ``max(this, exits.cash_reserve_cents)`` ($1,000 by default). Only entries check it: the exit
            rules' ``cash_recovery`` keeps the normal reserve (a WebSocket outage is no reason to sell).
        closing_only_past_stop_loss: no new positions (closing only) while any held position is past its
            stop-loss (unrealised P&L at or below ``-exits.stop_loss_pct``) and still open after this cycle's
            closes.
        closing_only_when_fills_blind: no new positions (closing only) while the fill stream (``fill_ws``) is
            down: fills then reach the trader only through order acknowledgements and order-status polling.
        health_probe_interval_s: while an epoch runs, a short health probe (exchange status, balance, the
            market-data streams: the ``health_probe`` activity) every this many seconds; a change of mode or
            of a component's health ends the epoch and recalibrates at once (recovery and degradation are
            both noticed within this interval, whatever ``recalibration_interval_s`` is). 25 s by default, not
            30: the recalibration after the probe takes a few seconds more, and full operation is promised
            within 30 s of a component's recovery (issue 10; bench/bench_faults.py measured 31.5-32.8 s with a
            30 s probe).
        fallback_refresh_s: the epoch's REST fallbacks (positions and cash by REST sync, fills by
            order-status polling) refresh every this many seconds.
        retry_transient: a calibration whose only critical failure is transient (HTTP 429, 502, 503, 504 or
            no answer) is retried once at once before the trader pauses.
        close_wait_s: a cycle waits at most this long for its closes; a close still running (waiting out an
            exchange pause) goes on in the background, its market is neither traded nor closed again until it
            ends (seconds).

    """

    max_position_contracts: Decimal = Field(default=Decimal("50"), gt=0)
    min_cash_reserve_cents: int = Field(default=100_000, ge=0)
    closing_only_past_stop_loss: bool = True
    closing_only_when_fills_blind: bool = True
    health_probe_interval_s: float = Field(default=25.0, ge=1)
    fallback_refresh_s: float = Field(default=30.0, gt=0)
    retry_transient: bool = True
    close_wait_s: float = Field(default=60.0, gt=0)


class CloseSettings(StrictModel):
    """How a ``ClosePositionWorkflow`` crosses the spread and reprices.

    Attributes:
        max_attempts: IOC attempts before giving up (each reprices one step more aggressively).
        reprice_step_dollars: how much lower than the best bid each retry sells (dollars).
        retry_delay_s: pause between attempts (seconds), letting the book refill.
        max_slippage_dollars: the slippage floor: a close never sells below the mark (the held side's
            best bid when the attempt is priced) minus this many dollars per contract, however thin the
            book or however many reprice steps; what cannot be sold at or above the floor stays open
            and the close reports ``partial``/``unfilled``.
        pause_retry_s: when the exchange refuses an attempt because trading (``trading_paused``) or the whole
            exchange (``exchange_paused``) is paused, or the market is paused (``inactive``), the close waits
            these durable timers in turn (the last repeats) and tries again; the refused attempt does not
            count toward ``max_attempts`` (seconds).
        max_pause_wait_s: the longest a close waits out pauses in total; after it the close ends ``unfilled``
            with the pause named (seconds).

    """

    max_attempts: int = Field(default=4, ge=1, le=20)
    reprice_step_dollars: Decimal = Field(default=Decimal("0.01"), ge=0, lt=1)
    retry_delay_s: float = Field(default=1.0, ge=0)
    max_slippage_dollars: Decimal = Field(default=Decimal("0.10"), gt=0, lt=1)
    pause_retry_s: list[float] = Field(default_factory=lambda: [10.0, 20.0, 30.0, 60.0], min_length=1)
    max_pause_wait_s: float = Field(default=1800.0, gt=0)

    @field_validator("pause_retry_s")
    @classmethod
    def _positive_waits(cls, v: list[float]) -> list[float]:
        if any(x <= 0 for x in v):
            raise ValueError("pause_retry_s values must be positive seconds")
        return v


class TraderConfig(StrictModel):
    """Everything ``TraderWorkflow`` needs to run; carried unchanged across continue-as-new.

    No secrets: the Kalshi key id and private key live only in the worker's environment.

    Attributes:
        environment: sim, demo or prod (informational inside the workflow; the worker's settings
            decide where requests go).
        series_tickers: Kalshi series whose open markets are traded (new markets are discovered
            by series at every calibration, e.g. ``KXGOLD15M``).
        recalibration_interval_s: length of one cycle (trading epoch) in seconds; >= 1.
        cancel_resting_on_start: cancel resting orders left by a previous run at start-up.
        order_group_contracts_limit: Kalshi order-group limit (contracts filled per rolling 15 s).
        order_group_window_s: the order-group rolling window; a triggered group is reset only after
            this many seconds have passed.
        max_group_triggers_before_pause: repeated triggers in a row escalate to a pause.
        degraded_backoff_s: timers between health probes while a critical component is down;
            the last value repeats (10, 20, 30, then 60 s).
        continue_as_new_after_cycles: continue-as-new cap in cycles (the server's suggestion
            also triggers it).
        status_history_size: how many status transitions are kept (tail).
        recent_closes_size: how many closes are kept (tail).
        activity_timeout_s: start-to-close timeout of REST activities (seconds).
        activity_max_attempts: bounded retries of REST activities inside the loop.
        market_data: how the market-data workflow is started when missing (default: this environment
            and these series, default ingestion settings); used when ``epoch.use_websocket``.
        market_data_workflow_id: its workflow id (default ``kalshi-md-<environment>``).
        no_viable_retry_s: a cycle with no viable market runs no epoch and recalibrates after this many
            seconds instead of waiting a whole interval (a market may open or get quoted any moment).
        stop_close_all_max_rounds: ``stop {"close_all": true}`` recalibrates and closes in rounds until
            every tradeable position is flat, at most this many rounds (waiting ``degraded_backoff_s``
            between rounds that made no progress or could not reach the exchange); then it stops and
            says plainly which positions remain.
        max_pending_orders: bound on client order ids of unknown outcome kept for lookup.
        pending_order_max_age_s: such ids are dropped (reported in ``drift.expired_pending``) when older
            than this many seconds: an order Kalshi has not listed by then never arrived.
        degraded: what changes in degraded mode (caps, reserve, closing only, probe and refresh intervals).

    """

    environment: Environment = Environment.SIM
    series_tickers: list[str] = Field(default_factory=lambda: ["KXGOLD15M"], min_length=1)
    recalibration_interval_s: float = Field(default=60.0, ge=1)
    exits: ExitRules = Field(default_factory=ExitRules)
    risk: RiskLimits = Field(default_factory=RiskLimits)
    epoch: EpochSettings = Field(default_factory=EpochSettings)
    close: CloseSettings = Field(default_factory=CloseSettings)
    cancel_resting_on_start: bool = True
    order_group_contracts_limit: int = Field(default=200, ge=1, le=1_000_000)
    order_group_window_s: float = Field(default=15.0, gt=0)
    max_group_triggers_before_pause: int = Field(default=3, ge=1)
    degraded_backoff_s: list[float] = Field(default_factory=lambda: [10.0, 20.0, 30.0, 60.0], min_length=1)
    continue_as_new_after_cycles: int = Field(default=500, ge=1)
    status_history_size: int = Field(default=50, ge=5)
    recent_closes_size: int = Field(default=25, ge=1)
    activity_timeout_s: float = Field(default=20.0, gt=0)
    activity_max_attempts: int = Field(default=3, ge=1)
    market_data: MarketDataInput | None = None
    market_data_workflow_id: str | None = None
    no_viable_retry_s: float = Field(default=5.0, gt=0)
    stop_close_all_max_rounds: int = Field(default=10, ge=1, le=1000)
    max_pending_orders: int = Field(default=50, ge=1, le=10_000)
    pending_order_max_age_s: float = Field(default=900.0, gt=0)
    degraded: DegradedSettings = Field(default_factory=DegradedSettings)

    @field_validator("degraded_backoff_s")
    @classmethod
    def _positive_backoff(cls, v: list[float]) -> list[float]:
        if any(x <= 0 for x in v):
            raise ValueError("degraded_backoff_s values must be positive seconds")
        return v

    @field_validator("series_tickers")
    @classmethod
    def _series_upper(cls, v: list[str]) -> list[str]:
        out = [s.strip().upper() for s in v]
        if any(not s for s in out):
            raise ValueError("series tickers must be non-empty")
        return out


def limit_problems(risk: RiskLimits, exits: ExitRules) -> list[str]:
    """Combinations of risk limits and exit rules that cannot work together (empty when consistent)."""
    problems = []
    if risk.order_size_contracts > risk.max_position_contracts:
        problems.append(
            f"order_size_contracts {risk.order_size_contracts} exceeds max_position_contracts "
            f"{risk.max_position_contracts}: no entry could ever be placed"
        )
    return problems
