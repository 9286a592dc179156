"""One market's order book: replayed tape levels plus every account's resting orders.

Kalshi's book is two **bid** books (kalshi-api.md §3.3, §8): YES bids and NO bids; a NO bid at ``q`` is
a YES ask at ``1 - q``. Each (side, price) :class:`Level` holds

* ``tape``: the size the recorded tape says rests there (contracts),
* ``consumed``: how much of that tape size account orders have taken; it is hidden from the displayed
  book until the tape next changes the level (then the tape's size is authoritative again),
* ``orders``: account orders resting there, in time priority.

The displayed size of a level is ``max(0, tape - consumed) + sum(order remaining)``. The book keeps the
last displayed size it reported per level so that :meth:`OrderBook.flush` can turn any change into
``orderbook_delta``-style ``(side, price, delta)`` triples for the event publisher.

Matching itself lives in :mod:`simulator.exchange`; this module only stores and folds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from simulator.orders import Order

ZERO = Decimal(0)
SIDES = ("yes", "no")


@dataclass(slots=True)
class Level:
    """One bid level: tape size, hidden consumed tape size and account orders (all in contracts)."""

    tape: Decimal = ZERO
    consumed: Decimal = ZERO
    orders: list[Order] = field(default_factory=list)

    @property
    def tape_visible(self) -> Decimal:
        """Tape contracts still available to account orders: ``max(0, tape - consumed)``."""
        visible = self.tape - self.consumed
        return visible if visible > 0 else ZERO

    @property
    def account_size(self) -> Decimal:
        """Contracts of account orders resting at this level."""
        total = ZERO
        for order in self.orders:
            total += order.remaining_count
        return total

    @property
    def displayed(self) -> Decimal:
        """Displayed size: visible tape plus account orders."""
        return self.tape_visible + self.account_size

    @property
    def empty(self) -> bool:
        """No tape size and no orders: the level can be dropped."""
        return self.tape <= 0 and not self.orders


class OrderBook:
    """The YES and NO bid books of one market (prices in dollars, sizes in contracts)."""

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.sides: dict[str, dict[Decimal, Level]] = {"yes": {}, "no": {}}
        self._shown: dict[tuple[str, Decimal], Decimal] = {}
        self._touched: set[tuple[str, Decimal]] = set()
        self.orders_on: dict[str, int] = {"yes": 0, "no": 0}
        """Number of account orders resting on each side (a cheap "any orders?" check)."""

    # -- levels ----------------------------------------------------------------------------------
    def level(self, side: str, price: Decimal) -> Level:
        """Return the level at ``(side, price)``, creating an empty one."""
        book = self.sides[side]
        lvl = book.get(price)
        if lvl is None:
            lvl = book[price] = Level()
        return lvl

    def get(self, side: str, price: Decimal) -> Level | None:
        """Return the level at ``(side, price)`` or None."""
        return self.sides[side].get(price)

    def touch(self, side: str, price: Decimal) -> None:
        """Mark a level as possibly changed (for :meth:`flush`) and drop it if it became empty."""
        self._touched.add((side, price))
        lvl = self.sides[side].get(price)
        if lvl is not None and lvl.empty:
            del self.sides[side][price]

    def prices_desc(self, side: str) -> list[Decimal]:
        """Prices of a side from best (highest) to worst."""
        return sorted(self.sides[side], reverse=True)

    def displayed_levels(self, side: str) -> list[tuple[Decimal, Decimal]]:
        """Displayed ``(price, size)`` of one side, ascending by price (best bid last), sizes > 0."""
        out = []
        for price in sorted(self.sides[side]):
            size = self.sides[side][price].displayed
            if size > 0:
                out.append((price, size))
        return out

    def best(self, side: str) -> tuple[Decimal, Decimal] | None:
        """Best displayed ``(price, size)`` of a side, or None if the side is empty."""
        for price in self.prices_desc(side):
            size = self.sides[side][price].displayed
            if size > 0:
                return price, size
        return None

    # -- tape folding ----------------------------------------------------------------------------
    def tape_snapshot(self, yes: dict[Decimal, Decimal], no: dict[Decimal, Decimal]) -> None:
        """Replace every tape size by the snapshot's (absent level = 0) and clear consumption.

        Orders' ``queue_ahead`` is capped at the new tape size (sizes that vanished are assumed to have
        been behind the order first, docs/simulator.md "Queue position").
        """
        for side, levels in (("yes", yes), ("no", no)):
            book = self.sides[side]
            for price in list(book):
                if price not in levels:
                    lvl = book[price]
                    lvl.tape = ZERO
                    lvl.consumed = ZERO
                    for order in lvl.orders:
                        order.queue_ahead = ZERO
                    self.touch(side, price)
            for price, size in levels.items():
                lvl = self.level(side, price)
                lvl.tape = size
                lvl.consumed = ZERO
                for order in lvl.orders:
                    if order.queue_ahead > size:
                        order.queue_ahead = size
                self.touch(side, price)

    def tape_delta(self, side: str, price: Decimal, delta: Decimal) -> Level:
        """Apply ``new = old + delta`` to the tape size at a level; clears its consumption.

        A size that would go negative is clamped at 0 (the recorded tape never does this). On a
        decrease, orders' ``queue_ahead`` is capped at the new tape size.
        """
        lvl = self.level(side, price)
        lvl.tape += delta
        if lvl.tape < 0:
            lvl.tape = ZERO
        lvl.consumed = ZERO
        if delta < 0:
            for order in lvl.orders:
                if order.queue_ahead > lvl.tape:
                    order.queue_ahead = lvl.tape
        self.touch(side, price)
        return lvl

    # -- account orders --------------------------------------------------------------------------
    def add_order(self, order: Order) -> None:
        """Rest an order at the back of its level's queue, behind the visible tape size."""
        lvl = self.level(order.rest_side, order.rest_price)
        order.queue_ahead = lvl.tape_visible
        lvl.orders.append(order)
        self.orders_on[order.rest_side] += 1
        self.touch(order.rest_side, order.rest_price)

    def remove_order(self, order: Order) -> None:
        """Take an order off the book (cancel, full fill); a no-op if it is not resting here."""
        lvl = self.sides[order.rest_side].get(order.rest_price)
        if lvl is not None and order in lvl.orders:
            lvl.orders.remove(order)
            self.orders_on[order.rest_side] -= 1
            self.touch(order.rest_side, order.rest_price)

    def resting_orders(self) -> list[Order]:
        """Every account order on the book (any side/price)."""
        if not (self.orders_on["yes"] or self.orders_on["no"]):
            return []
        return [o for side in SIDES for lvl in self.sides[side].values() for o in lvl.orders]

    # -- display diffs ---------------------------------------------------------------------------
    def flush(self) -> list[tuple[str, Decimal, Decimal]]:
        """Return ``(side, price, delta)`` for every level whose displayed size changed since the last flush.

        The new sizes are remembered for the next call.
        """
        if not self._touched:
            return []
        out = []
        for side, price in sorted(self._touched):
            lvl = self.sides[side].get(price)
            now = lvl.displayed if lvl is not None else ZERO
            before = self._shown.get((side, price), ZERO)
            if now != before:
                out.append((side, price, now - before))
                if now:
                    self._shown[(side, price)] = now
                else:
                    self._shown.pop((side, price), None)
        self._touched.clear()
        return out
