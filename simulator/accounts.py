"""Accounts: cash, signed net positions, fills and settlements (kalshi-api.md §3.4, §7, §8).

Units: cash, exposure, P&L, fees and costs are exact :class:`~decimal.Decimal` **dollars**; positions
and counts are Decimal **contracts** (signed for positions: + YES, - NO); times are **tape** epoch ms.

Net-position accounting (§8): a bid (buy YES at ``y``) while short (holding NO) first closes NO
contracts: each closed YES+NO pair is worth $1, so cash rises by ``1 - y`` per contract and the closed
part's cost basis (average cost) is realised; any rest opens YES at ``y`` per contract. An ask (buy NO at
``1 - y``) is symmetric against a long YES position. ``market_exposure`` is the cost basis of the current
position; fees are tracked separately in ``fees_paid`` and are not part of realised P&L.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from models.money import ONE_DOLLAR
from simulator.order_groups import OrderGroup
from simulator.orders import Order

ZERO = Decimal(0)
BASIS_QUANTUM = Decimal("0.000001")
_USER_NS = uuid.UUID("0b5f3a44-1f7e-4a53-b0a8-8f2d6f0b7c11")


@dataclass(slots=True)
class Position:
    """An account's position in one market.

    ``position`` signed contracts (+ YES, - NO); ``exposure`` dollars (cost of the current position);
    ``realized_pnl``, ``fees_paid``, ``total_traded`` dollars; ``volume`` contracts traded;
    ``last_updated_ms`` tape ms.
    """

    ticker: str
    event_ticker: str
    position: Decimal = ZERO
    exposure: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    total_traded: Decimal = ZERO
    volume: Decimal = ZERO
    last_updated_ms: int = 0


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One fill of an account order (§3.4 ``GET /portfolio/fills``).

    ``count`` contracts, ``yes_price`` dollars (the trade's YES price), ``fee`` dollars, ``ts_ms`` tape
    ms, ``post_position`` signed contracts after the fill; ``seq`` orders fills newest-last.
    """

    fill_id: str
    order_id: str
    client_order_id: str
    ticker: str
    side: str
    action: str
    book_side: str
    count: Decimal
    yes_price: Decimal
    is_taker: bool
    fee: Decimal
    ts_ms: int
    post_position: Decimal
    seq: int

    @property
    def outcome_side(self) -> str:
        """``yes`` for bid fills, ``no`` for ask fills (§8)."""
        return "yes" if self.book_side == "bid" else "no"


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    """One market settlement of an account (§3.4 ``GET /portfolio/settlements``).

    ``yes_count``/``no_count`` contracts held at settlement, costs in dollars, ``revenue_cents`` integer
    cents (100 per winning contract), ``value_cents`` the payout per YES contract in cents.
    """

    ticker: str
    event_ticker: str
    market_result: str
    yes_count: Decimal
    no_count: Decimal
    yes_total_cost: Decimal
    no_total_cost: Decimal
    revenue_cents: int
    value_cents: int
    ts_ms: int
    seq: int


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A control-API position arrangement (no fill, no cash movement); for the audit trail."""

    ticker: str
    position: Decimal
    exposure: Decimal
    ts_ms: int


@dataclass
class Account:
    """One API key's account: cash and everything it owns.

    ``cash`` dollars (total, including what resting buy orders reserve; free cash is computed by the
    exchange as ``cash - collateral of resting orders``). ``orders`` holds every order ever placed,
    ``resting`` the subset whose status is ``resting`` (maintained by the exchange).
    """

    key_id: str
    cash: Decimal
    user_id: str = ""
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    resting: dict[str, Order] = field(default_factory=dict)
    client_order_ids: dict[str, str] = field(default_factory=dict)
    fills: list[FillRecord] = field(default_factory=list)
    settlements: list[SettlementRecord] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    order_groups: dict[str, OrderGroup] = field(default_factory=dict)
    updated_ms: int = 0

    def __post_init__(self) -> None:
        if not self.user_id:
            self.user_id = str(uuid.uuid5(_USER_NS, self.key_id))

    def position(self, ticker: str, event_ticker: str) -> Position:
        """Return (creating) the position row for a market."""
        pos = self.positions.get(ticker)
        if pos is None:
            pos = self.positions[ticker] = Position(ticker, event_ticker)
        return pos


def apply_fill(
    account: Account, pos: Position, book_side: str, count: Decimal, yes_price: Decimal, fee: Decimal, ts_ms: int
) -> None:
    """Apply one fill to cash and position with net-position accounting (module docstring, §8).

    Args:
        account: the account (cash changes here).
        pos: its position row in the fill's market.
        book_side: ``bid`` (bought YES at ``yes_price``) or ``ask`` (bought NO at ``1 - yes_price``).
        count: contracts filled (> 0).
        yes_price: the fill's YES price in dollars.
        fee: fee charged in dollars (0 for makers).
        ts_ms: tape time of the fill.

    """
    buy_yes = book_side == "bid"
    own_price = yes_price if buy_yes else ONE_DOLLAR - yes_price
    other_price = ONE_DOLLAR - own_price
    held_opposite = -pos.position if buy_yes else pos.position
    closing = min(count, held_opposite) if held_opposite > 0 else ZERO
    if closing > 0:
        if closing == held_opposite:
            basis = pos.exposure
        else:
            basis = (pos.exposure * closing / held_opposite).quantize(BASIS_QUANTUM, rounding=ROUND_HALF_EVEN)
        proceeds = closing * other_price
        account.cash += proceeds
        pos.realized_pnl += proceeds - basis
        pos.exposure -= basis
        pos.position += closing if buy_yes else -closing
    opening = count - closing
    if opening > 0:
        cost = opening * own_price
        account.cash -= cost
        pos.exposure += cost
        pos.position += opening if buy_yes else -opening
    if pos.position == 0:
        pos.exposure = ZERO
    account.cash -= fee
    pos.fees_paid += fee
    pos.total_traded += count * own_price
    pos.volume += count
    pos.last_updated_ms = ts_ms
    account.updated_ms = ts_ms
