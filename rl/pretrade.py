"""Pre-trade checks: step 3 of the trading pipeline (pure functions, no I/O).

An action from the policy becomes an :class:`OrderIntent` (side, buy/sell, contracts, limit price)
and is checked against the risk limits before anything reaches the exchange. A failed check returns
a stable reject reason (a metric label and a key of the epoch summary's ``rejects``):

``market_unknown``, ``market_closing`` (inside the exit rules' closing window), ``stale_book``,
``no_liquidity``, ``spread`` (entry with a spread wider than ``max_spread_dollars``),
``price_cap`` (entry above ``max_entry_price_dollars``), ``position_limit``,
``max_open_positions``, ``cash_reserve`` (the buy's cost plus the worst-case taker fee would take
free cash below the reserve), ``nothing_to_sell``, ``throttle`` (an order in the same market less
than ``per_market_throttle_ms`` ago), ``circuit_open`` (too many errors in a row),
``order_group_triggered``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Literal

from models.money import taker_fee_dollars
from models.trader import ExitRules, RiskLimits, Side, TradeAction
from rl.policy import Observation

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
