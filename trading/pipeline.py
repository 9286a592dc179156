"""The epoch's decision step: the one seam between a trading epoch and the decision pipeline (:mod:`rl.decision`).

:class:`trading.epoch.EpochCore` (fencing, execution, the summary) and the two drivers (REST polling, the
WebSocket actor loop) reach the decision pipeline only through :class:`EpochPipeline`:

* decision: :meth:`EpochPipeline.decide` turns one market's book (:class:`BookUpdate`) into a :class:`Decision`
  (observation -> policy -> pre-trade checks -> order intent, or a reject reason), or None when the update is not
  a decision point (inside the policy's decision interval); :meth:`EpochPipeline.order_sent` starts the market's
  throttle when the core actually sends the intent (after the fence let it);
* bookkeeping (what the exchange said): :meth:`EpochPipeline.reset` (positions, cost and cash read over REST when
  the attempt starts), :meth:`EpochPipeline.acknowledged` (an order acknowledgement: its fills, or the order
  resting), :meth:`EpochPipeline.order_done` (our resting order is gone), :meth:`EpochPipeline.fill_frame`,
  :meth:`EpochPipeline.position_frame` and :meth:`EpochPipeline.order_frame` (the private WebSocket channels),
  :meth:`EpochPipeline.exchange_ok` / :meth:`EpochPipeline.exchange_error` (the circuit breaker) and
  :attr:`EpochPipeline.order_group_triggered`.

:class:`DecisionStep` implements it over the pure package ``rl/decision`` (the same code the training environment
and the backtest drive; docs/rl.md "The live loop"): :class:`rl.decision.DecisionPipeline` with the epoch's
:class:`rl.decision.Limits` (:meth:`rl.decision.Limits.from_settings`) and :class:`rl.decision.Portfolio`, and the
policy of :mod:`trading.live`. Time is ONE clock, the exchange's, in milliseconds (``BookUpdate.now_ms``): the
throttle, the closing window and the decision interval all read it. A learned policy is asked exactly as in
training: at most once per its model's decision interval per market, never at a point where the checks allow
only HOLD (a forced hold), with the :func:`rl.features.observe` vector of the market's live feature history and
the epoch's portfolio.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from kalshi.models import OrderAck
from kalshi.models.ws import Fill as FillFrame
from kalshi.models.ws import MarketPositionUpdate, UserOrderUpdate
from kalshi.orderbook import OrderBook, TopOfBook
from models.fees import OrderFeeAccumulator
from models.trader import EpochInput
from rl.decision import DecisionPipeline, Fill, Limits, OrderIntent, Portfolio, RestingOrder
from trading.positions import StreamedPortfolio

if TYPE_CHECKING:
    from trading.live import FeatureStore, LivePolicy

__all__ = ["BookUpdate", "Decision", "DecisionStep", "EpochPipeline"]

log = logging.getLogger(__name__)

_CC = 10_000
_MICRO = 1_000_000


class BookUpdate(NamedTuple):
    """One market's book at one instant, as the core hands it to the pipeline.

    Attributes:
        ticker: the market.
        top: its best bid and ask with sizes (centi-cents, lots): the feed's :meth:`kalshi.orderbook.OrderBook.top`
            or, over REST, :func:`kalshi.convert.top_of_book`.
        now_ms: the exchange clock, Unix ms (the throttle, the closing window and the decision interval read it).
        close_ms: the market's close on the same clock, Unix ms, or None when unknown.
        book_age_ms: how old the book is, ms.
        book: the live order book (the actor loop), for a learned policy's observation; None over REST.
    """

    ticker: str
    top: TopOfBook
    now_ms: int
    close_ms: int | None
    book_age_ms: float
    book: OrderBook | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What the pipeline decided for one book update.

    Attributes:
        action: the chosen action's name (``HOLD``, ``BUY_YES_TAKE``...: a metric label and a key of the summary's
            ``decisions``).
        intent: the order to send (it passed every pre-trade check), or None.
        reject: why the action became no order (a reject reason of :mod:`rl.decision.checks`, or
            ``feature_error``), None for HOLD and for an intent.
        forced: a forced hold (the checks allowed only HOLD; a learned policy was not asked).
        now_ms: the decision's exchange time, ms.
    """

    action: str
    intent: OrderIntent | None = None
    reject: str | None = None
    forced: bool = False
    now_ms: int = 0


class EpochPipeline(Protocol):
    """The decision step and bookkeeping of one epoch attempt (see the module docstring).

    Attributes:
        order_group_triggered: the exchange refused an order, or announced on ``order_group_updates``, because
            the order group is triggered: entries are refused and the epoch ends.
    """

    order_group_triggered: bool

    @property
    def consecutive_errors(self) -> int:
        """Exchange errors in a row (the circuit breaker trips at ``max_consecutive_errors``)."""
        ...

    @property
    def positions(self) -> Mapping[str, Decimal]:
        """The signed positions the pipeline decides on now (contracts, + YES / - NO), by ticker."""
        ...

    def decide(self, update: BookUpdate) -> Decision | None:
        """Decide on one book update; None when it is not a decision point (inside the decision interval)."""
        ...

    def decide_many(self, updates: Sequence[BookUpdate]) -> list[Decision | None]:
        """:meth:`decide` on several markets' updates at once (one forward pass of a learned policy), in order."""
        ...

    def order_sent(self, intent: OrderIntent, now_ms: int) -> None:
        """The core sends ``intent`` now (``now_ms``: the exchange clock): the market's throttle starts."""
        ...

    def reset(
        self, positions: Mapping[str, Decimal], balance_cents: int, costs: Mapping[str, Decimal] | None = None
    ) -> None:
        """Start from the exchange's positions (signed contracts), their cost (dollars) and free cash (cents)."""
        ...

    def sync(
        self, positions: Mapping[str, Decimal], balance_cents: int, costs: Mapping[str, Decimal] | None = None
    ) -> None:
        """Mid-epoch REST sync (degraded mode's positions fallback).

        Positions, cost and cash from the exchange; resting orders, throttles and the breaker's count are kept.
        """
        ...

    def acknowledged(self, intent: OrderIntent, ack: OrderAck, now_ms: int) -> None:
        """The exchange accepted ``intent``'s order: its fills, or the order resting (a MAKE order)."""
        ...

    def order_done(self, ticker: str, order_id: str) -> None:
        """Our resting order ``order_id`` is gone (cancelled by us, or already executed or cancelled)."""
        ...

    def fill_frame(self, fill: FillFrame) -> None:
        """A ``fill`` frame of one of our orders arrived (private WebSocket channel)."""
        ...

    def position_frame(self, update: MarketPositionUpdate) -> None:
        """A ``market_position`` frame arrived (the exchange's position in one market)."""
        ...

    def order_frame(self, update: UserOrderUpdate) -> None:
        """A ``user_order`` frame arrived (one of our orders changed: rested, shrank, was cancelled or executed)."""
        ...

    def exchange_ok(self) -> None:
        """An exchange call succeeded: the circuit breaker's count restarts."""
        ...

    def exchange_error(self) -> None:
        """An exchange call failed: one more toward the circuit breaker."""
        ...


def _micro(dollars: Decimal) -> int:
    """Exact dollars -> micro-dollars (a finer amount is rounded half-even: a fee estimate, never a price)."""
    return int((dollars * _MICRO).to_integral_value(rounding=ROUND_HALF_EVEN))


class DecisionStep:
    """:class:`EpochPipeline` over :mod:`rl.decision` (see the module docstring).

    Args:
        inp: the epoch's input (starting positions and cash, the mode's EFFECTIVE limits and exits, settings,
            ``closing_only``: when set, only reduce-only orders pass (:attr:`rl.decision.Limits.no_new_positions`,
            reject ``closing_only``)).
        live: the policy to run (:class:`trading.live.LivePolicy`: a baseline or a loaded model).
        fills_from_acks: update positions and cash from order acknowledgements (REST polling, and the actor loop
            while the fill stream is down in degraded mode); the ``fill`` and ``market_position`` frames are then
            ignored, so no fill is booked twice. Otherwise the portfolio follows those frames, and an acknowledged
            fill counts until its frame confirms it (:class:`trading.positions.StreamedPortfolio`).
        max_book_age_ms: never act on an older book (the actor loop's freshness bound; None over REST).
        features: the worker's :class:`trading.live.FeatureStore` (required by a learned policy).
        own_prefix: the client order id prefix of this epoch's orders (fills of other orders, e.g. the close
            workflow's, move positions and cash but not the epoch's realised P&L).

    Attributes:
        trace: when set to a list, every decision point is appended as ``(ticker, now_ms, action name or
            "forced_hold", the observation vector or None, the intent or None)``: an audit of what the policy saw and
            chose (None by default: no cost).

    Raises:
        rl.decision.LimitsError: a limit finer than the exchange's grids.
        ValueError: a learned policy without a feature store.
    """

    def __init__(
        self,
        inp: EpochInput,
        live: LivePolicy,
        *,
        fills_from_acks: bool,
        max_book_age_ms: float | None = None,
        features: FeatureStore | None = None,
        own_prefix: str | None = None,
    ) -> None:
        if live.needs_features and features is None:
            raise ValueError(f"{live.name} needs the worker's feature store (live WebSocket books)")
        self.inp = inp
        self.live = live
        self.features = features
        self.fills_from_acks = fills_from_acks
        self.own_prefix = own_prefix
        self.limits = Limits.from_settings(
            inp.risk,
            inp.exits,
            max_consecutive_errors=inp.settings.max_consecutive_errors,
            max_book_age_ms=max_book_age_ms,
            no_new_positions=inp.closing_only,
        )
        self.portfolio = Portfolio()
        self.pipeline = DecisionPipeline(live.space, self.limits, self.portfolio)
        self.streamed = StreamedPortfolio(self.portfolio)
        self.reset(inp.positions, inp.balance_cents)
        self.last_decision_ms: dict[str, int] = {}
        self.forced_holds = 0
        self.skipped = 0
        self.inference_ms: list[float] = []
        self.realized_micro: dict[str, int] = {}
        self.fees_micro = 0
        self._own_orders: set[str] = set()
        self._fees: dict[str, OrderFeeAccumulator] = {}
        self.trace: list[tuple[str, int, str, Any, OrderIntent | None]] | None = None

    # ---------------------------------------------------------------- state the core reads

    @property
    def order_group_triggered(self) -> bool:
        """See :class:`EpochPipeline`."""
        return self.portfolio.order_group_triggered

    @order_group_triggered.setter
    def order_group_triggered(self, value: bool) -> None:
        self.portfolio.order_group_triggered = value

    @property
    def consecutive_errors(self) -> int:
        """See :class:`EpochPipeline`."""
        return self.portfolio.consecutive_errors

    @property
    def positions(self) -> Mapping[str, Decimal]:
        """See :class:`EpochPipeline` (lots -> contracts)."""
        return {t: Decimal(m.position_lots).scaleb(-2) for t, m in self.portfolio.markets.items() if m.position_lots}

    # ---------------------------------------------------------------- decision

    def decide(self, update: BookUpdate) -> Decision | None:
        """Interval -> checks (mask) -> observation -> policy -> intent or reject (module docstring).

        Raises:
            ValueError: the policy returned an index outside its action space (a bug, never swallowed).
        """
        return self.decide_many((update,))[0]

    def decide_many(self, updates: Sequence[BookUpdate]) -> list[Decision | None]:
        """:meth:`decide` on several markets' book updates (one per market, as the actor loop takes them), in order.

        A learned policy with ``act_batch`` (:meth:`rl.inference.ModelPolicy.act_batch`) evaluates the observations
        of every update that reaches it in ONE forward pass, drawing in the order of ``updates``: the decisions are
        exactly those of :meth:`decide` called on each update in turn (none of them changes what the next one reads:
        an intent changes the portfolio only when the core sends it, :meth:`order_sent`). Each decision's inference
        time is its observation plus the whole batch's forward pass (what it waited for).

        Returns:
            One entry per update: its :class:`Decision`, or None when the update is not a decision point.

        Raises:
            ValueError: the policy returned an index outside its action space (a bug, never swallowed).
        """
        live = self.live
        batch = getattr(live.policy, "act_batch", None) if live.needs_features else None
        out: list[Decision | None] = []
        pending: list[tuple[int, BookUpdate, Any, tuple[bool, ...], Any, float]] = []
        for update in updates:
            ticker, now_ms = update.ticker, update.now_ms
            interval = live.interval_ms
            last = self.last_decision_ms.get(ticker)
            if interval and last is not None and now_ms - last < interval:
                self.skipped += 1
                out.append(None)
                continue
            self.last_decision_ms[ticker] = now_ms
            pipeline = self.pipeline
            ctx = pipeline.context(ticker, update.top, now_ms, update.close_ms, update.book_age_ms)
            if not live.needs_features:
                d = pipeline.decide(live.policy, ctx, record_sent=False)
                if self.trace is not None:
                    self.trace.append((ticker, now_ms, d.name, None, d.intent))
                out.append(Decision(d.name, d.intent, d.reject, now_ms=now_ms))
                continue
            mask = pipeline.mask(ctx)
            if not any(mask[1:]):
                self.forced_holds += 1
                if self.trace is not None:
                    self.trace.append((ticker, now_ms, "forced_hold", None, None))
                out.append(Decision(live.space.names[0], forced=True, now_ms=now_ms))
                continue
            started = time.perf_counter()
            try:
                features = self._observe(update)
            except ValueError as err:  # FeatureError: a NaN/inf or impossible state never reaches the network
                log.error("%s: no observation for %s at %d: %s", live.name, ticker, now_ms, err)
                out.append(Decision(live.space.names[0], reject="feature_error", now_ms=now_ms))
                continue
            if batch is None:
                d = pipeline.decide(live.policy, ctx, features, mask=mask, record_sent=False)
                self.inference_ms.append((time.perf_counter() - started) * 1000)
                if self.trace is not None:
                    self.trace.append((ticker, now_ms, d.name, features, d.intent))
                out.append(Decision(d.name, d.intent, d.reject, now_ms=now_ms))
                continue
            pending.append((len(out), update, ctx, mask, features, time.perf_counter() - started))
            out.append(None)
        if pending:
            self._act_batch(batch, pending, out)
        return out

    def _act_batch(
        self,
        batch: Any,
        pending: list[tuple[int, BookUpdate, Any, tuple[bool, ...], Any, float]],
        out: list[Decision | None],
    ) -> None:
        """One forward pass over ``pending``'s observations; resolve each action into ``out`` (see decide_many)."""
        live, pipeline = self.live, self.pipeline
        started = time.perf_counter()
        actions = batch([p[4] for p in pending], [p[3] for p in pending])
        forward_s = time.perf_counter() - started
        n = len(live.space)
        for (index, update, ctx, mask, features, observe_s), action in zip(pending, actions, strict=True):
            if not 0 <= action < n:
                raise ValueError(f"policy {live.name} returned action {action} outside 0..{n - 1}")
            d = pipeline.resolve(action, ctx, mask, record_sent=False)
            self.inference_ms.append((observe_s + forward_s) * 1000)
            if self.trace is not None:
                self.trace.append((update.ticker, update.now_ms, d.name, features, d.intent))
            out[index] = Decision(d.name, d.intent, d.reject, now_ms=update.now_ms)

    def _observe(self, update: BookUpdate) -> Any:
        """The market's :func:`rl.features.observe` vector at ``update.now_ms`` with the epoch's portfolio.

        Raises:
            rl.features.FeatureError: no live book or feature history for the market, or a NaN/inf feature.
        """
        from rl.features import FeatureError, observe
        from rl.features import RestingOrder as FeatureResting

        assert self.features is not None
        state = self.features.state(update.ticker)
        if state is None or update.book is None:
            raise FeatureError(f"no live book or feature history for {update.ticker}")
        live, portfolio = self.live, self.portfolio
        if live.reference_capital_micro is not None:
            state.reference_capital_micro = live.reference_capital_micro
        if live.position_scale_lots is not None:
            state.position_scale_lots = live.position_scale_lots
        market = portfolio.markets.get(update.ticker)
        position = market.position_lots if market is not None else 0
        cost = market.cost_micro if market is not None and position else 0
        state.set_portfolio(position_lots=position, cost_micro=max(cost, 0), cash_micro=portfolio.free_cash_micro())
        r = market.resting if market is not None else None
        state.resting = (
            None if r is None else FeatureResting(r.side, r.action, r.price_cc, r.remaining_lots, r.placed_ms)
        )
        return observe(update.book, state, update.now_ms)

    def order_sent(self, intent: OrderIntent, now_ms: int) -> None:
        """See :class:`EpochPipeline`."""
        self.portfolio.on_order_sent(intent.ticker, now_ms)

    # ---------------------------------------------------------------- bookkeeping

    def reset(
        self, positions: Mapping[str, Decimal], balance_cents: int, costs: Mapping[str, Decimal] | None = None
    ) -> None:
        """See :class:`EpochPipeline`: the portfolio starts over (cash in micro-dollars; positions in lots)."""
        portfolio = self.portfolio
        portfolio.markets.clear()
        portfolio.cash_micro = balance_cents * 10_000
        portfolio.consecutive_errors = 0
        for ticker, contracts in positions.items():
            lots = int(contracts * 100)
            if lots:
                state = portfolio.market(ticker)
                state.position_lots = lots
                cost = (costs or {}).get(ticker)
                state.cost_micro = _micro(cost) if cost is not None and cost > 0 else 0
        self.streamed = StreamedPortfolio(portfolio)

    def sync(
        self, positions: Mapping[str, Decimal], balance_cents: int, costs: Mapping[str, Decimal] | None = None
    ) -> None:
        """See :class:`EpochPipeline`: the exchange's figures replace the portfolio's positions, costs and cash.

        Called between order operations (none in flight), so every acknowledged fill is in the exchange's figures:
        the unconfirmed acknowledged fills are dropped with the old :class:`StreamedPortfolio`.
        """
        portfolio = self.portfolio
        portfolio.cash_micro = balance_cents * 10_000
        for ticker in set(portfolio.markets) | set(positions):
            lots = int(positions.get(ticker, Decimal(0)) * 100)
            state = portfolio.market(ticker)
            state.position_lots = lots
            cost = (costs or {}).get(ticker)
            if cost is not None and cost > 0:
                state.cost_micro = _micro(cost)
            elif not lots:
                state.cost_micro = 0
        self.streamed = StreamedPortfolio(portfolio)

    def acknowledged(self, intent: OrderIntent, ack: OrderAck, now_ms: int) -> None:
        """See :class:`EpochPipeline`.

        A MAKE order that rests becomes the market's resting order. Polling books an acknowledged fill's position,
        cost and cash at once (its fee from :mod:`models.fees`, the order's own accumulator); the actor loop counts
        it as unconfirmed until its ``fill`` frame arrives.
        """
        self._own_orders.add(ack.order_id)
        remaining = int(ack.remaining_count_fp * 100)
        if ack.status == "resting" and remaining > 0:
            self.portfolio.on_resting(
                intent.ticker,
                RestingOrder(ack.order_id, intent.side, intent.action, intent.price_cc, remaining, now_ms),
            )
        filled = int(ack.fill_count_fp * 100)
        if filled <= 0:
            return
        signed = filled if intent.signed_lots > 0 else -filled
        if not self.fills_from_acks:
            self.streamed.acknowledged(intent.ticker, ack.order_id, signed)
            return
        price = ack.average_fill_price_dollars or intent.price_dollars
        price_cc = int((price * _CC).to_integral_value(rounding=ROUND_HALF_EVEN))
        fees = self._fees.setdefault(ack.order_id, OrderFeeAccumulator(self.limits.fee_schedule))
        fee = fees.fill_micro(filled, price_cc, buy=intent.action == "buy", is_taker=not intent.post_only)
        yes_cc = price_cc if intent.side == "yes" else _CC - price_cc
        self._book(
            Fill(intent.ticker, "bid" if signed > 0 else "ask", filled, yes_cc, fee.net_fee_micro, True, ack.order_id),
            own=True,
        )

    def order_done(self, ticker: str, order_id: str) -> None:
        """See :class:`EpochPipeline`."""
        self.portfolio.on_order_done(ticker, order_id)

    def fill_frame(self, fill: FillFrame) -> None:
        """See :class:`EpochPipeline`: position, cost basis, cash and fee from the frame (Kalshi's net-position model).

        A frame without a known direction or with an impossible size is logged and ignored (the next
        ``market_position`` frame, or the next epoch's REST read, restores the position).
        """
        book_side = fill.book_side or _book_side(fill)
        if book_side not in ("bid", "ask") or fill.count_lots <= 0:
            log.warning("fill frame without a usable direction ignored: %r", fill)
            return
        fee = _micro(fill.fee_cost_dollars) if fill.fee_cost_dollars is not None else 0
        own = fill.order_id in self._own_orders or bool(
            self.own_prefix and (fill.client_order_id or "").startswith(self.own_prefix)
        )
        converted = Fill(
            fill.market_ticker,
            "bid" if book_side == "bid" else "ask",
            fill.count_lots,
            fill.yes_price_cc,
            fee,
            bool(fill.is_taker),
            fill.order_id,
            fill.ts_ms or 0,
        )
        if self.fills_from_acks:
            return  # booked from acknowledgements (polling, or degraded mode's fill fallback): never twice
        self._book(converted, own=own, post_position_lots=fill.post_position_lots)

    def _book(self, fill: Fill, *, own: bool, post_position_lots: int | None = None) -> None:
        """Apply one fill; count its realised P&L and fee for the summary when the order is the epoch's own."""
        market = self.portfolio.market(fill.ticker)
        realized_before = market.realized_micro
        try:
            if self.fills_from_acks:
                self.portfolio.on_fill(fill)
            else:
                self.streamed.fill(fill, post_position_lots)
        except ValueError as err:
            log.warning("impossible fill ignored: %s", err)
            return
        if own:
            gained = market.realized_micro - realized_before - fill.fee_micro
            self.realized_micro[fill.ticker] = self.realized_micro.get(fill.ticker, 0) + gained
            self.fees_micro += fill.fee_micro

    def position_frame(self, update: MarketPositionUpdate) -> None:
        """See :class:`EpochPipeline` (the exchange's position is authoritative; its cost too, when sent).

        Ignored when fills are booked from acknowledgements: a position frame may or may not already include an
        acknowledged fill, and without the ``fill`` frames nothing says which (it would count the fill twice).
        """
        if self.fills_from_acks:
            return
        cost = update.position_cost_dollars
        self.streamed.position(update.market_ticker, update.position_lots, None if cost is None else _micro(cost))

    def order_frame(self, update: UserOrderUpdate) -> None:
        """See :class:`EpochPipeline`: our resting order's remaining size, or its end.

        The exchange may cancel or shrink it on its own: a reduce-only order when the position shrinks, self-trade
        prevention, the market's close.
        """
        state = self.portfolio.markets.get(update.ticker)
        resting = state.resting if state is not None else None
        if resting is None or resting.order_id != update.order_id:
            return
        remaining = update.remaining_count_lots
        if update.status != "resting" or (remaining is not None and remaining <= 0):
            self.portfolio.on_order_done(update.ticker, update.order_id)
        elif remaining is not None and remaining != resting.remaining_lots:
            self.portfolio.on_resting(update.ticker, dataclasses.replace(resting, remaining_lots=remaining))

    def exchange_ok(self) -> None:
        """See :class:`EpochPipeline`."""
        self.portfolio.consecutive_errors = 0

    def exchange_error(self) -> None:
        """See :class:`EpochPipeline`."""
        self.portfolio.consecutive_errors += 1


def _book_side(fill: FillFrame) -> str | None:
    """A fill's book side from its side and action when the frame has no ``book_side`` (kalshi-api.md §8)."""
    if fill.side in ("yes", "no") and fill.action in ("buy", "sell"):
        return "bid" if (fill.side == "yes") == (fill.action == "buy") else "ask"
    return None
