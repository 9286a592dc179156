"""The exchange core: matching on replayed liquidity, plus market lifecycle (close, determination, settlement).

Layers, bottom-up: :mod:`simulator.ledger` (accounts, positions, orders, groups, collateral, events),
:mod:`simulator.matching` (order entry, matching, fees, cancels, order groups, pauses),
:mod:`simulator.liquidity` (the tape's displayed size and trade-through fills), and this module's
:class:`Exchange`, which adds the lifecycle of markets (§7) and the helpers the HTTP layer uses.

Everything is synchronous and runs on the event-loop thread; the HTTP layer and the replay engine call into
it between awaits, so each operation is atomic. Nothing here needs HTTP or a running loop: construct an
:class:`Exchange` (or a :class:`~simulator.liquidity.TapeLiquidity`) from a catalog and an
:class:`~simulator.events.EventBus` and drive it in-process. All internal times are **tape** epoch ms
(``self.now_ms``); published events and wire objects are shifted by ``offset_ms`` to served time.
"""

from collections.abc import Callable, Iterable

from models.money import ONE_DOLLAR
from simulator import errors
from simulator import market as mk
from simulator.accounts import Account, Position, SettlementRecord
from simulator.events import LifecycleEvent
from simulator.ledger import PRIORITY_CLOSE, PRIORITY_DETERMINE, PRIORITY_FINALIZE, PRIORITY_OPEN, ZERO
from simulator.liquidity import TapeLiquidity
from simulator.market import MarketState
from simulator.orders import CANCELED


class Exchange(TapeLiquidity):
    """The simulator's exchange: matching on replayed liquidity, order groups, accounts and market lifecycle.

    Constructed with the arguments documented on :class:`simulator.ledger.Ledger` (catalog, event bus, time
    offset, start time, initial balance, taker fee multiplier, lifecycle delays).
    """

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
