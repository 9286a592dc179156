"""Kalshi wire objects, parsed once at the edge into exact, unit-named Python values.

Reference: ``reference/kalshi-api.md`` (the project's digest of docs.kalshi.com). Every model reads
BOTH wire eras (§0, §4):

* current fixed-point fields: ``*_dollars`` (dollar strings, 4 dp, up to 6 for costs and fees) and
  ``*_fp`` (contract-count strings, 2 dp) -> :class:`~decimal.Decimal`;
* legacy integer fields (removed 12 Mar 2026): prices and money in integer **cents**
  (``yes_bid: 40`` -> ``yes_bid_dollars == Decimal("0.40")``), counts as integer contracts.

When both are present the fixed-point field wins. Unknown keys are ignored. Python attribute names
carry their unit: ``*_dollars`` (Decimal dollars), ``*_fp`` (Decimal contracts, may be fractional in
0.01 steps), ``*_cents`` (int cents), ``*_ts`` (Unix seconds), ``*_ts_ms`` (Unix milliseconds),
``*_time`` (timezone-aware datetimes). Money and counts are never floats: a float where a price, count
or amount is expected is refused (:class:`models.money.MoneyParseError`, surfacing as a pydantic
``ValidationError``). The REST client decodes JSON with ``parse_float=Decimal``, so no float reaches
these models from the wire.

Direction (§8): ``side`` (yes/no) + ``action`` (buy/sell) is the V1 vocabulary; V2 and the newer
fields use ``book_side`` (bid/ask on the single YES book) and ``outcome_side``. The models fill in
whichever of them the payload lacks, using the §8 equivalence table.

Models are frozen (immutable) and JSON round-trip exactly (``model_dump(mode="json")`` writes Decimals
as strings), so they can cross Temporal activity boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Annotated, Any, Literal, NamedTuple, Self, cast

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.money import (
    CENT,
    COUNT_QUANTUM,
    DOLLARS_QUANTUM,
    ONE_DOLLAR,
    Contracts,
    Dollars,
    cents_to_dollars,
    format_count,
    format_dollars,
    to_decimal,
)

__all__ = [
    "BOOK_SIDE_OF",
    "Action",
    "ApiErrorBody",
    "Balance",
    "BatchCancelResult",
    "BookSide",
    "BookSweep",
    "CancelOrderV1Response",
    "CancelOrderV2Response",
    "CreateOrderRequest",
    "CreateOrderV2Response",
    "EventPosition",
    "ExchangeStatus",
    "Fill",
    "FillsPage",
    "KalshiModel",
    "Market",
    "MarketPosition",
    "MarketsPage",
    "Order",
    "OrderAck",
    "OrderGroup",
    "OrderGroupsPage",
    "OrderStatus",
    "Orderbook",
    "OrderbookLevel",
    "OrdersPage",
    "PositionsPage",
    "PriceRange",
    "SelfTradePrevention",
    "Settlement",
    "SettlementsPage",
    "Side",
    "TimeInForce",
    "legacy_cents_to_dollars",
]

Side = Literal["yes", "no"]
"""Which contract: YES or NO."""
Action = Literal["buy", "sell"]
"""Buy or sell contracts of ``side``."""
BookSide = Literal["bid", "ask"]
"""Side of the single YES book (V2 orders, ``book_side`` fields): bid = buy YES, ask = sell YES."""
TimeInForce = Literal["good_till_canceled", "immediate_or_cancel", "fill_or_kill"]
"""Order lifetime (kalshi-api.md §3.5)."""
SelfTradePrevention = Literal["taker_at_cross", "maker"]
"""What happens when an order would match your own resting order (kalshi-api.md §3.5)."""
OrderStatus = Literal["resting", "canceled", "executed"]
"""Order statuses on REST (kalshi-api.md §3.5); ``Order.status`` is kept as a plain string for tolerance."""

BOOK_SIDE_OF: dict[tuple[Action, Side], BookSide] = {
    ("buy", "yes"): "bid",
    ("sell", "no"): "bid",
    ("buy", "no"): "ask",
    ("sell", "yes"): "ask",
}
"""Direction equivalence (kalshi-api.md §8): (action, side) -> the YES-book side it trades on."""

_ZERO = Decimal(0)


# --------------------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------------------


def legacy_cents_to_dollars(value: Any) -> Decimal:
    """Convert a legacy integer-cents wire value to exact dollars: ``40 -> Decimal("0.4000")``.

    Args:
        value: an ``int`` (or integral decimal string/Decimal) number of cents.

    Returns:
        Dollars, quantized to 4 dp when that is exact.

    Raises:
        MoneyParseError: for floats, booleans, ``None`` and non-numeric values.

    """
    dollars = to_decimal(value) / 100
    try:
        quantized = dollars.quantize(DOLLARS_QUANTUM)
    except InvalidOperation:  # pragma: no cover - absurdly large values
        return dollars
    return quantized if quantized == dollars else dollars


def _count(value: Any) -> Decimal:
    """Read a legacy integer contract count exactly (floats refused)."""
    return to_decimal(value)


def _as_dict(data: Any) -> dict[str, Any] | None:
    """Return a shallow copy of a mapping payload (never mutate the caller's dict), else ``None``."""
    if isinstance(data, Mapping):
        return dict(data)
    return None


def _fill_legacy(d: dict[str, Any], target: str, legacy: str, convert: Any) -> None:
    """Set ``d[target]`` from ``d[legacy]`` (converted) when the target is missing or null."""
    if d.get(target) is None and d.get(legacy) is not None:
        d[target] = convert(d[legacy])


def _strike_value(value: Any) -> Any:
    """Read a strike (an underlying level such as a gold price, not money) into Decimal.

    Kalshi sends ``floor_strike``/``cap_strike`` as JSON numbers. A float is converted through its
    shortest repr (``4128.56 -> Decimal("4128.56")``), which reproduces the JSON text exactly.
    """
    if value is None:
        return None
    if isinstance(value, float):
        return to_decimal(repr(value))
    return to_decimal(value)


Strike = Annotated[
    Decimal,
    BeforeValidator(_strike_value),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]
"""A strike level as an exact Decimal (JSON numbers accepted, see :func:`_strike_value`)."""


def _normalise_direction(d: dict[str, Any]) -> None:
    """Complete ``side``/``action``/``book_side``/``outcome_side`` from whichever are present (§8).

    When only the book side is known, the "buy" form is chosen (bid -> buy yes, ask -> buy no), which is
    economically identical to the "sell" form on Kalshi's single book.
    """
    side = d.get("side")
    action = d.get("action")
    book = d.get("book_side")
    outcome = d.get("outcome_side")
    if side in ("bid", "ask"):  # a V2-shaped payload using ``side`` for the book side
        if book not in ("bid", "ask"):
            book = side
        side = None
    if book not in ("bid", "ask") and outcome in ("yes", "no"):
        book = "bid" if outcome == "yes" else "ask"
    side_ok = side in ("yes", "no")
    action_ok = action in ("buy", "sell")
    if side_ok and action_ok:
        if book not in ("bid", "ask"):
            book = BOOK_SIDE_OF[(cast(Action, action), cast(Side, side))]
    elif book in ("bid", "ask"):
        if side_ok:
            action = "buy" if (side == "yes") == (book == "bid") else "sell"
        elif action_ok:
            side = "yes" if (action == "buy") == (book == "bid") else "no"
        else:
            action = "buy"
            side = "yes" if book == "bid" else "no"
    else:
        return
    d["side"] = side
    d["action"] = action
    d["book_side"] = book
    if outcome not in ("yes", "no"):
        d["outcome_side"] = "yes" if book == "bid" else "no"


def _complete_prices(d: dict[str, Any]) -> None:
    """Fill ``yes_price_dollars``/``no_price_dollars`` from legacy fields, then from each other (sum = $1)."""
    _fill_legacy(d, "yes_price_dollars", "yes_price_fixed", to_decimal)
    _fill_legacy(d, "no_price_dollars", "no_price_fixed", to_decimal)
    _fill_legacy(d, "yes_price_dollars", "yes_price", legacy_cents_to_dollars)
    _fill_legacy(d, "no_price_dollars", "no_price", legacy_cents_to_dollars)
    if d.get("yes_price_dollars") is not None and d.get("no_price_dollars") is None:
        d["no_price_dollars"] = ONE_DOLLAR - to_decimal(d["yes_price_dollars"])
    elif d.get("no_price_dollars") is not None and d.get("yes_price_dollars") is None:
        d["yes_price_dollars"] = ONE_DOLLAR - to_decimal(d["no_price_dollars"])


def _lenient_int(value: Any) -> Any:
    """Read an informational integer (counts, timestamps we never compute money with) leniently.

    Integers and integral strings pass; anything else (an ISO string, a float, "") becomes ``None``
    rather than failing the whole object.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


LenientInt = Annotated[int | None, BeforeValidator(_lenient_int)]
"""An optional informational integer that never fails parsing (see :func:`_lenient_int`)."""


def _empty_str(value: Any) -> Any:
    """Map ``None`` to ``""`` for string fields that Kalshi sometimes nulls."""
    return "" if value is None else value


class KalshiModel(BaseModel):
    """Base of the wire models: unknown keys ignored, immutable, exact JSON round trip."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------------------------------
# Exchange and markets
# --------------------------------------------------------------------------------------------------


class ExchangeStatus(KalshiModel):
    """``GET /exchange/status`` (kalshi-api.md §3.1).

    During a trading pause new orders and amends are rejected but cancels work; during an exchange pause
    nothing works.
    """

    exchange_active: bool
    trading_active: bool
    exchange_estimated_resume_time: AwareDatetime | None = None


class PriceRange(KalshiModel):
    """One band of a market's tick grid, parsed from ``{start, end, step}`` dollar strings (§4).

    Prices ``start <= p <= end`` with ``(p - start)`` a multiple of ``step`` are on the grid.
    """

    start_dollars: Dollars = Field(validation_alias=AliasChoices("start_dollars", "start"))
    end_dollars: Dollars = Field(validation_alias=AliasChoices("end_dollars", "end"))
    step_dollars: Dollars = Field(validation_alias=AliasChoices("step_dollars", "step"))

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.step_dollars <= 0 or self.end_dollars < self.start_dollars:
            raise ValueError(
                f"invalid price range start={self.start_dollars} end={self.end_dollars} step={self.step_dollars}"
            )
        return self

    def contains(self, price_dollars: Decimal) -> bool:
        """Whether ``start <= price <= end`` (dollars)."""
        return self.start_dollars <= price_dollars <= self.end_dollars

    def is_on_grid(self, price_dollars: Decimal) -> bool:
        """Whether the price (dollars) lies in this band and on its step."""
        return self.contains(price_dollars) and (price_dollars - self.start_dollars) % self.step_dollars == 0


_DEFAULT_RANGE = PriceRange(start_dollars=_ZERO, end_dollars=ONE_DOLLAR, step_dollars=CENT)


class Market(KalshiModel):
    """A Kalshi market (``GET /markets``, ``GET /markets/{ticker}``; kalshi-api.md §3.2).

    Quotes are YES/NO best bids and asks in dollars; an empty side shows bid 0 / ask 1. ``status`` is the
    raw string: current values ``initialized``, ``active``, ``inactive``, ``closed``, ``determined``,
    ``disputed``, ``amended``, ``finalized``; legacy ``open``, ``settled``. ``result`` is ``yes``, ``no``,
    ``scalar``, or ``""`` before determination. Legacy integer fields (``yes_bid`` cents, ``volume``
    contracts, ``tick_size`` cents ...) are converted when the fixed-point twin is absent.
    """

    ticker: str
    event_ticker: str
    market_type: str = "binary"
    title: str = ""
    yes_sub_title: str = ""
    no_sub_title: str = ""
    status: str
    created_time: AwareDatetime | None = None
    open_time: AwareDatetime
    close_time: AwareDatetime
    expected_expiration_time: AwareDatetime | None = None
    latest_expiration_time: AwareDatetime | None = None
    settlement_ts: AwareDatetime | None = None
    settlement_timer_seconds: LenientInt = None
    yes_bid_dollars: Dollars = _ZERO
    yes_ask_dollars: Dollars = ONE_DOLLAR
    no_bid_dollars: Dollars = _ZERO
    no_ask_dollars: Dollars = ONE_DOLLAR
    last_price_dollars: Dollars = _ZERO
    previous_price_dollars: Dollars | None = None
    yes_bid_size_fp: Contracts | None = None
    yes_ask_size_fp: Contracts | None = None
    volume_fp: Contracts = _ZERO
    volume_24h_fp: Contracts = _ZERO
    open_interest_fp: Contracts = _ZERO
    notional_value_dollars: Dollars = ONE_DOLLAR
    result: str = ""
    settlement_value_dollars: Dollars | None = None
    strike_type: str | None = None
    floor_strike: Strike | None = None
    cap_strike: Strike | None = None
    price_level_structure: str = "linear_cent"
    price_ranges: list[PriceRange] = Field(default_factory=list)
    fractional_trading_enabled: bool = False
    can_close_early: bool = False

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        d = _as_dict(data)
        if d is None:
            return data
        for name in (
            "yes_bid",
            "yes_ask",
            "no_bid",
            "no_ask",
            "last_price",
            "previous_price",
            "notional_value",
            "settlement_value",
        ):
            _fill_legacy(d, f"{name}_dollars", name, legacy_cents_to_dollars)
        for name in ("volume", "volume_24h", "open_interest"):
            _fill_legacy(d, f"{name}_fp", name, _count)
        if not d.get("price_ranges") and d.get("tick_size") is not None:
            step = legacy_cents_to_dollars(d["tick_size"])
            d["price_ranges"] = [{"start": _ZERO, "end": ONE_DOLLAR, "step": step}]
        if d.get("price_ranges") is None:
            d["price_ranges"] = []
        return d

    @field_validator("title", "yes_sub_title", "no_sub_title", "result", "market_type", mode="before")
    @classmethod
    def _none_to_empty(cls, value: Any) -> Any:
        return _empty_str(value)

    @property
    def is_active(self) -> bool:
        """Whether the market accepts orders: status ``active`` (or legacy ``open``); see §7."""
        return self.status in ("active", "open")

    def _ranges(self) -> list[PriceRange]:
        """Price bands sorted by start; the default 1-cent grid over [0, 1] when none were sent."""
        return sorted(self.price_ranges or [_DEFAULT_RANGE], key=lambda r: r.start_dollars)

    def tick_size_dollars(self, price_dollars: Decimal | str | int) -> Decimal:
        """Return the tick (price step, dollars) at ``price_dollars`` (kalshi-api.md §4 "Tick grid").

        Bands are treated as half-open ``[start, end)`` so a boundary price takes the step of the band
        above it (e.g. 0.10 in ``tapered_deci_cent`` -> 0.01); the top of the last band takes that band's
        step. Without ``price_ranges`` the tick is $0.01.

        Raises:
            ValueError: the price lies outside every band; MoneyParseError for a float.

        """
        p = to_decimal(price_dollars)
        ranges = self._ranges()
        for r in ranges:
            if r.start_dollars <= p < r.end_dollars:
                return r.step_dollars
        for r in reversed(ranges):
            if r.contains(p):
                return r.step_dollars
        raise ValueError(f"price {p} is outside the price ranges of {self.ticker}")

    def is_on_tick(self, price_dollars: Decimal | str | int) -> bool:
        """Whether the price (dollars) lies on the market's tick grid (any band); floats raise MoneyParseError."""
        p = to_decimal(price_dollars)
        return any(r.is_on_grid(p) for r in self._ranges())

    def is_valid_order_price(self, price_dollars: Decimal | str | int) -> bool:
        """Whether an order may be placed at this price (dollars): ``0 < p < 1`` and on the tick grid."""
        p = to_decimal(price_dollars)
        return _ZERO < p < ONE_DOLLAR and self.is_on_tick(p)

    def tick_above(self, price_dollars: Decimal | str | int) -> Decimal | None:
        """Smallest on-grid price strictly above ``price_dollars`` (dollars), or ``None`` if there is none."""
        p = to_decimal(price_dollars)
        best: Decimal | None = None
        for r in self._ranges():
            k = ((p - r.start_dollars) / r.step_dollars).to_integral_value(rounding=ROUND_FLOOR) + 1
            cand = max(r.start_dollars, r.start_dollars + k * r.step_dollars)
            if cand > p and r.is_on_grid(cand) and (best is None or cand < best):
                best = cand
        return best

    def tick_below(self, price_dollars: Decimal | str | int) -> Decimal | None:
        """Largest on-grid price strictly below ``price_dollars`` (dollars), or ``None`` if there is none."""
        p = to_decimal(price_dollars)
        best: Decimal | None = None
        for r in self._ranges():
            k = ((p - r.start_dollars) / r.step_dollars).to_integral_value(rounding=ROUND_CEILING) - 1
            cand = r.start_dollars + k * r.step_dollars
            if cand > r.end_dollars:
                cand = r.end_dollars
            if cand < p and r.is_on_grid(cand) and (best is None or cand > best):
                best = cand
        return best

    def round_to_tick(self, price_dollars: Decimal | str | int, direction: Literal["down", "up"]) -> Decimal | None:
        """Round a price (dollars) onto the grid: ``down`` = largest grid price <= p, ``up`` = smallest >= p.

        Returns ``None`` when no such grid price exists.
        """
        p = to_decimal(price_dollars)
        if self.is_on_tick(p):
            return p
        return self.tick_below(p) if direction == "down" else self.tick_above(p)

    # Declared last so it is the outermost validator: it sees the JSON object exactly as received.
    _wire: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_wire(cls, data: Any, handler: Any) -> Market:
        """Keep the JSON object as received (``wire``), so recordings store every field, digit for digit."""
        market: Market = handler(data)
        if isinstance(data, dict):
            market._wire = data
        return market

    @property
    def wire(self) -> dict[str, Any] | None:
        """The market's JSON object exactly as received (all fields, including ones not modelled), or None."""
        return self._wire

    def __eq__(self, other: object) -> bool:
        """Equal when the modelled fields are equal (the received JSON, ``wire``, is provenance, not value)."""
        if not isinstance(other, Market):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = KalshiModel.__hash__  # unchanged (pydantic's frozen-model hash)


class _Page(KalshiModel):
    """Base of the list pages: a ``null`` list reads as empty, an empty ``cursor`` as None (last page, §3.0)."""

    @field_validator("*", mode="before")
    @classmethod
    def _normalize(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name == "cursor":
            return value or None
        return [] if value is None else value


class MarketsPage(_Page):
    """One page of ``GET /markets``: ``{markets, cursor}``; ``cursor`` is ``None`` on the last page (§3.0)."""

    markets: list[Market] = Field(default_factory=list)
    cursor: str | None = None


# --------------------------------------------------------------------------------------------------
# Order book
# --------------------------------------------------------------------------------------------------


class OrderbookLevel(NamedTuple):
    """One price level of one side: ``(price_dollars, count_fp)`` as Decimal dollars and Decimal contracts.

    A typed tuple: read it as ``level.price_dollars`` / ``level.count_fp`` or unpack ``price, count = level``.
    Validated (inside a model) from a wire pair ``["0.4100", "25.00"]`` or a dict with those names;
    serialised to JSON as ``["0.4100", "25.00"]``. Legacy cent pairs are converted by :class:`Orderbook`,
    which knows the era.
    """

    price_dollars: Dollars
    count_fp: Contracts


@dataclass(frozen=True, slots=True)
class BookSweep:
    """What walking one side of the book for ``requested_fp`` contracts would do (fees excluded).

    Attributes:
        requested_fp: contracts asked for.
        filled_fp: contracts the visible book can absorb (<= requested).
        total_dollars: dollars received (selling) or paid (buying) for ``filled_fp``.
        worst_price_dollars: the last (worst) price touched, or ``None`` when nothing filled.

    """

    requested_fp: Decimal
    filled_fp: Decimal
    total_dollars: Decimal
    worst_price_dollars: Decimal | None

    @property
    def complete(self) -> bool:
        """Whether the whole request fits in the visible book."""
        return self.filled_fp >= self.requested_fp

    @property
    def average_price_dollars(self) -> Decimal | None:
        """Volume-weighted average price per contract in dollars, or ``None`` when nothing filled."""
        if self.filled_fp <= 0:
            return None
        return self.total_dollars / self.filled_fp


def _wire_levels(container: Mapping[str, Any], *keys: str) -> Any:
    """First non-null value among ``keys`` in ``container`` (a missing/null side = empty)."""
    for key in keys:
        value = container.get(key)
        if value is not None:
            return value
    return None


def _legacy_cent_levels(levels: Any) -> list[OrderbookLevel]:
    """Convert legacy ``[[cents, count], ...]`` pairs to levels in dollars."""
    out: list[OrderbookLevel] = []
    for pair in levels or []:
        if not isinstance(pair, list | tuple) or len(pair) < 2:
            raise ValueError(f"legacy order book level must be [cents, count], got {pair!r}")
        out.append(OrderbookLevel(legacy_cents_to_dollars(pair[0]), _count(pair[1])))
    return out


class Orderbook(KalshiModel):
    """A REST order book snapshot: YES bids and NO bids only (kalshi-api.md §3.3).

    Both lists are sorted by price ascending as on the wire, so the best bid is the LAST element. A YES
    bid at p is a NO ask at 1 - p, so ``best_yes_ask = 1 - best_no_bid`` and ``best_no_ask = 1 - best_yes_bid``.

    Parsed from the current ``{"orderbook_fp": {"yes_dollars": [[p, c], ...], "no_dollars": [...]}}``,
    the legacy ``{"orderbook": {"yes": [[cents, n]], "no": [...], "yes_dollars": ...}}`` (dollar pairs
    preferred when present), or a flat book with those keys; WebSocket-style ``yes_dollars_fp`` keys are
    accepted too. A missing or null side is empty. ``ticker`` is not on the wire: the client supplies it.
    Zero-count levels are dropped; negative counts are refused.
    """

    ticker: str
    yes_bids: list[OrderbookLevel] = Field(default_factory=list)
    no_bids: list[OrderbookLevel] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_wire(cls, data: Any) -> Any:
        d = _as_dict(data)
        if d is None or "yes_bids" in d or "no_bids" in d:
            return data
        ticker = d.get("ticker") or d.get("market_ticker")
        fp = d.get("orderbook_fp")
        legacy = d.get("orderbook")
        yes: Any
        no: Any
        if isinstance(fp, Mapping):
            yes = _wire_levels(fp, "yes_dollars", "yes_dollars_fp") or []
            no = _wire_levels(fp, "no_dollars", "no_dollars_fp") or []
        else:
            book: Mapping[str, Any] = legacy if isinstance(legacy, Mapping) else d
            yes = _wire_levels(book, "yes_dollars", "yes_dollars_fp")
            no = _wire_levels(book, "no_dollars", "no_dollars_fp")
            yes = yes if yes is not None else _legacy_cent_levels(book.get("yes"))
            no = no if no is not None else _legacy_cent_levels(book.get("no"))
        return {"ticker": ticker, "yes_bids": yes, "no_bids": no}

    @field_validator("yes_bids", "no_bids", mode="before")
    @classmethod
    def _pairs(cls, levels: Any) -> Any:
        # Levels may carry extra trailing items (e.g. an order count); keep [price, count].
        if levels is None:
            return []
        if isinstance(levels, list | tuple):
            return [lvl[:2] if isinstance(lvl, list | tuple) and not hasattr(lvl, "_fields") else lvl for lvl in levels]
        return levels

    @field_validator("yes_bids", "no_bids", mode="after")
    @classmethod
    def _sorted(cls, levels: list[OrderbookLevel]) -> list[OrderbookLevel]:
        for level in levels:
            if level.count_fp < 0:
                raise ValueError(f"negative count {level.count_fp} at price {level.price_dollars}")
        return sorted((lvl for lvl in levels if lvl.count_fp > 0), key=lambda lvl: lvl.price_dollars)

    def bids(self, side: Side) -> list[OrderbookLevel]:
        """Bids of ``side`` (ascending; best last)."""
        return self.yes_bids if side == "yes" else self.no_bids

    @property
    def best_yes_bid(self) -> Decimal | None:
        """Highest YES bid in dollars, or ``None`` when there is none."""
        return self.yes_bids[-1].price_dollars if self.yes_bids else None

    @property
    def best_no_bid(self) -> Decimal | None:
        """Highest NO bid in dollars, or ``None``."""
        return self.no_bids[-1].price_dollars if self.no_bids else None

    @property
    def best_yes_ask(self) -> Decimal | None:
        """Lowest YES ask in dollars (= 1 - best NO bid), or ``None``."""
        best = self.best_no_bid
        return None if best is None else ONE_DOLLAR - best

    @property
    def best_no_ask(self) -> Decimal | None:
        """Lowest NO ask in dollars (= 1 - best YES bid), or ``None``."""
        best = self.best_yes_bid
        return None if best is None else ONE_DOLLAR - best

    @property
    def best_yes_bid_size_fp(self) -> Decimal:
        """Contracts bid at the best YES bid (0 when empty)."""
        return self.yes_bids[-1].count_fp if self.yes_bids else _ZERO

    @property
    def best_no_bid_size_fp(self) -> Decimal:
        """Contracts bid at the best NO bid (0 when empty)."""
        return self.no_bids[-1].count_fp if self.no_bids else _ZERO

    @property
    def best_yes_ask_size_fp(self) -> Decimal:
        """Contracts offered at the best YES ask (= size of the best NO bid)."""
        return self.best_no_bid_size_fp

    @property
    def best_no_ask_size_fp(self) -> Decimal:
        """Contracts offered at the best NO ask (= size of the best YES bid)."""
        return self.best_yes_bid_size_fp

    def bid_for(self, side: Side) -> Decimal | None:
        """Best bid of ``side`` in dollars (what selling one contract of ``side`` fetches), or ``None``."""
        return self.best_yes_bid if side == "yes" else self.best_no_bid

    def ask_for(self, side: Side) -> Decimal | None:
        """Best ask of ``side`` in dollars (what buying one contract of ``side`` costs), or ``None``."""
        return self.best_yes_ask if side == "yes" else self.best_no_ask

    def bid_size_for(self, side: Side) -> Decimal:
        """Contracts at the best bid of ``side``."""
        return self.best_yes_bid_size_fp if side == "yes" else self.best_no_bid_size_fp

    def ask_size_for(self, side: Side) -> Decimal:
        """Contracts at the best ask of ``side``."""
        return self.best_yes_ask_size_fp if side == "yes" else self.best_no_ask_size_fp

    def depth_to_sell(self, side: Side, count_fp: Decimal | str | int) -> BookSweep:
        """Sweep the bids of ``side`` for ``count_fp`` contracts: what selling them now would fetch.

        Used to mark a position to market. Walks the ``side`` bids from best (highest) down.

        Args:
            side: the contract held (``yes`` sells into YES bids, ``no`` into NO bids).
            count_fp: contracts to sell (> 0; floats refused).

        Returns:
            Filled contracts, total dollars received (before fees) and the worst price touched.

        Raises:
            ValueError: ``count_fp`` <= 0; MoneyParseError for a float.

        """
        return self._sweep(count_fp, [(lvl.price_dollars, lvl.count_fp) for lvl in reversed(self.bids(side))])

    def depth_to_buy(self, side: Side, count_fp: Decimal | str | int) -> BookSweep:
        """Sweep the asks of ``side`` for ``count_fp`` contracts: what buying them now would cost.

        The asks of ``side`` are the other side's bids at ``1 - price``; they are walked from best
        (lowest ask) up.

        Args:
            side: the contract to buy.
            count_fp: contracts to buy (> 0; floats refused).

        Returns:
            Filled contracts, total dollars paid (before fees) and the worst price touched.

        Raises:
            ValueError: ``count_fp`` <= 0; MoneyParseError for a float.

        """
        other: Side = "no" if side == "yes" else "yes"
        levels = [(ONE_DOLLAR - lvl.price_dollars, lvl.count_fp) for lvl in reversed(self.bids(other))]
        return self._sweep(count_fp, levels)

    @staticmethod
    def _sweep(count_fp: Decimal | str | int, levels: Sequence[tuple[Decimal, Decimal]]) -> BookSweep:
        """Walk ``levels`` (best first) until ``count_fp`` contracts are filled.

        Raises:
            ValueError: ``count_fp`` <= 0; MoneyParseError for a float.
        """
        want = to_decimal(count_fp)
        if want <= 0:
            raise ValueError(f"count_fp must be > 0, got {want}")
        filled = _ZERO
        total = _ZERO
        worst: Decimal | None = None
        for price, size in levels:
            if filled >= want:
                break
            take = min(size, want - filled)
            filled += take
            total += take * price
            worst = price
        return BookSweep(requested_fp=want, filled_fp=filled, total_dollars=total, worst_price_dollars=worst)


# --------------------------------------------------------------------------------------------------
# Portfolio
# --------------------------------------------------------------------------------------------------


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

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        d = _as_dict(data)
        if d is None:
            return data
        _fill_legacy(d, "position_fp", "position", _count)
        for name in ("market_exposure", "realized_pnl", "total_traded", "fees_paid"):
            _fill_legacy(d, f"{name}_dollars", name, legacy_cents_to_dollars)
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

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        d = _as_dict(data)
        if d is None:
            return data
        for name in ("total_cost", "event_exposure", "realized_pnl", "fees_paid"):
            _fill_legacy(d, f"{name}_dollars", name, legacy_cents_to_dollars)
        _fill_legacy(d, "total_cost_shares_fp", "total_cost_shares", _count)
        return d


class PositionsPage(_Page):
    """One page of ``GET /portfolio/positions``: ``{market_positions, event_positions, cursor}``."""

    market_positions: list[MarketPosition] = Field(default_factory=list)
    event_positions: list[EventPosition] = Field(default_factory=list)
    cursor: str | None = None


# --------------------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------------------


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

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        d = _as_dict(data)
        if d is None:
            return data
        _complete_prices(d)
        for name in ("fill_count", "remaining_count", "initial_count"):
            _fill_legacy(d, f"{name}_fp", name, _count)
        if d.get("initial_count_fp") is None and d.get("fill_count_fp") is not None:
            d["initial_count_fp"] = to_decimal(d["fill_count_fp"]) + to_decimal(d.get("remaining_count_fp") or 0)
        for name in ("taker_fill_cost", "maker_fill_cost", "taker_fees", "maker_fees"):
            _fill_legacy(d, f"{name}_dollars", name, legacy_cents_to_dollars)
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


class ApiErrorBody(KalshiModel):
    """An error object inside a batch response item: ``{code, message, details}`` (kalshi-api.md §5.2)."""

    code: str | None = None
    message: str | None = None
    details: str | None = None


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


# --------------------------------------------------------------------------------------------------
# Fills and settlements
# --------------------------------------------------------------------------------------------------


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

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        d = _as_dict(data)
        if d is None:
            return data
        if d.get("fill_id") is None and d.get("trade_id") is not None:
            d["fill_id"] = d["trade_id"]
        if d.get("trade_id") is None and d.get("fill_id") is not None:
            d["trade_id"] = d["fill_id"]
        if d.get("ticker") is None and d.get("market_ticker") is not None:
            d["ticker"] = d["market_ticker"]
        _fill_legacy(d, "count_fp", "count", _count)
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

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        d = _as_dict(data)
        if d is None:
            return data
        _fill_legacy(d, "yes_count_fp", "yes_count", _count)
        _fill_legacy(d, "no_count_fp", "no_count", _count)
        _fill_legacy(d, "yes_total_cost_dollars", "yes_total_cost", legacy_cents_to_dollars)
        _fill_legacy(d, "no_total_cost_dollars", "no_total_cost", legacy_cents_to_dollars)
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


# --------------------------------------------------------------------------------------------------
# Order groups
# --------------------------------------------------------------------------------------------------


class OrderGroup(KalshiModel):
    """An order group (kalshi-api.md §3.7): a rolling 15 s filled-contracts limit across its orders.

    List items carry ``id``; ``GET /portfolio/order_groups/{id}`` carries no id (the client fills it from
    the request) but lists the group's order ids under ``orders``. Legacy int ``contracts_limit`` is read
    into ``contracts_limit_fp``.

    ``triggered`` is ``None`` (unknown) on Kalshi's documented REST shape, which has no such field: Kalshi
    reports triggering on the ``order_group_updates`` WebSocket channel (§6.5) and by rejecting orders.
    It is read when a server sends ``triggered`` or ``is_triggered`` (the project's simulator may).
    """

    order_group_id: str = Field(validation_alias=AliasChoices("order_group_id", "id"))
    is_auto_cancel_enabled: bool | None = None
    contracts_limit_fp: Contracts | None = None
    triggered: bool | None = Field(default=None, validation_alias=AliasChoices("triggered", "is_triggered"))
    order_ids: list[str] = Field(default_factory=list, validation_alias=AliasChoices("order_ids", "orders"))

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        d = _as_dict(data)
        if d is None:
            return data
        _fill_legacy(d, "contracts_limit_fp", "contracts_limit", _count)
        for key in ("orders", "order_ids"):
            if key in d and d[key] is None:
                d[key] = []
        return d


class OrderGroupsPage(_Page):
    """``GET /portfolio/order_groups``: ``{order_groups: [{id, is_auto_cancel_enabled, contracts_limit_fp?}]}``."""

    order_groups: list[OrderGroup] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Order requests
# --------------------------------------------------------------------------------------------------

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
