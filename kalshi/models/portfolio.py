"""Portfolio area of the REST API: balance, positions, fills and settlements (kalshi-api.md §3.4, §3.8).

Units and wire eras as in :mod:`kalshi.models.common`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, AwareDatetime, Field, StrictInt

from kalshi.models.common import (
    _ZERO,
    Action,
    BookSide,
    KalshiModel,
    LenientInt,
    Side,
    _complete_prices,
    _normalise_direction,
    _Page,
)
from models.money import Contracts, Dollars, cents_to_dollars

__all__ = [
    "Balance",
    "EventPosition",
    "Fill",
    "FillsPage",
    "MarketPosition",
    "PositionsPage",
    "Settlement",
    "SettlementsPage",
]


class Balance(KalshiModel):
    """``GET /portfolio/balance`` (kalshi-api.md §3.4): available cash and position value, integer CENTS.

    ``updated_ts`` is a Unix timestamp in seconds (per the API-wide convention). The newer wire field
    ``balance_dollars`` is not read; ``balance_cents`` is authoritative.
    """

    balance_cents: StrictInt = Field(validation_alias=AliasChoices("balance_cents", "balance"))
    portfolio_value_cents: StrictInt = Field(
        default=0, validation_alias=AliasChoices("portfolio_value_cents", "portfolio_value")
    )
    updated_ts: LenientInt = None

    @property
    def balance_dollars(self) -> Decimal:
        """Available cash in dollars (``balance_cents / 100``)."""
        return cents_to_dollars(self.balance_cents)

    @property
    def portfolio_value_dollars(self) -> Decimal:
        """Value of all positions in dollars."""
        return cents_to_dollars(self.portfolio_value_cents)


class MarketPosition(KalshiModel):
    """One market's position (``GET /portfolio/positions`` ``market_positions[]``; kalshi-api.md §3.4, §8).

    ``position_fp`` is signed: positive = YES contracts held, negative = NO contracts held.
    ``market_exposure_dollars`` is the cost of the current position. Legacy integer fields (``position``
    contracts; ``market_exposure``, ``realized_pnl``, ``total_traded``, ``fees_paid`` cents) are converted.
    ``last_updated_ts`` is an ISO string on the wire despite its name.
    """

    ticker: str
    position_fp: Contracts = _ZERO
    market_exposure_dollars: Dollars = _ZERO
    realized_pnl_dollars: Dollars = _ZERO
    total_traded_dollars: Dollars = _ZERO
    fees_paid_dollars: Dollars = _ZERO
    resting_orders_count: LenientInt = None
    last_updated_ts: AwareDatetime | None = None

    LEGACY_CENTS = ("market_exposure", "realized_pnl", "total_traded", "fees_paid")
    LEGACY_COUNTS = ("position",)

    @classmethod
    def _from_wire_dict(cls, d: dict[str, Any]) -> Any:
        if d.get("last_updated_ts") == "":
            d["last_updated_ts"] = None
        return d

    @property
    def held_side(self) -> Side | None:
        """``yes`` when long YES, ``no`` when long NO, ``None`` when flat."""
        if self.position_fp > 0:
            return "yes"
        if self.position_fp < 0:
            return "no"
        return None

    @property
    def contracts_held_fp(self) -> Decimal:
        """Absolute number of contracts held (of :attr:`held_side`)."""
        return abs(self.position_fp)


class EventPosition(KalshiModel):
    """One event's aggregate position (``event_positions[]``; kalshi-api.md §3.4); legacy cents converted."""

    event_ticker: str
    total_cost_dollars: Dollars = _ZERO
    total_cost_shares_fp: Contracts = _ZERO
    event_exposure_dollars: Dollars = _ZERO
    realized_pnl_dollars: Dollars = _ZERO
    fees_paid_dollars: Dollars = _ZERO

    LEGACY_CENTS = ("total_cost", "event_exposure", "realized_pnl", "fees_paid")
    LEGACY_COUNTS = ("total_cost_shares",)


class PositionsPage(_Page):
    """One page of ``GET /portfolio/positions``: ``{market_positions, event_positions, cursor}``."""

    market_positions: list[MarketPosition] = Field(default_factory=list)
    event_positions: list[EventPosition] = Field(default_factory=list)
    cursor: str | None = None


class Fill(KalshiModel):
    """One of your fills (``GET /portfolio/fills``; kalshi-api.md §3.4).

    Legacy fields parse too: ``count`` (contracts), ``yes_price``/``no_price`` (cents),
    ``yes_price_fixed``/``no_price_fixed`` (dollar strings), ``market_ticker``. ``fee_cost`` is a dollar
    string. A sell fill reports ``outcome_side`` as the opposite letter (§8).
    """

    fill_id: str
    trade_id: str
    order_id: str
    client_order_id: str | None = None
    ticker: str
    side: Side
    action: Action
    outcome_side: Side | None = None
    book_side: BookSide | None = None
    count_fp: Contracts
    yes_price_dollars: Dollars
    no_price_dollars: Dollars
    is_taker: bool
    fee_cost_dollars: Dollars = Field(default=_ZERO, validation_alias=AliasChoices("fee_cost_dollars", "fee_cost"))
    created_time: AwareDatetime | None = None
    ts: int | None = None

    LEGACY_COUNTS = ("count",)

    @classmethod
    def _from_wire_dict(cls, d: dict[str, Any]) -> Any:
        if d.get("fill_id") is None and d.get("trade_id") is not None:
            d["fill_id"] = d["trade_id"]
        if d.get("trade_id") is None and d.get("fill_id") is not None:
            d["trade_id"] = d["fill_id"]
        if d.get("ticker") is None and d.get("market_ticker") is not None:
            d["ticker"] = d["market_ticker"]
        _complete_prices(d)
        if d.get("fee_cost") in ("", None) and d.get("fee_cost_dollars") is None:
            d.pop("fee_cost", None)
        _normalise_direction(d)
        return d

    @property
    def price_dollars(self) -> Decimal:
        """Fill price of ``side`` in dollars."""
        return self.yes_price_dollars if self.side == "yes" else self.no_price_dollars


class FillsPage(_Page):
    """One page of ``GET /portfolio/fills``: ``{fills, cursor}``."""

    fills: list[Fill] = Field(default_factory=list)
    cursor: str | None = None


class Settlement(KalshiModel):
    """One settled market (``GET /portfolio/settlements``; kalshi-api.md §3.4, §7).

    ``revenue_cents`` is integer CENTS (100 per winning contract) read from ``revenue``; ``value_cents``
    (from ``value``) is the payout per YES contract in cents, nullable. Legacy ``yes_count``/``no_count``
    (contracts) and ``yes_total_cost``/``no_total_cost`` (cents) are converted.
    """

    ticker: str
    event_ticker: str = ""
    market_result: str
    yes_count_fp: Contracts = _ZERO
    no_count_fp: Contracts = _ZERO
    yes_total_cost_dollars: Dollars = _ZERO
    no_total_cost_dollars: Dollars = _ZERO
    revenue_cents: StrictInt = Field(validation_alias=AliasChoices("revenue_cents", "revenue"))
    settled_time: AwareDatetime
    fee_cost_dollars: Dollars = Field(default=_ZERO, validation_alias=AliasChoices("fee_cost_dollars", "fee_cost"))
    value_cents: StrictInt | None = Field(default=None, validation_alias=AliasChoices("value_cents", "value"))

    LEGACY_CENTS = ("yes_total_cost", "no_total_cost")
    LEGACY_COUNTS = ("yes_count", "no_count")

    @classmethod
    def _from_wire_dict(cls, d: dict[str, Any]) -> Any:
        if d.get("fee_cost") in ("", None) and d.get("fee_cost_dollars") is None:
            d.pop("fee_cost", None)
        return d

    @property
    def revenue_dollars(self) -> Decimal:
        """Settlement revenue in dollars."""
        return cents_to_dollars(self.revenue_cents)


class SettlementsPage(_Page):
    """One page of ``GET /portfolio/settlements``: ``{settlements, cursor}``."""

    settlements: list[Settlement] = Field(default_factory=list)
    cursor: str | None = None
