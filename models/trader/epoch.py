"""The trading epoch activity's input and summary."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from models.money import Contracts, Dollars
from models.trader.calibration import CalibrationReport, PendingOrder
from models.trader.closes import CloseResult
from models.trader.config import EpochSettings, ExitRules, RiskLimits
from models.trader.enums import OverallStatus, Side
from models.trader.health import EpochFallbacks
from models.trader.operator import StatusTransition


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
        mode: the mode the epoch trades in (the calibration's overall status; None before degraded-mode).
            ``risk`` and ``exits`` are then already the EFFECTIVE limits of that mode.
        closing_only: why the epoch may not open or add to a position (closing preferred over opening);
            None when entries are allowed.
        fallbacks: REST fallbacks the epoch refreshes itself (fills by order-status polling, positions by
            REST sync), None when none.

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
    mode: OverallStatus | None = None
    closing_only: str | None = None
    fallbacks: EpochFallbacks | None = None


class PolicyInUse(BaseModel):
    """Which policy an epoch (or a ``predict`` call) actually ran, and why when it is not the one asked for.

    Attributes:
        requested: the configured policy (``EpochSettings.policy``), e.g. ``rl:current``.
        name: what decided: ``imbalance``, ``hold`` or ``rl:<version>``.
        model_version: the registry version of a learned policy (``current`` resolved), else None.
        feature_version: the observation's feature version of a learned policy, else None.
        actions: the action names it chooses among, in index order.
        decision_interval_ms: at most one decision per market per this many exchange ms (0: every update).
        fallback_reason: why ``name`` differs from ``requested`` (one line: the model is missing, corrupt or
            incompatible, the RL extra is not installed, ...), else None.

    """

    requested: str
    name: str
    model_version: str | None = None
    feature_version: int | None = None
    actions: list[str] = Field(default_factory=list)
    decision_interval_ms: int = 0
    fallback_reason: str | None = None


class EpochSummary(BaseModel):
    """What one trading epoch did (shown in ``status`` and the Web UI).

    Attributes:
        epoch_id: as given.
        driver: ``polling`` (REST order books every poll interval) or ``actor`` (every WebSocket update).
        started_at, ended_at: exchange clock.
        ended_by: ``duration`` | ``cancelled`` | ``worker_shutdown`` | ``circuit_breaker`` |
            ``order_group_triggered`` | ``no_markets`` | ``no_market_data`` | ``market_data_lost`` (the actor
            loop's WebSocket, or a private channel it relies on, was down longer than
            ``market_data_grace_ms``: the workflow recalibrates at once) | ``superseded`` (the server no
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
        policy: the policy that decided (with the fallback reason when it is not the configured one).
        realized_pnl_dollars: P&L the epoch's own trades realised (closing contracts against their cost basis),
            after every fee the epoch's fills paid, dollars; settlements and closes are counted by the workflow.
        fees_dollars: fees of the epoch's fills, dollars.
        realized_pnl_by_ticker: the same per market.
        forced_holds: decision points where the checks allowed only HOLD (a learned policy is not asked then, as
            in training).
        updates_coalesced: book changes folded into a later decision on the same market's newer book (the actor
            loop decides on the latest book).
        updates_deferred: book updates of a market whose previous order was still in flight (decided on once it
            completed: at most one order in flight per market).
        updates_skipped: book updates inside the policy's decision interval.
        inference_ms_p50, inference_ms_p99: the learned policy's observation + network time per decision, ms.
        positions: the epoch's own view of the signed positions at its end (contracts; the markets it held or
            traded): the next calibration compares it with the exchange's (``Drift.mismatched_positions``).
        fallback_refreshes: REST fallback refreshes performed, by fallback (``positions_rest_sync``,
            ``fills_order_status_polling``).
        mode, closing_only: the mode and closing-only reason the epoch traded with (from its input).

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
    policy: PolicyInUse | None = None
    realized_pnl_dollars: Dollars = Decimal(0)
    fees_dollars: Dollars = Decimal(0)
    realized_pnl_by_ticker: dict[str, Dollars] = Field(default_factory=dict)
    forced_holds: int = 0
    updates_coalesced: int = 0
    updates_deferred: int = 0
    updates_skipped: int = 0
    inference_ms_p50: float | None = None
    inference_ms_p99: float | None = None
    positions: dict[str, Contracts] | None = None
    fallback_refreshes: dict[str, int] = Field(default_factory=dict)
    mode: OverallStatus | None = None
    closing_only: str | None = None


class PredictInput(BaseModel):
    """Input of the ``predict`` activity: the policy's decision for each market, without placing anything.

    Attributes:
        policy: the policy to ask (as ``EpochSettings.policy``; falls back like an epoch).
        markets: the markets to decide on (their close times matter for the closing window).
        positions: signed positions (contracts) by ticker.
        balance_cents: free cash, cents.
        risk, exits, settings: the limits and settings the checks apply (as in an epoch).

    """

    policy: str
    markets: list[EpochMarket]
    positions: dict[str, Contracts] = Field(default_factory=dict)
    balance_cents: int
    risk: RiskLimits
    exits: ExitRules
    settings: EpochSettings


class PredictedDecision(BaseModel):
    """One market's decision from ``predict``.

    Attributes:
        ticker: the market.
        action: the chosen action's name (``HOLD``, ``BUY_YES_TAKE``, ...).
        allowed: the actions the pre-trade checks allowed (the action mask), by name.
        reject: why the chosen action would not become an order, else None.
        side, order_action, count_contracts, price_dollars, time_in_force: the order it would place, when any.
        book_source: ``websocket`` (the worker's live book and feature history) or ``rest`` (a fresh REST book;
            no history).

    """

    ticker: str
    action: str
    allowed: list[str] = Field(default_factory=list)
    reject: str | None = None
    side: Side | None = None
    order_action: Literal["buy", "sell"] | None = None
    count_contracts: Contracts | None = None
    price_dollars: Dollars | None = None
    time_in_force: str | None = None
    book_source: Literal["websocket", "rest"] = "rest"


class PredictResult(BaseModel):
    """What ``predict`` answered: the policy it used and one decision per market it had a book for."""

    policy: PolicyInUse
    decisions: list[PredictedDecision] = Field(default_factory=list)
