"""Orders area of the REST API: orders, create/cancel answers and the create request (kalshi-api.md §3.5-§3.6).

Units and wire eras as in :mod:`kalshi.models.common`; direction vocabulary (§8) there too.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal, Self, cast

from pydantic import AliasChoices, AwareDatetime, ConfigDict, Field, StrictInt, field_validator, model_validator

from kalshi.models.common import (
    _ZERO,
    BOOK_SIDE_OF,
    Action,
    ApiErrorBody,
    BookSide,
    KalshiModel,
    OrderStatus,
    SelfTradePrevention,
    Side,
    TimeInForce,
    _complete_prices,
    _normalise_direction,
    _Page,
)
from kalshi.models.markets import Market
from models.money import (
    CENT,
    COUNT_QUANTUM,
    DOLLARS_QUANTUM,
    ONE_DOLLAR,
    Contracts,
    Dollars,
    format_count,
    format_dollars,
    to_decimal,
)

__all__ = [
    "BatchCancelResult",
    "CancelOrderV1Response",
    "CancelOrderV2Response",
    "CreateOrderRequest",
    "CreateOrderV2Response",
    "Order",
    "OrderAck",
    "OrdersPage",
]


class Order(KalshiModel):
    """An order as returned by ``GET /portfolio/orders[/{id}]`` and V1 create/cancel (kalshi-api.md §3.5).

    ``status`` is ``resting`` (on the book, remaining > 0), ``canceled`` (no longer working, may be partly
    filled) or ``executed`` (fully filled); kept as a string for tolerance. ``yes_price_dollars`` +
    ``no_price_dollars`` = $1. Counts are Decimal contracts; costs and fees Decimal dollars. Legacy
    integer fields (``yes_price`` cents, ``fill_count`` contracts, ``taker_fees`` cents ...) are converted,
    and missing direction fields are completed (§8).
    """

    order_id: str
    user_id: str | None = None
    client_order_id: str = ""
    ticker: str
    side: Side
    action: Action
    outcome_side: Side | None = None
    book_side: BookSide | None = None
    type: str | None = None
    status: str
    yes_price_dollars: Dollars
    no_price_dollars: Dollars
    fill_count_fp: Contracts = _ZERO
    remaining_count_fp: Contracts = _ZERO
    initial_count_fp: Contracts = _ZERO
    taker_fill_cost_dollars: Dollars = _ZERO
    maker_fill_cost_dollars: Dollars = _ZERO
    taker_fees_dollars: Dollars = _ZERO
    maker_fees_dollars: Dollars = _ZERO
    created_time: AwareDatetime | None = None
    last_update_time: AwareDatetime | None = None
    expiration_time: AwareDatetime | None = None
    order_group_id: str | None = None
    self_trade_prevention_type: str | None = None

    LEGACY_CENTS = ("taker_fill_cost", "maker_fill_cost", "taker_fees", "maker_fees")
    LEGACY_COUNTS = ("fill_count", "remaining_count", "initial_count")

    @classmethod
    def _from_wire_dict(cls, d: dict[str, Any]) -> Any:
        _complete_prices(d)
        if d.get("initial_count_fp") is None and d.get("fill_count_fp") is not None:
            d["initial_count_fp"] = to_decimal(d["fill_count_fp"]) + to_decimal(d.get("remaining_count_fp") or 0)
        if d.get("client_order_id") is None:
            d["client_order_id"] = ""
        if d.get("order_group_id") == "":
            d["order_group_id"] = None
        _normalise_direction(d)
        return d

    @property
    def price_dollars(self) -> Decimal:
        """Limit price of the order's ``side`` in dollars (YES price for yes, NO price for no)."""
        return self.yes_price_dollars if self.side == "yes" else self.no_price_dollars

    @property
    def is_resting(self) -> bool:
        """Whether the order is live on the book."""
        return self.status == "resting"

    @property
    def fees_dollars(self) -> Decimal:
        """Taker plus maker fees paid so far, in dollars."""
        return self.taker_fees_dollars + self.maker_fees_dollars


class OrdersPage(_Page):
    """One page of ``GET /portfolio/orders``: ``{orders, cursor}``."""

    orders: list[Order] = Field(default_factory=list)
    cursor: str | None = None


class CreateOrderV2Response(KalshiModel):
    """201 body of V2 ``POST /portfolio/events/orders`` (kalshi-api.md §3.6).

    ``{order_id, client_order_id, fill_count, remaining_count, average_fill_price?, average_fee_paid?,
    ts_ms}``: counts are fp strings, averages dollar strings present only when something filled. The
    average fill price is a YES-book price, like every V2 price.
    """

    order_id: str
    client_order_id: str = ""
    fill_count_fp: Contracts = Field(default=_ZERO, validation_alias=AliasChoices("fill_count_fp", "fill_count"))
    remaining_count_fp: Contracts = Field(
        default=_ZERO, validation_alias=AliasChoices("remaining_count_fp", "remaining_count")
    )
    average_fill_yes_price_dollars: Dollars | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "average_fill_yes_price_dollars", "average_fill_price", "average_fill_price_dollars"
        ),
    )
    average_fee_paid_dollars: Dollars | None = Field(
        default=None, validation_alias=AliasChoices("average_fee_paid_dollars", "average_fee_paid")
    )
    ts_ms: int | None = None

    @field_validator("average_fill_yes_price_dollars", "average_fee_paid_dollars", mode="before")
    @classmethod
    def _blank_none(cls, value: Any) -> Any:
        return None if value == "" else value


class OrderAck(KalshiModel):
    """The normalised result of placing an order, whichever route answered (V2, V1 or a lookup).

    Attributes:
        order_id: exchange order id.
        client_order_id: the idempotency key sent.
        ticker: market ticker, when known.
        side: contract side of the order (yes/no), when known.
        action: buy/sell, when known.
        fill_count_fp: contracts filled at acknowledgement time.
        remaining_count_fp: contracts still resting.
        average_fill_price_dollars: average fill price of the order's ``side`` (a NO price for side=no),
            or ``None`` when nothing filled or the route did not report it (V1 and lookups: use fills).
        average_fee_paid_dollars: average fee as reported by V2 (dollars), or ``None``.
        ts_ms: exchange timestamp of the acknowledgement, Unix milliseconds, when reported.
        status: ``executed`` (fully filled), ``resting`` (remaining > 0) or ``canceled`` (nothing left
            working: IOC/FoK leftovers, or cancelled since).
        already_existed: ``True`` when the order was found rather than created by this call (a 409
            duplicate, or a lookup after an unknown outcome).

    """

    order_id: str
    client_order_id: str
    ticker: str | None = None
    side: Side | None = None
    action: Action | None = None
    fill_count_fp: Contracts
    remaining_count_fp: Contracts
    average_fill_price_dollars: Dollars | None = None
    average_fee_paid_dollars: Dollars | None = None
    ts_ms: int | None = None
    status: OrderStatus
    already_existed: bool = False

    @staticmethod
    def derive_status(fill_count_fp: Decimal, remaining_count_fp: Decimal, requested_fp: Decimal | None) -> OrderStatus:
        """Status from counts: remaining > 0 -> resting; all requested filled -> executed; else canceled.

        Args:
            fill_count_fp: contracts filled.
            remaining_count_fp: contracts still resting.
            requested_fp: contracts requested, or ``None`` if unknown (then any fill with nothing
                remaining counts as executed).

        """
        if remaining_count_fp > 0:
            return "resting"
        if fill_count_fp > 0 and (requested_fp is None or fill_count_fp >= requested_fp):
            return "executed"
        return "canceled"

    @classmethod
    def from_order(cls, order: Order, *, already_existed: bool) -> OrderAck:
        """Build an ack from a full :class:`Order` (V1 create answer or a lookup); status is the order's."""
        status: OrderStatus
        if order.status in ("resting", "canceled", "executed"):
            status = cast(OrderStatus, order.status)
        else:
            status = cls.derive_status(order.fill_count_fp, order.remaining_count_fp, order.initial_count_fp or None)
        return cls(
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            ticker=order.ticker,
            side=order.side,
            action=order.action,
            fill_count_fp=order.fill_count_fp,
            remaining_count_fp=order.remaining_count_fp,
            status=status,
            already_existed=already_existed,
        )

    @classmethod
    def from_v2_response(cls, resp: CreateOrderV2Response, req: CreateOrderRequest) -> OrderAck:
        """Build an ack from a V2 create answer and the request that produced it (kalshi-api.md §3.6)."""
        avg: Decimal | None = resp.average_fill_yes_price_dollars
        if avg is not None and req.side == "no":
            avg = ONE_DOLLAR - avg
        return cls(
            order_id=resp.order_id,
            client_order_id=resp.client_order_id or req.client_order_id,
            ticker=req.ticker,
            side=req.side,
            action=req.action,
            fill_count_fp=resp.fill_count_fp,
            remaining_count_fp=resp.remaining_count_fp,
            average_fill_price_dollars=avg,
            average_fee_paid_dollars=resp.average_fee_paid_dollars,
            ts_ms=resp.ts_ms,
            status=cls.derive_status(resp.fill_count_fp, resp.remaining_count_fp, req.count_fp),
        )


class CancelOrderV1Response(KalshiModel):
    """200 body of V1 ``DELETE /portfolio/orders/{id}``: ``{order, reduced_by_fp}`` (legacy ``reduced_by``)."""

    order: Order
    reduced_by_fp: Contracts = Field(default=_ZERO, validation_alias=AliasChoices("reduced_by_fp", "reduced_by"))


class CancelOrderV2Response(KalshiModel):
    """200 body of V2 ``DELETE /portfolio/events/orders/{id}``: ``{order_id, client_order_id, reduced_by, ts_ms}``."""

    order_id: str
    client_order_id: str = ""
    reduced_by_fp: Contracts = Field(default=_ZERO, validation_alias=AliasChoices("reduced_by_fp", "reduced_by"))
    ts_ms: int | None = None


class BatchCancelResult(KalshiModel):
    """One item of a batch cancel answer (V1 or V2; kalshi-api.md §3.5, §3.6).

    ``error`` is set when this item failed; otherwise ``reduced_by_fp`` contracts were cancelled
    (0 = it had already filled or been cancelled).
    """

    order_id: str
    client_order_id: str | None = None
    order: Order | None = None
    reduced_by_fp: Contracts | None = Field(default=None, validation_alias=AliasChoices("reduced_by_fp", "reduced_by"))
    error: ApiErrorBody | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_shape(cls, value: Any) -> Any:
        if value in (None, "", {}):
            return None
        if isinstance(value, str):
            return {"message": value}
        return value

    @property
    def ok(self) -> bool:
        """Whether this item was cancelled without error."""
        return self.error is None


_CLIENT_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_\-:+=/]{1,64}$")
"""Kalshi's client order id rule: 1-64 characters of ``[A-Za-z0-9_-:+=/]`` (FIX ClOrdID, §3.5)."""


class CreateOrderRequest(KalshiModel):
    """A limit order as callers state it: buy/sell ``count_fp`` contracts of ``side`` at ``price_dollars``.

    Serialises to either order API: :meth:`to_v2_body` (single YES book, kalshi-api.md §3.6) or
    :meth:`to_v1_body` (side/action, §3.5). Unknown keyword arguments are rejected (typos in an order
    must not pass silently).

    Attributes:
        ticker: market ticker.
        side: ``yes`` or ``no``: the contract bought or sold.
        action: ``buy`` or ``sell``.
        count_fp: contracts, > 0, in 0.01 steps (fractional only where the market allows it).
        price_dollars: limit price of ``side`` in dollars, 0 < p < 1, at most 4 decimal places.
        client_order_id: idempotency key, 1-64 chars of ``[A-Za-z0-9_-:+=/]``.
        time_in_force: ``good_till_canceled`` (default), ``immediate_or_cancel`` or ``fill_or_kill``.
        post_only: reject instead of crossing.
        reduce_only: never increase the position.
        order_group_id: order group to attach the order to (§3.7).
        self_trade_prevention_type: ``taker_at_cross`` (default) or ``maker``.
        expiration_ts: good-till-time expiry, Unix seconds (only with good_till_canceled).
        buy_max_cost_cents: V1-only cap on total cost in cents (buys only; forces fill-or-kill behaviour).
        cancel_order_on_pause: cancel automatically on an exchange/trading pause.

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ticker: str = Field(min_length=1)
    side: Side
    action: Action
    count_fp: Contracts
    price_dollars: Dollars
    client_order_id: str
    time_in_force: TimeInForce = "good_till_canceled"
    post_only: bool = False
    reduce_only: bool = False
    order_group_id: str | None = None
    self_trade_prevention_type: SelfTradePrevention = "taker_at_cross"
    expiration_ts: StrictInt | None = None
    buy_max_cost_cents: StrictInt | None = None
    cancel_order_on_pause: bool = False

    @field_validator("ticker")
    @classmethod
    def _ticker(cls, value: str) -> str:
        if value != value.strip() or not value:
            raise ValueError("ticker must be non-empty without surrounding whitespace")
        return value

    @field_validator("count_fp")
    @classmethod
    def _count(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError(f"count_fp must be > 0 contracts, got {value}")
        if value % COUNT_QUANTUM != 0:
            raise ValueError(f"count_fp must be a multiple of 0.01 contracts, got {value}")
        return value

    @field_validator("price_dollars")
    @classmethod
    def _price(cls, value: Decimal) -> Decimal:
        if not _ZERO < value < ONE_DOLLAR:
            raise ValueError(f"price_dollars must be strictly between 0 and 1, got {value}")
        if value % DOLLARS_QUANTUM != 0:
            raise ValueError(f"price_dollars has more than 4 decimal places: {value}")
        return value

    @field_validator("client_order_id")
    @classmethod
    def _client_order_id(cls, value: str) -> str:
        if not _CLIENT_ORDER_ID_RE.match(value):
            raise ValueError(f"client_order_id must be 1-64 characters of A-Z a-z 0-9 _ - : + = /, got {value!r}")
        return value

    @field_validator("order_group_id")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("order_group_id must be non-empty when given")
        return value

    @model_validator(mode="after")
    def _combination(self) -> Self:
        if self.expiration_ts is not None:
            if self.expiration_ts <= 0:
                raise ValueError(f"expiration_ts must be a positive Unix time in seconds, got {self.expiration_ts}")
            if self.time_in_force != "good_till_canceled":
                raise ValueError("expiration_ts is only valid with time_in_force good_till_canceled")
        if self.buy_max_cost_cents is not None:
            if self.buy_max_cost_cents <= 0:
                raise ValueError(f"buy_max_cost_cents must be > 0, got {self.buy_max_cost_cents}")
            if self.action != "buy":
                raise ValueError("buy_max_cost_cents is only valid for action buy")
        return self

    @property
    def book_side(self) -> BookSide:
        """The YES-book side this order trades on (§8): buy yes/sell no -> bid; sell yes/buy no -> ask."""
        return BOOK_SIDE_OF[(self.action, self.side)]

    @property
    def yes_price_dollars(self) -> Decimal:
        """The order's price on the YES book, dollars: ``p`` for side yes, ``1 - p`` for side no."""
        return self.price_dollars if self.side == "yes" else ONE_DOLLAR - self.price_dollars

    @property
    def no_price_dollars(self) -> Decimal:
        """The order's NO price in dollars (``1 - yes_price_dollars``)."""
        return ONE_DOLLAR - self.yes_price_dollars

    @property
    def is_whole_count(self) -> bool:
        """Whether ``count_fp`` is a whole number of contracts."""
        return self.count_fp == self.count_fp.to_integral_value()

    def check_against_market(self, market: Market) -> None:
        """Pre-trade checks against the market definition (kalshi-api.md §4).

        Raises:
            ValueError: ticker mismatch, market not active, price off the tick grid, or a fractional
                count on a market without ``fractional_trading_enabled``.

        """
        if market.ticker != self.ticker:
            raise ValueError(f"order for {self.ticker} checked against market {market.ticker}")
        if not market.is_active:
            raise ValueError(f"market {market.ticker} is {market.status!r}, not active")
        if not market.is_on_tick(self.price_dollars):
            raise ValueError(
                f"price {self.price_dollars} is off the tick grid of {market.ticker} ({market.price_level_structure})"
            )
        if not self.is_whole_count and not market.fractional_trading_enabled:
            raise ValueError(f"{market.ticker} does not allow fractional contracts (count {self.count_fp})")

    def to_v2_body(self) -> dict[str, Any]:
        """JSON body for V2 ``POST /portfolio/events/orders`` (kalshi-api.md §3.6, §8).

        ``side`` is ``bid``/``ask`` on the YES book and ``price`` the YES price, so buying NO at q becomes
        ``ask`` at ``1 - q`` and selling NO at q becomes ``bid`` at ``1 - q``. ``count`` is an fp string.

        Raises:
            ValueError: ``buy_max_cost_cents`` is set (V2 has no such field; use :meth:`to_v1_body`).

        """
        if self.buy_max_cost_cents is not None:
            raise ValueError("buy_max_cost_cents has no V2 equivalent; send this order through V1")
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "client_order_id": self.client_order_id,
            "side": self.book_side,
            "count": format_count(self.count_fp),
            "price": format_dollars(self.yes_price_dollars),
            "time_in_force": self.time_in_force,
            "self_trade_prevention_type": self.self_trade_prevention_type,
            "post_only": self.post_only,
            "reduce_only": self.reduce_only,
            "cancel_order_on_pause": self.cancel_order_on_pause,
        }
        if self.expiration_ts is not None:
            body["expiration_time"] = self.expiration_ts
        if self.order_group_id is not None:
            body["order_group_id"] = self.order_group_id
        return body

    def to_v1_body(self, price_format: Literal["dollars", "cents", "both"] = "dollars") -> dict[str, Any]:
        """JSON body for V1 ``POST /portfolio/orders`` (kalshi-api.md §3.5).

        Carries ``side``/``action``, ``count_fp`` plus the integer ``count`` when whole (both must
        match), ``type: "limit"``, and the price of ``side``:

        * ``"dollars"`` (default): ``yes_price_dollars`` or ``no_price_dollars`` only, because §3.5 asks
          for exactly one price field;
        * ``"cents"``: the legacy integer ``yes_price``/``no_price`` only (era A servers);
        * ``"both"``: the dollar string plus the legacy cents, for servers that accept the union.

        Raises:
            ValueError: ``"cents"`` with a price off the whole-cent grid (e.g. $0.0050).

        """
        price = self.price_dollars
        on_cent_grid = price % CENT == 0
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "client_order_id": self.client_order_id,
            "side": self.side,
            "action": self.action,
            "type": "limit",
            "count_fp": format_count(self.count_fp),
        }
        if self.is_whole_count:
            body["count"] = int(self.count_fp)
        if price_format in ("dollars", "both"):
            body[f"{self.side}_price_dollars"] = format_dollars(price)
        if price_format == "cents" and not on_cent_grid:
            raise ValueError(f"price {price} is not a whole number of cents; it cannot be sent as legacy cents")
        if price_format == "cents" or (price_format == "both" and on_cent_grid):
            body[f"{self.side}_price"] = int(price * 100)
        body.update(
            time_in_force=self.time_in_force,
            self_trade_prevention_type=self.self_trade_prevention_type,
            post_only=self.post_only,
            reduce_only=self.reduce_only,
            cancel_order_on_pause=self.cancel_order_on_pause,
        )
        if self.expiration_ts is not None:
            body["expiration_ts"] = self.expiration_ts
        if self.buy_max_cost_cents is not None:
            body["buy_max_cost"] = self.buy_max_cost_cents
        if self.order_group_id is not None:
            body["order_group_id"] = self.order_group_id
        return body
