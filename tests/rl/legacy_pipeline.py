"""The trader's ORIGINAL Decimal pipeline (rl/policy.py + rl/pretrade.py before issue 9), frozen as a test oracle.

tests/rl/test_decision.py proves that :mod:`rl.decision` (which replaced it in the live epoch) reproduces it on
thousands of seeded states: the same imbalance decisions, intents and reject reasons, with two documented
differences. The live trader no longer imports this module; it is kept verbatim (imports adapted) so the proof keeps
running. Taker fee: ``ceil_to_cent(0.07 C P (1 - P))``, as the original ``models.money.taker_fee_dollars``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Literal, Protocol

from models.trader import BookTop, ExitRules, RiskLimits, Side, TradeAction

_CENT = Decimal("0.01")


def taker_fee_dollars(contracts: Decimal, price_dollars: Decimal, multiplier: Decimal = Decimal("0.07")) -> Decimal:
    """The original fee estimate: ``ceil_to_cent(multiplier * C * P * (1 - P))``."""
    return (multiplier * contracts * price_dollars * (1 - price_dollars)).quantize(_CENT, rounding=ROUND_CEILING)


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


_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order the pipeline wants to send: ``action`` ``count_contracts`` of ``side`` at ``price_dollars``.

    Entries are buys of the chosen side at its best ask; exits sell the held side at its best bid
    (reduce-only). Prices are limit prices in dollars of ``side``.
    """

    ticker: str
    side: Side
    action: Literal["buy", "sell"]
    count_contracts: Decimal
    price_dollars: Decimal
    reduce_only: bool = False

    @property
    def signed_delta(self) -> Decimal:
        """Change of the signed position (+ YES / - NO) if fully filled, in contracts."""
        sign = 1 if (self.side == "yes") == (self.action == "buy") else -1
        return self.count_contracts * sign


def intent_for(action: TradeAction, obs: Observation, risk: RiskLimits) -> OrderIntent | None:
    """Translate a policy action into an order intent priced to cross the spread.

    ``BUY_YES`` buys YES at the best YES ask; ``BUY_NO`` buys NO at the best NO ask (``1 - YES bid``);
    ``SELL_YES``/``SELL_NO`` sell the held side at its best bid, at most the held contracts,
    reduce-only. Returns None for ``HOLD`` or when the needed side of the book is empty.
    """
    size = risk.order_size_contracts
    if action == TradeAction.BUY_YES and obs.yes_ask_dollars is not None:
        return OrderIntent(obs.ticker, "yes", "buy", size, obs.yes_ask_dollars)
    if action == TradeAction.BUY_NO and obs.yes_bid_dollars is not None:
        return OrderIntent(obs.ticker, "no", "buy", size, Decimal(1) - obs.yes_bid_dollars)
    if action == TradeAction.SELL_YES and obs.yes_bid_dollars is not None and obs.position_contracts > 0:
        return OrderIntent(obs.ticker, "yes", "sell", min(size, obs.position_contracts), obs.yes_bid_dollars, True)
    if action == TradeAction.SELL_NO and obs.no_bid_dollars is not None and obs.position_contracts < 0:
        return OrderIntent(obs.ticker, "no", "sell", min(size, -obs.position_contracts), obs.no_bid_dollars, True)
    return None


@dataclass(slots=True)
class PretradeState:
    """Mutable facts the checks need, kept by the trading loop.

    Attributes:
        positions: signed positions by ticker, contracts.
        balance_cents: free cash, cents (updated from fills).
        last_order_ms: monotonic milliseconds of the last order per ticker.
        consecutive_errors: exchange errors in a row (circuit breaker).
        order_group_triggered: the exchange rejected an order because the group is triggered.
    """

    positions: dict[str, Decimal] = field(default_factory=dict)
    balance_cents: int = 0
    last_order_ms: dict[str, float] = field(default_factory=dict)
    consecutive_errors: int = 0
    order_group_triggered: bool = False

    def open_positions(self) -> int:
        """Markets with a non-zero position."""
        return sum(1 for v in self.positions.values() if v != 0)


def check(
    intent: OrderIntent,
    obs: Observation,
    state: PretradeState,
    risk: RiskLimits,
    exits: ExitRules,
    now_ms: float,
    *,
    max_consecutive_errors: int,
    max_book_age_ms: float | None = None,
) -> str | None:
    """Run every pre-trade check on ``intent``; return the first reject reason, or None to send it.

    Args:
        intent: the order (dollars, contracts).
        obs: the observation it came from (book, position, time to close in seconds).
        state: loop state (positions in contracts, cash in cents, throttle clock in ms).
        risk: risk limits.
        exits: exit thresholds (closing window in seconds and cash reserve in cents).
        now_ms: monotonic milliseconds (same clock as ``state.last_order_ms``).
        max_consecutive_errors: circuit-breaker threshold.
        max_book_age_ms: refuse to act on a book older than this (None = no limit).
    """
    if state.consecutive_errors >= max_consecutive_errors:
        return "circuit_open"
    if state.order_group_triggered and not intent.reduce_only:
        return "order_group_triggered"
    if obs.seconds_to_close is None:
        return "market_unknown"
    if obs.seconds_to_close < exits.market_closing_window_s:
        return "market_closing"
    if max_book_age_ms is not None and obs.book_age_ms > max_book_age_ms:
        return "stale_book"
    if intent.price_dollars <= 0 or intent.price_dollars >= 1:
        return "no_liquidity"
    last = state.last_order_ms.get(intent.ticker)
    if last is not None and now_ms - last < risk.per_market_throttle_ms:
        return "throttle"
    position = state.positions.get(intent.ticker, _ZERO)
    if intent.action == "sell":
        held = position if intent.side == "yes" else -position
        return None if held > 0 else "nothing_to_sell"
    # Entries (buys)
    spread = obs.spread_dollars
    if spread is None or spread > risk.max_spread_dollars:
        return "spread"
    if intent.price_dollars > risk.max_entry_price_dollars:
        return "price_cap"
    new_position = position + intent.signed_delta
    if abs(new_position) > risk.max_position_contracts:
        return "position_limit"
    if position == 0 and state.open_positions() >= risk.max_open_positions:
        return "max_open_positions"
    cost = intent.count_contracts * intent.price_dollars + taker_fee_dollars(
        intent.count_contracts, intent.price_dollars
    )
    cost_cents = int((cost * 100).to_integral_value(rounding=ROUND_CEILING))
    if state.balance_cents - cost_cents < exits.cash_reserve_cents:
        return "cash_reserve"
    return None


def fill_cash_delta_dollars(
    book_side: Literal["bid", "ask"],
    contracts: Decimal,
    yes_price_dollars: Decimal,
    position_before: Decimal,
    fee_dollars: Decimal = Decimal(0),
) -> Decimal:
    """Change of free cash (dollars) caused by one fill, under Kalshi's net-position model (kalshi-api.md §8).

    A ``bid`` fill buys YES at ``p`` and pays ``p`` per contract; an ``ask`` fill buys NO at ``1 - p`` (the same
    thing as selling YES at ``p``) and pays ``1 - p``. Each contract that nets against an opposite position
    (a YES bought while short NO, a NO bought while long YES) redeems a YES+NO pair for $1. The fee is
    subtracted.

    Args:
        book_side: ``bid`` (buy YES / sell NO) or ``ask`` (sell YES / buy NO).
        contracts: contracts filled (> 0).
        yes_price_dollars: the fill's YES price in dollars.
        position_before: signed position before the fill (+ YES / - NO), contracts.
        fee_dollars: the fill's fee in dollars.

    Returns:
        Signed dollars: negative when cash went out.

    Examples:
        Buying 10 YES at $0.40 while flat: -4.00. Selling those 10 (an ask at $0.45): pays 10 x 0.55 for
        NO and redeems 10 pairs: +4.50.
    """
    if book_side == "bid":
        paid = contracts * yes_price_dollars
        netted = min(contracts, -position_before) if position_before < 0 else Decimal(0)
    else:
        paid = contracts * (Decimal(1) - yes_price_dollars)
        netted = min(contracts, position_before) if position_before > 0 else Decimal(0)
    return netted - paid - fee_dollars
