"""Order intents and the pre-trade checks: ONE function decides both a live reject and a training action mask.

:func:`intent_for` turns an action into an :class:`OrderIntent` for the current book (or a reject reason when the
book or the position makes the action meaningless); :func:`check` runs every pre-trade check on it and returns
the first reject reason, or None to send it; :func:`action_mask` is ``[check(intent_for(a)) is None for a]``
over an action space (HOLD always allowed), so a mask can never differ from a live reject.

Reject reasons (stable strings: metric labels and keys of the epoch summary's ``rejects``), in check order:

* building the intent: ``no_liquidity`` (the touch the order needs is empty), ``nothing_to_sell`` (a sell of a
  side not held);
* ``circuit_open`` (too many exchange errors in a row), ``order_group_triggered`` (not for reduce-only sells),
  ``closing_only`` (``Limits.no_new_positions`` is set: only reduce-only orders, degraded mode's "closing only"),
  ``market_unknown`` (no close time), ``market_closing`` (inside the exit rules' closing window; no order at all
  then, the exit rules close positions), ``stale_book``, ``no_liquidity`` (a price outside ($0, $1)),
  ``throttle`` (an order in this market less than ``throttle_ms`` ago);
* sells: ``nothing_to_sell``;
* buys: ``spread`` (YES spread wider than ``max_spread_cc``, or a side empty), ``price_cap`` (above
  ``max_entry_price_cc``), ``position_limit`` (the position if every buy filled, the replaced order excluded),
  ``max_open_positions``, ``cash_reserve`` (cost + worst-case fee would leave less free cash than the reserve);
* MAKE only: ``unchanged`` (the same order already rests there; replacing it would only lose queue priority).

This reproduces the trader's original checks (``rl/pretrade.py``) exactly for the TAKE actions, with two
deliberate differences, both tested (tests/rl/test_decision.py): a sell of a side not held is ``nothing_to_sell``
(the original reported ``no_liquidity`` because its intent builder returned nothing), and the worst-case fee is
Kalshi's (:mod:`models.fees`: trade fee ceiled to $0.0001, balance change floored to the cent), which equals the
original ``ceil_to_cent(0.07 C P (1 - P))`` on whole-cent notionals and is up to a cent lower on sub-cent ones.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Literal, NamedTuple

from kalshi.orderbook import TopOfBook
from models.trader import BookTop
from rl.decision.actions import Action, ActionSpace
from rl.decision.portfolio import Portfolio, RestingOrder

if TYPE_CHECKING:
    from rl.decision.limits import Limits

__all__ = [
    "IMMEDIATE_OR_CANCEL",
    "RESTING",
    "CheckContext",
    "OrderIntent",
    "action_mask",
    "blocks_every_order",
    "check",
    "intent_for",
    "top_of_book",
]

IMMEDIATE_OR_CANCEL = "immediate_or_cancel"
RESTING = "good_till_canceled"
_CC = 10_000


class OrderIntent(NamedTuple):
    """An order the pipeline wants to send: ``action`` ``count_lots`` of ``side`` at limit ``price_cc`` (that side's).

    Attributes:
        ticker: the market.
        side: ``"yes"`` or ``"no"``.
        action: ``"buy"`` or ``"sell"``.
        count_lots: lots (1/100 contract), > 0.
        price_cc: the limit price of ``side``, centi-cents.
        time_in_force: ``immediate_or_cancel`` (TAKE) or ``good_till_canceled`` (MAKE).
        post_only: MAKE orders must rest, never take (Kalshi rejects a crossing post-only order).
        reduce_only: sells never open the opposite side.
        replaces: the order id of our resting order in this market that must be cancelled first (MAKE), or None.
        action_name: the action it came from (e.g. ``"BUY_YES_TAKE"``).

    """

    ticker: str
    side: Literal["yes", "no"]
    action: Literal["buy", "sell"]
    count_lots: int
    price_cc: int
    time_in_force: str
    post_only: bool
    reduce_only: bool
    replaces: str | None
    action_name: str

    @property
    def signed_lots(self) -> int:
        """Change of the signed position (+ YES / - NO) if fully filled, lots."""
        return self.count_lots if (self.side == "yes") == (self.action == "buy") else -self.count_lots

    @property
    def count_contracts(self) -> Decimal:
        """:attr:`count_lots` in exact contracts (for the wire request)."""
        return Decimal(self.count_lots).scaleb(-2)

    @property
    def price_dollars(self) -> Decimal:
        """:attr:`price_cc` in exact dollars (for the wire request)."""
        return Decimal(self.price_cc).scaleb(-4)

    def same_order_as(self, resting: RestingOrder | None) -> bool:
        """Whether ``resting`` is already this order (same side, action, price and remaining size)."""
        return (
            resting is not None
            and resting.side == self.side
            and resting.action == self.action
            and resting.price_cc == self.price_cc
            and resting.remaining_lots == self.count_lots
        )


class CheckContext(NamedTuple):
    """The facts every check of one market at one instant reads (built once per decision, shared by all actions).

    Attributes:
        ticker: the market.
        top: the book's best bids and asks (:class:`kalshi.orderbook.TopOfBook`, centi-cents and lots), own resting
            orders included (the book the exchange publishes).
        now_ms: the decision time on the caller's clock, ms.
        close_ms: the market's close on the same clock, ms, or None when unknown.
        book_age_ms: how old the book is, ms.
        portfolio: our positions, cash and resting orders.
        limits: the limits.

    """

    ticker: str
    top: TopOfBook
    now_ms: float
    close_ms: float | None
    book_age_ms: float
    portfolio: Portfolio
    limits: Limits


def _exact(value: Decimal, scale: int, what: str) -> int:
    scaled = value * scale
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what} {value} is finer than the exchange's resolution")
    return int(scaled)


def top_of_book(book: BookTop) -> TopOfBook:
    """The pipeline's integer book top from the REST path's :class:`models.trader.BookTop` (dollars, contracts).

    Raises:
        ValueError: a price finer than $0.0001 or a size finer than 0.01 contract.

    """
    yes_bid = None if book.yes_bid_dollars is None else _exact(book.yes_bid_dollars, _CC, "yes bid")
    no_bid = None if book.no_bid_dollars is None else _exact(book.no_bid_dollars, _CC, "no bid")
    return TopOfBook(
        yes_bid,
        _exact(book.yes_bid_size, 100, "yes bid size") if yes_bid is not None else 0,
        None if no_bid is None else _CC - no_bid,
        _exact(book.no_bid_size, 100, "no bid size") if no_bid is not None else 0,
    )


def intent_for(action: Action, ctx: CheckContext) -> OrderIntent | str | None:
    """The order for ``action`` on the current book: an :class:`OrderIntent`, a reject reason, or None for HOLD.

    TAKE: buy ``side`` at its best ask (``$1 -`` the other side's best bid), sell ``side`` at its best bid.
    MAKE: buy ``side`` at its best bid, sell ``side`` at its best ask. Sells are at most the held contracts and
    reduce-only; a sell of a side not held is ``"nothing_to_sell"``, an empty touch ``"no_liquidity"``.
    """
    side, verb, style = action.side, action.verb, action.style
    if side is None or verb is None or style is None:
        return None
    top = ctx.top
    limits = ctx.limits
    state = ctx.portfolio.markets.get(ctx.ticker)
    position = state.position_lots if state is not None else 0
    # best bid of each side: YES bid; NO bid = $1 - YES ask
    yes_bid = top.yes_bid_cc
    no_bid = None if top.yes_ask_cc is None else _CC - top.yes_ask_cc
    own_bid, other_bid = (yes_bid, no_bid) if side == "yes" else (no_bid, yes_bid)
    take = style == "take"
    if verb == "buy":
        # TAKE pays the side's ask (the other side's bid's complement); MAKE joins the side's own bid
        if take:
            if other_bid is None:
                return "no_liquidity"
            price = _CC - other_bid
        else:
            if own_bid is None:
                return "no_liquidity"
            price = own_bid
        count = limits.order_size_lots
        reduce_only = False
    else:
        held = position if side == "yes" else -position
        if take:
            if own_bid is None:
                return "no_liquidity"
            price = own_bid
        else:
            if other_bid is None:
                return "no_liquidity"
            price = _CC - other_bid
        if held <= 0:
            return "nothing_to_sell"
        count = min(limits.order_size_lots, held)
        reduce_only = True
    resting = state.resting if state is not None else None
    return OrderIntent(
        ticker=ctx.ticker,
        side=side,
        action=verb,
        count_lots=count,
        price_cc=price,
        time_in_force=IMMEDIATE_OR_CANCEL if take else RESTING,
        post_only=not take,
        reduce_only=reduce_only,
        replaces=None if take or resting is None else resting.order_id,
        action_name=action.name,
    )


def _market_reason(ctx: CheckContext, reduce_only: bool) -> str | None:
    """The checks that do not depend on the order (but for ``reduce_only``), in the check order."""
    portfolio, limits = ctx.portfolio, ctx.limits
    if portfolio.consecutive_errors >= limits.max_consecutive_errors:
        return "circuit_open"
    if portfolio.order_group_triggered and not reduce_only:
        return "order_group_triggered"
    if limits.no_new_positions is not None and not reduce_only:
        return "closing_only"
    close_ms = ctx.close_ms
    if close_ms is None:
        return "market_unknown"
    if close_ms - ctx.now_ms < limits.closing_window_ms:
        return "market_closing"
    if limits.max_book_age_ms is not None and ctx.book_age_ms > limits.max_book_age_ms:
        return "stale_book"
    return None


def _throttled(ctx: CheckContext) -> bool:
    """An order was sent in this market less than ``throttle_ms`` ago."""
    state = ctx.portfolio.markets.get(ctx.ticker)
    last = state.last_order_ms if state is not None else None
    return last is not None and ctx.now_ms - last < ctx.limits.throttle_ms


def check(intent: OrderIntent, ctx: CheckContext) -> str | None:
    """Run every pre-trade check on ``intent``; return the first reject reason, or None to send it.

    The order of the checks and the reasons are the module docstring's. Pure: reads ``ctx`` only.
    """
    reason = _market_reason(ctx, intent.reduce_only)
    if reason is not None:
        return reason
    price = intent.price_cc
    if price <= 0 or price >= _CC:
        return "no_liquidity"
    if _throttled(ctx):
        return "throttle"
    portfolio, limits = ctx.portfolio, ctx.limits
    state = portfolio.markets.get(intent.ticker)
    position = state.position_lots if state is not None else 0
    resting = state.resting if state is not None else None
    if intent.action == "sell":
        held = position if intent.side == "yes" else -position
        if held <= 0:
            return "nothing_to_sell"
        return "unchanged" if intent.post_only and intent.same_order_as(resting) else None
    # entries (buys)
    top = ctx.top
    bid, ask = top.yes_bid_cc, top.yes_ask_cc
    if bid is None or ask is None or ask - bid > limits.max_spread_cc:
        return "spread"
    if price > limits.max_entry_price_cc:
        return "price_cap"
    if abs(position + intent.signed_lots) > limits.max_position_lots:
        return "position_limit"
    if position == 0 and portfolio.open_positions() >= limits.max_open_positions:
        return "max_open_positions"
    cost = limits.buy_cost_micro(intent.count_lots, price, not intent.post_only)
    replaced = resting if intent.replaces is not None else None
    if portfolio.free_cash_micro(excluding=replaced) - cost < limits.cash_reserve_micro:
        return "cash_reserve"
    if intent.post_only and intent.same_order_as(resting):
        return "unchanged"
    return None


def blocks_every_order(ctx: CheckContext) -> bool:
    """Whether a check that holds for every order fails now (market-wide, even for a reduce-only order, or throttle)."""
    return _market_reason(ctx, True) is not None or _throttled(ctx)


def action_mask(space: ActionSpace, ctx: CheckContext) -> list[bool]:
    """Which actions of ``space`` would pass the checks now: ``[check(intent_for(a)) is None]``, HOLD always True.

    When a check that holds for every order fails (:func:`check`'s market-wide part even for a reduce-only order,
    or the throttle), every order action is masked without building its intent: the same answer, computed once.
    """
    if blocks_every_order(ctx):
        return [not a.verb for a in space.actions]
    out = []
    for action in space.actions:
        intent = intent_for(action, ctx)
        out.append(intent is None or (not isinstance(intent, str) and check(intent, ctx) is None))
    return out
