"""Markets area of the REST API: markets, their tick grids and order books (kalshi-api.md §3.2-§3.3, §4).

Units and wire eras as in :mod:`kalshi.models.common`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Literal, NamedTuple, Self

from pydantic import AliasChoices, AwareDatetime, Field, PrivateAttr, field_validator, model_validator

from kalshi.models.common import (
    _ZERO,
    KalshiModel,
    LenientInt,
    Side,
    Strike,
    _as_dict,
    _count,
    _empty_str,
    _Page,
    legacy_cents_to_dollars,
)
from models.money import CENT, ONE_DOLLAR, Contracts, Dollars, to_decimal

__all__ = ["BookSweep", "Market", "MarketsPage", "Orderbook", "OrderbookLevel", "PriceRange"]


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

    LEGACY_CENTS = (
        "yes_bid",
        "yes_ask",
        "no_bid",
        "no_ask",
        "last_price",
        "previous_price",
        "notional_value",
        "settlement_value",
    )
    LEGACY_COUNTS = ("volume", "volume_24h", "open_interest")

    @classmethod
    def _from_wire_dict(cls, d: dict[str, Any]) -> Any:
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


class MarketsPage(_Page):
    """One page of ``GET /markets``: ``{markets, cursor}``; ``cursor`` is ``None`` on the last page (§3.0)."""

    markets: list[Market] = Field(default_factory=list)
    cursor: str | None = None


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
