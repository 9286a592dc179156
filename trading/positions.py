"""The portfolio the pre-trade checks read while fills stream over the WebSocket (the actor loop).

The decision pipeline's :class:`rl.decision.Portfolio` is the trader's own view of positions, cost basis, cash and
the resting order per market, in exact integers (lots, micro-dollars). In the actor loop it is fed by what the
exchange says over the private channels, and those frames arrive asynchronously: a ``fill`` frame before or after
the REST acknowledgement of its order, a ``market_position`` frame whenever. :class:`StreamedPortfolio` keeps it
right meanwhile (docs/architecture.md "The decision pipeline's seam").
"""

from __future__ import annotations

from rl.decision import Fill, Portfolio

__all__ = ["StreamedPortfolio"]


class StreamedPortfolio:
    """Positions for the checks = what the exchange confirmed + acknowledged fills no ``fill`` frame confirmed yet.

    The confirmed part of each market (position, cost basis, cash, fees) changes only through the exchange's
    frames: :meth:`fill` applies a ``fill`` frame with :meth:`rl.decision.Portfolio.on_fill` (Kalshi's
    net-position model and its fee), :meth:`position` takes a ``market_position`` frame's position (and cost, when
    sent) as authoritative. An order acknowledgement that reports fills (:meth:`acknowledged`) adds them to the
    position the checks see until their ``fill`` frame arrives; a frame that arrived first is remembered so the
    fill counts once. Without the unconfirmed part a burst of updates would be decided on a position that lags the
    exchange and could cross the position limit; a position frame that already includes an unconfirmed fill
    counts it twice for a moment: the error is on the safe side (the limit binds early), never late.

    Args:
        portfolio: the pipeline's portfolio (its markets' positions at construction are the confirmed ones).
    """

    def __init__(self, portfolio: Portfolio) -> None:
        self.portfolio = portfolio
        self._confirmed = {t: m.position_lots for t, m in portfolio.markets.items()}
        self._unconfirmed: dict[str, tuple[str, int]] = {}  # order id -> (ticker, signed lots)
        self._early: dict[str, int] = {}  # order id -> lots confirmed by frames before its ack arrived

    @property
    def unconfirmed_lots(self) -> int:
        """Lots acknowledged but not yet confirmed by a ``fill`` frame, over every market."""
        return sum(abs(lots) for _, lots in self._unconfirmed.values())

    def acknowledged(self, ticker: str, order_id: str, signed_lots: int) -> None:
        """An order acknowledgement reported ``signed_lots`` filled (+ YES / - NO)."""
        early = self._early.pop(order_id, 0)
        remaining = abs(signed_lots) - early
        if remaining > 0:
            self._unconfirmed[order_id] = (ticker, remaining if signed_lots > 0 else -remaining)
        self._refresh(ticker)

    def fill(self, fill: Fill, post_position_lots: int | None = None) -> int:
        """Apply a ``fill`` frame (``post_position_lots``: the exchange's position after it, when sent).

        Returns:
            The fill's cash change, micro-dollars (:meth:`rl.decision.Portfolio.on_fill`).

        Raises:
            ValueError: an impossible fill (see :meth:`rl.decision.Portfolio.on_fill`).
        """
        ticker = fill.ticker
        signed = fill.count_lots if fill.book_side == "bid" else -fill.count_lots
        state = self.portfolio.market(ticker)
        before = post_position_lots - signed if post_position_lots is not None else self._confirmed.get(ticker, 0)
        state.position_lots = before  # apply the fill to the confirmed position (cost basis and netting are exact)
        if before == 0:
            state.cost_micro = 0
        cash = self.portfolio.on_fill(fill)
        self._confirmed[ticker] = state.position_lots
        entry = self._unconfirmed.get(fill.order_id) if fill.order_id else None
        if entry is None:
            if fill.order_id:
                self._early[fill.order_id] = self._early.get(fill.order_id, 0) + fill.count_lots
        else:
            left = abs(entry[1]) - fill.count_lots
            if left > 0:
                self._unconfirmed[fill.order_id] = (ticker, left if entry[1] > 0 else -left)
            else:
                del self._unconfirmed[fill.order_id]
        self._refresh(ticker)
        return cash

    def position(self, ticker: str, lots: int, cost_micro: int | None = None) -> None:
        """The exchange reported the position in ``ticker`` (and, when sent, its cost basis, micro-dollars)."""
        self._confirmed[ticker] = lots
        state = self.portfolio.market(ticker)
        if lots == 0:
            state.cost_micro = 0
        elif cost_micro is not None and cost_micro >= 0:
            state.cost_micro = cost_micro
        self._refresh(ticker)

    def _refresh(self, ticker: str) -> None:
        pending = sum(lots for t, lots in self._unconfirmed.values() if t == ticker)
        self.portfolio.market(ticker).position_lots = self._confirmed.get(ticker, 0) + pending
