"""Read results of an order book: price levels, top of book and sweeps (exact integers, see :mod:`kalshi.orderbook`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, NamedTuple, TypeAlias

from kalshi.models.ws import cc_to_dollars, lots_to_contracts
from models.money import to_decimal

__all__ = ["Level", "Side", "Sweep", "TopOfBook", "lots_of"]

Side: TypeAlias = Literal["yes", "no"]
"""A contract side (kalshi-api.md §8)."""


class Level(NamedTuple):
    """One price level: ``(price_cc, size_lots)``: int centi-cents and int lots (1/100 contract)."""

    price_cc: int
    size_lots: int

    @property
    def price_dollars(self) -> Decimal:
        """The price in exact Decimal dollars (4 dp)."""
        return cc_to_dollars(self.price_cc)

    @property
    def size_contracts(self) -> Decimal:
        """The size in exact Decimal contracts (2 dp)."""
        return lots_to_contracts(self.size_lots)


class TopOfBook(NamedTuple):
    """Best YES bid and YES ask with sizes (centi-cents, lots); ``None`` prices and 0 sizes when a side is empty.

    The NO quotes follow by complement (§8): NO bid = $1 - YES ask (size ``yes_ask_lots``), NO ask =
    $1 - YES bid (size ``yes_bid_lots``).
    """

    yes_bid_cc: int | None
    yes_bid_lots: int
    yes_ask_cc: int | None
    yes_ask_lots: int


@dataclass(frozen=True, slots=True)
class Sweep:
    """What taking ``requested_lots`` from the visible book would do, fees excluded.

    Buying ``side`` consumes the OTHER side's bids, best (highest) first, at ``$1 - bid`` per contract;
    selling ``side`` consumes ``side``'s own bids, best first, at the bid (kalshi-api.md §8).

    Attributes:
        side: the contract bought or sold.
        action: ``"buy"`` or ``"sell"``.
        requested_lots: lots asked for.
        filled_lots: lots the book can absorb (<= requested).
        total_micro: exact total paid (buy) or received (sell) in micro-dollars (10**-6 $ = lots x cc).
        best_price_cc: the first (best) price touched, centi-cents, or ``None`` when nothing filled.
        worst_price_cc: the last (worst) price touched, centi-cents, or ``None`` when nothing filled.
        levels_used: how many price levels were touched.

    """

    side: Side
    action: Literal["buy", "sell"]
    requested_lots: int
    filled_lots: int
    total_micro: int
    best_price_cc: int | None
    worst_price_cc: int | None
    levels_used: int

    @property
    def complete(self) -> bool:
        """Whether the whole request fits in the visible book."""
        return self.filled_lots >= self.requested_lots

    @property
    def filled_contracts(self) -> Decimal:
        """Filled contracts as exact Decimal (2 dp)."""
        return lots_to_contracts(self.filled_lots)

    @property
    def total_dollars(self) -> Decimal:
        """Total paid/received in exact Decimal dollars (6 dp)."""
        return Decimal(self.total_micro).scaleb(-6)

    @property
    def vwap_dollars(self) -> Decimal | None:
        """Volume-weighted average price per contract in Decimal dollars, ``None`` when nothing filled.

        Exact when the quotient terminates within the Decimal context precision (28 digits), else correctly
        rounded to it; ``total_micro`` and ``filled_lots`` are the exact ingredients.
        """
        if self.filled_lots <= 0:
            return None
        return Decimal(self.total_micro).scaleb(-6) / Decimal(self.filled_lots).scaleb(-2)


def lots_of(count_fp: Decimal | str | int) -> int:
    """Contracts (Decimal, fixed-point string or int; floats refused) -> lots; must be > 0 and a 0.01 multiple."""
    scaled = to_decimal(count_fp).scaleb(2)
    if scaled != scaled.to_integral_value() or scaled <= 0:
        raise ValueError(f"count must be a positive multiple of 0.01 contracts, got {count_fp!r}")
    return int(scaled)
