"""What the trader knows of one market and one position.

The top of book, the market snapshot, the exchange's position and the position's P&L view
(:func:`build_position_views`: pure, used by the workflow's calibration report and exit rules and by the
calibration activity's P&L gauge).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from models.money import Contracts, Dollars
from models.trader.enums import Side


class BookTop(BaseModel):
    """Top of a market's order book in dollars and contracts (Kalshi books hold bids only).

    ``yes_ask = 1 - no_bid`` and ``no_ask = 1 - yes_bid`` (kalshi-api.md §3.3). ``None`` = empty side.
    """

    yes_bid_dollars: Dollars | None = None
    yes_bid_size: Contracts = Decimal(0)
    no_bid_dollars: Dollars | None = None
    no_bid_size: Contracts = Decimal(0)

    @property
    def yes_ask_dollars(self) -> Decimal | None:
        """Best YES ask in dollars (= 1 - best NO bid), or None."""
        return None if self.no_bid_dollars is None else Decimal(1) - self.no_bid_dollars

    @property
    def no_ask_dollars(self) -> Decimal | None:
        """Best NO ask in dollars (= 1 - best YES bid), or None."""
        return None if self.yes_bid_dollars is None else Decimal(1) - self.yes_bid_dollars

    def bid_for(self, side: Side) -> Decimal | None:
        """Best bid of ``side`` in dollars: what selling one held contract of that side fetches."""
        return self.yes_bid_dollars if side == "yes" else self.no_bid_dollars

    def ask_for(self, side: Side) -> Decimal | None:
        """Best ask of ``side`` in dollars: what buying one contract of that side costs."""
        return self.yes_ask_dollars if side == "yes" else self.no_ask_dollars


class MarketSnapshot(BaseModel):
    """One market as seen at calibration (raw exchange facts; no decisions).

    Attributes:
        ticker, event_ticker: Kalshi identifiers.
        status: the exchange's market status (``active``, ``closed``, ...).
        open_time, close_time: exchange times (UTC).
        book: top of book, or None when the orderbook could not be read.
        tick_size_dollars: the price step at mid-book.

    """

    ticker: str
    event_ticker: str = ""
    status: str
    open_time: datetime | None = None
    close_time: datetime | None = None
    book: BookTop | None = None
    tick_size_dollars: Dollars = Decimal("0.01")


class ExchangePosition(BaseModel):
    """A market position as the exchange reports it (signed: + YES contracts, - NO contracts).

    Attributes:
        ticker: market ticker.
        position_contracts: signed position in contracts.
        exposure_dollars: cost of the current position in dollars (Kalshi ``market_exposure``).
        realized_pnl_dollars: realised P&L in dollars.
        fees_paid_dollars: fees paid in dollars.

    """

    ticker: str
    position_contracts: Contracts
    exposure_dollars: Dollars
    realized_pnl_dollars: Dollars = Decimal(0)
    fees_paid_dollars: Dollars = Decimal(0)


class PositionView(BaseModel):
    """A held position with its P&L, as the exit rules see it.

    P&L is defined precisely (ARCHITECTURE.md "Exit rules"): the held side is YES when the signed
    position is positive, NO when negative; ``contracts`` is its absolute size. The average cost per
    contract is ``exposure_dollars / contracts`` (Kalshi's ``market_exposure`` is the cost of the
    current position). The mark is what selling the held side at its best bid would fetch:
    ``mark_dollars = best bid of the held side`` per contract, ``market_value_dollars =
    contracts * mark``. ``unrealized_pnl_dollars = market_value - exposure`` and ``pnl_pct =
    unrealized_pnl / exposure`` (a fraction; 0.2 = +20 %). With no bid on the held side the mark is
    None and the position is "stuck": price rules cannot judge it, time rules still apply.

    Attributes:
        ticker: market ticker.
        side: held side.
        contracts: absolute position in contracts.
        exposure_dollars: cost of the position in dollars.
        avg_cost_dollars: exposure / contracts, dollars per contract.
        mark_dollars: best bid of the held side, dollars per contract, or None.
        market_value_dollars: contracts * mark, or None.
        unrealized_pnl_dollars: market value - exposure, or None.
        pnl_pct: unrealised P&L / exposure (fraction), or None.
        market_status: exchange status of the market.
        close_time: market close time (exchange clock).
        seconds_to_close: seconds to close on the exchange clock.
        opened_at: when the trader first saw this position (exchange clock).
        held_for_s: seconds since ``opened_at``.

    """

    ticker: str
    side: Side
    contracts: Contracts
    exposure_dollars: Dollars
    avg_cost_dollars: Dollars
    mark_dollars: Dollars | None = None
    market_value_dollars: Dollars | None = None
    unrealized_pnl_dollars: Dollars | None = None
    pnl_pct: Decimal | None = None
    market_status: str | None = None
    close_time: datetime | None = None
    seconds_to_close: float | None = None
    opened_at: datetime | None = None
    held_for_s: float | None = None


def build_position_views(
    positions: Iterable[ExchangePosition],
    markets: Mapping[str, MarketSnapshot],
    opened_at: Mapping[str, datetime],
    now: datetime,
) -> list[PositionView]:
    """Turn exchange positions into :class:`PositionView` with marks and P&L.

    Args:
        positions: signed exchange positions (contracts; exposure in dollars). Zero positions are
            skipped.
        markets: market snapshots by ticker (book top, status, close time); a missing market gives
            a view without mark.
        opened_at: when each position was first seen (exchange clock), by ticker.
        now: the exchange clock at the snapshot.

    Returns:
        One view per non-zero position, sorted by ticker.

    """
    views: list[PositionView] = []
    for pos in sorted(positions, key=lambda p: p.ticker):
        if pos.position_contracts == 0:
            continue
        side: Side = "yes" if pos.position_contracts > 0 else "no"
        contracts = abs(pos.position_contracts)
        exposure = pos.exposure_dollars
        avg_cost = (exposure / contracts).quantize(Decimal("0.000001")) if contracts else Decimal(0)
        market = markets.get(pos.ticker)
        mark = market.book.bid_for(side) if market is not None and market.book is not None else None
        value = pnl = pct = None
        if mark is not None:
            value = contracts * mark
            pnl = value - exposure
            pct = (pnl / exposure).quantize(Decimal("0.0001")) if exposure > 0 else None
        close_time = market.close_time if market else None
        opened = opened_at.get(pos.ticker)
        views.append(
            PositionView(
                ticker=pos.ticker,
                side=side,
                contracts=contracts,
                exposure_dollars=exposure,
                avg_cost_dollars=avg_cost,
                mark_dollars=mark,
                market_value_dollars=value,
                unrealized_pnl_dollars=pnl,
                pnl_pct=pct,
                market_status=market.status if market else None,
                close_time=close_time,
                seconds_to_close=(close_time - now).total_seconds() if close_time else None,
                opened_at=opened,
                held_for_s=(now - opened).total_seconds() if opened else None,
            )
        )
    return views


def is_sellable(view: PositionView) -> bool:
    """Whether a close order could fill now: the market is active and the held side has a bid."""
    return view.market_status in ("active", "open") and view.mark_dollars is not None
