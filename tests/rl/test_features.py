"""The observation function on real recorded Kalshi books, checked against an independent recomputation.

The tape of one gold market is folded through the product's book (``BookStore.apply_frame``), the trades are fed
to the feature state, and at regular points the observation is compared with an oracle written differently:
Decimal prices from ``OrderBook.depth``/``ask_depth``, and brute-force scans over the full mid and trade history
(no pointers, no prefix sums). Every observation of the market is also checked for dtype, finiteness and bounds.
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import numpy as np
import pytest

from kalshi.models.ws import Trade
from kalshi.orderbook import BookStore, OrderBook
from rl.features import (
    FEATURE_NAMES,
    FEATURE_VERSION,
    FEATURES,
    HORIZONS_MS,
    N_FEATURES,
    OBS_HIGH,
    OBS_LOW,
    FeatureError,
    MarketFeatureState,
    RestingOrder,
    check_observation,
    observe,
)
from tests.rl.conftest import RecordedMarket

D = Decimal
CAPITAL_MICRO = 1_000 * 1_000_000  # $1,000
SCALE_LOTS = 2_000  # 20 contracts


def _idx(name: str) -> int:
    return FEATURE_NAMES.index(name)


def _oracle(
    book: OrderBook,
    mids: list[tuple[int, Decimal]],
    trades: list[tuple[int, int]],
    now_ms: int,
    state: MarketFeatureState,
) -> dict[str, float]:
    """Independent recomputation of the market features (Decimal book reads, brute-force history scans)."""
    bids = book.depth("yes")
    asks = book.ask_depth("yes")
    bid = bids[0].price_dollars if bids else D(0)
    ask = asks[0].price_dollars if asks else D(1)
    out: dict[str, float] = {
        "yes_bid": float(bid),
        "yes_ask": float(ask),
        "mid": float((bid + ask) / 2),
        "spread": float(ask - bid),
        "has_yes_bid": float(bool(bids)),
        "has_yes_ask": float(bool(asks)),
    }
    if bids and asks:
        bs, as_ = bids[0].size_contracts, asks[0].size_contracts
        out["microprice"] = float((bid * as_ + ask * bs) / (bs + as_))
    else:
        out["microprice"] = out["mid"]
    for n in (1, 3, 5):
        b = sum((lvl.size_contracts for lvl in bids[:n]), D(0))
        a = sum((lvl.size_contracts for lvl in asks[:n]), D(0))
        out[f"bid_depth_{n}"] = min(math.log1p(float(b)) / math.log1p(100_000), 1.0)
        out[f"ask_depth_{n}"] = min(math.log1p(float(a)) / math.log1p(100_000), 1.0)
        out[f"imbalance_{n}"] = float((b - a) / (b + a)) if b + a else 0.0
    for h in HORIZONS_MS:
        cut = now_ms - h
        if mids:
            before = [m for t, m in mids if t <= cut]
            start = before[-1] if before else mids[0][1]
            inside = [m for t, m in mids if t > cut]
            path = [start, *inside] if before else [m for _, m in mids]
            out[f"mid_change_{h // 1000}s"] = float(mids[-1][1] - start)
            sq = sum(((b2 - a2) ** 2 for a2, b2 in itertools.pairwise(path)), D(0))
            out[f"volatility_{h // 1000}s"] = min(math.sqrt(float(sq)), 1.0)
        else:
            out[f"mid_change_{h // 1000}s"] = 0.0
            out[f"volatility_{h // 1000}s"] = 0.0
        flow = sum(lots for t, lots in trades if t > cut) / 100
        out[f"flow_{h // 1000}s"] = (
            math.copysign(min(math.log1p(abs(flow)) / math.log1p(10_000), 1.0), flow) if flow else 0.0
        )
    out["time_to_close"] = min(max((state.close_ms - now_ms) / (state.close_ms - state.open_ms), 0.0), 1.0)
    return out


def _fold(market: RecordedMarket, check_every: int, on_point=None) -> tuple[int, int]:
    """Fold a market's tape; every ``check_every`` book updates compare with the oracle. Returns (obs, checks)."""
    store = BookStore()
    state = MarketFeatureState(
        open_ms=market.open_ms,
        close_ms=market.close_ms,
        reference_capital_micro=CAPITAL_MICRO,
        position_scale_lots=SCALE_LOTS,
    )
    mids: list[tuple[int, Decimal]] = []
    trades: list[tuple[int, int]] = []
    out = np.empty(N_FEATURES, dtype=np.float32)
    n_obs = n_checks = 0
    for recv_ms, raw in market.frames():
        event = store.apply_frame(raw, recv_ms)
        if type(event) is Trade:
            ts = event.ts_ms if event.ts_ms is not None else recv_ms
            state.on_trade(event.yes_price_cc, event.count_lots, event.taker_outcome_side, ts)
            trades.append((ts, event.count_lots if event.taker_outcome_side == "yes" else -event.count_lots))
            continue
        book = store.get(market.ticker)
        if book is None or not book.trusted or book.last_update_ts_ms is None:
            continue
        now = book.last_update_ts_ms
        bid, ask = book.best_bid_dollars("yes"), book.best_ask_dollars("yes")
        if bid is not None and ask is not None and (not mids or mids[-1][1] != (bid + ask) / 2):
            mids.append((now, (bid + ask) / 2))
        observe(book, state, now, out)
        check_observation(out)
        n_obs += 1
        if n_obs % check_every == 0:
            expected = _oracle(book, mids, trades, now, state)
            for name, value in expected.items():
                assert out[_idx(name)] == pytest.approx(value, abs=2e-6), (name, now)
            n_checks += 1
            if on_point is not None:
                on_point(book, state, now)
    return n_obs, n_checks


def test_feature_table_is_consistent() -> None:
    assert FEATURE_VERSION == 1
    assert len(FEATURES) == N_FEATURES == 35
    assert len(set(FEATURE_NAMES)) == N_FEATURES
    assert OBS_LOW.dtype == OBS_HIGH.dtype == np.float32
    assert np.all(OBS_LOW < OBS_HIGH) and np.all(np.isfinite(OBS_LOW)) and np.all(np.isfinite(OBS_HIGH))


def test_observation_matches_an_independent_oracle_on_a_real_tape(gold_markets: list[RecordedMarket]) -> None:
    market = min(gold_markets, key=lambda m: sum(f.stat().st_size for f in m.files))
    n_obs, n_checks = _fold(market, check_every=97)
    assert n_obs > 10_000 and n_checks > 100


def test_every_market_yields_valid_observations_to_its_closing_snapshot(gold_markets: list[RecordedMarket]) -> None:
    """Sparse oracle checks; the empty closing snapshot gives a valid observation too.

    The first market and the one whose tape continues into a second file (its deltas continue the first
    file's book).
    """
    chosen = [gold_markets[0], *(m for m in gold_markets if len(m.files) > 1)]
    assert len(chosen) >= 2
    for market in chosen:
        n_obs, _ = _fold(market, check_every=4_999)
        assert n_obs > 1_000, market.ticker


def _book(yes: list[tuple[int, int]], no: list[tuple[int, int]]) -> OrderBook:
    book = OrderBook("KXTEST-1")
    book.apply_snapshot(yes, no, 0)
    return book


def _state(**kw: int) -> MarketFeatureState:
    return MarketFeatureState(
        open_ms=0, close_ms=900_000, reference_capital_micro=CAPITAL_MICRO, position_scale_lots=SCALE_LOTS, **kw
    )


def test_position_features_use_the_depth_aware_liquidation_value() -> None:
    # YES bids: 3 contracts at $0.40, 2 at $0.38; NO bids 10 at $0.55 (YES ask $0.45).
    book = _book([(3800, 200), (4000, 300)], [(5500, 1000)])
    state = _state()
    # Long 10 YES bought for $4.50 in total (cost $0.45 each); cash $995.50.
    state.set_portfolio(position_lots=1000, cost_micro=4_500_000, cash_micro=995_500_000)
    obs = observe(book, state, 100_000)
    liq = book.sweep("yes", 10, "sell").total_dollars  # 3 x 0.40 + 2 x 0.38 = $1.96; 5 contracts find no bid
    assert liq == D("1.96")
    assert obs[_idx("position")] == pytest.approx(0.5)
    assert obs[_idx("avg_cost")] == pytest.approx(0.45)
    assert obs[_idx("unrealised_pnl")] == pytest.approx(float((liq - D("4.50")) / 10))
    assert obs[_idx("cash_fraction")] == pytest.approx(0.9955)
    assert obs[_idx("equity_fraction")] == pytest.approx(float((D("995.50") + liq) / 1000))
    # Long NO sells into the NO bids.
    state.set_portfolio(position_lots=-500, cost_micro=2_000_000, cash_micro=998_000_000)
    obs = observe(book, state, 100_000)
    assert obs[_idx("position")] == pytest.approx(-0.25)
    assert obs[_idx("unrealised_pnl")] == pytest.approx(0.55 - 0.40)


@pytest.mark.parametrize(
    ("side", "action", "price_cc", "direction", "gap"),
    [
        ("yes", "buy", 3900, 1.0, 0.01),  # rests as a YES bid at 0.39 behind the 0.40 touch
        ("yes", "sell", 4500, -1.0, 0.0),  # rests as a NO bid at 0.55: the NO touch
        ("no", "buy", 5400, -1.0, 0.01),  # NO bid at 0.54 behind 0.55
        ("no", "sell", 6000, 1.0, 0.0),  # rests as a YES bid at 0.40: the YES touch
    ],
)
def test_resting_order_features(side, action, price_cc, direction, gap) -> None:
    book = _book([(3800, 200), (3900, 100), (4000, 300)], [(5400, 100), (5500, 1000)])
    state = _state()
    state.resting = RestingOrder(side, action, price_cc, remaining_lots=500, placed_ms=70_000)
    obs = observe(book, state, 100_000)
    assert obs[_idx("resting_direction")] == direction
    assert obs[_idx("resting_gap")] == pytest.approx(gap)
    assert obs[_idx("resting_remaining")] == pytest.approx(0.25)
    assert obs[_idx("resting_age")] == pytest.approx(0.5)


def test_empty_book_and_times_outside_the_market_are_valid() -> None:
    book = _book([], [])
    state = _state()
    for now in (-60_000, 0, 450_000, 900_000, 2_000_000):
        obs = observe(book, state, now)
        check_observation(obs)
    assert obs[_idx("has_yes_bid")] == obs[_idx("has_yes_ask")] == 0.0
    assert obs[_idx("spread")] == 1.0 and obs[_idx("time_to_close")] == 0.0


def test_history_windows_and_trimming_over_a_long_session() -> None:
    """Hours of one-second mid changes: pointers trim the history and the windows stay exact."""
    state = MarketFeatureState(
        open_ms=0, close_ms=10**9, reference_capital_micro=CAPITAL_MICRO, position_scale_lots=SCALE_LOTS
    )
    book = OrderBook("KXTEST-1")
    for second in range(20_000):
        bid = 4000 + 100 * (second % 2)  # the mid alternates by half a cent every second
        book.apply_snapshot([(bid, 100)], [(5000, 100)], second * 1000)
        state.on_trade(bid, 100, "yes", second * 1000)
        obs = observe(book, state, second * 1000)
    assert len(state._mid_ts) < 9_000  # trimmed
    # Inside 5 s (t-5000 excluded): 5 steps of $0.005 each; 30 s: 30 steps; 120 s: 120 steps.
    assert obs[_idx("volatility_5s")] == pytest.approx(math.sqrt(5) * 0.005, rel=1e-6)
    assert obs[_idx("volatility_120s")] == pytest.approx(math.sqrt(120) * 0.005, rel=1e-6)
    assert obs[_idx("flow_30s")] == pytest.approx(math.log1p(30) / math.log1p(10_000), rel=1e-6)


def test_nan_is_caught_naming_the_feature() -> None:
    book = _book([(4000, 100)], [(5500, 100)])
    state = _state()
    state.cash_micro = float("nan")  # type: ignore[assignment]  # what a bookkeeping bug would look like
    with pytest.raises(FeatureError, match="cash_fraction") as err:
        observe(book, state, 1_000)
    assert err.value.feature == "cash_fraction"


def test_bad_state_is_refused() -> None:
    with pytest.raises(FeatureError, match="close"):
        MarketFeatureState(open_ms=10, close_ms=10, reference_capital_micro=1, position_scale_lots=1)
    with pytest.raises(FeatureError, match="must be > 0"):
        MarketFeatureState(open_ms=0, close_ms=10, reference_capital_micro=0, position_scale_lots=1)
    state = _state()
    with pytest.raises(FeatureError, match="integers"):
        state.set_portfolio(position_lots=0, cost_micro=0, cash_micro=float("inf"))  # type: ignore[arg-type]
    with pytest.raises(FeatureError, match="impossible"):
        state.set_portfolio(position_lots=0, cost_micro=5, cash_micro=0)
    with pytest.raises(FeatureError, match="finer"):
        state.set_portfolio_dollars(position_contracts=D("0.001"), cost_dollars=D(0), cash_dollars=D(1))
    with pytest.raises(FeatureError, match="bad trade"):
        state.on_trade(5000, 0, "yes", 0)
    bad = np.full(N_FEATURES, 3.0, dtype=np.float32)
    with pytest.raises(FeatureError, match="yes_bid"):
        check_observation(bad)
