"""The policy interface and the baseline policies: every strategy chooses an action from (observation, mask).

A :class:`Policy` gets an :class:`Observation` (the exact book top, position, cash and resting order, plus the
``rl.features`` vector when the policy asked for it with ``needs_features``) and the action mask of
:func:`rl.decision.checks.action_mask`, and returns an action index of its action space. The learned policy
(:class:`rl.inference.ModelPolicy`) and every baseline implement it, so all strategies trade, and are evaluated,
through the same pipeline (:mod:`rl.decision.pipeline`).

Baselines (all deterministic given their seed; none reads the feature vector, so none needs numpy):

* :class:`HoldPolicy` (``hold``): never trades.
* :class:`RandomPolicy` (``random``): uniform over the allowed actions (HOLD included), seeded.
* :class:`ImbalancePolicy` (``imbalance``): the trader's documented top-of-book imbalance rule (``rl/policy.py``),
  exactly: with ``imbalance = (yes_bid_size - no_bid_size) / (yes_bid_size + no_bid_size)`` at the touch; flat and
  the YES spread <= ``max_spread``: ``imbalance >= threshold`` buys YES, ``<= -threshold`` buys NO; long YES:
  ``<= -threshold`` sells, ``>= threshold`` adds; long NO: the mirror; a side empty: HOLD. TAKE orders. Like the
  original it may choose an action the checks then reject (the pipeline counts the reject), so its decisions and
  rejects are the original's.
* :class:`PassiveMakerPolicy` (``maker``): quotes at the touch with post-only orders, never crossing the spread.
  One resting order per market (a MAKE replaces the market's own order), so it quotes both sides over time: flat,
  it joins the thinner of the two best bids (buy YES at the YES bid or buy NO at the NO bid, i.e. offer YES at
  the ask); holding a side, it offers it at the touch (sell at the best ask) to earn the spread back. It keeps a
  resting order while it is still at the touch (its queue priority is worth keeping) and requotes when the touch
  moved away.
* :class:`FavouriteLongshotPolicy` (``longshot``): on Kalshi, contracts priced under about 10 cents lose most of their
  price on average (the favourite-longshot bias). When one side's ask is at most ``longshot_cc`` (default 12 cents),
  it buys the other side (the favourite) with a TAKE order, up to the position limit, and holds to settlement.
  The checks decide what is allowed (e.g. the entry-price cap).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from rl.decision.actions import ActionSpace

if TYPE_CHECKING:
    from kalshi.orderbook import TopOfBook
    from rl.decision.portfolio import RestingOrder

__all__ = [
    "BASELINES",
    "FavouriteLongshotPolicy",
    "HoldPolicy",
    "ImbalancePolicy",
    "Observation",
    "PassiveMakerPolicy",
    "Policy",
    "RandomPolicy",
    "baseline",
]

_CC = 10_000


@dataclass(frozen=True, slots=True)
class Observation:
    """What a policy sees for one market at one decision point.

    Attributes:
        ticker: the market.
        now_ms: the decision time, ms.
        top: the book's best bids and asks with sizes (centi-cents, lots).
        position_lots: signed position (+ YES / - NO), lots.
        cash_micro: free cash, micro-dollars.
        close_ms: the market's close (same clock), or None.
        resting: our resting order in this market, or None.
        features: the :func:`rl.features.observe` vector (float32, ``N_FEATURES``) when the policy has
            ``needs_features``; otherwise None.

    """

    ticker: str
    now_ms: int
    top: TopOfBook
    position_lots: int
    cash_micro: int
    close_ms: int | None
    resting: RestingOrder | None = None
    features: Any = None


class Policy(Protocol):
    """Chooses an action index of :attr:`space` for an observation and its action mask. No I/O; fast."""

    name: str
    space: ActionSpace
    needs_features: bool

    def act(self, obs: Observation, mask: Sequence[bool]) -> int:
        """Return the chosen action's index (a masked one is allowed: the checks then reject it)."""
        ...


class HoldPolicy:
    """Never trades (module docstring)."""

    needs_features = False

    def __init__(self, space: ActionSpace) -> None:
        self.name = "hold"
        self.space = space

    def act(self, obs: Observation, mask: Sequence[bool]) -> int:
        """Always HOLD (index 0)."""
        return 0


class RandomPolicy:
    """Uniform over the allowed actions, HOLD included (module docstring).

    Args:
        space: the action space.
        seed: the generator's seed (the same seed and inputs give the same choices).

    """

    needs_features = False

    def __init__(self, space: ActionSpace, seed: int = 0) -> None:
        self.name = "random"
        self.space = space
        self._rng = random.Random(seed)

    def act(self, obs: Observation, mask: Sequence[bool]) -> int:
        """A uniformly random allowed action."""
        allowed = [i for i, ok in enumerate(mask) if ok]
        return allowed[self._rng.randrange(len(allowed))] if allowed else 0


class ImbalancePolicy:
    """The documented top-of-book imbalance rule (module docstring), in exact arithmetic.

    Args:
        space: the action space (must hold the four TAKE actions).
        threshold: |imbalance| needed to act, in [0, 1].
        max_spread_cc: entries only when the YES spread is at most this, centi-cents.

    Raises:
        ValueError: a threshold outside [0, 1].

    """

    needs_features = False

    def __init__(self, space: ActionSpace, threshold: Decimal, max_spread_cc: int) -> None:
        if not Decimal(0) <= threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self.name = "imbalance"
        self.space = space
        self.threshold = threshold
        self.max_spread_cc = max_spread_cc
        self._buy_yes = space.index("BUY_YES_TAKE")
        self._sell_yes = space.index("SELL_YES_TAKE")
        self._buy_no = space.index("BUY_NO_TAKE")
        self._sell_no = space.index("SELL_NO_TAKE")

    def act(self, obs: Observation, mask: Sequence[bool]) -> int:
        """Apply the imbalance rule to the touch sizes and the position."""
        top = obs.top
        if top.yes_bid_cc is None or top.yes_ask_cc is None:
            return 0
        yes_size, no_size = top.yes_bid_lots, top.yes_ask_lots
        total = yes_size + no_size
        # imbalance >= t  <=>  yes - no >= t * total (total > 0: both touches hold size)
        edge = self.threshold * total
        up = total > 0 and yes_size - no_size >= edge
        down = total > 0 and no_size - yes_size >= edge
        pos = obs.position_lots
        if pos > 0:
            if down:
                return self._sell_yes
            return self._buy_yes if up else 0
        if pos < 0:
            if up:
                return self._sell_no
            return self._buy_no if down else 0
        if top.yes_ask_cc - top.yes_bid_cc > self.max_spread_cc:
            return 0
        if up:
            return self._buy_yes
        if down:
            return self._buy_no
        return 0


class PassiveMakerPolicy:
    """Quotes at the touch with post-only orders (module docstring).

    Args:
        space: the action space (must hold the four MAKE actions).

    """

    needs_features = False

    def __init__(self, space: ActionSpace) -> None:
        self.name = "maker"
        self.space = space
        self._buy_yes = space.index("BUY_YES_MAKE")
        self._buy_no = space.index("BUY_NO_MAKE")
        self._sell_yes = space.index("SELL_YES_MAKE")
        self._sell_no = space.index("SELL_NO_MAKE")

    def act(self, obs: Observation, mask: Sequence[bool]) -> int:
        """Quote the thinner bid when flat, offer the held side when holding; keep an order still at the touch."""
        top = obs.top
        if top.yes_bid_cc is None or top.yes_ask_cc is None:
            return 0
        yes_bid, no_bid = top.yes_bid_cc, _CC - top.yes_ask_cc
        resting = obs.resting
        if obs.position_lots > 0:
            want, touch = self._sell_yes, top.yes_ask_cc  # offer YES at the ask
        elif obs.position_lots < 0:
            want, touch = self._sell_no, _CC - top.yes_bid_cc  # offer NO at its ask
        elif resting is not None and resting.action == "buy":
            # keep the side we quote; requote it only if the touch moved away
            want = self._buy_yes if resting.side == "yes" else self._buy_no
            touch = yes_bid if resting.side == "yes" else no_bid
        elif top.yes_bid_lots <= top.yes_ask_lots:
            want, touch = self._buy_yes, yes_bid
        else:
            want, touch = self._buy_no, no_bid
        action = self.space[want]
        if (
            resting is not None
            and resting.side == action.side
            and resting.action == action.verb
            and resting.price_cc == touch
        ):
            return 0  # still at the touch: keep the queue priority
        return want if mask[want] else 0


class FavouriteLongshotPolicy:
    """Buys the favourite when the other side is a longshot (module docstring).

    Args:
        space: the action space (must hold ``BUY_YES_TAKE`` and ``BUY_NO_TAKE``).
        longshot_cc: a side whose best ask is at most this is a longshot, centi-cents (default 12 cents).

    """

    needs_features = False

    def __init__(self, space: ActionSpace, longshot_cc: int = 1_200) -> None:
        self.name = "longshot"
        self.space = space
        self.longshot_cc = longshot_cc
        self._buy_yes = space.index("BUY_YES_TAKE")
        self._buy_no = space.index("BUY_NO_TAKE")

    def act(self, obs: Observation, mask: Sequence[bool]) -> int:
        """Buy NO when YES is a longshot, YES when NO is; otherwise HOLD (never against the mask)."""
        top = obs.top
        if top.yes_bid_cc is None or top.yes_ask_cc is None:
            return 0
        no_ask = _CC - top.yes_bid_cc
        if top.yes_ask_cc <= self.longshot_cc and obs.position_lots <= 0 and mask[self._buy_no]:
            return self._buy_no
        if no_ask <= self.longshot_cc and obs.position_lots >= 0 and mask[self._buy_yes]:
            return self._buy_yes
        return 0


BASELINES = ("hold", "random", "imbalance", "maker", "longshot")
"""The baseline names :func:`baseline` builds, in the evaluation's order."""


def baseline(
    name: str,
    space: ActionSpace,
    *,
    seed: int = 0,
    imbalance_threshold: Decimal = Decimal("0.35"),
    max_spread_cc: int = 500,
) -> Policy:
    """Build a baseline policy by name (:data:`BASELINES`).

    Raises:
        ValueError: an unknown name, or a space lacking the actions the baseline uses.

    """
    try:
        if name == "hold":
            return HoldPolicy(space)
        if name == "random":
            return RandomPolicy(space, seed)
        if name == "imbalance":
            return ImbalancePolicy(space, imbalance_threshold, max_spread_cc)
        if name == "maker":
            return PassiveMakerPolicy(space)
        if name == "longshot":
            return FavouriteLongshotPolicy(space)
    except Exception as exc:  # ActionSpaceError: the baseline's actions are not in this space
        raise ValueError(f"baseline {name!r} cannot run on {list(space.names)}: {exc}") from exc
    raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)} (or rl:<version>, rl:current)")
