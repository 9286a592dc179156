"""Positions for the pre-trade checks while fills stream over the WebSocket (the actor loop)."""

from __future__ import annotations

from decimal import Decimal


class StreamedPositions:
    """Positions for pre-trade checks when fills arrive as WebSocket frames (the actor loop).

    Each position is what the exchange last said (REST at the epoch's start, then ``market_positions``
    and ``fill`` frames) plus the fills this epoch's order acknowledgements reported that no ``fill``
    frame has confirmed yet. Frames arrive asynchronously (before or after the ack), so without the
    unconfirmed part a burst of updates would be decided on a position that lags the exchange and could
    cross ``max_position_contracts``; until a frame confirms it the fill counts once, afterwards once.
    A position frame that already includes an unconfirmed fill counts it twice for a moment: the error
    is on the safe side (the limit binds early), never late.

    Args:
        positions: the dict the pre-trade checks read (``PretradeState.positions``), kept up to date;
            its values at construction are the starting positions (signed contracts).
    """

    def __init__(self, positions: dict[str, Decimal]) -> None:
        self.positions = positions
        self._exchange = dict(positions)
        self._unconfirmed: dict[str, tuple[str, Decimal]] = {}  # order id -> (ticker, signed contracts)
        self._early: dict[str, Decimal] = {}  # order id -> contracts confirmed before its ack arrived

    def acknowledged(self, ticker: str, order_id: str, signed_contracts: Decimal) -> None:
        """An order ack reported ``signed_contracts`` filled (+ YES / - NO)."""
        early = self._early.pop(order_id, Decimal(0))
        remaining = abs(signed_contracts) - early
        if remaining > 0:
            self._unconfirmed[order_id] = (ticker, remaining if signed_contracts > 0 else -remaining)
        self._refresh(ticker)

    def position(self, ticker: str, signed_contracts: Decimal) -> None:
        """The exchange reported the position in ``ticker``."""
        self._exchange[ticker] = signed_contracts
        self._refresh(ticker)

    def fill(self, ticker: str, order_id: str, contracts: Decimal) -> None:
        """A ``fill`` frame confirmed ``contracts`` of ``order_id``."""
        entry = self._unconfirmed.get(order_id)
        if entry is None:
            self._early[order_id] = self._early.get(order_id, Decimal(0)) + contracts
            return
        left = abs(entry[1]) - contracts
        if left > 0:
            self._unconfirmed[order_id] = (ticker, left if entry[1] > 0 else -left)
        else:
            del self._unconfirmed[order_id]
        self._refresh(ticker)

    def _refresh(self, ticker: str) -> None:
        pending = sum((d for t, d in self._unconfirmed.values() if t == ticker), Decimal(0))
        self.positions[ticker] = self._exchange.get(ticker, Decimal(0)) + pending
