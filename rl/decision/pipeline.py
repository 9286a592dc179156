"""The decision pipeline: book + portfolio -> action mask -> policy -> pre-trade checks -> order intent.

Pure (no Temporal, no I/O, no clock: time is the ``now_ms`` argument), so the WebSocket actor loop, the REST
polling epoch, the training environment (:mod:`rl.env`) and the backtest all drive the same code:

1. :meth:`DecisionPipeline.context` gathers the facts of one market at one instant (:class:`CheckContext`);
2. :meth:`DecisionPipeline.mask` runs the pre-trade check of every action (:func:`rl.decision.checks.action_mask`);
3. :meth:`DecisionPipeline.decide` asks the policy for an action (the environment passes the learner's action to
   :meth:`DecisionPipeline.resolve` instead), and
4. :meth:`DecisionPipeline.resolve` turns it into an :class:`OrderIntent` that passed every check, or a reject
   reason. An intent is recorded as sent for the throttle (the caller sends it now or counts it as an error).

Execution stays with the caller (transport): a MAKE intent's ``replaces`` order is cancelled first, then the
order is placed with ``time_in_force``, ``post_only`` and ``reduce_only`` as given; the exchange's answers come
back through :class:`rl.decision.portfolio.Portfolio`'s ``on_fill`` / ``on_resting`` / ``on_order_done``.
docs/rl.md "The live loop" says exactly how the actor loop calls this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rl.decision.actions import ActionSpace
from rl.decision.checks import CheckContext, OrderIntent, action_mask, blocks_every_order, check, intent_for
from rl.decision.policies import Observation, Policy
from rl.decision.portfolio import Portfolio

if TYPE_CHECKING:
    from kalshi.orderbook import TopOfBook
    from rl.decision.limits import Limits

__all__ = ["Decision", "DecisionPipeline"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one decision.

    Attributes:
        action: the chosen action's index.
        name: its name.
        intent: the order to send (it passed every check), or None (HOLD or rejected).
        reject: the reject reason when the action was not HOLD and failed a check, else None.
        mask: the action mask the policy saw.

    """

    action: int
    name: str
    intent: OrderIntent | None
    reject: str | None
    mask: tuple[bool, ...]


class DecisionPipeline:
    """The pipeline for one trading session (see the module docstring).

    Args:
        space: the action space.
        limits: the pre-trade limits.
        portfolio: the session's bookkeeping (shared with whoever applies fills).

    """

    def __init__(self, space: ActionSpace, limits: Limits, portfolio: Portfolio) -> None:
        self.space = space
        self.limits = limits
        self.portfolio = portfolio
        self._memo: tuple[object, tuple[bool, ...]] | None = None

    def context(
        self, ticker: str, top: TopOfBook, now_ms: float, close_ms: float | None, book_age_ms: float = 0.0
    ) -> CheckContext:
        """The facts of ``ticker`` at ``now_ms`` (book top, close time, book age) with the portfolio and limits."""
        return CheckContext(ticker, top, now_ms, close_ms, book_age_ms, self.portfolio, self.limits)

    def mask(self, ctx: CheckContext) -> tuple[bool, ...]:
        """The action mask: which actions would pass the pre-trade checks now (HOLD always).

        :func:`rl.decision.checks.action_mask`, remembered for the next call: when nothing the checks read has
        changed (the book top, this market's position and resting order, free cash, the error and order-group state,
        open positions, and whether a market-wide check or the throttle blocks every order), the same mask is returned
        without re-running the checks (about two decisions in three on the gold tapes, where most book updates do
        not move the touch).
        """
        portfolio = self.portfolio
        state = portfolio.markets.get(ctx.ticker)
        key = (
            ctx.ticker,
            ctx.top,
            portfolio.free_cash_micro(),
            portfolio.consecutive_errors,
            portfolio.order_group_triggered,
            portfolio.open_positions(),
            None if state is None else (state.position_lots, state.resting),
            blocks_every_order(ctx),
        )
        memo = self._memo
        if memo is not None and memo[0] == key:
            return memo[1]
        mask = tuple(action_mask(self.space, ctx))
        self._memo = (key, mask)
        return mask

    def observation(self, ctx: CheckContext, features: Any = None) -> Observation:
        """The policy's :class:`Observation` of ``ctx`` (``features``: the ``rl.features`` vector, if computed)."""
        state = self.portfolio.markets.get(ctx.ticker)
        return Observation(
            ticker=ctx.ticker,
            now_ms=int(ctx.now_ms),
            top=ctx.top,
            position_lots=state.position_lots if state is not None else 0,
            cash_micro=self.portfolio.free_cash_micro(),
            close_ms=None if ctx.close_ms is None else int(ctx.close_ms),
            resting=state.resting if state is not None else None,
            features=features,
        )

    def resolve(
        self, action: int, ctx: CheckContext, mask: Sequence[bool] | None = None, *, record_sent: bool = True
    ) -> Decision:
        """Turn action ``action`` into a checked intent or a reject reason; record a sent intent for the throttle.

        Args:
            action: the chosen action's index.
            ctx: the decision's facts (:meth:`context`).
            mask: the mask the policy saw (kept in the :class:`Decision`).
            record_sent: record an intent as sent now (:meth:`rl.decision.Portfolio.on_order_sent`). The live epoch
                passes False and records it itself once the order really goes out (after its fence).

        Raises:
            IndexError: ``action`` is not an index of the action space.

        """
        chosen = self.space[action]
        shown = tuple(mask) if mask is not None else ()
        built = intent_for(chosen, ctx)
        if built is None:
            return Decision(action, chosen.name, None, None, shown)
        reason = built if isinstance(built, str) else check(built, ctx)
        if reason is not None or isinstance(built, str):
            return Decision(action, chosen.name, None, reason, shown)
        if record_sent:
            self.portfolio.on_order_sent(ctx.ticker, ctx.now_ms)
        return Decision(action, chosen.name, built, None, shown)

    def decide(
        self,
        policy: Policy,
        ctx: CheckContext,
        features: Any = None,
        *,
        mask: tuple[bool, ...] | None = None,
        record_sent: bool = True,
    ) -> Decision:
        """Ask ``policy`` for an action on ``ctx`` (with its mask) and :meth:`resolve` it.

        Args:
            policy: the policy (of this pipeline's action space).
            ctx: the decision's facts.
            features: the :func:`rl.features.observe` vector for policies with ``needs_features``.
            mask: the mask of ``ctx`` when the caller already computed it (:meth:`mask`), else computed here.
            record_sent: see :meth:`resolve`.

        Raises:
            ValueError: the policy was built for another action space, or returned an index outside it.

        """
        if policy.space != self.space:
            raise ValueError(
                f"policy {policy.name} chooses among {list(policy.space.names)}, not {list(self.space.names)}"
            )
        if mask is None:
            mask = self.mask(ctx)
        action = policy.act(self.observation(ctx, features), mask)
        if not 0 <= action < len(self.space):
            raise ValueError(f"policy {policy.name} returned action {action} outside 0..{len(self.space) - 1}")
        return self.resolve(action, ctx, mask, record_sent=record_sent)
