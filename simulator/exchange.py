"""The exchange core: accounts, order entry, matching, replayed liquidity, order groups, lifecycle.

Everything here is synchronous and runs on the event-loop thread; the HTTP layer and the replay engine
call into it between awaits, so each operation is atomic. All internal times are **tape** epoch ms
(``self.now_ms``); published events and wire objects are shifted by ``offset_ms`` to served time.

Matching (kalshi-api.md §8, docs/simulator.md "Matching"): one YES/NO bid book per market with
price-time priority. A bid at YES price ``p`` crosses NO levels ``q >= 1 - p`` (best = highest ``q``) and
trades at ``1 - q``; an ask at ``p`` (a NO bid at ``1 - p``) crosses YES levels ``y >= p`` and trades at
``y``. At one level, the tape size ahead of the first account order trades first, then account orders
in time priority, then the rest of the tape size. Takers pay ``ceil_to_cent(0.07 C P (1 - P))`` per fill,
makers nothing (§7).

Replayed liquidity and resting fills are described precisely in docs/simulator.md "Fill model"; the
methods :meth:`Exchange.tape_snapshot`, :meth:`Exchange.tape_delta` and :meth:`Exchange.tape_trade`
implement it.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Protocol

from models.money import ONE_DOLLAR, taker_fee_dollars
from simulator import errors, wire
from simulator import market as mk
from simulator.accounts import Account, Adjustment, FillRecord, Position, SettlementRecord, apply_fill
from simulator.book import OrderBook
from simulator.errors import ApiError, invalid_order, market_inactive, not_found
from simulator.events import (
    BookDelta,
    BookSnapshot,
    EventBus,
    FillEvent,
    LifecycleEvent,
    OrderGroupEvent,
    PositionEvent,
    TradeEvent,
    UserOrderEvent,
)
from simulator.market import MarketState
from simulator.order_groups import MAX_LIMIT, MIN_LIMIT, OrderGroup
from simulator.orders import (
    CANCELED,
    EXECUTED,
    FOK,
    GTC,
    IOC,
    RESTING,
    STP_TAKER,
    Order,
    OrderIntent,
    check_count_for_market,
    on_tick_grid,
)
from simulator.tape import Catalog

log = logging.getLogger(__name__)

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


class Exchange:
    """The matching engine and account ledger of the simulator.

    Args:
        catalog: series, events and markets to list.
        bus: event publisher (see :mod:`simulator.events`).
        offset_ms: served time minus tape time (from the clock).
        start_ms: tape time at which the exchange starts.
        initial_balance_cents: cash of a new account, integer cents.
        taker_fee_multiplier: 0.07 (the quadratic taker fee, §7).
        determination_delay_ms: close -> determined delay; None = recorded per market.
        settlement_timer_ms: determined -> finalized delay; None = the market's
            ``settlement_timer_seconds``.
        strict_client_order_ids: refuse (409) a ``client_order_id`` used by ANY earlier order of the
            account. Off by default: Kalshi refuses a duplicate only while an open (resting) order holds
            the id (kalshi-api.md §3.5, §8), so the id of an executed or cancelled order can be used again.

    """

    def __init__(
        self,
        catalog: Catalog,
        bus: EventBus,
        *,
        offset_ms: int,
        start_ms: int,
        initial_balance_cents: int = 1_000_000,
        taker_fee_multiplier: Decimal = Decimal("0.07"),
        determination_delay_ms: int | None = None,
        settlement_timer_ms: int | None = None,
        strict_client_order_ids: bool = False,
    ) -> None:
        self.catalog = catalog
        self.bus = bus
        self.offset_ms = offset_ms
        self.now_ms = start_ms
        self.initial_balance_cents = initial_balance_cents
        self.taker_fee_multiplier = taker_fee_multiplier
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

    # ============================================================================================
    # accounts
    # ============================================================================================
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
    # order entry
    # ============================================================================================
    def _check_tradeable(self, state: MarketState, *, new_risk: bool) -> None:
        if self.exchange_paused:
            raise ApiError(503, errors.EXCHANGE_PAUSED, "the exchange is paused")
        if state.status != mk.ACTIVE:
            raise market_inactive(state.ticker, state.status)
        if new_risk and self.trading_paused:
            raise ApiError(400, errors.TRADING_PAUSED, "trading is paused")

    def _check_price_count(self, state: MarketState, yes_price: Decimal, count: Decimal, key: str = "count") -> None:
        if not on_tick_grid(yes_price, state.definition.price_ranges):
            raise invalid_order("price is not on the market's tick grid")
        check_count_for_market(count, state.definition.fractional_trading_enabled, key)

    def _check_client_order_id(self, account: Account, coid: str) -> None:
        """409 when ``coid`` is taken: by an open order (Kalshi's rule), or by any order (strict mode)."""
        holder = account.client_order_ids.get(coid) if coid else None
        if holder is None:
            return
        if self.strict_client_order_ids or holder in account.resting:
            raise ApiError(
                409,
                errors.ORDER_ALREADY_EXISTS,
                f"client_order_id {coid} already used by order {holder}",
            )

    def _group_for_order(self, account: Account, group_id: str | None) -> OrderGroup | None:
        if group_id is None:
            return None
        group = account.order_groups.get(group_id)
        if group is None:
            raise not_found(f"order group {group_id}")
        if group.triggered:
            raise ApiError(400, errors.ORDER_GROUP_TRIGGERED, f"order group {group_id} is triggered; reset it first")
        return group

    def _closable(self, account: Account, ticker: str, book_side: str) -> Decimal:
        pos = account.positions.get(ticker)
        position = pos.position if pos is not None else ZERO
        held = -position if book_side == "bid" else position
        return held if held > 0 else ZERO

    def place_order(self, account: Account, intent: OrderIntent) -> Order:
        """Validate, match and (for GTC) rest a new order; return it in its final state.

        Follows kalshi-api.md §3.5/§3.6: IOC fills what it can and cancels the rest; FOK fills fully or
        is cancelled with no fill; ``post_only`` is rejected if it would cross; ``reduce_only`` is capped
        at what closes the position (cancelled with no fill if nothing can close); an
        ``expiration_ts`` already in the past behaves like IOC.

        Raises:
            ApiError: 404 unknown market / order group; 400 ``MARKET_INACTIVE``, ``trading_paused``,
                ``invalid_order`` (tick grid, fractional count, post only cross),
                ``insufficient_balance``, ``order_group_triggered``; 409 duplicate client_order_id;
                503 ``exchange_paused``.

        """
        state = self.market(intent.ticker)
        self._check_tradeable(state, new_risk=True)
        self._check_price_count(state, intent.yes_price, intent.count)
        self._check_client_order_id(account, intent.client_order_id)
        group = self._group_for_order(account, intent.order_group_id)
        tif = intent.time_in_force
        expiration_ms = None
        if intent.expiration_s is not None:
            expiration_ms = intent.expiration_s * 1000 - self.offset_ms
            if expiration_ms <= self.now_ms and tif == GTC:
                tif = IOC
        order = Order(
            order_id=str(uuid.uuid4()),
            account_id=account.key_id,
            user_id=account.user_id,
            ticker=state.ticker,
            client_order_id=intent.client_order_id,
            book_side=intent.book_side,
            yes_price=intent.yes_price,
            side=intent.side,
            action=intent.action,
            initial_count=intent.count,
            remaining_count=intent.count,
            time_in_force=tif,
            self_trade_prevention_type=intent.self_trade_prevention_type,
            created_ms=self.now_ms,
            seq=next(self._seq),
            api=intent.api,
            post_only=intent.post_only,
            reduce_only=intent.reduce_only,
            cancel_order_on_pause=intent.cancel_order_on_pause,
            expiration_ms=expiration_ms,
            order_group_id=intent.order_group_id,
            last_update_ms=self.now_ms,
        )
        if intent.post_only and self._crossing_size(state, order, own="count") > 0:
            raise invalid_order("post only cross")
        if intent.reduce_only:
            closable = self._closable(account, state.ticker, intent.book_side)
            if order.remaining_count > closable:
                order.remaining_count = closable
        self._check_balance(account, order)
        self._register(account, order, group)
        if order.remaining_count == 0:
            self._finish(order, CANCELED, "ReduceOnlyCancel")
            return order
        if order.time_in_force == FOK:
            own = "stop" if order.self_trade_prevention_type == STP_TAKER else "skip"
            fillable = self._crossing_size(
                state,
                order,
                own=own,
                max_cost=(Decimal(intent.buy_max_cost_cents) / 100 if intent.buy_max_cost_cents is not None else None),
            )
            if fillable < order.remaining_count:
                self._finish(order, CANCELED, None)
                return order
        self._match(state, order)
        self._after_aggression(state, order)
        return order

    def _register(self, account: Account, order: Order, group: OrderGroup | None) -> None:
        self.orders[order.order_id] = order
        account.orders[order.order_id] = order
        account.resting[order.order_id] = order
        if order.client_order_id:
            account.client_order_ids[order.client_order_id] = order.order_id
        if group is not None:
            group.order_ids.append(order.order_id)

    def _check_balance(self, account: Account, order: Order) -> None:
        before = self.collateral(account)
        after = self.collateral(account, extra=order)
        need = after
        if after > before:
            need += taker_fee_dollars(order.remaining_count, order.yes_price, self.taker_fee_multiplier)
        if need > account.cash:
            raise ApiError(
                400,
                errors.INSUFFICIENT_BALANCE,
                f"order needs ${wire.money(need - before)} but ${wire.money(account.cash - before)} is available",
            )

    def _after_aggression(self, state: MarketState, order: Order) -> None:
        """Rest a GTC remainder, cancel an IOC/FOK remainder, publish and flush."""
        if order.status == RESTING and order.remaining_count > 0:
            if order.time_in_force == GTC:
                state.book.add_order(order)
                if order.expiration_ms is not None:
                    order_id = order.order_id
                    self.scheduler.schedule(order.expiration_ms, PRIORITY_EXPIRY, lambda: self.expire_order(order_id))
                self._publish_order(order, None)
            else:
                self._finish(order, CANCELED, None)
        elif order.status == RESTING:
            self._finish(order, EXECUTED, "Trade")
        self._flush(state, order)

    def _crossing_size(self, state: MarketState, order: Order, *, own: str, max_cost: Decimal | None = None) -> Decimal:
        """Contracts an aggressive ``order`` could take now (capped at its remaining count).

        ``own`` says how the account's own crossing orders count: ``"stop"`` ends the scan there
        (taker_at_cross STP), ``"skip"`` ignores them (maker STP), ``"count"`` counts them (post-only
        checks: any crossing size is a cross). With ``max_cost`` (dollars) the scan stops before the
        cost would exceed it.
        """
        opp = "no" if order.book_side == "bid" else "yes"
        threshold = ONE_DOLLAR - order.rest_price
        need = order.remaining_count
        got = ZERO
        cost = ZERO
        for price in state.book.prices_desc(opp):
            if price < threshold or got >= need:
                break
            level = state.book.sides[opp][price]
            own_price = ONE_DOLLAR - price
            # the same order as _match: tape ahead of the first account order, the orders, the rest of the tape
            tape_first = min(level.orders[0].queue_ahead, level.tape_visible) if level.orders else level.tape_visible
            sizes = [tape_first]
            for maker in level.orders:
                if maker.account_id == order.account_id and own != "count":
                    if own == "stop":
                        sizes.append(Decimal(-1))
                        break
                    continue
                sizes.append(maker.remaining_count)
            sizes.append(level.tape_visible - tape_first)
            for size in sizes:
                if size < 0:
                    return min(got, need)
                take = min(size, need - got)
                if max_cost is not None and cost + take * own_price > max_cost:
                    return got
                got += take
                cost += take * own_price
        return min(got, need)

    def _match(self, state: MarketState, order: Order) -> None:
        """Aggressive phase of ``order`` against the opposite book (price-time priority, STP, groups)."""
        book = state.book
        opp = "no" if order.book_side == "bid" else "yes"
        threshold = ONE_DOLLAR - order.rest_price
        for price in book.prices_desc(opp):
            if price < threshold or order.remaining_count <= 0 or order.status != RESTING:
                break
            level = book.sides[opp].get(price)
            if level is None:
                continue
            trade_yes = ONE_DOLLAR - price if order.book_side == "bid" else price
            # 1. tape size ahead of the first account order
            ahead = level.orders[0].queue_ahead if level.orders else level.tape_visible
            take = min(order.remaining_count, ahead, level.tape_visible)
            if take > 0:
                for maker in level.orders:
                    maker.queue_ahead = max(ZERO, maker.queue_ahead - take)
                self._taker_vs_tape(state, order, opp, price, take, trade_yes)
            # 2. account orders in time priority
            for maker in list(level.orders):
                if order.remaining_count <= 0 or order.status != RESTING:
                    break
                if maker.status != RESTING:
                    continue
                if maker.account_id == order.account_id:
                    if order.self_trade_prevention_type == STP_TAKER:
                        self._finish(order, CANCELED, "SelfTradeCancel")
                        break
                    self._cancel_resting(maker, "SelfTradeCancel")
                    continue
                qty = min(order.remaining_count, maker.remaining_count)
                self._account_trade(state, order, maker, qty, trade_yes)
            # 3. the rest of the tape size (behind the account orders)
            if order.status == RESTING and order.remaining_count > 0:
                take = min(order.remaining_count, level.tape_visible)
                if take > 0:
                    self._taker_vs_tape(state, order, opp, price, take, trade_yes)
                    for maker in level.orders:
                        if maker.queue_ahead > level.tape_visible:
                            maker.queue_ahead = level.tape_visible
            book.touch(opp, price)

    # -- executions -----------------------------------------------------------------------------
    def _new_trade_id(self) -> str:
        return str(uuid.uuid4())

    def _publish_trade(
        self, state: MarketState, trade_id: str, yes_price: Decimal, qty: Decimal, taker_book_side: str, source: str
    ) -> None:
        state.volume += qty
        state.last_price = yes_price
        state.updated_ms = self.now_ms
        served = self.now_ms + self.offset_ms
        event = TradeEvent(trade_id, state.ticker, yes_price, qty, taker_book_side, served, source)
        self.bus.publish(event)

    def _taker_vs_tape(
        self, state: MarketState, order: Order, side: str, price: Decimal, qty: Decimal, trade_yes: Decimal
    ) -> None:
        level = state.book.level(side, price)
        level.consumed += qty
        state.book.touch(side, price)
        trade_id = self._new_trade_id()
        self._execute(state, order, qty, trade_yes, is_taker=True, trade_id=trade_id)
        self._publish_trade(state, trade_id, trade_yes, qty, order.book_side, "account")

    def _account_trade(self, state: MarketState, taker: Order, maker: Order, qty: Decimal, trade_yes: Decimal) -> None:
        trade_id = self._new_trade_id()
        self._execute(state, maker, qty, trade_yes, is_taker=False, trade_id=trade_id)
        self._execute(state, taker, qty, trade_yes, is_taker=True, trade_id=trade_id)
        self._publish_trade(state, trade_id, trade_yes, qty, taker.book_side, "account")

    def _maker_vs_tape(self, state: MarketState, maker: Order, qty: Decimal) -> None:
        trade_id = self._new_trade_id()
        self._execute(state, maker, qty, maker.yes_price, is_taker=False, trade_id=trade_id)
        taker_side = "ask" if maker.book_side == "bid" else "bid"
        self._publish_trade(state, trade_id, maker.yes_price, qty, taker_side, "account")

    def _execute(
        self, state: MarketState, order: Order, qty: Decimal, yes_price: Decimal, *, is_taker: bool, trade_id: str
    ) -> None:
        """Apply one fill of ``qty`` contracts at ``yes_price`` to an order, its account and its group."""
        account = self.accounts[order.account_id]
        fee = taker_fee_dollars(qty, yes_price, self.taker_fee_multiplier) if is_taker else ZERO
        own_price = yes_price if order.book_side == "bid" else ONE_DOLLAR - yes_price
        order.fill_count += qty
        order.remaining_count -= qty
        if is_taker:
            order.taker_fill_cost += qty * own_price
            order.taker_fees += fee
        else:
            order.maker_fill_cost += qty * own_price
            order.maker_fees += fee
        order.last_update_ms = self.now_ms
        order.last_update_reason = "Trade"
        pos = account.position(state.ticker, state.definition.event_ticker)
        apply_fill(account, pos, order.book_side, qty, yes_price, fee, self.now_ms)
        fill = FillRecord(
            fill_id=trade_id,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            ticker=state.ticker,
            side=order.side,
            action=order.action,
            book_side=order.book_side,
            count=qty,
            yes_price=yes_price,
            is_taker=is_taker,
            fee=fee,
            ts_ms=self.now_ms,
            post_position=pos.position,
            seq=next(self._seq),
        )
        account.fills.append(fill)
        order.fills.append(trade_id)
        if order.remaining_count <= 0:
            order.status = EXECUTED
            account.resting.pop(order.order_id, None)
            state.book.remove_order(order)
        if self.bus.wants(FillEvent):
            self.bus.publish(
                FillEvent(
                    account.key_id,
                    state.ticker,
                    wire.fill_json(fill, self.offset_ms),
                    pos.position,
                    self.now_ms + self.offset_ms,
                )
            )
        self._publish_order(order, "Trade")
        self._publish_position(account, pos)
        self._enforce_reduce_only(account, state)
        if order.order_group_id is not None:
            group = account.order_groups.get(order.order_group_id)
            if group is not None and not group.triggered and group.record_fill(self.now_ms, qty):
                self._trigger_group(group)

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
                    state.book.touch(o.rest_side, o.rest_price)
                    self._publish_order(o, "ReduceOnlyCancel")
                allowed -= o.remaining_count

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

    def _flush(self, state: MarketState, owner: Order | None = None) -> None:
        """Publish the displayed-book changes since the last flush as :class:`BookDelta` events.

        Removals are published before additions: a client applying them one at a time then only ever
        sees subsets of the final book, never a crossed one (a re-snapshot's diff could otherwise add a
        bid before removing the opposite level it would cross).
        """
        changes = state.book.flush()
        if not changes or not self.bus.wants(BookDelta):
            return
        ts = self.now_ms + self.offset_ms
        for side, price, delta in sorted(changes, key=lambda change: change[2] > 0):
            self.bus.publish(
                BookDelta(
                    state.ticker,
                    side,
                    price,
                    delta,
                    ts,
                    owner.client_order_id if owner else None,
                    owner.account_id if owner else None,
                )
            )

    # ============================================================================================
    # cancel / amend / decrease
    # ============================================================================================
    def cancel_order(self, account: Account, order_id: str) -> tuple[Order, Decimal]:
        """Cancel one order; return it and the contracts removed (``reduced_by``; 0 if already done).

        Raises:
            ApiError: 404 unknown order; 400 ``MARKET_INACTIVE`` after close; 503 ``exchange_paused``.

        """
        order = self.find_order(account, order_id)
        self._check_tradeable(self.markets[order.ticker], new_risk=False)
        return order, self._cancel_resting(order, None)

    def cancel_all(self, account: Account, ticker: str | None = None) -> list[tuple[Order, Decimal]]:
        """Cancel every resting order of the account (optionally one market) in active markets.

        Raises:
            ApiError: 503 ``exchange_paused``.

        """
        if self.exchange_paused:
            raise ApiError(503, errors.EXCHANGE_PAUSED, "the exchange is paused")
        out = []
        for order in self.resting_orders(account, ticker):
            if self.markets[order.ticker].status == mk.ACTIVE:
                out.append((order, self._cancel_resting(order, None)))
        return out

    def decrease_order(
        self, account: Account, order_id: str, *, reduce_by: Decimal | None = None, reduce_to: Decimal | None = None
    ) -> Order:
        """Reduce a resting order's remaining count, keeping its queue priority (§3.5 decrease).

        Exactly one of ``reduce_by`` (> 0) / ``reduce_to`` (>= 0) contracts; reducing to 0 cancels.

        Raises:
            ApiError: 404 unknown order; 400 ``MARKET_INACTIVE``; 400 ``invalid_order`` (both/neither
                given, order not resting, increase attempted, fractional count).

        """
        order = self.find_order(account, order_id)
        state = self.markets[order.ticker]
        self._check_tradeable(state, new_risk=False)
        if (reduce_by is None) == (reduce_to is None):
            raise invalid_order("give exactly one of reduce_by and reduce_to")
        if order.status != RESTING:
            raise invalid_order(f"order is {order.status}")
        target = order.remaining_count - reduce_by if reduce_by is not None else reduce_to
        assert target is not None
        if (reduce_by is not None and reduce_by <= 0) or target < 0 or target > order.remaining_count:
            raise invalid_order("decrease must lower the remaining count to between 0 and its current value")
        check_count_for_market(order.remaining_count - target, state.definition.fractional_trading_enabled, "reduce_by")
        if target == 0:
            self._cancel_resting(order, "Decrease")
            return order
        order.remaining_count = target
        order.last_update_ms = self.now_ms
        order.last_update_reason = "Decrease"
        state.book.touch(order.rest_side, order.rest_price)
        self._publish_order(order, "Decrease")
        self._flush(state, order)
        return order

    def amend_order(
        self,
        account: Account,
        order_id: str,
        *,
        ticker: str,
        book_side: str,
        yes_price: Decimal,
        max_fillable: Decimal | None,
        updated_client_order_id: str | None,
    ) -> tuple[dict[str, Any], Order]:
        """Amend price and/or size of a resting order (§3.5 amend); return (old wire order, order).

        ``max_fillable`` is the new ``fill_count + remaining`` (None = unchanged). A pure size decrease
        keeps queue priority; a price change or size increase re-enters the book at the back and may
        trade immediately as a taker.

        Raises:
            ApiError: 404 unknown order; 400 ``MARKET_INACTIVE``, ``trading_paused``,
                ``invalid_order`` (wrong ticker/side, not resting, off-grid price, bad size),
                ``insufficient_balance``; 409 duplicate ``updated_client_order_id``.

        """
        order = self.find_order(account, order_id)
        state = self.markets[order.ticker]
        self._check_tradeable(state, new_risk=True)
        if ticker != order.ticker:
            raise invalid_order("ticker does not match the order")
        if book_side != order.book_side:
            raise invalid_order("side/action do not match the order")
        if order.status != RESTING:
            raise invalid_order(f"order is {order.status}")
        total = max_fillable if max_fillable is not None else order.fill_count + order.remaining_count
        new_remaining = total - order.fill_count
        if new_remaining <= 0:
            raise invalid_order("count must exceed the order's filled count")
        self._check_price_count(state, yes_price, new_remaining)
        if updated_client_order_id and updated_client_order_id != order.client_order_id:
            self._check_client_order_id(account, updated_client_order_id)
        old = self.order_dict(order)
        keeps_priority = yes_price == order.yes_price and new_remaining <= order.remaining_count
        if keeps_priority:
            order.remaining_count = new_remaining
            state.book.touch(order.rest_side, order.rest_price)
        else:
            probe = dataclasses.replace(order, yes_price=yes_price, remaining_count=new_remaining, fills=[])
            saved = order.remaining_count
            order.remaining_count = ZERO
            try:
                self._check_balance(account, probe)
            finally:
                order.remaining_count = saved
            state.book.remove_order(order)
            order.yes_price = yes_price
            order.remaining_count = new_remaining
            order.seq = next(self._seq)
        order.initial_count = total
        if updated_client_order_id and updated_client_order_id != order.client_order_id:
            account.client_order_ids[updated_client_order_id] = order.order_id
            order.client_order_id = updated_client_order_id
        order.last_update_ms = self.now_ms
        order.last_update_reason = "Amend"
        if not keeps_priority:
            self._match(state, order)
            if order.status == RESTING and order.remaining_count > 0:
                state.book.add_order(order)
        self._publish_order(order, "Amend")
        self._flush(state, order)
        return old, order

    def expire_order(self, order_id: str) -> None:
        """Cancel a resting order whose ``expiration_ts`` has passed (``ExpiryCancel``)."""
        order = self.orders.get(order_id)
        if order is not None and order.status == RESTING:
            self._cancel_resting(order, "ExpiryCancel")

    # ============================================================================================
    # order groups (§3.7)
    # ============================================================================================
    def _group(self, account: Account, group_id: str) -> OrderGroup:
        group = account.order_groups.get(group_id)
        if group is None:
            raise not_found(f"order group {group_id}")
        return group

    @staticmethod
    def _check_limit(limit: Decimal) -> None:
        if not MIN_LIMIT <= limit <= MAX_LIMIT:
            raise invalid_order("contracts_limit must be between 1 and 1,000,000")

    def create_group(self, account: Account, limit: Decimal) -> OrderGroup:
        """Create an order group with ``limit`` contracts per rolling 15 s.

        Raises:
            ApiError: 400 ``invalid_order`` if the limit is outside 1..1,000,000.

        """
        self._check_limit(limit)
        group = OrderGroup(str(uuid.uuid4()), account.key_id, limit, self.now_ms)
        account.order_groups[group.order_group_id] = group
        self.groups[group.order_group_id] = group
        self._publish_group(group, "created", limit)
        return group

    def get_group(self, account: Account, group_id: str) -> OrderGroup:
        """Return an account's order group. Raises ApiError 404 if unknown."""
        return self._group(account, group_id)

    def group_resting_orders(self, group: OrderGroup) -> list[Order]:
        """The group's orders that are still resting, oldest first."""
        out = [self.orders[i] for i in group.order_ids if i in self.orders and self.orders[i].status == RESTING]
        out.sort(key=lambda o: o.seq)
        return out

    def _trigger_group(self, group: OrderGroup) -> None:
        group.triggered = True
        group.triggered_ms = self.now_ms
        for order in self.group_resting_orders(group):
            self._cancel_resting(order, None)
        self._publish_group(group, "triggered", None)

    def trigger_group(self, account: Account, group_id: str) -> None:
        """Manually trigger a group: cancel its resting orders, block new ones until reset."""
        self._trigger_group(self._group(account, group_id))

    def reset_group(self, account: Account, group_id: str) -> None:
        """Clear a group's triggered state and rolling counter."""
        group = self._group(account, group_id)
        group.reset()
        self._publish_group(group, "reset", None)

    def set_group_limit(self, account: Account, group_id: str, limit: Decimal) -> None:
        """Change a group's limit; triggers it if the rolling volume already exceeds the new limit.

        Raises:
            ApiError: 404 unknown group; 400 limit outside 1..1,000,000.

        """
        group = self._group(account, group_id)
        self._check_limit(limit)
        group.contracts_limit = limit
        self._publish_group(group, "limit_updated", limit)
        if not group.triggered and group.rolling_total(self.now_ms) > limit:
            self._trigger_group(group)

    def delete_group(self, account: Account, group_id: str) -> None:
        """Cancel a group's resting orders and delete it."""
        group = self._group(account, group_id)
        for order in self.group_resting_orders(group):
            self._cancel_resting(order, None)
        del account.order_groups[group_id]
        self.groups.pop(group_id, None)
        self._publish_group(group, "deleted", None)

    def _publish_group(self, group: OrderGroup, event_type: str, limit: Decimal | None) -> None:
        self.bus.publish(
            OrderGroupEvent(group.account_id, group.order_group_id, event_type, self.now_ms + self.offset_ms, limit)
        )

    # ============================================================================================
    # pauses
    # ============================================================================================
    def set_pauses(self, *, trading_paused: bool, exchange_paused: bool) -> None:
        """Set the trading / exchange pause flags (§3.1).

        Orders placed with ``cancel_order_on_pause`` are cancelled (``HaltCancel``) when a pause begins.
        """
        starting = (trading_paused and not self.trading_paused) or (exchange_paused and not self.exchange_paused)
        self.trading_paused = trading_paused
        self.exchange_paused = exchange_paused
        if starting:
            for order in [o for o in self.orders.values() if o.status == RESTING and o.cancel_order_on_pause]:
                self._cancel_resting(order, "HaltCancel")

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

    # ============================================================================================
    # lifecycle (§7)
    # ============================================================================================
    def _delays(self, state: MarketState) -> tuple[int, int]:
        d = state.definition
        determination = (
            self.determination_delay_ms if self.determination_delay_ms is not None else d.determination_ms - d.close_ms
        )
        timer = (
            self.settlement_timer_ms if self.settlement_timer_ms is not None else d.settlement_ms - d.determination_ms
        )
        return max(0, determination), max(0, timer)

    def init_lifecycle(self) -> None:
        """Set every market's status for ``now_ms`` and schedule its remaining transitions."""
        now = self.now_ms
        for state in self.markets.values():
            d = state.definition
            det_delay, timer = self._delays(state)
            determined_at = d.close_ms + det_delay
            finalized_at = determined_at + timer
            if now >= finalized_at:
                state.status = mk.FINALIZED
                state.result = d.result
                state.determined_ms = determined_at
                state.settled_ms = finalized_at
            elif now >= determined_at:
                state.status = mk.DETERMINED
                state.result = d.result
                state.determined_ms = determined_at
            elif now >= d.close_ms:
                state.status = mk.CLOSED
            elif now >= d.open_ms:
                state.status = mk.ACTIVE
            state.updated_ms = min(now, max(d.open_ms, d.created_ms))
            self._schedule_lifecycle(state, from_status=state.status)

    def _schedule_lifecycle(self, state: MarketState, from_status: str) -> None:
        generation = state.lifecycle_generation
        ticker = state.ticker
        d = state.definition
        det_delay, timer = self._delays(state)

        def guarded(fn: Callable[[str], None]) -> Callable[[], None]:
            def run() -> None:
                if self.markets[ticker].lifecycle_generation == generation:
                    fn(ticker)

            return run

        if from_status == mk.INITIALIZED:
            self.scheduler.schedule(d.open_ms, PRIORITY_OPEN, guarded(self.open_market))
        if from_status in (mk.INITIALIZED, mk.ACTIVE):
            self.scheduler.schedule(state.close_ms, PRIORITY_CLOSE, guarded(self.close_market))
        if from_status in (mk.INITIALIZED, mk.ACTIVE, mk.CLOSED):
            self.scheduler.schedule(state.close_ms + det_delay, PRIORITY_DETERMINE, guarded(self.determine_market))
        if from_status in (mk.INITIALIZED, mk.ACTIVE, mk.CLOSED, mk.DETERMINED):
            self.scheduler.schedule(
                state.close_ms + det_delay + timer, PRIORITY_FINALIZE, guarded(self.finalize_market)
            )

    def _lifecycle_event(self, state: MarketState, event_type: str) -> None:
        state.updated_ms = self.now_ms
        value = state.settlement_value if event_type == "determined" else None
        result = (state.result or None) if event_type == "determined" else None
        self.bus.publish(LifecycleEvent(state.ticker, event_type, self.now_ms + self.offset_ms, result, value))

    def open_market(self, ticker: str) -> None:
        """``initialized -> active`` at ``open_time``."""
        state = self.markets[ticker]
        if state.status == mk.INITIALIZED:
            state.status = mk.ACTIVE
            self._lifecycle_event(state, "opened")

    def close_market(self, ticker: str) -> None:
        """``active -> closed``: every resting account order is swept (``CloseCancel``)."""
        state = self.markets[ticker]
        if state.status not in (mk.INITIALIZED, mk.ACTIVE):
            return
        state.status = mk.CLOSED
        for order in state.book.resting_orders():
            self._finish(order, CANCELED, "CloseCancel")
        self._flush(state)
        self._lifecycle_event(state, "closed")

    def determine_market(self, ticker: str) -> None:
        """``closed -> determined``: the result (recorded or forced) becomes known."""
        state = self.markets[ticker]
        if state.status != mk.CLOSED:
            return
        state.status = mk.DETERMINED
        state.result = state.forced_result or state.definition.result
        state.determined_ms = self.now_ms
        self._lifecycle_event(state, "determined")

    def finalize_market(self, ticker: str) -> None:
        """``determined -> finalized``: pay $1 per net winning contract and write settlement rows.

        For each account holding a position: cash += revenue; a settlement row with ``revenue`` in
        integer cents; realised P&L += revenue - cost; the position row is archived (removed).
        """
        state = self.markets[ticker]
        if state.status != mk.DETERMINED:
            return
        state.status = mk.FINALIZED
        state.settled_ms = self.now_ms
        value = state.settlement_value or ZERO
        for account in self.accounts.values():
            pos = account.positions.pop(ticker, None)
            if pos is None or pos.position == 0:
                continue
            held_yes = pos.position > 0
            contracts = abs(pos.position)
            payout = contracts * (value if held_yes else ONE_DOLLAR - value)
            account.cash += payout
            account.updated_ms = self.now_ms
            pos.realized_pnl += payout - pos.exposure
            account.settlements.append(
                SettlementRecord(
                    ticker=ticker,
                    event_ticker=state.definition.event_ticker,
                    market_result=state.result,
                    yes_count=contracts if held_yes else ZERO,
                    no_count=ZERO if held_yes else contracts,
                    yes_total_cost=pos.exposure if held_yes else ZERO,
                    no_total_cost=ZERO if held_yes else pos.exposure,
                    revenue_cents=int(payout * 100),
                    value_cents=int(value * 100),
                    ts_ms=self.now_ms,
                    seq=next(self._seq),
                )
            )
            closed = Position(
                ticker,
                pos.event_ticker,
                ZERO,
                ZERO,
                pos.realized_pnl,
                pos.fees_paid,
                pos.total_traded,
                pos.volume,
                self.now_ms,
            )
            self._publish_position(account, closed)
        self._lifecycle_event(state, "settled")

    def force_close(self, ticker: str, result: str | None) -> MarketState:
        """Close a market now (control API), optionally forcing the result.

        Determination and finalization are rescheduled after the configured delays.

        Raises:
            ApiError: 404 unknown market; 400 if the market is already closed or the result is not
                ``yes``/``no``.

        """
        state = self.market(ticker)
        if result is not None and result not in ("yes", "no"):
            raise errors.invalid_param("result must be yes or no")
        if state.status not in (mk.INITIALIZED, mk.ACTIVE):
            raise errors.invalid_param(f"market {ticker} is already {state.status}")
        state.lifecycle_generation += 1
        state.forced_result = result
        state.close_ms = self.now_ms
        if state.status == mk.INITIALIZED:
            state.status = mk.ACTIVE
        self.close_market(ticker)
        state.tape_stopped = True
        self.tape_snapshot(ticker, {})
        self._schedule_lifecycle(state, from_status=mk.CLOSED)
        return state

    # ============================================================================================
    # helpers for the HTTP layer
    # ============================================================================================
    def positions_for(self, account: Account) -> Iterable[Position]:
        """The account's open position rows, by ticker."""
        return [account.positions[t] for t in sorted(account.positions)]

    def resting_count(self, account: Account, ticker: str) -> int:
        """Number of the account's resting orders in a market."""
        return sum(1 for o in account.resting.values() if o.ticker == ticker)
