"""Order entry and matching: validation, price-time priority on the YES/NO book, fills, fees, order groups.

Matching (kalshi-api.md §8, docs/simulator.md "Matching"): one YES/NO bid book per market with
price-time priority. A bid at YES price ``p`` crosses NO levels ``q >= 1 - p`` (best = highest ``q``) and
trades at ``1 - q``; an ask at ``p`` (a NO bid at ``1 - p``) crosses YES levels ``y >= p`` and trades at
``y``. At one level, the tape size ahead of the first account order trades first, then account orders
in time priority, then the rest of the tape size. Fees are Kalshi's (§7, :mod:`models.fees`): each order
charges its fills through its own :class:`~models.fees.OrderFeeAccumulator` on the exchange's
:class:`~models.fees.FeeSchedule` (takers 0.07 x C x P x (1 - P), makers 0.0175 x ... on
``quadratic_with_maker_fees`` series, nothing on ``quadratic``; the trade fee rounded up to $0.0001, the
balance change floored to the cent, whole-cent rebates from the accumulator). Order groups (§3.7) cancel their
resting orders and refuse new ones once triggered. The book and matching work in integer centi-cents and lots
(:mod:`simulator.book`); accounts keep exact Decimal dollars. Synchronous, no HTTP, no asyncio: drivable
in-process.
"""

import dataclasses
import uuid
from decimal import Decimal
from typing import Any

from models.fees import OrderFeeAccumulator
from models.money import ONE_DOLLAR
from simulator import errors, wire
from simulator import market as mk
from simulator.accounts import Account, FillRecord, apply_fill
from simulator.book import cc_to_dollars, lots_to_contracts
from simulator.errors import ApiError, invalid_order, market_inactive, not_found
from simulator.events import FillEvent
from simulator.ledger import PRIORITY_EXPIRY, ZERO, Ledger
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
    contracts_to_lots,
    on_tick_grid,
)

_CC = 10_000


class MatchingEngine(Ledger):
    """Order entry, matching, cancels and amends, order groups and pauses on top of the :class:`Ledger`.

    Construct it like :class:`simulator.exchange.Exchange` (same arguments). Errors are
    :class:`simulator.errors.ApiError` with Kalshi's status and code (kalshi-api.md §5.3).
    """

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
            remaining_lots=contracts_to_lots(intent.count),
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
            fee_acc=OrderFeeAccumulator(self.fee_schedule),
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
            # the worst case: the whole remainder fills at once as a taker at the order's price
            fee = OrderFeeAccumulator(self.fee_schedule).fill_micro(
                order.remaining_lots, int(order.own_price * 10_000), buy=order.action == "buy", is_taker=True
            )
            need += fee.net_fee_dollars
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

    # ============================================================================================
    # matching
    # ============================================================================================
    def _crossing_size(self, state: MarketState, order: Order, *, own: str, max_cost: Decimal | None = None) -> Decimal:
        """Contracts an aggressive ``order`` could take now (capped at its remaining count).

        ``own`` says how the account's own crossing orders count: ``"stop"`` ends the scan there
        (taker_at_cross STP), ``"skip"`` ignores them (maker STP), ``"count"`` counts them (post-only
        checks: any crossing size is a cross). With ``max_cost`` (dollars) the scan stops before the
        cost would exceed it.
        """
        opp = "no" if order.book_side == "bid" else "yes"
        threshold = _CC - order.rest_price_cc
        need = order.remaining_lots
        got = 0
        cost_micro = 0
        max_micro = None if max_cost is None else max_cost * 1_000_000
        for price in state.book.prices_desc(opp):
            if price < threshold or got >= need:
                break
            level = state.book.sides[opp][price]
            own_price = _CC - price
            # the same order as _match: tape ahead of the first account order, the orders, the rest of the tape
            visible = level.tape_visible
            tape_first = min(level.orders[0].queue_ahead_lots, visible) if level.orders else visible
            sizes = [tape_first]
            for maker in level.orders:
                if maker.account_id == order.account_id and own != "count":
                    if own == "stop":
                        sizes.append(-1)
                        break
                    continue
                sizes.append(maker.remaining_lots)
            sizes.append(visible - tape_first)
            for size in sizes:
                if size < 0:
                    return lots_to_contracts(min(got, need))
                take = min(size, need - got)
                if max_micro is not None and cost_micro + take * own_price > max_micro:
                    return lots_to_contracts(got)
                got += take
                cost_micro += take * own_price
        return lots_to_contracts(min(got, need))

    def _match(self, state: MarketState, order: Order) -> None:
        """Aggressive phase of ``order`` against the opposite book (price-time priority, STP, groups).

        A VWAP walk: level by level from the best, at each level's own price, never past the order's limit.
        """
        book = state.book
        opp = "no" if order.book_side == "bid" else "yes"
        threshold = _CC - order.rest_price_cc
        for price in book.prices_desc(opp):
            if price < threshold or order.remaining_lots <= 0 or order.status != RESTING:
                break
            level = book.sides[opp].get(price)
            if level is None:
                continue
            trade_yes = _CC - price if order.book_side == "bid" else price
            # 1. tape size ahead of the first account order
            visible = level.tape_visible
            ahead = level.orders[0].queue_ahead_lots if level.orders else visible
            take = min(order.remaining_lots, ahead, visible)
            if take > 0:
                for maker in level.orders:
                    maker.queue_ahead_lots = max(0, maker.queue_ahead_lots - take)
                self._taker_vs_tape(state, order, opp, price, take, trade_yes)
            # 2. account orders in time priority
            for maker in list(level.orders):
                if order.remaining_lots <= 0 or order.status != RESTING:
                    break
                if maker.status != RESTING:
                    continue
                if maker.account_id == order.account_id:
                    if order.self_trade_prevention_type == STP_TAKER:
                        self._finish(order, CANCELED, "SelfTradeCancel")
                        break
                    self._cancel_resting(maker, "SelfTradeCancel")
                    continue
                qty = min(order.remaining_lots, maker.remaining_lots)
                self._account_trade(state, order, maker, qty, trade_yes)
            # 3. the rest of the tape size (behind the account orders)
            if order.status == RESTING and order.remaining_lots > 0:
                take = min(order.remaining_lots, level.tape_visible)
                if take > 0:
                    self._taker_vs_tape(state, order, opp, price, take, trade_yes)
                    visible = level.tape_visible
                    for maker in level.orders:
                        if maker.queue_ahead_lots > visible:
                            maker.queue_ahead_lots = visible
            book.touch(opp, price)

    def _taker_vs_tape(self, state: MarketState, order: Order, side: str, price: int, qty: int, trade_yes: int) -> None:
        state.book.consume(side, price, qty)
        trade_id = self._new_trade_id()
        self._execute(state, order, qty, trade_yes, is_taker=True, trade_id=trade_id)
        self._publish_trade(state, trade_id, trade_yes, qty, order.book_side, "account")

    def _account_trade(self, state: MarketState, taker: Order, maker: Order, qty: int, trade_yes: int) -> None:
        trade_id = self._new_trade_id()
        self._execute(state, maker, qty, trade_yes, is_taker=False, trade_id=trade_id)
        self._execute(state, taker, qty, trade_yes, is_taker=True, trade_id=trade_id)
        self._publish_trade(state, trade_id, trade_yes, qty, taker.book_side, "account")

    def _maker_vs_tape(self, state: MarketState, maker: Order, qty: int) -> None:
        trade_id = self._new_trade_id()
        yes_cc = int(maker.yes_price * _CC)
        self._execute(state, maker, qty, yes_cc, is_taker=False, trade_id=trade_id)
        taker_side = "ask" if maker.book_side == "bid" else "bid"
        self._publish_trade(state, trade_id, yes_cc, qty, taker_side, "account")

    def _execute(
        self, state: MarketState, order: Order, lots: int, yes_price_cc: int, *, is_taker: bool, trade_id: str
    ) -> None:
        """Apply one fill of ``lots`` at YES price ``yes_price_cc`` to an order, its account and its group.

        The fee is the order's next fill through its :class:`~models.fees.OrderFeeAccumulator` (Kalshi's fee
        rounding: the balance moves by ``revenue - net fee``, a whole number of cents).
        """
        account = self.accounts[order.account_id]
        own_cc = yes_price_cc if order.side == "yes" else _CC - yes_price_cc
        acc = order.fee_acc
        if acc is None:  # an order made outside place_order (never by the engine itself)
            acc = order.fee_acc = OrderFeeAccumulator(self.fee_schedule)
        fee = acc.fill_micro(lots, own_cc, buy=order.action == "buy", is_taker=is_taker).net_fee_dollars
        qty = lots_to_contracts(lots)
        yes_price = cc_to_dollars(yes_price_cc)
        book_price = yes_price if order.book_side == "bid" else ONE_DOLLAR - yes_price
        order.fill_count += qty
        order.remaining_lots -= lots
        if is_taker:
            order.taker_fill_cost += qty * book_price
            order.taker_fees += fee
        else:
            order.maker_fill_cost += qty * book_price
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
        if order.remaining_lots <= 0:
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
        state.book.touch(order.rest_side, order.rest_price_cc)
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
            state.book.touch(order.rest_side, order.rest_price_cc)
        else:
            probe = dataclasses.replace(
                order, yes_price=yes_price, remaining_lots=contracts_to_lots(new_remaining), fills=[]
            )
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
