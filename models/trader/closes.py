"""Exits and closes, and the REST activities' inputs and results.

The exit decision, ``ClosePositionWorkflow``'s input and result, and what the close and the trader send to and
get from the REST activities (orders, quotes, order groups, cancels).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from models.money import Contracts, Dollars
from models.trader.config import CloseSettings
from models.trader.enums import CloseStatus, ExitReason, Side
from models.trader.market import BookTop

PAUSE_CODES = ("trading_paused", "exchange_paused")
"""Kalshi error codes of an order refused because trading (400) or the whole exchange (503) is paused
(kalshi-api.md §3.1): not an error of the order, a reason to wait."""


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

    @classmethod
    def of(
        cls, ticker: str, side: Side, reason: ExitReason, contracts: Decimal, status: CloseStatus, **fields: Any
    ) -> CloseResult:
        """The result of one close, tagged ``close_position:<reason>``.

        Args:
            ticker: the market.
            side: the held side being sold.
            reason: why it is closed.
            contracts: contracts asked to close (``requested_contracts``).
            status: its status so far.
            fields: any other field (``error``, ``at``, ``workflow_id``...).
        """
        return cls(
            ticker=ticker,
            side=side,
            reason=reason,
            tag=f"close_position:{reason.value}",
            requested_contracts=contracts,
            status=status,
            **fields,
        )


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
