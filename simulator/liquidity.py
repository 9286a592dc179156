"""Replayed liquidity: the recorded tape's book as displayed size, and resting orders filled when it trades through.

Implements docs/simulator.md "Fill model": :meth:`TapeLiquidity.apply_snapshot` / :meth:`~TapeLiquidity.apply_delta`
set the tape's size per level (an account order that crosses it trades against it; consumed size stays consumed,
:mod:`simulator.book`), and :meth:`~TapeLiquidity.apply_trade` fills resting account orders that the tape trades
through, behind the queue ahead of them.

Two entry points per frame kind, one implementation: the ``apply_*`` methods take exact integers (centi-cents,
lots; the RL training environment calls them in-process with its pre-decoded tapes), and the ``tape_*`` methods
take a recorded WebSocket ``msg`` dict (the replay engine), parse it with :func:`parse_delta` / :func:`parse_trade`
/ :func:`parse_snapshot` and call the same ``apply_*``. Inside one exchange millisecond the replay applies trades
before book frames (:mod:`simulator.replay`); a driver that batches frames itself must do the same
(:func:`batch_order`). Synchronous, no HTTP, no asyncio.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from simulator import market as mk
from simulator.book import cc_to_dollars, lots_to_contracts
from simulator.events import BookDelta, BookSnapshot, TradeEvent
from simulator.market import MarketState
from simulator.matching import MatchingEngine
from simulator.orders import RESTING

_CC = 10_000


class TapeFrameError(ValueError):
    """A recorded frame's field is missing or not an exact price (4 dp dollars) or size (2 dp contracts)."""


def _fixed(text: Any, scale: int, what: str) -> int:
    try:
        value = Decimal(text) * scale
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise TapeFrameError(f"{what} {text!r} is not a decimal number") from exc
    if not value.is_finite() or value != value.to_integral_value():
        raise TapeFrameError(f"{what} {text!r} is finer than the exchange's resolution")
    return int(value)


def price_cc(text: Any) -> int:
    """A ``*_dollars`` price string to centi-cents (``"0.4800" -> 4800``). Raises :class:`TapeFrameError`."""
    return _fixed(text, _CC, "price")


def size_lots(text: Any) -> int:
    """A ``*_fp`` size string to lots (``"46.02" -> 4602``). Raises :class:`TapeFrameError`."""
    return _fixed(text, 100, "size")


def parse_snapshot(msg: Mapping[str, Any]) -> tuple[dict[int, int], dict[int, int]]:
    """``orderbook_snapshot`` msg -> ``(yes, no)`` maps price_cc -> size_lots (an absent side key = empty).

    Raises:
        TapeFrameError: a malformed level.

    """
    out = []
    for key in ("yes_dollars_fp", "no_dollars_fp"):
        levels: dict[int, int] = {}
        try:
            for price, size in msg.get(key) or ():
                levels[price_cc(price)] = size_lots(size)
        except (TypeError, ValueError) as exc:
            raise TapeFrameError(f"snapshot {key} level is not a [price, size] pair: {exc}") from exc
        out.append(levels)
    return out[0], out[1]


def parse_delta(msg: Mapping[str, Any]) -> tuple[str, int, int]:
    """``orderbook_delta`` msg -> ``(side, price_cc, delta_lots)``. Raises :class:`TapeFrameError`."""
    side = msg.get("side")
    if side not in ("yes", "no"):
        raise TapeFrameError(f"delta side must be yes or no, got {side!r}")
    return side, price_cc(msg.get("price_dollars")), size_lots(msg.get("delta_fp"))


def parse_trade(msg: Mapping[str, Any]) -> tuple[int, int, str]:
    """``trade`` msg -> ``(yes_price_cc, count_lots, taker_book_side)`` (``bid`` = the taker bought YES).

    Raises:
        TapeFrameError: a missing price/count or an unknown taker side.

    """
    taker = msg.get("taker_book_side")
    if taker not in ("bid", "ask"):
        side = msg.get("taker_side") or msg.get("taker_outcome_side")
        if side not in ("yes", "no"):
            raise TapeFrameError(f"trade has no taker side: {taker!r} / {side!r}")
        taker = "bid" if side == "yes" else "ask"
    return price_cc(msg.get("yes_price_dollars")), size_lots(msg.get("count_fp")), taker


def batch_order(kinds: Iterable[str]) -> list[int]:
    """Indices of one same-millisecond batch's frames in the order they are applied: trades first, then book frames.

    A trade reduces the queue ahead of a resting order before the delta that removes the traded size (the tape
    writes the delta first, ~95 % of the time), docs/simulator.md "Replay". Stable within each group.
    """
    kinds = list(kinds)
    return [i for i, k in enumerate(kinds) if k == "trade"] + [i for i, k in enumerate(kinds) if k != "trade"]


class TapeLiquidity(MatchingEngine):
    """The matching engine fed by a recorded tape (see the module docstring); the replay engine calls it."""

    # ============================================================================================
    # replayed liquidity (docs/simulator.md "Fill model")
    # ============================================================================================
    def tape_snapshot(self, ticker: str, msg: Mapping[str, Any]) -> None:
        """Apply a recorded ``orderbook_snapshot`` msg (:meth:`apply_snapshot`)."""
        yes, no = parse_snapshot(msg)
        self.apply_snapshot(ticker, yes, no)

    def tape_delta(self, ticker: str, msg: Mapping[str, Any]) -> None:
        """Apply a recorded ``orderbook_delta`` msg (:meth:`apply_delta`)."""
        side, price, delta = parse_delta(msg)
        self.apply_delta(ticker, side, price, delta)

    def tape_trade(self, ticker: str, msg: Mapping[str, Any]) -> None:
        """Apply a recorded ``trade`` msg (:meth:`apply_trade`), keeping its ``trade_id`` for the public trade."""
        price, count, taker = parse_trade(msg)
        trade_id = msg.get("trade_id")
        self.apply_trade(ticker, price, count, taker, str(trade_id) if trade_id else None)

    def apply_snapshot(self, ticker: str, yes: Mapping[int, int], no: Mapping[int, int]) -> None:
        """Reset the tape book to a snapshot (price_cc -> size_lots per side; an absent level is 0).

        Consumed size is paid down by the decreases the snapshot implies (:mod:`simulator.book`); account
        orders the new levels cross are filled (:meth:`_cross_level`).
        """
        state = self.markets[ticker]
        book = state.book
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

    def apply_delta(self, ticker: str, side: str, price_cc: int, delta_lots: int) -> None:
        """Apply ``tape += delta_lots`` at ``(side, price_cc)``.

        A decrease first pays down the level's consumed size (it never re-shows); account orders the level now
        crosses are filled (:meth:`_cross_level`). The hot path of replay: integers only, one dict update when no
        account order is involved.
        """
        state = self.markets[ticker]
        book = state.book
        # an account order on the other side at 1 - price or higher would be crossed by size appearing here
        crossable = book.orders_on["no" if side == "yes" else "yes"] and book.orders_at_or_above(
            "no" if side == "yes" else "yes", _CC - price_cc
        )
        if not crossable and book.fold_simple(side, price_cc, delta_lots):
            if delta_lots and self.bus.wants(BookDelta):
                self.bus.publish(
                    BookDelta(
                        ticker,
                        side,
                        cc_to_dollars(price_cc),
                        lots_to_contracts(delta_lots),
                        self.now_ms + self.offset_ms,
                    )
                )
            return
        level = book.tape_delta(side, price_cc, delta_lots)
        if level.tape > 0 and crossable:
            self._cross_level(state, side, price_cc)
        self._flush(state)

    def _cross_level(self, state: MarketState, side: str, price: int) -> None:
        """Fill account orders crossed by the tape level ``(side, price)`` (centi-cents).

        They fill at their own prices (as makers), consuming that tape size.
        """
        book = state.book
        level = book.get(side, price)
        if level is None or level.tape_visible <= 0:
            return
        opp = "no" if side == "yes" else "yes"
        threshold = _CC - price
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
                qty = min(maker.remaining_lots, available)
                book.consume(side, price, qty)
                self._maker_vs_tape(state, maker, qty)
            book.touch(opp, opp_price)

    def apply_trade(
        self, ticker: str, yes_price_cc: int, count_lots: int, taker_book_side: str, trade_id: str | None = None
    ) -> None:
        """Apply a recorded trade: publish it, and fill resting account orders it trades through.

        For a taker sell (``taker_book_side`` ask) at YES price ``t``: resting YES bids above ``t`` fill up to
        the trade's count; bids at exactly ``t`` fill only with the part of the count beyond their queue ahead
        (which the trade reduces). Taker buys are symmetric on the NO book at ``1 - t``. One trade's count is
        shared, best price first, by all the account orders it fills.
        """
        state = self.markets[ticker]
        state.volume_lots += count_lots
        state.last_price_cc = yes_price_cc
        state.updated_ms = self.now_ms
        if self.bus.wants(TradeEvent):
            served = self.now_ms + self.offset_ms
            self.bus.publish(
                TradeEvent(
                    trade_id or self._new_trade_id(),
                    ticker,
                    cc_to_dollars(yes_price_cc),
                    lots_to_contracts(count_lots),
                    taker_book_side,
                    served,
                    "tape",
                )
            )
        side = "yes" if taker_book_side == "ask" else "no"
        if state.status != mk.ACTIVE or not state.book.orders_on[side]:
            return
        at = yes_price_cc if side == "yes" else _CC - yes_price_cc
        book = state.book
        budget = count_lots
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
                        fill = min(maker.remaining_lots, budget)
                        budget -= fill
                        self._maker_vs_tape(state, maker, fill)
            else:
                filled_here = 0
                for maker in list(level.orders):
                    excess = count_lots - maker.queue_ahead_lots - filled_here
                    maker.queue_ahead_lots = max(0, maker.queue_ahead_lots - count_lots)
                    fill = min(maker.remaining_lots, excess, budget)
                    if fill > 0 and maker.status == RESTING:
                        budget -= fill
                        filled_here += fill
                        self._maker_vs_tape(state, maker, fill)
            book.touch(side, price)
        self._flush(state)
