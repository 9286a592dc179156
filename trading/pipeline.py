"""The epoch's decision step: the one seam between a trading epoch and the decision pipeline.

:class:`trading.epoch.EpochCore` (fencing, execution, the summary) and the two drivers (REST polling, the
WebSocket actor loop) reach the decision pipeline only through :class:`EpochPipeline`:

* decision: :meth:`EpochPipeline.decide` turns one market's book (:class:`BookUpdate`) into a :class:`Decision`
  (observation -> policy -> pre-trade checks -> order intent, or a reject reason);
  :meth:`EpochPipeline.order_sent` starts the market's throttle when the core actually sends the intent (after
  the fence let it);
* bookkeeping (what the exchange said): :meth:`EpochPipeline.reset` (positions and cash read over REST when the
  attempt starts), :meth:`EpochPipeline.acknowledged` (an order acknowledgement with its fills),
  :meth:`EpochPipeline.fill_frame` and :meth:`EpochPipeline.position_frame` (the private WebSocket channels),
  :meth:`EpochPipeline.exchange_ok` / :meth:`EpochPipeline.exchange_error` (the circuit breaker) and
  :attr:`EpochPipeline.order_group_triggered`.

:class:`PretradePipeline` implements it today over :mod:`rl.policy` and :mod:`rl.pretrade` in Decimal dollars and
contracts. The pure pipeline package ``rl/decision`` (integer units, one check function for rejects and action
masks, the same code the training environment and the backtest drive) replaces it behind this interface:
docs/architecture.md "The decision pipeline's seam" says how.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Literal, NamedTuple, Protocol

from kalshi.models import OrderAck
from kalshi.models.ws import Fill, MarketPositionUpdate
from models.money import taker_fee_dollars
from models.trader import BookTop, EpochInput, TradeAction
from rl.policy import HoldPolicy, ImbalancePolicy, Policy, build_observation
from rl.pretrade import OrderIntent, PretradeState, check, fill_cash_delta_dollars, intent_for
from trading.positions import StreamedPositions


class BookUpdate(NamedTuple):
    """One market's book at one instant, as the core hands it to the pipeline.

    Attributes:
        ticker: the market.
        top: its top of book (dollars, contracts).
        close_time: the market's close (exchange clock), None when unknown.
        now: the exchange clock.
        now_ms: monotonic milliseconds (the per-market throttle's clock).
        book_age_ms: how old the book is, milliseconds.
        max_book_age_ms: never act on an older book (None: no limit).
    """

    ticker: str
    top: BookTop
    close_time: datetime | None
    now: datetime
    now_ms: float
    book_age_ms: float
    max_book_age_ms: float | None


@dataclass(frozen=True, slots=True)
class Decision:
    """What the pipeline decided for one book update.

    Attributes:
        action: the policy's action (``HOLD``, ``BUY_YES``...: a metric label and a key of the summary's
            ``decisions``).
        intent: the order to send (it passed every pre-trade check), or None.
        reject: why the action became no order (a reject reason of :mod:`rl.pretrade`), None for HOLD and for
            an intent.
    """

    action: str
    intent: OrderIntent | None = None
    reject: str | None = None


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

    def decide(self, update: BookUpdate) -> Decision:
        """Decide on one book update: an intent that passed every pre-trade check, a reject, or HOLD."""
        ...

    def order_sent(self, ticker: str, now_ms: float) -> None:
        """The core sends an order in ``ticker`` now (``now_ms``: monotonic milliseconds, the throttle's clock)."""
        ...

    def reset(self, positions: Mapping[str, Decimal], balance_cents: int) -> None:
        """Start from the exchange's positions (signed contracts) and free cash (cents); clears the breaker."""
        ...

    def acknowledged(self, intent: OrderIntent, ack: OrderAck) -> None:
        """The exchange accepted ``intent``'s order; count the fills its acknowledgement reports."""
        ...

    def fill_frame(self, fill: Fill) -> None:
        """A ``fill`` frame of one of our orders arrived (private WebSocket channel)."""
        ...

    def position_frame(self, update: MarketPositionUpdate) -> None:
        """A ``market_position`` frame arrived (the exchange's position in one market)."""
        ...

    def exchange_ok(self) -> None:
        """An exchange call succeeded: the circuit breaker's count restarts."""
        ...

    def exchange_error(self) -> None:
        """An exchange call failed: one more toward the circuit breaker."""
        ...


def opens(intent: OrderIntent, position_contracts: Decimal) -> bool:
    """Whether ``intent`` would open a position or add to one (its absolute size grows if it fills).

    The degraded-mode check (``EpochInput.closing_only``, reject reason ``closing_only``): only orders that
    reduce a position may go. Signed contracts, + YES / - NO (Kalshi's net position, kalshi-api.md §8).
    """
    return abs(position_contracts + intent.signed_delta) > abs(position_contracts)


class PretradePipeline:
    """:class:`EpochPipeline` over :mod:`rl.policy` and :mod:`rl.pretrade` (Decimal dollars and contracts).

    Args:
        inp: the epoch's input (starting positions and cash, the mode's EFFECTIVE limits and exits, settings,
            ``closing_only``: when set, an intent that would open or add to a position is rejected
            ``closing_only`` before any other check: :func:`opens`).
        policy: the policy; default from ``inp.settings.policy`` (``hold`` or the imbalance baseline).
        fills_from_acks: update positions and cash from order acknowledgements (REST polling, and the actor loop
            while the fill stream is down). Otherwise positions and cash follow the ``fill`` and
            ``market_positions`` frames, and an acknowledged fill counts until its frame confirms it
            (:class:`trading.positions.StreamedPositions`).
    """

    def __init__(self, inp: EpochInput, policy: Policy | None = None, *, fills_from_acks: bool) -> None:
        self.inp = inp
        self.fills_from_acks = fills_from_acks
        self.policy: Policy = policy or (
            HoldPolicy()
            if inp.settings.policy == "hold"
            else ImbalancePolicy(inp.settings.imbalance_threshold, inp.risk.max_spread_dollars)
        )
        self.state = PretradeState(positions=dict(inp.positions), balance_cents=inp.balance_cents)
        self.streamed = StreamedPositions(self.state.positions)

    @property
    def order_group_triggered(self) -> bool:
        """See :class:`EpochPipeline`."""
        return self.state.order_group_triggered

    @order_group_triggered.setter
    def order_group_triggered(self, value: bool) -> None:
        self.state.order_group_triggered = value

    @property
    def consecutive_errors(self) -> int:
        """See :class:`EpochPipeline`."""
        return self.state.consecutive_errors

    @property
    def positions(self) -> Mapping[str, Decimal]:
        """See :class:`EpochPipeline`."""
        return self.state.positions

    def decide(self, update: BookUpdate) -> Decision:
        """``build_observation`` -> ``select_action`` -> ``intent_for`` -> ``check`` (see the module docstring)."""
        ticker, close_time = update.ticker, update.close_time
        obs = build_observation(
            ticker,
            update.top,
            self.state.positions.get(ticker, Decimal(0)),
            self.state.balance_cents,
            (close_time - update.now).total_seconds() if close_time else None,
            book_age_ms=update.book_age_ms,
        )
        action = self.policy.select_action(obs)
        if action == TradeAction.HOLD:
            return Decision(action.value)
        intent = intent_for(action, obs, self.inp.risk)
        reason = (
            "no_liquidity"
            if intent is None
            else "closing_only"
            if self.inp.closing_only is not None and opens(intent, obs.position_contracts)
            else check(
                intent,
                obs,
                self.state,
                self.inp.risk,
                self.inp.exits,
                update.now_ms,
                max_consecutive_errors=self.inp.settings.max_consecutive_errors,
                max_book_age_ms=update.max_book_age_ms,
            )
        )
        if reason is not None or intent is None:
            return Decision(action.value, reject=reason or "no_liquidity")
        return Decision(action.value, intent=intent)

    def order_sent(self, ticker: str, now_ms: float) -> None:
        """See :class:`EpochPipeline`."""
        self.state.last_order_ms[ticker] = now_ms

    def reset(self, positions: Mapping[str, Decimal], balance_cents: int) -> None:
        """See :class:`EpochPipeline`."""
        self.state.positions = dict(positions)
        self.streamed = StreamedPositions(self.state.positions)
        self.state.balance_cents = balance_cents
        self.state.consecutive_errors = 0

    def acknowledged(self, intent: OrderIntent, ack: OrderAck) -> None:
        """See :class:`EpochPipeline`.

        Polling books the fill's position and cash (taker fee); the actor loop counts it as unconfirmed until its
        ``fill`` frame arrives.
        """
        filled = ack.fill_count_fp
        if filled <= 0:
            return
        if not self.fills_from_acks:
            self.streamed.acknowledged(intent.ticker, ack.order_id, filled if intent.signed_delta > 0 else -filled)
            return
        price = ack.average_fill_price_dollars or intent.price_dollars
        yes_price = price if intent.side == "yes" else Decimal(1) - price
        book_side: Literal["bid", "ask"] = "bid" if intent.signed_delta > 0 else "ask"
        before = self.state.positions.get(intent.ticker, Decimal(0))
        fee = taker_fee_dollars(filled, price)
        self._add_cash(fill_cash_delta_dollars(book_side, filled, yes_price, before, fee))
        self.state.positions[intent.ticker] = before + (filled if book_side == "bid" else -filled)

    def fill_frame(self, fill: Fill) -> None:
        """See :class:`EpochPipeline`: the position (with ``post_position`` when sent) and the fill's cash.

        Ignored when fills are booked from acknowledgements (``fills_from_acks``: REST polling, or the fill
        stream's fallback in degraded mode), so a fill is never booked twice.
        """
        if self.fills_from_acks:
            return
        contracts = fill.count_contracts
        signed = contracts if fill.book_side == "bid" else -contracts
        post = fill.post_position_contracts
        ticker = fill.market_ticker
        before = post - signed if post is not None else self.state.positions.get(ticker, Decimal(0))
        self.streamed.fill(ticker, fill.order_id, contracts)
        if post is not None:
            self.streamed.position(ticker, before + signed)
        delta = fill_cash_delta_dollars(
            "bid" if fill.book_side == "bid" else "ask",
            contracts,
            fill.yes_price_dollars,
            before,
            fill.fee_cost_dollars or Decimal(0),
        )
        self._add_cash(delta)

    def position_frame(self, update: MarketPositionUpdate) -> None:
        """See :class:`EpochPipeline`.

        Ignored when fills are booked from acknowledgements: a position frame may or may not already include an
        acknowledged fill, and without the ``fill`` frames nothing says which (it would count the fill twice).
        """
        if self.fills_from_acks:
            return
        self.streamed.position(update.market_ticker, update.position_contracts)

    def exchange_ok(self) -> None:
        """See :class:`EpochPipeline`."""
        self.state.consecutive_errors = 0

    def exchange_error(self) -> None:
        """See :class:`EpochPipeline`."""
        self.state.consecutive_errors += 1

    def _add_cash(self, delta_dollars: Decimal) -> None:
        """Add a fill's cash effect (signed dollars) to the free-cash estimate (cents).

        Floored, so the estimate never overstates cash (the reserve check relies on it).
        """
        self.state.balance_cents += int((delta_dollars * 100).to_integral_value(rounding=ROUND_FLOOR))
