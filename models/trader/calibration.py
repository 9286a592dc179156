"""Calibration: the raw snapshot and the report.

The snapshot is the ``calibration_snapshot`` activity's result; the workflow computes the report from it in
pure code (``workflows.calibration``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from models.market_data import LocateInput, MarketDataHealth
from models.money import Contracts, Dollars
from models.trader.enums import ComponentCategory, OverallStatus, Side
from models.trader.market import BookTop, ExchangePosition, MarketSnapshot, PositionView


class ComponentHealth(BaseModel):
    """Health of one component probed during calibration.

    Attributes:
        name: ``exchange_rest``, ``order_tracking``, ``orderbook_ws``, ``fill_ws``, ``position_ws``.
        category: critical (trading stops when down) or optional (a fallback is used).
        healthy: whether the probe succeeded.
        latency_ms: probe duration in milliseconds.
        error: one-line error when unhealthy.
        fallback: what the trader uses instead of an unhealthy optional component (in words).
        fallback_id: the same as a stable identifier (a metric label: ``books_rest_polling``,
            ``fills_order_status_polling``, ``positions_rest_sync``...), None when healthy or critical.
        transient: every error of this component is one that repeating the call may fix at once (HTTP 429,
            502, 503, 504, or no answer): a critical one is retried once before the trader pauses.

    """

    name: str
    category: ComponentCategory
    healthy: bool
    latency_ms: int = 0
    error: str | None = None
    fallback: str | None = None
    fallback_id: str | None = None
    transient: bool = False


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
    """A settlement paid by the exchange (revenue in cents, 100 per winning contract).

    Attributes:
        ticker, market_result: the market and its result.
        revenue_cents: the payout, cents.
        settled_time: when (exchange clock).
        cost_dollars: what the contracts settled had cost (Kalshi's ``yes_total_cost`` + ``no_total_cost``), dollars.
        fee_dollars: the settlement's fee, dollars.

    """

    ticker: str
    market_result: str
    revenue_cents: int
    settled_time: datetime | None = None
    cost_dollars: Dollars = Decimal(0)
    fee_dollars: Dollars = Decimal(0)

    @property
    def pnl_dollars(self) -> Decimal:
        """Realised P&L of the settlement: revenue - cost - fee, dollars."""
        return Decimal(self.revenue_cents) / 100 - self.cost_dollars - self.fee_dollars


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
        error_status: per failed check, the HTTP status of the failure (0 when no answer arrived).

    """

    exchange_time: datetime
    duration_ms: int
    check_latency_ms: dict[str, int] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict)
    error_status: dict[str, int] = Field(default_factory=dict)
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
        mismatched_positions: markets where the last epoch's own view of the position (its fills from the
            WebSocket streams or the REST fallbacks) differs from the exchange's, as
            ``<ticker>: epoch <signed contracts>, exchange <signed contracts>``.
        corrected: whether the trader's state was reconciled to the exchange's.

    """

    unexpected_positions: list[str] = Field(default_factory=list)
    vanished_positions: list[str] = Field(default_factory=list)
    unknown_resting_orders: list[str] = Field(default_factory=list)
    confirmed_pending: list[str] = Field(default_factory=list)
    missing_pending: list[str] = Field(default_factory=list)
    unresolved_pending: list[str] = Field(default_factory=list)
    expired_pending: list[str] = Field(default_factory=list)
    mismatched_positions: list[str] = Field(default_factory=list)
    corrected: bool = False

    @property
    def has_drift(self) -> bool:
        """True when anything differs between expected and exchange state."""
        return bool(
            self.unexpected_positions
            or self.vanished_positions
            or self.unknown_resting_orders
            or self.mismatched_positions
        )


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
