"""The action space of the trading policy: HOLD, and {BUY, SELL} x {YES, NO} x {TAKE, MAKE}.

* ``TAKE``: an immediate-or-cancel limit order at the touch (buy at the side's best ask, sell at its best bid):
  it fills at most what the touch shows and the rest is cancelled (kalshi-api.md §3.5 ``time_in_force``).
* ``MAKE``: a post-only good-till-cancelled limit order at the touch (buy at the side's best bid, sell at its
  best ask), replacing this market's own resting order: cancel, then place, so the new order joins the back of
  the queue (kalshi-api.md §3.5 ``post_only``).

The space is configurable (:class:`ActionSpace`): :meth:`ActionSpace.full` has all nine actions;
:meth:`ActionSpace.take_only` is HOLD plus the four TAKE actions, which is exactly the trader's original
5-action :class:`models.trader.TradeAction` (``BUY_YES`` = ``BUY_YES_TAKE`` ...; :meth:`ActionSpace.legacy_index`).
The full space lists those five first, in the same order, so a take-only index is the same action in both.
A trained model records its action names (:class:`rl.registry.ModelMetadata`), and a model is only loaded for the
same names in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from models.trader import TradeAction

__all__ = ["HOLD", "Action", "ActionSpace", "ActionSpaceError"]

HOLD: Final = "HOLD"

Side = Literal["yes", "no"]
Verb = Literal["buy", "sell"]
Style = Literal["take", "make"]


class ActionSpaceError(ValueError):
    """An action space was configured with an unknown, repeated or missing (HOLD) action name."""


@dataclass(frozen=True, slots=True)
class Action:
    """One action: HOLD, or an order to ``verb`` ``side`` by ``style`` (see the module docstring).

    Attributes:
        name: ``"HOLD"`` or ``"<BUY|SELL>_<YES|NO>_<TAKE|MAKE>"``.
        side: the contract bought or sold (``None`` for HOLD).
        verb: ``"buy"`` or ``"sell"`` (``None`` for HOLD).
        style: ``"take"`` (IOC at the touch) or ``"make"`` (post-only at the touch) (``None`` for HOLD).

    """

    name: str
    side: Side | None = None
    verb: Verb | None = None
    style: Style | None = None

    @property
    def is_hold(self) -> bool:
        """Whether this is HOLD (no order)."""
        return self.side is None

    @property
    def adds_yes(self) -> bool:
        """Whether a fill raises the signed position (+ YES): buying YES or selling NO (kalshi-api.md §8)."""
        return (self.side == "yes") == (self.verb == "buy")


def _order_action(verb: Verb, side: Side, style: Style) -> Action:
    return Action(f"{verb.upper()}_{side.upper()}_{style.upper()}", side, verb, style)


_ALL: Final = (
    Action(HOLD),
    _order_action("buy", "yes", "take"),
    _order_action("sell", "yes", "take"),
    _order_action("buy", "no", "take"),
    _order_action("sell", "no", "take"),
    _order_action("buy", "yes", "make"),
    _order_action("sell", "yes", "make"),
    _order_action("buy", "no", "make"),
    _order_action("sell", "no", "make"),
)
_BY_NAME: Final = {a.name: a for a in _ALL}
_LEGACY: Final = {
    TradeAction.HOLD: HOLD,
    TradeAction.BUY_YES: "BUY_YES_TAKE",
    TradeAction.SELL_YES: "SELL_YES_TAKE",
    TradeAction.BUY_NO: "BUY_NO_TAKE",
    TradeAction.SELL_NO: "SELL_NO_TAKE",
}


class ActionSpace:
    """An ordered set of actions; index 0 is always HOLD. Immutable.

    Args:
        names: action names in index order (see :data:`Action.name`); must start with ``"HOLD"``.

    Raises:
        ActionSpaceError: an unknown or repeated name, or a space not starting with HOLD.

    """

    __slots__ = ("_index", "actions", "names")

    def __init__(self, names: Iterable[str]) -> None:
        names = tuple(names)
        unknown = [n for n in names if n not in _BY_NAME]
        if unknown:
            raise ActionSpaceError(f"unknown actions {unknown}; known: {[a.name for a in _ALL]}")
        if len(set(names)) != len(names):
            raise ActionSpaceError(f"repeated actions in {list(names)}")
        if not names or names[0] != HOLD:
            raise ActionSpaceError(f"an action space starts with HOLD, got {list(names)}")
        self.names: tuple[str, ...] = names
        self.actions: tuple[Action, ...] = tuple(_BY_NAME[n] for n in names)
        self._index = {n: i for i, n in enumerate(names)}

    @classmethod
    def full(cls) -> ActionSpace:
        """All nine actions: HOLD, the four TAKE actions, then the four MAKE actions."""
        return cls(a.name for a in _ALL)

    @classmethod
    def take_only(cls) -> ActionSpace:
        """HOLD and the four TAKE actions: the trader's original 5-action space."""
        return cls(a.name for a in _ALL[:5])

    def __len__(self) -> int:
        return len(self.actions)

    def __getitem__(self, index: int) -> Action:
        return self.actions[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActionSpace) and other.names == self.names

    def __hash__(self) -> int:
        return hash(self.names)

    def __repr__(self) -> str:
        return f"ActionSpace({list(self.names)!r})"

    def index(self, name: str) -> int:
        """The index of an action name.

        Raises:
            ActionSpaceError: the name is not in this space.

        """
        try:
            return self._index[name]
        except KeyError:
            raise ActionSpaceError(f"{name!r} is not in {list(self.names)}") from None

    def legacy_index(self, action: TradeAction) -> int:
        """The index of the original 5-action :class:`~models.trader.TradeAction` (``BUY_YES`` -> ``BUY_YES_TAKE``)."""
        return self.index(_LEGACY[action])

    def counts(self, indices: Sequence[int]) -> dict[str, int]:
        """How often each action was chosen: name -> count, every action of the space present."""
        out = dict.fromkeys(self.names, 0)
        for i in indices:
            out[self.names[i]] += 1
        return out
