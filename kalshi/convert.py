"""Kalshi's wire types -> the trader's domain types (:mod:`models.trader`): the one conversion point.

The REST models (:mod:`kalshi.models`) already hold exact Decimal dollars and contracts; the WebSocket books
(:class:`kalshi.orderbook.OrderBook`) hold the same values as ``int`` centi-cents and lots, converted exactly
by :mod:`models.money` (docs/architecture.md "Units"). Every activity and driver that needs a domain value from
a wire value calls a function here, so there is one book-top converter for both transports and one mapping per
REST type.
"""

from __future__ import annotations

from decimal import Decimal

from kalshi.models import Market, MarketPosition, Order, OrderAck, Orderbook, Settlement
from kalshi.orderbook import OrderBook, TopOfBook
from models.money import LOTS_PER_CONTRACT, PRICE_CC_PER_DOLLAR, cc_to_dollars, lots_to_contracts
from models.trader import BookTop, ExchangePosition, MarketSnapshot, OrderOutcome, RestingOrder, SettlementRecord

_MID = Decimal("0.5")


def book_top(book: Orderbook | OrderBook) -> BookTop:
    """Top of a Kalshi order book (bids only): prices in dollars, sizes in contracts; empty sides None / 0.

    Args:
        book: a REST order book (``GET /markets/{ticker}/orderbook``, Decimal levels sorted best last) or a
            WebSocket book (:class:`kalshi.orderbook.OrderBook`, centi-cents and lots).
    """
    if isinstance(book, OrderBook):
        yes_cc, no_cc = book.best_yes_bid_cc, book.best_no_bid_cc
        return BookTop(
            yes_bid_dollars=None if yes_cc is None else cc_to_dollars(yes_cc),
            yes_bid_size=lots_to_contracts(book.bid_size_lots("yes")),
            no_bid_dollars=None if no_cc is None else cc_to_dollars(no_cc),
            no_bid_size=lots_to_contracts(book.bid_size_lots("no")),
        )
    yes = book.yes_bids[-1] if book.yes_bids else None
    no = book.no_bids[-1] if book.no_bids else None
    return BookTop(
        yes_bid_dollars=yes[0] if yes else None,
        yes_bid_size=yes[1] if yes else Decimal(0),
        no_bid_dollars=no[0] if no else None,
        no_bid_size=no[1] if no else Decimal(0),
    )


def _exact_int(value: Decimal, scale: int, what: str) -> int:
    scaled = value * scale
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what} {value} is finer than the exchange's grid")
    return int(scaled)


def top_of_book(book: Orderbook) -> TopOfBook:
    """The integer top of a REST order book (centi-cents, lots), the type the decision pipeline reads.

    The WebSocket path gets the same from :meth:`kalshi.orderbook.OrderBook.top`. YES ask = $1 - best NO bid
    (kalshi-api.md §8), with the NO bid's size.

    Raises:
        ValueError: a price finer than $0.0001 or a size finer than 0.01 contract (never rounded).
    """
    yes = book.yes_bids[-1] if book.yes_bids else None
    no = book.no_bids[-1] if book.no_bids else None
    return TopOfBook(
        None if yes is None else _exact_int(yes[0], PRICE_CC_PER_DOLLAR, "yes bid"),
        0 if yes is None else _exact_int(yes[1], LOTS_PER_CONTRACT, "yes bid size"),
        None if no is None else PRICE_CC_PER_DOLLAR - _exact_int(no[0], PRICE_CC_PER_DOLLAR, "no bid"),
        0 if no is None else _exact_int(no[1], LOTS_PER_CONTRACT, "no bid size"),
    )


def market_snapshot(market: Market, book: Orderbook | None) -> MarketSnapshot:
    """A :class:`MarketSnapshot` from a Kalshi market and its order book (if read); tick size at mid-book."""
    return MarketSnapshot(
        ticker=market.ticker,
        event_ticker=market.event_ticker,
        status=market.status,
        open_time=market.open_time,
        close_time=market.close_time,
        book=book_top(book) if book is not None else None,
        tick_size_dollars=market.tick_size_dollars(_MID),
    )


def exchange_position(position: MarketPosition) -> ExchangePosition:
    """A market position (``GET /portfolio/positions``) as the trader's :class:`ExchangePosition` (signed contracts)."""
    return ExchangePosition(
        ticker=position.ticker,
        position_contracts=position.position_fp,
        exposure_dollars=position.market_exposure_dollars,
        realized_pnl_dollars=position.realized_pnl_dollars,
        fees_paid_dollars=position.fees_paid_dollars,
    )


def resting_order(order: Order) -> RestingOrder:
    """A resting order (``GET /portfolio/orders?status=resting``) as the trader's :class:`RestingOrder`."""
    return RestingOrder(
        order_id=order.order_id,
        client_order_id=order.client_order_id or "",
        ticker=order.ticker,
        side=order.side,
        action=order.action,
        price_dollars=order.price_dollars,
        remaining_contracts=order.remaining_count_fp,
        order_group_id=order.order_group_id,
    )


def settlement_record(settlement: Settlement) -> SettlementRecord:
    """A settlement (``GET /portfolio/settlements``) as the trader's :class:`SettlementRecord` (revenue in cents)."""
    return SettlementRecord(
        ticker=settlement.ticker,
        market_result=settlement.market_result,
        revenue_cents=settlement.revenue_cents,
        settled_time=settlement.settled_time,
        cost_dollars=settlement.yes_total_cost_dollars + settlement.no_total_cost_dollars,
        fee_dollars=settlement.fee_cost_dollars,
    )


def order_outcome(ack: OrderAck) -> OrderOutcome:
    """An order acknowledgement (``POST /portfolio/events/orders`` or a lookup) as an :class:`OrderOutcome`."""
    return OrderOutcome(
        order_id=ack.order_id,
        client_order_id=ack.client_order_id,
        filled_contracts=ack.fill_count_fp,
        remaining_contracts=ack.remaining_count_fp,
        average_fill_price_dollars=ack.average_fill_price_dollars,
        status=ack.status,
        already_existed=ack.already_existed,
    )
