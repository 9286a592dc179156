"""Replayed liquidity: the recorded tape's book as displayed size, and resting orders filled when it trades through.

Implements docs/simulator.md "Fill model": :meth:`TapeLiquidity.tape_snapshot` / :meth:`~TapeLiquidity.tape_delta`
set the tape's displayed size per level (an account order that crosses it trades against it; consumed size is
remembered until the tape touches the level again), and :meth:`~TapeLiquidity.tape_trade` fills resting account
orders that the tape trades through, behind the queue ahead of them. Synchronous, no HTTP, no asyncio: the
RL training environment fills its orders with this same code, in-process.
"""

from decimal import Decimal
from typing import Any

from models.money import ONE_DOLLAR
from simulator import market as mk
from simulator.events import BookSnapshot
from simulator.ledger import ZERO
from simulator.market import MarketState
from simulator.matching import MatchingEngine
from simulator.orders import RESTING


class TapeLiquidity(MatchingEngine):
    """The matching engine fed by a recorded tape (see the module docstring); the replay engine calls it."""

    # ============================================================================================
    # replayed liquidity (docs/simulator.md "Fill model")
    # ============================================================================================
    def tape_snapshot(self, ticker: str, msg: dict[str, Any]) -> None:
        """Apply an ``orderbook_snapshot``: reset the tape book (a missing side key = empty side)."""
        state = self.markets[ticker]
        book = state.book
        yes = {Decimal(p): Decimal(s) for p, s in msg.get("yes_dollars_fp") or ()}
        no = {Decimal(p): Decimal(s) for p, s in msg.get("no_dollars_fp") or ()}
        book.tape_snapshot(yes, no)
        if book.orders_on["yes"] or book.orders_on["no"]:
            for side, levels in (("yes", yes), ("no", no)):
                for price in sorted(levels, reverse=True):
                    self._cross_level(state, side, price)
        self._flush(state)
        if self.bus.wants(BookSnapshot):
            self.bus.publish(
                BookSnapshot(
                    ticker,
                    tuple(book.displayed_levels("yes")),
                    tuple(book.displayed_levels("no")),
                    self.now_ms + self.offset_ms,
                )
            )

    def tape_delta(self, ticker: str, msg: dict[str, Any]) -> None:
        """Apply an ``orderbook_delta``: ``tape += delta_fp`` at ``(side, price_dollars)``.

        The level's hidden consumption is cleared (the tape's new size is authoritative), and account
        orders the level now crosses are filled (:meth:`_cross_level`).
        """
        state = self.markets[ticker]
        side = msg["side"]
        price = Decimal(msg["price_dollars"])
        level = state.book.tape_delta(side, price, Decimal(msg["delta_fp"]))
        if level.tape > 0 and state.book.orders_on["no" if side == "yes" else "yes"]:
            self._cross_level(state, side, price)
        self._flush(state)

    def _cross_level(self, state: MarketState, side: str, price: Decimal) -> None:
        """Fill account orders crossed by the tape level ``(side, price)``.

        They fill at their own prices (as makers), consuming that tape size.
        """
        book = state.book
        level = book.get(side, price)
        if level is None or level.tape_visible <= 0:
            return
        opp = "no" if side == "yes" else "yes"
        threshold = ONE_DOLLAR - price
        for opp_price in book.prices_desc(opp):
            if opp_price < threshold:
                break
            opp_level = book.sides[opp].get(opp_price)
            if opp_level is None:
                continue
            for maker in list(opp_level.orders):
                available = level.tape_visible
                if available <= 0:
                    return
                if maker.status != RESTING:
                    continue
                qty = min(maker.remaining_count, available)
                level.consumed += qty
                book.touch(side, price)
                self._maker_vs_tape(state, maker, qty)
            book.touch(opp, opp_price)

    def tape_trade(self, ticker: str, msg: dict[str, Any]) -> None:
        """Apply a recorded ``trade``: publish it, and fill resting account orders it trades through.

        For a taker sell (``taker_book_side`` ask) at YES price ``t``: resting YES bids above ``t`` fill
        up to the trade's count; bids at exactly ``t`` fill only with the part of the count beyond their
        ``queue_ahead`` (which the trade reduces). Taker buys are symmetric on the NO book at ``1 - t``.
        One trade's count is shared, best price first, by all the account orders it fills.
        """
        state = self.markets[ticker]
        qty = Decimal(msg["count_fp"])
        yes_price = Decimal(msg["yes_price_dollars"])
        taker = msg.get("taker_book_side") or ("bid" if msg.get("taker_side") == "yes" else "ask")
        trade_id = str(msg.get("trade_id") or self._new_trade_id())
        self._publish_trade(state, trade_id, yes_price, qty, taker, "tape")
        side = "yes" if taker == "ask" else "no"
        if state.status != mk.ACTIVE or not state.book.orders_on[side]:
            return
        at = yes_price if side == "yes" else ONE_DOLLAR - yes_price
        book = state.book
        budget = qty
        for price in book.prices_desc(side):
            if price < at:
                break
            level = book.sides[side].get(price)
            if level is None:
                continue
            if price > at:
                for maker in list(level.orders):
                    if budget <= 0:
                        break
                    if maker.status == RESTING:
                        fill = min(maker.remaining_count, budget)
                        budget -= fill
                        self._maker_vs_tape(state, maker, fill)
            else:
                filled_here = ZERO
                for maker in list(level.orders):
                    excess = qty - maker.queue_ahead - filled_here
                    maker.queue_ahead = max(ZERO, maker.queue_ahead - qty)
                    fill = min(maker.remaining_count, excess, budget)
                    if fill > 0 and maker.status == RESTING:
                        budget -= fill
                        filled_here += fill
                        self._maker_vs_tape(state, maker, fill)
            book.touch(side, price)
        self._flush(state)
