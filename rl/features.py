"""The ONE observation function of the trading policy, shared by the training environment and the live loop.

``observe(book, state, now_ms)`` turns the order book the actor loop already holds
(:class:`kalshi.orderbook.OrderBook`: exact integer centi-cents and lots) plus a small per-market
:class:`MarketFeatureState` (position, cost, cash, own resting order, recent mids and trades, the market's
open and close times) into a ``float32`` vector of :data:`N_FEATURES` features. The training environment
and the live actor loop call exactly this function, so what a policy saw in training is what it sees when
trading (no train/serve skew; ARCHITECTURE.md "Learning and evaluation").

Versioning: :data:`FEATURE_VERSION` changes whenever a feature's meaning, unit, order or scaling changes. A
trained model records the version it was trained with, and loading refuses a model of another version
(:mod:`rl.registry`).

The features (index, name, unit, range; every value is clipped into its range, and every range is finite):

====  ======================  =================================================================  ===========
idx   name                    meaning (unit)                                                     range
====  ======================  =================================================================  ===========
0     yes_bid                 best YES bid (dollars); 0 when there is no YES bid                 [0, 1]
1     yes_ask                 best YES ask = $1 - best NO bid (dollars); 1 when no NO bid        [0, 1]
2     mid                     (yes_bid + yes_ask) / 2 with the defaults above (dollars)          [0, 1]
3     spread                  yes_ask - yes_bid (dollars)                                        [0, 1]
4     microprice              size-weighted touch (bid x ask_size + ask x bid_size) / sizes      [0, 1]
                              (dollars); the mid when a touch is empty
5     has_yes_bid             1 when the YES bid side has a level, else 0                        {0, 1}
6     has_yes_ask             1 when the NO bid side (= YES asks) has a level, else 0            {0, 1}
7-9   bid_depth_1/3/5         contracts bid for YES on the best 1/3/5 levels,                    [0, 1]
                              log1p(contracts) / log1p(100,000)
10-12 ask_depth_1/3/5         contracts offered (NO bids) on the best 1/3/5 levels, same scale   [0, 1]
13-15 imbalance_1/3/5         (bid - ask) / (bid + ask) of those depths; 0 when both are empty   [-1, 1]
16-18 mid_change_5s/30s/120s  mid now minus the mid at now - horizon (dollars; since the first   [-1, 1]
                              mid when the history is shorter)
19-21 volatility_5s/30s/120s  realised volatility: sqrt(sum of squared mid changes) inside the   [0, 1]
                              horizon (dollars)
22-24 flow_5s/30s/120s        signed traded volume inside the horizon (+ takers bought YES,      [-1, 1]
                              - bought NO): sign x log1p(|contracts|) / log1p(10,000)
25    time_to_close           (close - now) / (close - open): 1 at the open, 0 at the close      [0, 1]
26    position                signed position / position scale (+ YES, - NO contracts)           [-1, 1]
27    avg_cost                average cost per held contract of the held side (dollars); 0 flat  [0, 1]
28    unrealised_pnl          (liquidation value - cost) per held contract (dollars); the        [-1, 1]
                              liquidation value sells the position into the bids level by level
                              (depth-aware; size beyond the visible bids is worth 0); 0 flat
29    cash_fraction           cash / reference capital                                           [0, 2]
30    equity_fraction         (cash + liquidation value) / reference capital                     [0, 2]
31    resting_direction       own resting order: +1 adds YES exposure (buy YES, sell NO), -1     [-1, 1]
                              adds NO exposure (buy NO, sell YES), 0 none
32    resting_gap             best bid of the book side it rests on minus its price there        [-1, 1]
                              (dollars): 0 at the touch, > 0 behind it; 0 when none
33    resting_remaining       its remaining contracts / position scale; 0 when none              [0, 1]
34    resting_age             its age / 60 s; 0 when none                                        [0, 1]
====  ======================  =================================================================  ===========

Book conventions (kalshi-api.md §3.3, §8): Kalshi books hold bids only; a NO bid at q is a YES ask at 1 - q,
and an own sell of YES at p rests as a NO bid at 1 - p. The book passed in must be the book the exchange
publishes, own resting orders included (live, the WebSocket book does; in the environment, the engine's
displayed book).

Speed: the per-market history (mids, trades) is kept incrementally in exact integers with one pointer per
horizon, so one observation costs a few microseconds and allocates one small array (``bench/bench_rl_features.py``
prints the figure). A NaN or infinity in a feature is a bug: :func:`observe` raises :class:`FeatureError` naming
the feature instead of passing it on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from kalshi.orderbook import OrderBook

__all__ = [
    "FEATURES",
    "FEATURE_NAMES",
    "FEATURE_VERSION",
    "HORIZONS_MS",
    "N_FEATURES",
    "OBS_HIGH",
    "OBS_LOW",
    "FeatureError",
    "FeatureSpec",
    "MarketFeatureState",
    "RestingOrder",
    "check_observation",
    "observe",
]

FEATURE_VERSION: Final = 1
"""Version of the observation: its features, their order, units and scaling (see the module docstring)."""

_H0: Final = 5_000
_H1: Final = 30_000
_H2: Final = 120_000
HORIZONS_MS: Final = (_H0, _H1, _H2)
"""Look-back horizons of the mid-change, volatility and trade-flow features, exchange milliseconds (ascending)."""

_CC: Final = 10_000  # centi-cents per dollar
_LOTS: Final = 100  # lots per contract
_MICRO_PER_LOT_DOLLAR: Final = _CC  # lots x cc = micro-dollars; micro / lots / 10^4 = dollars per contract
_DEPTH_NORM: Final = 1.0 / math.log1p(100_000)
_FLOW_NORM: Final = 1.0 / math.log1p(10_000)
_INV_CC: Final = 1.0 / _CC
_INV_2CC: Final = 0.5 / _CC
_TRIM_AT: Final = 4_096  # history entries older than every horizon are dropped in blocks of at least this


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One feature of the observation: its name, unit and closed range (see the module docstring table)."""

    name: str
    unit: str
    low: float
    high: float


def _specs() -> tuple[FeatureSpec, ...]:
    out = [
        FeatureSpec("yes_bid", "dollars", 0.0, 1.0),
        FeatureSpec("yes_ask", "dollars", 0.0, 1.0),
        FeatureSpec("mid", "dollars", 0.0, 1.0),
        FeatureSpec("spread", "dollars", 0.0, 1.0),
        FeatureSpec("microprice", "dollars", 0.0, 1.0),
        FeatureSpec("has_yes_bid", "flag", 0.0, 1.0),
        FeatureSpec("has_yes_ask", "flag", 0.0, 1.0),
    ]
    out += [FeatureSpec(f"bid_depth_{n}", "log1p(contracts)/log1p(1e5)", 0.0, 1.0) for n in (1, 3, 5)]
    out += [FeatureSpec(f"ask_depth_{n}", "log1p(contracts)/log1p(1e5)", 0.0, 1.0) for n in (1, 3, 5)]
    out += [FeatureSpec(f"imbalance_{n}", "ratio", -1.0, 1.0) for n in (1, 3, 5)]
    out += [FeatureSpec(f"mid_change_{h // 1000}s", "dollars", -1.0, 1.0) for h in HORIZONS_MS]
    out += [FeatureSpec(f"volatility_{h // 1000}s", "dollars", 0.0, 1.0) for h in HORIZONS_MS]
    out += [FeatureSpec(f"flow_{h // 1000}s", "signed log1p(contracts)/log1p(1e4)", -1.0, 1.0) for h in HORIZONS_MS]
    out += [
        FeatureSpec("time_to_close", "fraction of the market's length", 0.0, 1.0),
        FeatureSpec("position", "contracts / position scale", -1.0, 1.0),
        FeatureSpec("avg_cost", "dollars per contract", 0.0, 1.0),
        FeatureSpec("unrealised_pnl", "dollars per contract", -1.0, 1.0),
        FeatureSpec("cash_fraction", "cash / reference capital", 0.0, 2.0),
        FeatureSpec("equity_fraction", "(cash + liquidation value) / reference capital", 0.0, 2.0),
        FeatureSpec("resting_direction", "sign", -1.0, 1.0),
        FeatureSpec("resting_gap", "dollars", -1.0, 1.0),
        FeatureSpec("resting_remaining", "contracts / position scale", 0.0, 1.0),
        FeatureSpec("resting_age", "minutes", 0.0, 1.0),
    ]
    return tuple(out)


FEATURES: Final = _specs()
"""Every feature in observation order."""

FEATURE_NAMES: Final = tuple(f.name for f in FEATURES)
"""The feature names in observation order."""

N_FEATURES: Final = len(FEATURES)
"""Length of the observation vector."""

OBS_LOW: Final = np.array([f.low for f in FEATURES], dtype=np.float32)
"""Lower bounds of the observation (the ``low`` of a gymnasium ``Box``)."""

OBS_HIGH: Final = np.array([f.high for f in FEATURES], dtype=np.float32)
"""Upper bounds of the observation (the ``high`` of a gymnasium ``Box``)."""


class FeatureError(ValueError):
    """An observation could not be built honestly: a NaN or infinite feature, or impossible state.

    Attributes:
        feature: the offending feature's name, or ``None`` when the state itself was invalid.

    """

    def __init__(self, message: str, feature: str | None = None) -> None:
        super().__init__(message)
        self.feature = feature


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """The market's own resting order, as the features see it.

    Attributes:
        side: the contract side, ``"yes"`` or ``"no"``.
        action: ``"buy"`` or ``"sell"``.
        price_cc: the order's limit price of ``side``, centi-cents.
        remaining_lots: its unfilled size, lots (1/100 contract), > 0.
        placed_ms: when it started resting, exchange Unix milliseconds.

    """

    side: Literal["yes", "no"]
    action: Literal["buy", "sell"]
    price_cc: int
    remaining_lots: int
    placed_ms: int


class MarketFeatureState:
    """The per-market state the observation needs besides the book, kept incrementally.

    The owner (the environment's or the live loop's bookkeeping) updates it: :meth:`on_book` after book updates
    (every update, so volatility sees every mid change; :func:`observe` also records the current mid),
    :meth:`on_trade` for each public trade, :meth:`set_portfolio` after fills, :attr:`resting` when the own
    order changes. Times are exchange Unix milliseconds and should not go backwards (a step back is tolerated:
    the look-back windows simply do not move).

    Args:
        open_ms: the market's open time, Unix ms.
        close_ms: its close time, Unix ms (> ``open_ms``).
        reference_capital_micro: the capital that cash and equity are measured against (e.g. the cash at the
            start of the episode or session), micro-dollars, > 0.
        position_scale_lots: the position (and order size) that maps to 1.0, lots, > 0 (e.g. the position
            limit).
        cash_micro: the cash at the start, micro-dollars (default: the reference capital).

    Raises:
        FeatureError: ``close_ms <= open_ms``, or a non-positive capital or scale.

    """

    __slots__ = (
        "_mid2",
        "_mid_ptr",
        "_mid_sq",
        "_mid_ts",
        "_trade_cum",
        "_trade_ptr",
        "_trade_ts",
        "cash_micro",
        "close_ms",
        "cost_micro",
        "length_ms",
        "open_ms",
        "position_lots",
        "position_scale_lots",
        "reference_capital_micro",
        "resting",
    )

    def __init__(
        self,
        *,
        open_ms: int,
        close_ms: int,
        reference_capital_micro: int,
        position_scale_lots: int,
        cash_micro: int | None = None,
    ) -> None:
        if close_ms <= open_ms:
            raise FeatureError(f"market close {close_ms} must be after its open {open_ms} (Unix ms)")
        if reference_capital_micro <= 0 or position_scale_lots <= 0:
            raise FeatureError(
                f"reference capital ({reference_capital_micro} micro-$) and position scale "
                f"({position_scale_lots} lots) must be > 0"
            )
        self.open_ms = open_ms
        self.close_ms = close_ms
        self.length_ms = close_ms - open_ms
        self.reference_capital_micro = reference_capital_micro
        self.position_scale_lots = position_scale_lots
        self.cash_micro = reference_capital_micro if cash_micro is None else cash_micro
        self.position_lots = 0
        self.cost_micro = 0
        self.resting: RestingOrder | None = None
        # Mid history: time, 2 x mid in centi-cents (exact), prefix sums of squared changes of 2 x mid.
        self._mid_ts: list[int] = []
        self._mid2: list[int] = []
        self._mid_sq: list[int] = []
        self._mid_ptr = [0] * len(HORIZONS_MS)
        # Trade history: time and prefix sums of signed lots, with a leading 0 at "minus infinity".
        self._trade_ts: list[int] = [-(1 << 62)]
        self._trade_cum: list[int] = [0]
        self._trade_ptr = [0] * len(HORIZONS_MS)

    # -- updates ---------------------------------------------------------------------------------------

    def on_book(self, book: OrderBook, ts_ms: int) -> None:
        """Record the book's mid at ``ts_ms`` when both touches exist and the mid changed (O(1))."""
        yes_px, _ = book.bid_view("yes")
        no_px, _ = book.bid_view("no")
        if yes_px and no_px:
            self._record_mid(yes_px[-1] + _CC - no_px[-1], ts_ms)

    def _record_mid(self, mid2: int, ts_ms: int) -> None:
        hist = self._mid2
        if hist:
            last = hist[-1]
            if mid2 == last:
                return
            step = mid2 - last
            self._mid_sq.append(self._mid_sq[-1] + step * step)
        else:
            self._mid_sq.append(0)
        hist.append(mid2)
        self._mid_ts.append(ts_ms)

    def on_trade(self, yes_price_cc: int, count_lots: int, taker_outcome_side: str, ts_ms: int) -> None:
        """Record one public trade: ``count_lots`` lots, signed + when the taker bought YES, - when NO.

        Args:
            yes_price_cc: the trade's YES price, centi-cents (kept for the interface; unused by version 1).
            count_lots: its size, lots (> 0).
            taker_outcome_side: ``"yes"`` or ``"no"``: the outcome the taker bought (kalshi-api.md §8).
            ts_ms: its exchange time, Unix ms.

        Raises:
            FeatureError: a non-positive count or an unknown side.

        """
        if count_lots <= 0 or taker_outcome_side not in ("yes", "no"):
            raise FeatureError(f"bad trade: {count_lots} lots, taker bought {taker_outcome_side!r}")
        signed = count_lots if taker_outcome_side == "yes" else -count_lots
        self._trade_ts.append(ts_ms)
        self._trade_cum.append(self._trade_cum[-1] + signed)

    def set_portfolio(self, *, position_lots: int, cost_micro: int, cash_micro: int) -> None:
        """Set the position after fills: signed lots (+ YES, - NO), its total cost and the cash, micro-dollars.

        Raises:
            FeatureError: a value that is not an ``int`` (a float would hide a NaN), a negative cost, or a cost on a
                flat position.

        """
        if not all(type(v) is int for v in (position_lots, cost_micro, cash_micro)):
            raise FeatureError(
                f"portfolio values must be integers (lots, micro-dollars), got {position_lots!r}, {cost_micro!r}, "
                f"{cash_micro!r}"
            )
        if cost_micro < 0 or (position_lots == 0 and cost_micro != 0):
            raise FeatureError(f"cost {cost_micro} micro-$ is impossible for a position of {position_lots} lots")
        self.position_lots = position_lots
        self.cost_micro = cost_micro
        self.cash_micro = cash_micro

    def set_portfolio_dollars(
        self, *, position_contracts: Decimal, cost_dollars: Decimal, cash_dollars: Decimal
    ) -> None:
        """:meth:`set_portfolio` from exact Decimal contracts and dollars (the live path's units).

        Raises:
            FeatureError: a value finer than 0.01 contract or $0.000001, or as :meth:`set_portfolio`.

        """
        lots = position_contracts * _LOTS
        cost = cost_dollars * 1_000_000
        cash = cash_dollars * 1_000_000
        for value, what in ((lots, "position"), (cost, "cost"), (cash, "cash")):
            if value != value.to_integral_value():
                raise FeatureError(f"{what} {value} is finer than the feature state's integer units")
        self.set_portfolio(position_lots=int(lots), cost_micro=int(cost), cash_micro=int(cash))

    # -- look-back windows -------------------------------------------------------------------------------

    def _advance(self, now_ms: int) -> None:
        """Move each horizon's pointer to the last entry at or before ``now_ms - horizon`` (amortised O(1))."""
        cut0, cut1, cut2 = now_ms - _H0, now_ms - _H1, now_ms - _H2
        for ts, ptrs in ((self._mid_ts, self._mid_ptr), (self._trade_ts, self._trade_ptr)):
            last = len(ts) - 1
            p0, p1, p2 = ptrs
            while p0 < last and ts[p0 + 1] <= cut0:
                p0 += 1
            while p1 < last and ts[p1 + 1] <= cut1:
                p1 += 1
            while p2 < last and ts[p2 + 1] <= cut2:
                p2 += 1
            ptrs[0], ptrs[1], ptrs[2] = p0, p1, p2
        if self._mid_ptr[2] >= _TRIM_AT:
            self._trim_mids(self._mid_ptr[2])
        if self._trade_ptr[2] >= _TRIM_AT:
            self._trim_trades(self._trade_ptr[2])

    def _trim_mids(self, drop: int) -> None:
        del self._mid_ts[:drop], self._mid2[:drop], self._mid_sq[:drop]
        self._mid_ptr[:] = [p - drop for p in self._mid_ptr]

    def _trim_trades(self, drop: int) -> None:
        del self._trade_ts[:drop], self._trade_cum[:drop]
        self._trade_ptr[:] = [p - drop for p in self._trade_ptr]


def _liquidation_micro(prices: Sequence[int], sizes: Mapping[int, int], lots: int) -> int:
    """Proceeds of selling ``lots`` into bids ``prices``/``sizes`` level by level, micro-dollars (rest worth 0)."""
    total = 0
    for i in range(len(prices) - 1, -1, -1):
        price = prices[i]
        take = sizes[price]
        if take >= lots:
            return total + lots * price
        total += take * price
        lots -= take
    return total


def _cum3(prices: Sequence[int], sizes: Mapping[int, int]) -> tuple[int, int, int]:
    """Lots on the best 1, 3 and 5 levels of one side's bids (prices ascending, best last)."""
    top = prices[-5:]
    n = len(top)
    if n == 5:
        one = sizes[top[4]]
        three = one + sizes[top[3]] + sizes[top[2]]
        return one, three, three + sizes[top[1]] + sizes[top[0]]
    if n == 0:
        return 0, 0, 0
    one = sizes[top[-1]]
    three = one + sum(sizes[p] for p in top[-3:-1])
    return one, three, three + sum(sizes[p] for p in top[:-3])


def observe(
    book: OrderBook, state: MarketFeatureState, now_ms: int, out: npt.NDArray[np.float32] | None = None
) -> npt.NDArray[np.float32]:
    """Build the observation of one market at ``now_ms`` (see the module docstring for every feature).

    Args:
        book: the market's order book as the exchange publishes it (own resting orders included).
        state: the market's :class:`MarketFeatureState`; the current mid is recorded into it.
        now_ms: the decision time, exchange Unix milliseconds.
        out: a ``float32`` array of :data:`N_FEATURES` to fill (no allocation), or ``None`` for a new one.

    Returns:
        The observation, ``float32``, shape ``(N_FEATURES,)``, every value finite and inside
        ``[OBS_LOW, OBS_HIGH]``.

    Raises:
        FeatureError: a feature came out NaN or infinite (a bug upstream, never passed to a policy).

    """
    yes_px, yes_sz = book.bid_view("yes")
    no_px, no_sz = book.bid_view("no")
    has_bid = bool(yes_px)
    has_ask = bool(no_px)
    bid_cc = yes_px[-1] if has_bid else 0
    ask_cc = _CC - no_px[-1] if has_ask else _CC
    if has_bid and has_ask:
        state._record_mid(bid_cc + ask_cc, now_ms)
    state._advance(now_ms)

    b1, b3, b5 = _cum3(yes_px, yes_sz)
    a1, a3, a5 = _cum3(no_px, no_sz)
    log1p = math.log1p
    d_b1 = log1p(b1 * 0.01) * _DEPTH_NORM
    d_b3 = log1p(b3 * 0.01) * _DEPTH_NORM
    d_b5 = log1p(b5 * 0.01) * _DEPTH_NORM
    d_a1 = log1p(a1 * 0.01) * _DEPTH_NORM
    d_a3 = log1p(a3 * 0.01) * _DEPTH_NORM
    d_a5 = log1p(a5 * 0.01) * _DEPTH_NORM
    mid = (bid_cc + ask_cc) * _INV_2CC
    micro = (bid_cc * a1 + ask_cc * b1) / (a1 + b1) * _INV_CC if b1 and a1 else mid

    # Look-back windows (exact integers until the final scaling).
    m2 = state._mid2
    if m2:
        sq = state._mid_sq
        last2 = m2[-1]
        lastsq = sq[-1]
        p0, p1, p2 = state._mid_ptr
        dm0 = (last2 - m2[p0]) * _INV_2CC
        dm1 = (last2 - m2[p1]) * _INV_2CC
        dm2 = (last2 - m2[p2]) * _INV_2CC
        sqrt = math.sqrt
        v0 = sqrt(lastsq - sq[p0]) * _INV_2CC
        v1 = sqrt(lastsq - sq[p1]) * _INV_2CC
        v2 = sqrt(lastsq - sq[p2]) * _INV_2CC
        v0 = v0 if v0 < 1.0 else 1.0
        v1 = v1 if v1 < 1.0 else 1.0
        v2 = v2 if v2 < 1.0 else 1.0
    else:
        dm0 = dm1 = dm2 = v0 = v1 = v2 = 0.0
    tc = state._trade_cum
    tlast = tc[-1]
    q0, q1, q2 = state._trade_ptr
    n0 = tlast - tc[q0]
    n1 = tlast - tc[q1]
    n2 = tlast - tc[q2]
    f0 = log1p((n0 if n0 >= 0 else -n0) * 0.01) * _FLOW_NORM
    f1 = log1p((n1 if n1 >= 0 else -n1) * 0.01) * _FLOW_NORM
    f2 = log1p((n2 if n2 >= 0 else -n2) * 0.01) * _FLOW_NORM
    f0 = (f0 if f0 < 1.0 else 1.0) if n0 >= 0 else (-f0 if f0 < 1.0 else -1.0)
    f1 = (f1 if f1 < 1.0 else 1.0) if n1 >= 0 else (-f1 if f1 < 1.0 else -1.0)
    f2 = (f2 if f2 < 1.0 else 1.0) if n2 >= 0 else (-f2 if f2 < 1.0 else -1.0)

    ttc = (state.close_ms - now_ms) / state.length_ms
    ttc = 0.0 if ttc < 0.0 else 1.0 if ttc > 1.0 else ttc

    # Portfolio.
    pos = state.position_lots
    scale = state.position_scale_lots
    capital = state.reference_capital_micro
    cash = state.cash_micro
    if pos:
        held = pos if pos > 0 else -pos
        bids_px, bids_sz = (yes_px, yes_sz) if pos > 0 else (no_px, no_sz)
        liq = _liquidation_micro(bids_px, bids_sz, held)
        per = 1.0 / (held * _MICRO_PER_LOT_DOLLAR)
        avg_cost = state.cost_micro * per
        upnl = (liq - state.cost_micro) * per
        position = pos / scale
        position = -1.0 if position < -1.0 else 1.0 if position > 1.0 else position
    else:
        liq = 0
        avg_cost = upnl = position = 0.0
    cash_frac = cash / capital
    cash_frac = 0.0 if cash_frac < 0.0 else 2.0 if cash_frac > 2.0 else cash_frac
    equity = (cash + liq) / capital
    equity = 0.0 if equity < 0.0 else 2.0 if equity > 2.0 else equity

    # Own resting order.
    order = state.resting
    if order is None:
        r_dir = r_gap = r_rem = r_age = 0.0
    else:
        buy = order.action == "buy"
        yes_side = order.side == "yes"
        r_dir = 1.0 if buy == yes_side else -1.0
        # A buy of side s rests as an s bid at its price; a sell of s rests as a bid of the other side at 1 - p.
        rest_yes_book = yes_side == buy
        rest_price = order.price_cc if buy else _CC - order.price_cc
        rest_px = yes_px if rest_yes_book else no_px
        r_gap = (rest_px[-1] - rest_price) * _INV_CC if rest_px else 0.0
        r_rem = order.remaining_lots / scale
        r_rem = 1.0 if r_rem > 1.0 else r_rem
        r_age = (now_ms - order.placed_ms) / 60_000
        r_age = 0.0 if r_age < 0.0 else 1.0 if r_age > 1.0 else r_age

    values = (
        bid_cc * _INV_CC,
        ask_cc * _INV_CC,
        mid,
        (ask_cc - bid_cc) * _INV_CC,
        micro,
        1.0 if has_bid else 0.0,
        1.0 if has_ask else 0.0,
        d_b1 if d_b1 < 1.0 else 1.0,
        d_b3 if d_b3 < 1.0 else 1.0,
        d_b5 if d_b5 < 1.0 else 1.0,
        d_a1 if d_a1 < 1.0 else 1.0,
        d_a3 if d_a3 < 1.0 else 1.0,
        d_a5 if d_a5 < 1.0 else 1.0,
        (b1 - a1) / (b1 + a1) if b1 + a1 else 0.0,
        (b3 - a3) / (b3 + a3) if b3 + a3 else 0.0,
        (b5 - a5) / (b5 + a5) if b5 + a5 else 0.0,
        dm0,
        dm1,
        dm2,
        v0,
        v1,
        v2,
        f0,
        f1,
        f2,
        ttc,
        position,
        avg_cost,
        upnl,
        cash_frac,
        equity,
        r_dir,
        r_gap,
        r_rem,
        r_age,
    )
    if not math.isfinite(sum(values)):
        bad = next(i for i, v in enumerate(values) if not math.isfinite(v))
        raise FeatureError(
            f"feature {FEATURE_NAMES[bad]} is {values[bad]} for {book.ticker} at {now_ms}", FEATURE_NAMES[bad]
        )
    if out is None:
        return np.array(values, dtype=np.float32)
    out[:] = values
    return out


def check_observation(obs: npt.NDArray[np.float32]) -> None:
    """Verify an observation: shape ``(N_FEATURES,)``, ``float32``, finite and inside ``[OBS_LOW, OBS_HIGH]``.

    For tests and the environment's debug mode (``observe`` already guarantees this).

    Raises:
        FeatureError: naming the first feature that breaks a rule.

    """
    if obs.shape != (N_FEATURES,) or obs.dtype != np.float32:
        raise FeatureError(f"observation must be float32 of shape ({N_FEATURES},), got {obs.dtype} {obs.shape}")
    bad = np.flatnonzero(~np.isfinite(obs) | (obs < OBS_LOW) | (obs > OBS_HIGH))
    if bad.size:
        i = int(bad[0])
        spec = FEATURES[i]
        raise FeatureError(f"feature {spec.name} = {obs[i]} outside [{spec.low}, {spec.high}]", spec.name)
