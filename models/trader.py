"""Trader domain objects: configuration, carried workflow state, calibration reports, closes, status.

Everything here crosses the Temporal boundary (workflow inputs, activity inputs/results, query and
signal payloads), so every model is a pydantic v2 model serialised by ``pydantic_data_converter``.
Money is ``Decimal`` dollars (``*_dollars``) or ``int`` cents (``*_cents``); contract counts are
``Decimal`` contracts (``*_contracts`` or Kalshi's ``*_fp``); durations carry ``_s`` (seconds) or
``_ms`` (milliseconds) in their names. Secrets never appear in any of these models: workflow
histories are readable in the Web UI (ARCHITECTURE.md "Activities and idempotency").
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator, model_validator

from models.common import Environment
from models.market_data import LocateInput, MarketDataHealth, MarketDataInput
from models.money import Contracts, Dollars

# --------------------------------------------------------------------------------------------
# Enumerations (their string values are a public interface: CLI inputs, search attributes, JSON)
# --------------------------------------------------------------------------------------------


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

# --------------------------------------------------------------------------------------------
# Configuration (workflow input; no secrets)
# --------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ExitRules(_Strict):
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


class RiskLimits(_Strict):
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


class EpochSettings(_Strict):
    """The trading epoch between recalibrations (REST polling until the WebSocket loop lands).

    Attributes:
        policy: ``imbalance`` (the documented baseline, :mod:`rl.policy`) or ``hold`` (never enters:
            a closing-only mode; exits still run at every recalibration).
        poll_interval_ms: how often the order books of viable markets are polled (ms).
        imbalance_threshold: baseline policy: |imbalance| of best-level sizes needed to act (0..1).
        heartbeat_timeout_s: Temporal heartbeat timeout of the epoch activity; cancellation
            (pause/stop) reaches the activity within about 0.8x this (temporal.md §3), and the epoch
            writes orders only while a heartbeat the server acknowledged was sent less than half of
            this ago (its lease, :class:`activities.trading.EpochLease`): a retry never overlaps it.
        max_consecutive_errors: circuit breaker: the epoch ends early after this many REST errors
            in a row.
        max_book_age_ms: freshness: the actor loop never acts on a book whose last change is older
            than this (ms).
        max_connection_idle_ms: the actor loop never acts while the WebSocket has been silent longer
            than this (ms; the exchange pings every 10 s).
        use_websocket: trade from the WebSocket actor loop when market data is healthy (else, and as
            the fallback, the REST polling epoch).

    """

    policy: Literal["imbalance", "hold"] = "imbalance"
    poll_interval_ms: int = Field(default=2_000, ge=100)
    imbalance_threshold: Decimal = Field(default=Decimal("0.35"), ge=0, le=1)
    heartbeat_timeout_s: float = Field(default=4.0, ge=1)
    max_consecutive_errors: int = Field(default=5, ge=1)
    max_book_age_ms: int = Field(default=5_000, ge=1)
    max_connection_idle_ms: int = Field(default=15_000, ge=1)
    use_websocket: bool = True


class CloseSettings(_Strict):
    """How a ``ClosePositionWorkflow`` crosses the spread and reprices.

    Attributes:
        max_attempts: IOC attempts before giving up (each reprices one step more aggressively).
        reprice_step_dollars: how much lower than the best bid each retry sells (dollars).
        retry_delay_s: pause between attempts (seconds), letting the book refill.
        max_slippage_dollars: the slippage floor: a close never sells below the mark (the held side's
            best bid when the attempt is priced) minus this many dollars per contract, however thin the
            book or however many reprice steps; what cannot be sold at or above the floor stays open
            and the close reports ``partial``/``unfilled``.

    """

    max_attempts: int = Field(default=4, ge=1, le=20)
    reprice_step_dollars: Decimal = Field(default=Decimal("0.01"), ge=0, lt=1)
    retry_delay_s: float = Field(default=1.0, ge=0)
    max_slippage_dollars: Decimal = Field(default=Decimal("0.10"), gt=0, lt=1)


class TraderConfig(_Strict):
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


# --------------------------------------------------------------------------------------------
# Calibration: raw snapshot (activity result) and report (workflow-computed)
# --------------------------------------------------------------------------------------------


class ComponentHealth(BaseModel):
    """Health of one component probed during calibration.

    Attributes:
        name: ``exchange_rest``, ``order_tracking``, ``orderbook_ws``, ``fill_ws``, ``position_ws``.
        category: critical (trading stops when down) or optional (a fallback is used).
        healthy: whether the probe succeeded.
        latency_ms: probe duration in milliseconds.
        error: one-line error when unhealthy.
        fallback: what the trader uses instead of an unhealthy optional component.

    """

    name: str
    category: ComponentCategory
    healthy: bool
    latency_ms: int = 0
    error: str | None = None
    fallback: str | None = None


class BookTop(BaseModel):
    """Top of a market's order book in dollars and contracts (Kalshi books hold bids only).

    ``yes_ask = 1 - no_bid`` and ``no_ask = 1 - yes_bid`` (kalshi-api.md §3.3). ``None`` = empty side.
    """

    yes_bid_dollars: Dollars | None = None
    yes_bid_size: Contracts = Decimal(0)
    no_bid_dollars: Dollars | None = None
    no_bid_size: Contracts = Decimal(0)

    @property
    def yes_ask_dollars(self) -> Decimal | None:
        """Best YES ask in dollars (= 1 - best NO bid), or None."""
        return None if self.no_bid_dollars is None else Decimal(1) - self.no_bid_dollars

    @property
    def no_ask_dollars(self) -> Decimal | None:
        """Best NO ask in dollars (= 1 - best YES bid), or None."""
        return None if self.yes_bid_dollars is None else Decimal(1) - self.yes_bid_dollars

    def bid_for(self, side: Side) -> Decimal | None:
        """Best bid of ``side`` in dollars: what selling one held contract of that side fetches."""
        return self.yes_bid_dollars if side == "yes" else self.no_bid_dollars

    def ask_for(self, side: Side) -> Decimal | None:
        """Best ask of ``side`` in dollars: what buying one contract of that side costs."""
        return self.yes_ask_dollars if side == "yes" else self.no_ask_dollars


class MarketSnapshot(BaseModel):
    """One market as seen at calibration (raw exchange facts; no decisions).

    Attributes:
        ticker, event_ticker: Kalshi identifiers.
        status: the exchange's market status (``active``, ``closed``, ...).
        open_time, close_time: exchange times (UTC).
        book: top of book, or None when the orderbook could not be read.
        tick_size_dollars: the price step at mid-book.

    """

    ticker: str
    event_ticker: str = ""
    status: str
    open_time: datetime | None = None
    close_time: datetime | None = None
    book: BookTop | None = None
    tick_size_dollars: Dollars = Decimal("0.01")


class ExchangePosition(BaseModel):
    """A market position as the exchange reports it (signed: + YES contracts, - NO contracts).

    Attributes:
        ticker: market ticker.
        position_contracts: signed position in contracts.
        exposure_dollars: cost of the current position in dollars (Kalshi ``market_exposure``).
        realized_pnl_dollars: realised P&L in dollars.
        fees_paid_dollars: fees paid in dollars.

    """

    ticker: str
    position_contracts: Contracts
    exposure_dollars: Dollars
    realized_pnl_dollars: Dollars = Decimal(0)
    fees_paid_dollars: Dollars = Decimal(0)


class PendingOrder(BaseModel):
    """An order whose outcome the trader does not know yet (a write that timed out), kept for lookup.

    Attributes:
        client_order_id: the id that was sent.
        ticker: its market (keeps the lookup to one market's orders), None for ids carried from an
            older version of the trader.
        since: when the trader first noted it (workflow clock); it ages out after
            ``TraderConfig.pending_order_max_age_s``.
    """

    client_order_id: str
    ticker: str | None = None
    since: datetime | None = None


class RestingOrder(BaseModel):
    """A resting order at the exchange (what order tracking knows about)."""

    order_id: str
    client_order_id: str
    ticker: str
    side: Side
    action: Literal["buy", "sell"]
    price_dollars: Dollars
    remaining_contracts: Contracts
    order_group_id: str | None = None


class SettlementRecord(BaseModel):
    """A settlement paid by the exchange (revenue in cents, 100 per winning contract)."""

    ticker: str
    market_result: str
    revenue_cents: int
    settled_time: datetime | None = None


class CalibrationInput(BaseModel):
    """Input of the ``calibration_snapshot`` activity.

    Attributes:
        series_tickers: series whose open markets are discovered.
        extra_tickers: markets to read besides the discovered ones (those we hold positions in or
            expect to).
        settlements_since: only settlements after this exchange time are returned.
        order_group_id: the order group to check (None = none yet).
        pending_client_order_ids: client order ids whose outcome the trader does not know yet (without
            their market: the format of older runs); each is looked up at the exchange.
        pending_orders: the same with their ticker (a lookup lists one market's orders).
        market_data: ensure and inspect the market-data workflow (None: WebSocket market data off).
        parallel: run the checks concurrently (True in production; False only for benchmarks).

    """

    series_tickers: list[str]
    extra_tickers: list[str] = Field(default_factory=list)
    settlements_since: datetime | None = None
    order_group_id: str | None = None
    pending_client_order_ids: list[str] = Field(default_factory=list)
    pending_orders: list[PendingOrder] = Field(default_factory=list)
    market_data: LocateInput | None = None
    parallel: bool = True


class CalibrationSnapshot(BaseModel):
    """Raw result of the calibration checks, run in parallel by one activity.

    Each check that failed leaves its field ``None`` and a one-line error in ``errors``; the
    workflow turns this into a :class:`CalibrationReport` deterministically.

    Attributes:
        exchange_time: the exchange's clock when the snapshot completed (from the HTTP Date header).
        duration_ms: wall time of all checks, milliseconds.
        check_latency_ms: per-check wall time, milliseconds.
        errors: per-check one-line error.
        exchange_active, trading_active: from ``GET /exchange/status``.
        balance_cents: free cash (``GET /portfolio/balance``), cents.
        portfolio_value_cents: value of positions, cents.
        positions: non-zero market positions.
        resting_orders: resting orders of this account.
        settlements: settlements since ``settlements_since``.
        markets: discovered markets (open, in the configured series) plus requested extra tickers.
        order_group_exists: whether ``order_group_id`` is known to the exchange (None = not checked).
        order_group_triggered: the simulator's extra field / None when the exchange does not say.
        pending_lookup: for each pending client order id, the order's status at the exchange
            (``resting``/``canceled``/``executed``) or ``missing``; None when the lookup failed.
        market_data: WebSocket ingestion health (None when not checked).

    """

    exchange_time: datetime
    duration_ms: int
    check_latency_ms: dict[str, int] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict)
    exchange_active: bool | None = None
    trading_active: bool | None = None
    balance_cents: int | None = None
    portfolio_value_cents: int | None = None
    positions: list[ExchangePosition] | None = None
    resting_orders: list[RestingOrder] | None = None
    settlements: list[SettlementRecord] | None = None
    markets: list[MarketSnapshot] | None = None
    order_group_exists: bool | None = None
    order_group_triggered: bool | None = None
    pending_lookup: dict[str, str] | None = None
    market_data: MarketDataHealth | None = None


class MarketViability(BaseModel):
    """Whether a market may be traded now, and why not.

    Attributes:
        ticker: market ticker.
        viable: open, outside the closing window, and quoted on both sides.
        reasons: why it is not viable (``not_open:<status>``, ``closing_in:<s>s``, ``no_quote``...).
        seconds_to_close: seconds until close_time on the exchange clock.
        book: top of book at calibration.

    """

    ticker: str
    viable: bool
    reasons: list[str] = Field(default_factory=list)
    seconds_to_close: float | None = None
    close_time: datetime | None = None
    book: BookTop | None = None


class PositionView(BaseModel):
    """A held position with its P&L, as the exit rules see it.

    P&L is defined precisely (ARCHITECTURE.md "Exit rules"): the held side is YES when the signed
    position is positive, NO when negative; ``contracts`` is its absolute size. The average cost per
    contract is ``exposure_dollars / contracts`` (Kalshi's ``market_exposure`` is the cost of the
    current position). The mark is what selling the held side at its best bid would fetch:
    ``mark_dollars = best bid of the held side`` per contract, ``market_value_dollars =
    contracts * mark``. ``unrealized_pnl_dollars = market_value - exposure`` and ``pnl_pct =
    unrealized_pnl / exposure`` (a fraction; 0.2 = +20 %). With no bid on the held side the mark is
    None and the position is "stuck": price rules cannot judge it, time rules still apply.

    Attributes:
        ticker: market ticker.
        side: held side.
        contracts: absolute position in contracts.
        exposure_dollars: cost of the position in dollars.
        avg_cost_dollars: exposure / contracts, dollars per contract.
        mark_dollars: best bid of the held side, dollars per contract, or None.
        market_value_dollars: contracts * mark, or None.
        unrealized_pnl_dollars: market value - exposure, or None.
        pnl_pct: unrealised P&L / exposure (fraction), or None.
        market_status: exchange status of the market.
        close_time: market close time (exchange clock).
        seconds_to_close: seconds to close on the exchange clock.
        opened_at: when the trader first saw this position (exchange clock).
        held_for_s: seconds since ``opened_at``.

    """

    ticker: str
    side: Side
    contracts: Contracts
    exposure_dollars: Dollars
    avg_cost_dollars: Dollars
    mark_dollars: Dollars | None = None
    market_value_dollars: Dollars | None = None
    unrealized_pnl_dollars: Dollars | None = None
    pnl_pct: Decimal | None = None
    market_status: str | None = None
    close_time: datetime | None = None
    seconds_to_close: float | None = None
    opened_at: datetime | None = None
    held_for_s: float | None = None


class PortfolioHealth(BaseModel):
    """Summary of held positions: how many, which are stuck (no bid / market not open), which lose."""

    positions: int = 0
    total_exposure_dollars: Dollars = Decimal(0)
    total_market_value_dollars: Dollars = Decimal(0)
    unrealized_pnl_dollars: Dollars = Decimal(0)
    stuck: list[str] = Field(default_factory=list)
    losing: list[str] = Field(default_factory=list)


class CashFlow(BaseModel):
    """Free cash against the configured reserve (cents)."""

    balance_cents: int | None = None
    reserve_cents: int = 0
    sufficient: bool = False
    shortfall_cents: int = 0


class Drift(BaseModel):
    """Differences between what the trader expected and what the exchange reports.

    Attributes:
        unexpected_positions: positions at the exchange the trader did not know about (adopted).
        vanished_positions: positions the trader tracked that the exchange no longer reports
            (closed or settled).
        unknown_resting_orders: resting orders whose client_order_id the trader never issued
            (left by a previous run or placed by hand).
        confirmed_pending: pending client order ids found at the exchange (outcome now known).
        missing_pending: pending ids the exchange has never seen (the order never arrived; forgotten).
        unresolved_pending: pending ids whose lookup failed (kept for the next calibration).
        expired_pending: pending ids dropped unresolved: older than ``pending_order_max_age_s`` or
            beyond ``max_pending_orders``.
        corrected: whether the trader's state was reconciled to the exchange's.

    """

    unexpected_positions: list[str] = Field(default_factory=list)
    vanished_positions: list[str] = Field(default_factory=list)
    unknown_resting_orders: list[str] = Field(default_factory=list)
    confirmed_pending: list[str] = Field(default_factory=list)
    missing_pending: list[str] = Field(default_factory=list)
    unresolved_pending: list[str] = Field(default_factory=list)
    expired_pending: list[str] = Field(default_factory=list)
    corrected: bool = False

    @property
    def has_drift(self) -> bool:
        """True when anything differs between expected and exchange state."""
        return bool(self.unexpected_positions or self.vanished_positions or self.unknown_resting_orders)


class CalibrationReport(BaseModel):
    """The answer of one calibration (ARCHITECTURE.md "Workflows").

    Attributes:
        at: exchange time of the snapshot.
        duration_ms: how long the (parallel) checks took, milliseconds.
        components: per-component health with category and fallback.
        overall_status: fully_operational | degraded | paused.
        can_trade: whether the trading epoch may run.
        markets: viability of every discovered market.
        viable_markets: tickers that may be traded.
        positions: held positions with P&L.
        portfolio: portfolio health.
        cash_flow: cash vs reserve.
        drift: expected vs exchange state.
        settlements: settlements seen since the previous calibration.
        resting_orders: resting orders at the exchange.
        errors: per-check errors from the snapshot.
        order_group_exists: whether the trader's order group exists at the exchange (None = unknown).
        order_group_triggered: whether it is triggered (None = the exchange does not say).
        market_data: WebSocket ingestion health: where the books are (the worker queue the actor loop
            runs on) and whether they can be traded from.
        exchange_active, trading_active: ``GET /exchange/status`` (None when it could not be read);
            ``trading_active=false`` is an exchange-wide trading pause, not a component failure.

    """

    at: datetime
    duration_ms: int
    components: list[ComponentHealth]
    overall_status: OverallStatus
    can_trade: bool
    markets: list[MarketViability] = Field(default_factory=list)
    viable_markets: list[str] = Field(default_factory=list)
    positions: list[PositionView] = Field(default_factory=list)
    portfolio: PortfolioHealth = Field(default_factory=PortfolioHealth)
    cash_flow: CashFlow = Field(default_factory=CashFlow)
    drift: Drift = Field(default_factory=Drift)
    settlements: list[SettlementRecord] = Field(default_factory=list)
    resting_orders: list[RestingOrder] = Field(default_factory=list)
    errors: dict[str, str] = Field(default_factory=dict)
    order_group_exists: bool | None = None
    order_group_triggered: bool | None = None
    market_data: MarketDataHealth | None = None
    exchange_active: bool | None = None
    trading_active: bool | None = None


# --------------------------------------------------------------------------------------------
# Exits and closes
# --------------------------------------------------------------------------------------------


class ExitDecision(BaseModel):
    """A position the exit rules decided to close, with why (one of :class:`ExitReason`)."""

    ticker: str
    side: Side
    contracts: Contracts
    reason: ExitReason
    detail: str = ""


class CloseRequest(BaseModel):
    """Input of ``ClosePositionWorkflow``: sell the held side until flat (bounded repricing).

    Attributes:
        ticker: market ticker.
        side: held side (the close sells this side: sell YES if long YES, sell NO if long NO).
        contracts: contracts to close.
        reason: exit reason; the orders' ``client_order_id`` carry it and the record keeps it.
        settings: attempts, reprice step and delay.
        activity_timeout_s: start-to-close timeout of each activity.

    """

    ticker: str
    side: Side
    contracts: Contracts
    reason: ExitReason
    settings: CloseSettings = Field(default_factory=CloseSettings)
    activity_timeout_s: float = 20.0


class CloseResult(BaseModel):
    """Outcome of one close: what was sold, at what average price, and why.

    Attributes:
        ticker, side, reason: as requested; ``tag`` is ``close_position:<reason>``.
        requested_contracts: contracts asked to close.
        closed_contracts: contracts actually sold.
        average_price_dollars: average sale price per contract (dollars), None if nothing filled.
        proceeds_dollars: total sale proceeds in dollars.
        remaining_contracts: position left at the exchange after the close (absolute contracts).
        attempts: IOC orders sent.
        client_order_ids: the deterministic ids used, in order.
        cost_basis_dollars: what the sold contracts cost (the position's average cost, from Kalshi's
            ``market_exposure``, times the contracts sold), None when unknown.
        fees_dollars: taker fees of the close's fills (Kalshi's quadratic fee, models.money).
        realized_pnl_dollars: ``proceeds - cost basis - fees``, None when the cost basis is unknown.
        slippage_floor_dollars: the lowest price the last attempt was allowed to sell at.
        status: closed | partial | unfilled | already_flat | failed.
        error: one-line error when failed.
        at: exchange/workflow time the close finished.
        workflow_id: the close's child workflow id.

    """

    ticker: str
    side: Side
    reason: ExitReason
    tag: str
    requested_contracts: Contracts
    closed_contracts: Contracts = Decimal(0)
    average_price_dollars: Dollars | None = None
    proceeds_dollars: Dollars = Decimal(0)
    remaining_contracts: Contracts = Decimal(0)
    attempts: int = 0
    client_order_ids: list[str] = Field(default_factory=list)
    cost_basis_dollars: Dollars | None = None
    fees_dollars: Dollars = Decimal(0)
    realized_pnl_dollars: Dollars | None = None
    slippage_floor_dollars: Dollars | None = None
    status: CloseStatus
    error: str | None = None
    at: datetime | None = None
    workflow_id: str = ""


class PlaceOrderInput(BaseModel):
    """Input of the ``place_order`` activity: one limit order with a deterministic client_order_id.

    Attributes:
        ticker: market ticker.
        side: yes | no.
        action: buy | sell.
        count_contracts: contracts.
        price_dollars: limit price of ``side`` in dollars.
        client_order_id: idempotency key decided in the workflow.
        time_in_force: good_till_canceled | immediate_or_cancel | fill_or_kill.
        reduce_only: never increase the position (closes).
        order_group_id: Kalshi order group, if any.

    """

    ticker: str
    side: Side
    action: Literal["buy", "sell"]
    count_contracts: Contracts
    price_dollars: Dollars
    client_order_id: str
    time_in_force: Literal["good_till_canceled", "immediate_or_cancel", "fill_or_kill"] = "immediate_or_cancel"
    reduce_only: bool = False
    order_group_id: str | None = None


class OrderOutcome(BaseModel):
    """Result of ``place_order``: how much filled, at what average price, whether it already existed.

    Attributes:
        order_id, client_order_id: identifiers.
        filled_contracts, remaining_contracts: contracts.
        average_fill_price_dollars: dollars per contract of ``side``, None when nothing filled.
        status: resting | canceled | executed.
        already_existed: True when a 409 duplicate or an outcome-unknown lookup found the order.
        rejected_code: Kalshi error code when the exchange rejected the order (then order_id is "").
        rejected_detail: the rejection's message/details.

    """

    order_id: str
    client_order_id: str
    filled_contracts: Contracts = Decimal(0)
    remaining_contracts: Contracts = Decimal(0)
    average_fill_price_dollars: Dollars | None = None
    status: str = "canceled"
    already_existed: bool = False
    rejected_code: str | None = None
    rejected_detail: str | None = None


class CloseQuote(BaseModel):
    """What a close needs right before an attempt.

    Attributes:
        ticker: market ticker.
        position_contracts: signed position at the exchange (+ YES / - NO), contracts.
        market_status: exchange status of the market.
        book: top of book.
        tick_size_dollars: price step near mid.
        sweep_price_dollars: the lowest bid of the held side that selling the requested contracts
            would reach (the price that crosses the whole size), None when the side has no bid.
        sweep_contracts: how many of the requested contracts the visible bids can absorb.
        exposure_dollars: what the position cost (Kalshi ``market_exposure``), None when flat/unknown.
    """

    ticker: str
    position_contracts: Contracts
    market_status: str
    book: BookTop | None = None
    tick_size_dollars: Dollars = Decimal("0.01")
    sweep_price_dollars: Dollars | None = None
    sweep_contracts: Contracts = Decimal(0)
    exposure_dollars: Dollars | None = None


class CloseQuoteInput(BaseModel):
    """Input of ``get_close_quote``: the market, the held side and how many contracts a close wants to sell."""

    ticker: str
    side: Side = "yes"
    contracts: Contracts = Decimal(0)


class OrderGroupInput(BaseModel):
    """Input of ``ensure_order_group`` / ``reset_order_group``.

    Attributes:
        order_group_id: existing group to verify or reset (None = create one).
        contracts_limit: contracts filled per rolling 15 s window before the exchange triggers it.

    """

    order_group_id: str | None = None
    contracts_limit: int = Field(default=200, ge=1, le=1_000_000)


class OrderGroupState(BaseModel):
    """Result of ``ensure_order_group`` / ``reset_order_group``: the group id and whether it was (re)created."""

    order_group_id: str
    created: bool = False
    reset: bool = False


class CancelOrdersInput(BaseModel):
    """Input of ``cancel_resting_orders``: explicit order ids, or all resting orders when empty.

    Attributes:
        order_ids: orders to cancel; empty = every resting order of the account.
        reason: why (logged and returned).

    """

    order_ids: list[str] = Field(default_factory=list)
    reason: str = ""


class CancelOrdersResult(BaseModel):
    """Result of ``cancel_resting_orders``: what was cancelled and what could not be (id -> error)."""

    cancelled: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)
    contracts_cancelled: Contracts = Decimal(0)


# --------------------------------------------------------------------------------------------
# Trading epoch
# --------------------------------------------------------------------------------------------


class EpochMarket(BaseModel):
    """A market the epoch may trade, with the facts pre-trade checks need."""

    ticker: str
    close_time: datetime | None = None
    tick_size_dollars: Dollars = Decimal("0.01")


class RecordBatch(BaseModel):
    """What the workflow hands to the worker's recorder with each epoch (persistence has no history cost).

    Attributes:
        workflow_id: the trader's workflow id.
        report: the calibration report of this cycle.
        transitions: status transitions since the last batch.
        closes: closes since the last batch.
    """

    workflow_id: str
    report: CalibrationReport | None = None
    transitions: list[StatusTransition] = Field(default_factory=list)
    closes: list[CloseResult] = Field(default_factory=list)


class EpochInput(BaseModel):
    """Input of the ``run_trading_epoch`` activity.

    Attributes:
        epoch_id: the epoch's name (``<workflow_id>:<cycle>``, ``:rest`` for the REST fallback leg), for
            the summary, logs and the recorder.
        order_key: the epoch key (:func:`models.ids.epoch_key`, unique per execution, run, cycle and
            leg): client_order_ids are ``epoch:<order_key>:<attempt>:<sequence>``, so no two attempts,
            runs or executions share an id, and a retried attempt finds the earlier attempts' orders by
            the prefix. None for epochs of workflows started before ``run-scoped-order-ids`` (legacy
            ids: uuid5(epoch_id, sequence), resumed from the heartbeat).
        exchange_start: the exchange clock at the calibration that scheduled the epoch: no order of
            the epoch is older (a retried attempt lists orders from there).
        deadline: when to stop trading (workflow clock, UTC); a retried attempt keeps the deadline.
        markets: viable markets.
        positions: signed positions at epoch start (contracts), by ticker.
        balance_cents: free cash at epoch start, cents.
        risk: pre-trade limits.
        exits: exit thresholds (closing window and cash reserve are pre-trade checks too).
        settings: epoch settings (poll interval, policy threshold, circuit breaker).
        order_group_id: order group every order carries.
        record: calibration report, transitions and closes for the worker's database (if it has one).

    """

    epoch_id: str
    deadline: datetime
    markets: list[EpochMarket]
    order_key: str | None = None
    exchange_start: datetime | None = None
    positions: dict[str, Contracts] = Field(default_factory=dict)
    balance_cents: int
    risk: RiskLimits
    exits: ExitRules
    settings: EpochSettings
    order_group_id: str | None = None
    record: RecordBatch | None = None


class EpochSummary(BaseModel):
    """What one trading epoch did (shown in ``status`` and the Web UI).

    Attributes:
        epoch_id: as given.
        driver: ``polling`` (REST order books every poll interval) or ``actor`` (every WebSocket update).
        started_at, ended_at: exchange clock.
        ended_by: ``duration`` | ``cancelled`` | ``worker_shutdown`` | ``circuit_breaker`` |
            ``order_group_triggered`` | ``no_markets`` | ``no_market_data`` | ``superseded`` (the server no
            longer runs this attempt, or a newer epoch of the account took over in this process).
        attempt: the activity attempt that returned this summary (earlier attempts' orders, found at
            the exchange by the epoch's id prefix, are counted in).
        updates_seen: order-book reads (polls x markets) processed.
        decisions: count per :class:`TradeAction`.
        orders_placed: orders accepted by the exchange.
        contracts_filled: contracts filled on those orders.
        rejects: pre-trade and exchange rejections by reason; ``fenced`` counts orders not sent because
            the epoch's lease had lapsed (the server unreachable) or a newer epoch took over.
        errors: REST errors during the epoch.
        client_order_ids: ids of every order the exchange acknowledged.
        unresolved_client_order_ids: ids whose outcome stayed unknown (looked up at the next
            calibration).
        unresolved_orders: the same with their tickers.
        filled_tickers: markets where this epoch's orders filled (their new positions are the
            trader's own, not drift).
        latency_ms_p50, latency_ms_p99: decision latency in milliseconds: order-book update received
            (book applied) -> the order handed to the REST client. Building, signing (RSA-PSS, ~0.35 ms)
            and writing the request come on top: bench/bench_market_data.py measures frame received ->
            request written on the socket.
        ack_latency_ms_p50, ack_latency_ms_p99: order request sent -> exchange acknowledgement, ms.

    """

    epoch_id: str
    driver: Literal["polling", "actor"] = "polling"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: str = "duration"
    attempt: int = 1
    updates_seen: int = 0
    decisions: dict[str, int] = Field(default_factory=dict)
    orders_placed: int = 0
    contracts_filled: Contracts = Decimal(0)
    rejects: dict[str, int] = Field(default_factory=dict)
    errors: int = 0
    client_order_ids: list[str] = Field(default_factory=list)
    unresolved_client_order_ids: list[str] = Field(default_factory=list)
    unresolved_orders: list[PendingOrder] = Field(default_factory=list)
    filled_tickers: list[str] = Field(default_factory=list)
    latency_ms_p50: float | None = None
    latency_ms_p99: float | None = None
    ack_latency_ms_p50: float | None = None
    ack_latency_ms_p99: float | None = None


# --------------------------------------------------------------------------------------------
# Signals, updates, status
# --------------------------------------------------------------------------------------------


class PauseRequest(_Strict):
    """``pause`` signal payload: ``{"reason": "maintenance"}`` (reason optional)."""

    reason: str = Field(default="operator", max_length=200)


class StopRequest(_Strict):
    """``stop`` signal payload: ``{"close_all": true, "reason": "..."}``."""

    close_all: StrictBool = False
    reason: str = Field(default="operator", max_length=200)


class ForceCloseRequest(_Strict):
    """``force_close`` update payload: ``{"ticker": "KXGOLD15M-..."}``."""

    ticker: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class RiskLimitsUpdate(_Strict):
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


def limit_problems(risk: RiskLimits, exits: ExitRules) -> list[str]:
    """Combinations of risk limits and exit rules that cannot work together (empty when consistent)."""
    problems = []
    if risk.order_size_contracts > risk.max_position_contracts:
        problems.append(
            f"order_size_contracts {risk.order_size_contracts} exceeds max_position_contracts "
            f"{risk.max_position_contracts}: no entry could ever be placed"
        )
    return problems


class StatusTransition(BaseModel):
    """One entry of the status history: when, into which state, how long the previous lasted, why.

    Routine recalibration cycles (trading -> calibrating -> trading) are collapsed: the latest pair is
    updated in place and ``repeats`` counts how many cycles it stands for, so pauses, resumes and
    failures stay visible in the tail.
    """

    at: datetime
    state: LifecycleState
    previous_state: LifecycleState | None = None
    time_in_previous_s: float = 0.0
    result: str = ""
    repeats: int = 0


class RejectedMessage(BaseModel):
    """A signal or update payload that was rejected (and changed nothing)."""

    at: datetime
    handler: str
    error: str


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
