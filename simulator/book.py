"""One market's order book: replayed tape levels plus every account's resting orders, in exact integers.

Kalshi's book is two **bid** books (kalshi-api.md §3.3, §8): YES bids and NO bids; a NO bid at ``q`` is
a YES ask at ``1 - q``. Units are the trader's integer units (kalshi-api.md §4): prices in **centi-cents**
(``*_cc``, $1 = 10,000; every Kalshi tick grid is a subset), sizes in **lots** of 1/100 contract. Each
(side, price) :class:`Level` holds

* ``tape``: the size the recorded tape says rests there (lots),
* ``consumed``: how much of that tape size account orders have taken and that the tape has not yet
  removed; it is hidden from the displayed book (docs/simulator.md "Fill model" 1),
* ``orders``: account orders resting there, in time priority.

Consumed liquidity stays consumed. The tape does not know that an account took size from a level, so the
recorded decreases that follow at that level (the real owner's cancel, or a real trade) remove size that
is already gone: a tape decrease first pays ``consumed`` down, and only the rest reduces the displayed size;
a tape increase is new size and shows in full. So ``consumed <= tape`` always, a level that empties forgets
its consumption, and repeated aggression can never take more from a level than the tape ever added there
(snapshot sizes are treated as the deltas that turn the old size into the new one).

The displayed size of a level is ``tape - consumed + sum(order remaining)``. The book keeps the last
displayed size it reported per level so that :meth:`OrderBook.flush` can turn any change into
``orderbook_delta``-style ``(side, price_cc, delta_lots)`` triples for the event publisher and for an
optional display sink (the RL environment's :class:`kalshi.orderbook.OrderBook`, which has the same
``apply_delta`` signature).

Matching itself lives in :mod:`simulator.matching` and :mod:`simulator.liquidity`; this module only stores
and folds. Decimal views (``best``, ``displayed_levels``) exist for the wire layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Final

from simulator.orders import Order

ZERO = Decimal(0)
SIDES = ("yes", "no")
CC_PER_DOLLAR: Final = 10_000
LOTS_PER_CONTRACT: Final = 100

DisplaySink = Callable[[str, int, int], None]
"""Receives each displayed-size change ``(side, price_cc, delta_lots)``, removals before additions."""


def cc_to_dollars(price_cc: int) -> Decimal:
    """Centi-cents to exact dollars (``4800 -> Decimal("0.48")``)."""
    return Decimal(price_cc).scaleb(-4)


def lots_to_contracts(lots: int) -> Decimal:
    """Lots to exact contracts (``150 -> Decimal("1.50")``)."""
    return Decimal(lots).scaleb(-2)


class Level:
    """One bid level (all sizes in lots): tape size, consumed tape size and account orders."""

    __slots__ = ("consumed", "orders", "tape")

    def __init__(self) -> None:
        self.tape = 0
        self.consumed = 0
        self.orders: list[Order] = []

    @property
    def tape_visible(self) -> int:
        """Tape lots still available to account orders: ``tape - consumed`` (never negative)."""
        visible = self.tape - self.consumed
        return visible if visible > 0 else 0

    @property
    def account_size(self) -> int:
        """Lots of account orders resting at this level."""
        total = 0
        for order in self.orders:
            total += order.remaining_lots
        return total

    @property
    def displayed(self) -> int:
        """Displayed size in lots: visible tape plus account orders."""
        visible = self.tape - self.consumed
        if not self.orders:
            return visible if visible > 0 else 0
        return (visible if visible > 0 else 0) + self.account_size

    @property
    def empty(self) -> bool:
        """No tape size and no orders: the level can be dropped (its consumption is 0 then)."""
        return self.tape <= 0 and not self.orders

    def change_tape(self, delta: int) -> None:
        """Apply a tape change of ``delta`` lots: a decrease pays ``consumed`` down first (module docstring).

        A size that would go negative is clamped at 0 (the recorded tape never does this). Account orders'
        queue ahead is capped at the visible tape size after a decrease (docs/simulator.md "Queue position").
        """
        tape = self.tape + delta
        if delta < 0:
            consumed = self.consumed
            if consumed:
                consumed = consumed + delta if consumed + delta > 0 else 0
            if tape < 0:
                tape = 0
            if consumed > tape:
                consumed = tape
            self.consumed = consumed
            self.tape = tape
            if self.orders:
                visible = tape - consumed
                for order in self.orders:
                    if order.queue_ahead_lots > visible:
                        order.queue_ahead_lots = visible
        else:
            self.tape = tape


class OrderBook:
    """The YES and NO bid books of one market (prices in centi-cents, sizes in lots)."""

    __slots__ = ("_order_prices", "_shown", "_touched", "orders_on", "sides", "sink", "ticker")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.sides: dict[str, dict[int, Level]] = {"yes": {}, "no": {}}
        self._shown: dict[tuple[str, int], int] = {}
        self._touched: set[tuple[str, int]] = set()
        self.orders_on: dict[str, int] = {"yes": 0, "no": 0}
        """Number of account orders resting on each side (a cheap "any orders?" check)."""
        self._order_prices: dict[str, dict[int, int]] = {"yes": {}, "no": {}}
        self.sink: DisplaySink | None = None
        """Optional receiver of every displayed change, fed by :meth:`flush` (the RL environment's book)."""

    # -- levels ----------------------------------------------------------------------------------
    def level(self, side: str, price_cc: int) -> Level:
        """Return the level at ``(side, price_cc)``, creating an empty one."""
        book = self.sides[side]
        lvl = book.get(price_cc)
        if lvl is None:
            lvl = book[price_cc] = Level()
        return lvl

    def get(self, side: str, price_cc: int) -> Level | None:
        """Return the level at ``(side, price_cc)`` or None."""
        return self.sides[side].get(price_cc)

    def touch(self, side: str, price_cc: int) -> None:
        """Mark a level as possibly changed (for :meth:`flush`) and drop it if it became empty."""
        self._touched.add((side, price_cc))
        book = self.sides[side]
        lvl = book.get(price_cc)
        if lvl is not None and lvl.tape <= 0 and not lvl.orders:
            del book[price_cc]

    def prices_desc(self, side: str) -> list[int]:
        """Prices (centi-cents) of a side from best (highest) to worst."""
        return sorted(self.sides[side], reverse=True)

    def displayed_levels_cc(self, side: str) -> list[tuple[int, int]]:
        """Displayed ``(price_cc, size_lots)`` of one side, ascending by price (best bid last), sizes > 0."""
        out = []
        book = self.sides[side]
        for price in sorted(book):
            size = book[price].displayed
            if size > 0:
                out.append((price, size))
        return out

    def displayed_levels(self, side: str) -> list[tuple[Decimal, Decimal]]:
        """:meth:`displayed_levels_cc` in dollars and contracts (the wire layer's view)."""
        return [(cc_to_dollars(p), lots_to_contracts(s)) for p, s in self.displayed_levels_cc(side)]

    def best_cc(self, side: str) -> tuple[int, int] | None:
        """Best displayed ``(price_cc, size_lots)`` of a side, or None if the side is empty."""
        book = self.sides[side]
        for price in sorted(book, reverse=True):
            size = book[price].displayed
            if size > 0:
                return price, size
        return None

    def best(self, side: str) -> tuple[Decimal, Decimal] | None:
        """:meth:`best_cc` in dollars and contracts, or None."""
        best = self.best_cc(side)
        return None if best is None else (cc_to_dollars(best[0]), lots_to_contracts(best[1]))

    def shown_levels(self) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """The displayed levels as of the last :meth:`flush`: ``(yes, no)``, dollars/contracts, ascending."""
        yes: list[tuple[Decimal, Decimal]] = []
        no: list[tuple[Decimal, Decimal]] = []
        for (side, price), size in sorted(self._shown.items()):
            (yes if side == "yes" else no).append((cc_to_dollars(price), lots_to_contracts(size)))
        return yes, no

    # -- tape folding ----------------------------------------------------------------------------
    def tape_snapshot(self, yes: Mapping[int, int], no: Mapping[int, int]) -> None:
        """Set every tape size to the snapshot's (absent level = 0), as deltas: consumption is paid down.

        Each level changes by ``new - old`` through :meth:`Level.change_tape`, so a snapshot never makes
        consumed size available again (module docstring) and caps queue ahead on decreases.
        """
        for side, levels in (("yes", yes), ("no", no)):
            book = self.sides[side]
            for price in list(book):
                if price not in levels:
                    lvl = book[price]
                    if lvl.tape:
                        lvl.change_tape(-lvl.tape)
                    self.touch(side, price)
            for price, size in levels.items():
                lvl = self.level(side, price)
                if size != lvl.tape:
                    lvl.change_tape(size - lvl.tape)
                self.touch(side, price)

    def fold_simple(self, side: str, price_cc: int, delta_lots: int) -> bool:
        """Fold a tape delta into a level holding only tape size and report it at once; False = not such a level.

        Such a level has no account order, nothing consumed and no change pending a flush; for any other level
        nothing is done and False is returned (use :meth:`tape_delta`). There the displayed size IS the tape size,
        so the change is the delta itself: it goes straight to :attr:`sink` and to the flushed sizes, without a
        :meth:`flush`. The replay's hot path: most recorded deltas land here. The caller must only use it while no
        account order rests on the OTHER side (a new tape level could cross one, which matching has to resolve
        before anything is displayed).
        """
        key = (side, price_cc)
        if key in self._touched:
            return False
        book = self.sides[side]
        lvl = book.get(price_cc)
        if lvl is None:
            if delta_lots <= 0:
                return delta_lots == 0
            lvl = book[price_cc] = Level()
            lvl.tape = delta_lots
            self._shown[key] = delta_lots
        else:
            if lvl.orders or lvl.consumed:
                return False
            size = lvl.tape + delta_lots
            if size > 0:
                lvl.tape = size
                self._shown[key] = size
            else:
                del book[price_cc]
                self._shown.pop(key, None)
                if size < 0:  # the recorded tape never does this; clamp as Level.change_tape does
                    delta_lots -= size
        if self.sink is not None:
            self.sink(side, price_cc, delta_lots)
        return True

    def tape_delta(self, side: str, price_cc: int, delta_lots: int) -> Level:
        """Apply ``new = old + delta`` to the tape size at a level (:meth:`Level.change_tape`); return the level."""
        book = self.sides[side]
        lvl = book.get(price_cc)
        if lvl is None:
            lvl = book[price_cc] = Level()
        lvl.change_tape(delta_lots)
        self._touched.add((side, price_cc))
        if lvl.tape <= 0 and not lvl.orders:
            del book[price_cc]
        return lvl

    def consume(self, side: str, price_cc: int, lots: int) -> None:
        """Record that an account order took ``lots`` of visible tape size at a level (hidden from display).

        Raises:
            ValueError: more than the level's visible tape size (a matching bug, never silently allowed).

        """
        lvl = self.sides[side].get(price_cc)
        if lvl is None or lots > lvl.tape - lvl.consumed:
            raise ValueError(f"{self.ticker} {side}@{price_cc}: cannot consume {lots} lots beyond the visible tape")
        lvl.consumed += lots
        self._touched.add((side, price_cc))

    # -- account orders --------------------------------------------------------------------------
    def add_order(self, order: Order) -> None:
        """Rest an order at the back of its level's queue, behind the visible tape size."""
        side, price = order.rest_side, order.rest_price_cc
        lvl = self.level(side, price)
        order.queue_ahead_lots = lvl.tape_visible
        lvl.orders.append(order)
        self.orders_on[side] += 1
        prices = self._order_prices[side]
        prices[price] = prices.get(price, 0) + 1
        self.touch(side, price)

    def remove_order(self, order: Order) -> None:
        """Take an order off the book (cancel, full fill); a no-op if it is not resting here."""
        side, price = order.rest_side, order.rest_price_cc
        lvl = self.sides[side].get(price)
        if lvl is not None and order in lvl.orders:
            lvl.orders.remove(order)
            self.orders_on[side] -= 1
            prices = self._order_prices[side]
            if prices[price] > 1:
                prices[price] -= 1
            else:
                del prices[price]
            self.touch(side, price)

    def orders_at_or_above(self, side: str, price_cc: int) -> bool:
        """Whether an account order rests on ``side`` at ``price_cc`` or higher (a tape level it would cross)."""
        return any(price >= price_cc for price in self._order_prices[side])

    def resting_orders(self) -> list[Order]:
        """Every account order on the book (any side/price)."""
        if not (self.orders_on["yes"] or self.orders_on["no"]):
            return []
        return [o for side in SIDES for lvl in self.sides[side].values() for o in lvl.orders]

    # -- display diffs ---------------------------------------------------------------------------
    def flush(self) -> list[tuple[str, int, int]]:
        """Return ``(side, price_cc, delta_lots)`` for every level whose displayed size changed since the last flush.

        Removals come before additions: a client applying them one at a time then only ever sees subsets of
        the final book, never a crossed one. The new sizes are remembered for the next call, and each change
        is also passed to :attr:`sink` when one is set.
        """
        touched = self._touched
        if not touched:
            return []
        shown = self._shown
        sides = self.sides
        out = []
        for key in sorted(touched) if len(touched) > 1 else touched:
            side, price = key
            lvl = sides[side].get(price)
            now = lvl.displayed if lvl is not None else 0
            before = shown.get(key, 0)
            if now != before:
                out.append((side, price, now - before))
                if now:
                    shown[key] = now
                else:
                    del shown[key]
        touched.clear()
        if len(out) > 1:
            out.sort(key=_is_addition)
        sink = self.sink
        if sink is not None:
            for side, price, delta in out:
                sink(side, price, delta)
        return out


def _is_addition(change: tuple[str, int, int]) -> bool:
    return change[2] > 0
