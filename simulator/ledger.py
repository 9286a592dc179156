"""The exchange's books of record: accounts, positions, orders, order groups, collateral, and what it publishes.

The bottom layer of :class:`simulator.exchange.Exchange` (ledger -> :mod:`simulator.matching` ->
:mod:`simulator.liquidity` -> :mod:`simulator.exchange`). Everything here is synchronous and runs on the
caller's thread; there is no HTTP and no asyncio here, so the engine can be driven in-process (the RL
training environment does). All internal times are **tape** epoch ms (``self.now_ms``); published events and
wire objects are shifted by ``offset_ms`` to served time.
"""

import itertools
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from models.fees import FeeSchedule
from models.money import ONE_DOLLAR
from simulator import errors, wire
from simulator.accounts import Account, Adjustment, Position
from simulator.book import OrderBook, cc_to_dollars, lots_to_contracts
from simulator.errors import ApiError, not_found
from simulator.events import BookDelta, EventBus, OrderGroupEvent, PositionEvent, TradeEvent, UserOrderEvent
from simulator.market import MarketState
from simulator.order_groups import OrderGroup
from simulator.orders import CANCELED, RESTING, Order, check_count_for_market
from simulator.tape import Catalog

ZERO = Decimal(0)

PRIORITY_OPEN = 0
PRIORITY_TAPE = 1
PRIORITY_EXPIRY = 2
PRIORITY_CLOSE = 3
PRIORITY_DETERMINE = 4
PRIORITY_FINALIZE = 5


class Scheduler(Protocol):
    """Runs ``action`` when the replay reaches ``time_ms`` (tape); ties broken by ``priority``."""

    def schedule(self, time_ms: int, priority: int, action: Callable[[], None]) -> None:
        """Queue ``action`` for tape time ``time_ms``."""
        ...


class _Immediate:
    """A scheduler that drops actions (an exchange used without a replay engine)."""

    def schedule(self, time_ms: int, priority: int, action: Callable[[], None]) -> None:
        return None


class Ledger:
    """The accounts and orders of the simulated exchange (its books of record), constructed like an exchange.

    Args:
        catalog: series, events and markets to list.
        bus: event publisher (see :mod:`simulator.events`).
        offset_ms: served time minus tape time (from the clock).
        start_ms: tape time at which the exchange starts.
        initial_balance_cents: cash of a new account, integer cents.
        fee_schedule: the markets' fee model (:class:`models.fees.FeeSchedule`; default
            :meth:`~models.fees.FeeSchedule.taker_only`, Kalshi's ``quadratic`` series: takers 0.07, makers
            nothing). Every order charges its fills through its own
            :class:`~models.fees.OrderFeeAccumulator` (Kalshi's fee rounding and per-order rebate, §7).
        determination_delay_ms: close -> determined delay; None = recorded per market.
        settlement_timer_ms: determined -> finalized delay; None = the market's
            ``settlement_timer_seconds``.
        strict_client_order_ids: refuse (409) a ``client_order_id`` used by ANY earlier order of the
            account. Off by default: Kalshi refuses a duplicate only while an open (resting) order holds
            the id (kalshi-api.md §3.5, §8), so the id of an executed or cancelled order can be used again.

    """

    # ============================================================================================
    # accounts
    # ============================================================================================
    def __init__(
        self,
        catalog: Catalog,
        bus: EventBus,
        *,
        offset_ms: int,
        start_ms: int,
        initial_balance_cents: int = 1_000_000,
        fee_schedule: FeeSchedule | None = None,
        determination_delay_ms: int | None = None,
        settlement_timer_ms: int | None = None,
        strict_client_order_ids: bool = False,
    ) -> None:
        self.catalog = catalog
        self.bus = bus
        self.offset_ms = offset_ms
        self.now_ms = start_ms
        self.initial_balance_cents = initial_balance_cents
        self.fee_schedule = fee_schedule if fee_schedule is not None else FeeSchedule.taker_only()
        self.determination_delay_ms = determination_delay_ms
        self.settlement_timer_ms = settlement_timer_ms
        self.strict_client_order_ids = strict_client_order_ids
        self.scheduler: Scheduler = _Immediate()
        self.markets: dict[str, MarketState] = {
            ticker: MarketState(definition, OrderBook(ticker), close_ms=definition.close_ms)
            for ticker, definition in catalog.markets.items()
        }
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self.groups: dict[str, OrderGroup] = {}
        self.trading_paused = False
        self.exchange_paused = False
        self._seq = itertools.count(1)
        self._trade_seq = itertools.count(1)

    def create_account(self, key_id: str, balance_cents: int | None = None) -> Account:
        """Create the account of an API key with ``balance_cents`` (default: the configured initial).

        Raises:
            ApiError: 409 if the key already has an account.

        """
        if key_id in self.accounts:
            raise ApiError(409, "account_exists", f"key {key_id} already has an account")
        cents = self.initial_balance_cents if balance_cents is None else balance_cents
        account = Account(key_id, Decimal(cents) / 100, updated_ms=self.now_ms)
        self.accounts[key_id] = account
        return account

    def account(self, key_id: str) -> Account:
        """Return an account by key id.

        Raises:
            ApiError: 404 if unknown.

        """
        account = self.accounts.get(key_id)
        if account is None:
            raise not_found(f"account {key_id}")
        return account

    def set_cash(self, account: Account, cents: int) -> None:
        """Set an account's total cash to ``cents`` (control API)."""
        account.cash = Decimal(cents) / 100
        account.updated_ms = self.now_ms

    def arrange_position(self, account: Account, ticker: str, position: Decimal, exposure: Decimal) -> Position:
        """Set a position as if bought earlier at total cost ``exposure`` dollars (control API).

        No fill is created and cash is untouched; an :class:`Adjustment` is recorded.

        Raises:
            ApiError: 404 for an unknown market; 400 for a negative exposure or a non-zero exposure on
                a zero position.

        """
        state = self.market(ticker)
        if exposure < 0 or (position == 0 and exposure != 0):
            raise errors.invalid_param("market_exposure_dollars must be >= 0 and 0 for a flat position")
        check_count_for_market(abs(position), True, "position_fp")
        pos = account.position(ticker, state.definition.event_ticker)
        pos.position = position
        pos.exposure = exposure
        pos.last_updated_ms = self.now_ms
        account.adjustments.append(Adjustment(ticker, position, exposure, self.now_ms))
        self._publish_position(account, pos)
        self._enforce_reduce_only(account, state)
        return pos

    # ============================================================================================
    # queries
    # ============================================================================================
    def market(self, ticker: str) -> MarketState:
        """Return a market's state.

        Raises:
            ApiError: 404 ``not_found`` if the ticker is unknown.

        """
        state = self.markets.get(ticker)
        if state is None:
            raise not_found(f"market {ticker}")
        return state

    def resting_orders(self, account: Account, ticker: str | None = None) -> list[Order]:
        """The account's resting orders (optionally in one market), oldest first."""
        out = [o for o in account.resting.values() if ticker is None or o.ticker == ticker]
        out.sort(key=lambda o: o.seq)
        return out

    def collateral(self, account: Account, extra: Order | None = None) -> Decimal:
        """Cash (dollars) reserved by the account's resting orders (plus a hypothetical ``extra``).

        Per market, resting bids (best first) that would close a short (NO) position need nothing;
        the rest need their YES price per contract. Asks are symmetric against a long position, at the
        NO price. This is the worst case if every resting order filled.
        """
        by_market: dict[str, list[Order]] = {}
        for order in account.resting.values():
            by_market.setdefault(order.ticker, []).append(order)
        if extra is not None:
            by_market.setdefault(extra.ticker, []).append(extra)
        total = ZERO
        for ticker, orders in by_market.items():
            pos = account.positions.get(ticker)
            position = pos.position if pos is not None else ZERO
            bids = sorted((o for o in orders if o.book_side == "bid"), key=lambda o: (-o.yes_price, o.seq))
            asks = sorted((o for o in orders if o.book_side == "ask"), key=lambda o: (o.yes_price, o.seq))
            closable = -position if position < 0 else ZERO
            for o in bids:
                free = min(o.remaining_count, closable)
                closable -= free
                total += (o.remaining_count - free) * o.yes_price
            closable = position if position > 0 else ZERO
            for o in asks:
                free = min(o.remaining_count, closable)
                closable -= free
                total += (o.remaining_count - free) * o.no_price
        return total

    def free_cash(self, account: Account) -> Decimal:
        """Available cash in dollars: total cash minus what resting orders reserve."""
        return account.cash - self.collateral(account)

    def portfolio_value(self, account: Account) -> Decimal:
        """Value of the account's positions in dollars (§3.4 ``portfolio_value``).

        A determined market values each held contract at its settlement value; otherwise at the held
        side's best displayed bid, or at its cost (exposure) when that side has no bid.
        """
        total = ZERO
        for ticker, pos in account.positions.items():
            if pos.position == 0:
                continue
            state = self.markets[ticker]
            held = "yes" if pos.position > 0 else "no"
            contracts = abs(pos.position)
            value = state.settlement_value
            if value is not None:
                total += contracts * (value if held == "yes" else ONE_DOLLAR - value)
                continue
            best = state.book.best(held)
            total += contracts * best[0] if best else pos.exposure
        return total

    def resting_order_value(self, account: Account) -> Decimal:
        """Total cost in dollars of the account's resting orders (``total_resting_order_value``)."""
        total = ZERO
        for o in self.resting_orders(account):
            total += o.remaining_count * (o.yes_price if o.book_side == "bid" else o.no_price)
        return total

    def find_order(self, account: Account, order_id: str) -> Order:
        """Return one of the account's orders.

        Raises:
            ApiError: 404 if the account has no such order.

        """
        order = account.orders.get(order_id)
        if order is None:
            raise not_found(f"order {order_id}")
        return order

    def order_dict(self, order: Order) -> dict[str, Any]:
        """The wire Order of ``order`` (served times)."""
        return wire.order_json(order, self.offset_ms)

    # ============================================================================================
    # order bookkeeping
    # ============================================================================================
    def _closable(self, account: Account, ticker: str, book_side: str) -> Decimal:
        pos = account.positions.get(ticker)
        position = pos.position if pos is not None else ZERO
        held = -position if book_side == "bid" else position
        return held if held > 0 else ZERO

    def _finish(self, order: Order, status: str, reason: str | None) -> None:
        """End an order's life (cancel or execute): zero its remaining count and publish it."""
        state = self.markets[order.ticker]
        state.book.remove_order(order)
        self.accounts[order.account_id].resting.pop(order.order_id, None)
        order.remaining_count = ZERO
        order.status = status
        order.last_update_ms = self.now_ms
        if reason is not None:
            order.last_update_reason = reason
        self._publish_order(order, reason)

    def _cancel_resting(self, order: Order, reason: str | None) -> Decimal:
        """Cancel a resting order; return the contracts it had left (0 if it was not resting)."""
        if order.status != RESTING:
            return ZERO
        left = order.remaining_count
        self._finish(order, CANCELED, reason)
        self._flush(self.markets[order.ticker])
        return left

    def _enforce_reduce_only(self, account: Account, state: MarketState) -> None:
        """Shrink resting reduce-only orders that would now increase the position (``ReduceOnlyCancel``)."""
        reduce_only = [o for o in account.resting.values() if o.reduce_only and o.ticker == state.ticker]
        if not reduce_only:
            return
        for book_side in ("bid", "ask"):
            allowed = self._closable(account, state.ticker, book_side)
            for o in sorted((o for o in reduce_only if o.book_side == book_side), key=lambda o: o.seq):
                if o.remaining_count > allowed:
                    if allowed <= 0:
                        self._cancel_resting(o, "ReduceOnlyCancel")
                        continue
                    o.remaining_count = allowed
                    o.last_update_ms = self.now_ms
                    o.last_update_reason = "ReduceOnlyCancel"
                    state.book.touch(o.rest_side, o.rest_price_cc)
                    self._publish_order(o, "ReduceOnlyCancel")
                allowed -= o.remaining_count

    # ============================================================================================
    # publishing
    # ============================================================================================
    # -- executions -----------------------------------------------------------------------------
    def _new_trade_id(self) -> str:
        return str(uuid.uuid4())

    def _publish_trade(
        self, state: MarketState, trade_id: str, yes_price_cc: int, lots: int, taker_book_side: str, source: str
    ) -> None:
        state.volume_lots += lots
        state.last_price_cc = yes_price_cc
        state.updated_ms = self.now_ms
        if self.bus.wants(TradeEvent):
            served = self.now_ms + self.offset_ms
            price, qty = cc_to_dollars(yes_price_cc), lots_to_contracts(lots)
            self.bus.publish(TradeEvent(trade_id, state.ticker, price, qty, taker_book_side, served, source))

    # -- publishing -----------------------------------------------------------------------------
    def _publish_order(self, order: Order, reason: str | None) -> None:
        if self.bus.wants(UserOrderEvent):
            self.bus.publish(
                UserOrderEvent(
                    order.account_id, order.ticker, self.order_dict(order), reason, self.now_ms + self.offset_ms
                )
            )

    def _publish_position(self, account: Account, pos: Position) -> None:
        if self.bus.wants(PositionEvent):
            self.bus.publish(
                PositionEvent(
                    account.key_id,
                    pos.ticker,
                    pos.position,
                    pos.exposure,
                    pos.realized_pnl,
                    pos.fees_paid,
                    pos.volume,
                    self.now_ms + self.offset_ms,
                )
            )

    def _publish_group(self, group: OrderGroup, event_type: str, limit: Decimal | None) -> None:
        self.bus.publish(
            OrderGroupEvent(group.account_id, group.order_group_id, event_type, self.now_ms + self.offset_ms, limit)
        )

    def _flush(self, state: MarketState, owner: Order | None = None) -> None:
        """Publish the displayed-book changes since the last flush as :class:`BookDelta` events.

        Removals are published before additions (:meth:`simulator.book.OrderBook.flush` orders them): a
        client applying them one at a time then only ever sees subsets of the final book, never a crossed
        one (a re-snapshot's diff could otherwise add a bid before removing the opposite level it would cross).
        """
        changes = state.book.flush()
        if not changes or not self.bus.wants(BookDelta):
            return
        ts = self.now_ms + self.offset_ms
        for side, price, delta in changes:
            self.bus.publish(
                BookDelta(
                    state.ticker,
                    side,
                    cc_to_dollars(price),
                    lots_to_contracts(delta),
                    ts,
                    owner.client_order_id if owner else None,
                    owner.account_id if owner else None,
                )
            )
