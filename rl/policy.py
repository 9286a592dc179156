"""Observations, the policy interface and the documented baseline policy over the 5-action space.

The trading loop's pipeline (ARCHITECTURE.md "Two loops, two speeds") is
``build_observation -> select_action -> pre-trade checks -> execute``. This module holds the first
two steps; :mod:`rl.pretrade` the third; the execute step lives in the activity that owns the
exchange connection. The reinforcement-learning policy of a later issue implements the same
:class:`Policy` protocol.

Baseline policy (``imbalance``): a transparent top-of-book imbalance rule.

* ``imbalance = (yes_bid_size - no_bid_size) / (yes_bid_size + no_bid_size)`` in [-1, 1], from the
  contracts resting at the best YES bid and the best NO bid (= the best YES ask). Positive means more
  size wants YES than NO at the touch.
* Flat, spread <= ``max_spread_dollars``: ``imbalance >= threshold`` -> ``BUY_YES``;
  ``imbalance <= -threshold`` -> ``BUY_NO``; otherwise ``HOLD``.
* Long YES: ``imbalance <= -threshold`` -> ``SELL_YES`` (the pressure turned);
  ``imbalance >= threshold`` -> ``BUY_YES`` (add, subject to the position limit); else ``HOLD``.
* Long NO: the mirror image (``SELL_NO`` on ``imbalance >= threshold``, ``BUY_NO`` on
  ``<= -threshold``).
* One side of the book empty -> ``HOLD``.

It is not meant to be profitable; it is meant to trade often and predictably on replayed books so
the whole lifecycle (entries, order groups, every exit reason) is exercised, and to be a yardstick
for the RL policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from models.trader import BookTop, TradeAction

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Observation:
    """What the policy sees for one market at one order-book update.

    Attributes:
        ticker: market ticker.
        yes_bid_dollars: best YES bid (dollars) or None.
        yes_bid_size: contracts at the best YES bid.
        no_bid_dollars: best NO bid (dollars) or None; the best YES ask is ``1 - no_bid``.
        no_bid_size: contracts at the best NO bid.
        position_contracts: signed position (+ YES / - NO), contracts.
        balance_cents: free cash, cents.
        seconds_to_close: seconds until the market closes (exchange clock), None if unknown.
        book_age_ms: milliseconds since the book was read/updated.
    """

    ticker: str
    yes_bid_dollars: Decimal | None
    yes_bid_size: Decimal
    no_bid_dollars: Decimal | None
    no_bid_size: Decimal
    position_contracts: Decimal
    balance_cents: int
    seconds_to_close: float | None
    book_age_ms: float = 0.0

    @property
    def yes_ask_dollars(self) -> Decimal | None:
        """Best YES ask in dollars (``1 - best NO bid``), or None."""
        return None if self.no_bid_dollars is None else Decimal(1) - self.no_bid_dollars

    @property
    def spread_dollars(self) -> Decimal | None:
        """YES ask minus YES bid in dollars, or None when a side is empty."""
        ask = self.yes_ask_dollars
        return None if ask is None or self.yes_bid_dollars is None else ask - self.yes_bid_dollars

    @property
    def imbalance(self) -> Decimal:
        """(yes_bid_size - no_bid_size) / (sum), in [-1, 1]; 0 when both are empty."""
        total = self.yes_bid_size + self.no_bid_size
        return _ZERO if total == 0 else (self.yes_bid_size - self.no_bid_size) / total


def build_observation(
    ticker: str,
    book: BookTop,
    position_contracts: Decimal,
    balance_cents: int,
    seconds_to_close: float | None,
    book_age_ms: float = 0.0,
) -> Observation:
    """Step 1 of the pipeline: book + portfolio features for one market.

    Args:
        ticker: market ticker.
        book: top of book (dollars, contracts).
        position_contracts: signed position in contracts.
        balance_cents: free cash in cents.
        seconds_to_close: seconds to the market's close on the exchange clock.
        book_age_ms: age of the book in milliseconds.
    """
    return Observation(
        ticker=ticker,
        yes_bid_dollars=book.yes_bid_dollars,
        yes_bid_size=book.yes_bid_size,
        no_bid_dollars=book.no_bid_dollars,
        no_bid_size=book.no_bid_size,
        position_contracts=position_contracts,
        balance_cents=balance_cents,
        seconds_to_close=seconds_to_close,
        book_age_ms=book_age_ms,
    )


class Policy(Protocol):
    """Step 2 of the pipeline: choose one of the 5 actions for an observation (no I/O)."""

    name: str

    def select_action(self, obs: Observation) -> TradeAction:
        """Return the action for ``obs``; must be fast (called per order-book update)."""
        ...


class HoldPolicy:
    """Never trades (``HOLD`` always): the closing-only mode of ``EpochSettings.policy = "hold"``."""

    name = "hold"

    def select_action(self, obs: Observation) -> TradeAction:
        """Always ``HOLD``."""
        return TradeAction.HOLD


class ImbalancePolicy:
    """The documented baseline policy (see the module docstring).

    Args:
        threshold: |imbalance| needed to act, in [0, 1].
        max_spread_dollars: entries only when the YES spread is at most this (dollars).
    """

    name = "imbalance"

    def __init__(self, threshold: Decimal, max_spread_dollars: Decimal) -> None:
        if not (_ZERO <= threshold <= 1):
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self.threshold = threshold
        self.max_spread_dollars = max_spread_dollars

    def select_action(self, obs: Observation) -> TradeAction:
        """Apply the imbalance rule to one observation."""
        if obs.yes_bid_dollars is None or obs.no_bid_dollars is None:
            return TradeAction.HOLD
        imb = obs.imbalance
        pos = obs.position_contracts
        if pos > 0:
            if imb <= -self.threshold:
                return TradeAction.SELL_YES
            return TradeAction.BUY_YES if imb >= self.threshold else TradeAction.HOLD
        if pos < 0:
            if imb >= self.threshold:
                return TradeAction.SELL_NO
            return TradeAction.BUY_NO if imb <= -self.threshold else TradeAction.HOLD
        spread = obs.spread_dollars
        if spread is None or spread > self.max_spread_dollars:
            return TradeAction.HOLD
        if imb >= self.threshold:
            return TradeAction.BUY_YES
        if imb <= -self.threshold:
            return TradeAction.BUY_NO
        return TradeAction.HOLD
