"""Position, cash and fee bookkeeping under Kalshi's net-position model, in exact integers.

One :class:`Portfolio` per trading session (live: per epoch attempt; the environment: per episode). It is the
trader's own view, updated from what the exchange reports: :meth:`Portfolio.on_fill` for every fill (the live
``fill`` WebSocket channel or an order acknowledgement; the environment's engine), :meth:`Portfolio.on_resting`
/ :meth:`Portfolio.on_order_done` for the market's own resting order, :meth:`Portfolio.on_order_sent` for the
throttle, :meth:`Portfolio.on_settlement` at settlement.

Kalshi's net-position model (kalshi-api.md §8, the simulator's :func:`simulator.accounts.apply_fill`): one signed
position per market, + YES / - NO. A fill on the ``bid`` book side (buy YES at ``y``, or sell NO at ``1 - y``)
pays ``y`` per contract; each contract that nets against a held NO position redeems a YES+NO pair for $1. An
``ask`` fill (buy NO at ``1 - y``, or sell YES at ``y``) is symmetric. The fill's net fee (Kalshi's ``fee_cost``,
:mod:`models.fees`) is taken from cash. The cost of the held contracts (``cost_micro``) is the cost basis: opening
contracts add their price, closing contracts remove their share of it (half-even rounding to the micro-dollar, as
the simulator), and the difference to what closing fetched is realised P&L.

Units: lots (1/100 contract), centi-cents, micro-dollars; times in the caller's milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Fill", "MarketPosition", "Portfolio", "RestingOrder"]

_CC = 10_000


@dataclass(frozen=True, slots=True)
class Fill:
    """One fill of one of our orders, as the exchange reports it (the WebSocket ``fill`` message's shape).

    Attributes:
        ticker: the market.
        book_side: ``"bid"`` (bought YES / sold NO) or ``"ask"`` (bought NO / sold YES).
        count_lots: lots filled, > 0.
        yes_price_cc: the trade's YES price, centi-cents.
        fee_micro: the fill's net fee (Kalshi's ``fee_cost``), micro-dollars, >= 0.
        is_taker: whether our order took liquidity.
        order_id: the exchange's order id.
        ts_ms: when it happened (exchange ms).

    """

    ticker: str
    book_side: Literal["bid", "ask"]
    count_lots: int
    yes_price_cc: int
    fee_micro: int
    is_taker: bool
    order_id: str = ""
    ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """The market's own resting (maker) order.

    Attributes:
        order_id: the exchange's order id.
        side: the contract it buys or sells.
        action: ``"buy"`` or ``"sell"``.
        price_cc: its limit price of ``side``, centi-cents.
        remaining_lots: unfilled lots, > 0.
        placed_ms: when it started resting.

    """

    order_id: str
    side: Literal["yes", "no"]
    action: Literal["buy", "sell"]
    price_cc: int
    remaining_lots: int
    placed_ms: int

    @property
    def collateral_micro(self) -> int:
        """Cash a resting buy holds back (price x remaining); sells of held contracts need none."""
        return self.price_cc * self.remaining_lots if self.action == "buy" else 0


@dataclass(slots=True)
class MarketPosition:
    """Our state in one market.

    Attributes:
        ticker: the market.
        position_lots: signed position (+ YES / - NO), lots.
        cost_micro: cost basis of the held contracts, micro-dollars (0 when flat).
        realized_micro: realised P&L before fees, micro-dollars.
        fees_micro: fees paid, micro-dollars.
        resting: our resting order in this market, or None.
        last_order_ms: when we last sent an order here (the throttle), or None.

    """

    ticker: str
    position_lots: int = 0
    cost_micro: int = 0
    realized_micro: int = 0
    fees_micro: int = 0
    resting: RestingOrder | None = None
    last_order_ms: float | None = None


def _round_half_even(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


@dataclass(slots=True)
class Portfolio:
    """Cash and the per-market positions of one trading session (see the module docstring).

    Attributes:
        cash_micro: total cash, micro-dollars (free cash is this minus resting buys' collateral).
        markets: per-market state, created on first use.
        consecutive_errors: exchange errors in a row (the circuit breaker).
        order_group_triggered: the exchange's order group refused or cancelled our orders.

    """

    cash_micro: int = 0
    markets: dict[str, MarketPosition] = field(default_factory=dict)
    consecutive_errors: int = 0
    order_group_triggered: bool = False

    def market(self, ticker: str) -> MarketPosition:
        """Our state in ``ticker`` (created flat)."""
        state = self.markets.get(ticker)
        if state is None:
            state = self.markets[ticker] = MarketPosition(ticker)
        return state

    def position_lots(self, ticker: str) -> int:
        """Signed position in ``ticker``, lots (0 when unknown)."""
        state = self.markets.get(ticker)
        return state.position_lots if state is not None else 0

    def open_positions(self) -> int:
        """Markets with a non-zero position."""
        return sum(1 for m in self.markets.values() if m.position_lots)

    def free_cash_micro(self, *, excluding: RestingOrder | None = None) -> int:
        """Cash not held back by resting buys (optionally as if ``excluding`` were cancelled), micro-dollars."""
        held = 0
        for m in self.markets.values():
            if m.resting is not None and m.resting is not excluding:
                held += m.resting.collateral_micro
        return self.cash_micro - held

    # -- updates -----------------------------------------------------------------------------------------

    def on_fill(self, fill: Fill) -> int:
        """Apply one fill (Kalshi's net-position model, module docstring); return its cash change, micro-dollars.

        Also shrinks the market's resting order when the fill is of it (by ``order_id``), and clears it when
        nothing remains.

        Raises:
            ValueError: a non-positive count, a price outside 0..$1, or a negative fee.

        """
        if fill.count_lots <= 0 or not 0 <= fill.yes_price_cc <= _CC or fill.fee_micro < 0:
            raise ValueError(f"impossible fill {fill}")
        state = self.market(fill.ticker)
        lots = fill.count_lots
        buy_yes = fill.book_side == "bid"
        own_cc = fill.yes_price_cc if buy_yes else _CC - fill.yes_price_cc
        held_opposite = -state.position_lots if buy_yes else state.position_lots
        closing = min(lots, held_opposite) if held_opposite > 0 else 0
        cash = -lots * own_cc - fill.fee_micro
        if closing:
            basis = (
                state.cost_micro
                if closing == held_opposite
                else _round_half_even(state.cost_micro * closing, held_opposite)
            )
            proceeds = closing * (_CC - own_cc)
            cash += closing * _CC
            state.realized_micro += proceeds - basis
            state.cost_micro -= basis
            state.position_lots += closing if buy_yes else -closing
        opening = lots - closing
        if opening:
            state.cost_micro += opening * own_cc
            state.position_lots += opening if buy_yes else -opening
        if state.position_lots == 0:
            state.cost_micro = 0
        state.fees_micro += fill.fee_micro
        self.cash_micro += cash
        resting = state.resting
        if resting is not None and fill.order_id and fill.order_id == resting.order_id:
            left = resting.remaining_lots - lots
            state.resting = (
                None
                if left <= 0
                else RestingOrder(
                    resting.order_id, resting.side, resting.action, resting.price_cc, left, resting.placed_ms
                )
            )
        return cash

    def on_order_sent(self, ticker: str, now_ms: float) -> None:
        """Record that an order was sent in ``ticker`` at ``now_ms`` (the per-market throttle's clock)."""
        self.market(ticker).last_order_ms = now_ms

    def on_resting(self, ticker: str, order: RestingOrder | None) -> None:
        """Set (or clear, with None) the market's own resting order, as the exchange acknowledged it."""
        self.market(ticker).resting = order

    def on_order_done(self, ticker: str, order_id: str) -> None:
        """The resting order ``order_id`` is gone (cancelled, executed, swept at the close)."""
        state = self.market(ticker)
        if state.resting is not None and state.resting.order_id == order_id:
            state.resting = None

    def on_settlement(self, ticker: str, result: Literal["yes", "no"]) -> int:
        """Settle ``ticker`` at its result: $1 per contract of the winning side (kalshi-api.md §7); return the payout.

        The position is closed (its cost basis realised against the payout) and any resting order forgotten
        (the exchange sweeps them at the close).

        Raises:
            ValueError: a result other than ``"yes"``/``"no"``.

        """
        if result not in ("yes", "no"):
            raise ValueError(f"settlement result must be yes or no, got {result!r}")
        state = self.market(ticker)
        pos = state.position_lots
        won = (pos > 0 and result == "yes") or (pos < 0 and result == "no")
        payout = abs(pos) * _CC if won else 0
        self.cash_micro += payout
        state.realized_micro += payout - state.cost_micro
        state.position_lots = 0
        state.cost_micro = 0
        state.resting = None
        return payout
