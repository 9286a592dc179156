"""The actor loop's batch: several markets due in one loop turn are decided with ONE forward pass of a learned policy.

:meth:`trading.pipeline.DecisionStep.decide_many` must decide exactly as :meth:`DecisionStep.decide` called on each
market in turn (the same decision points, observations, sampled actions, intents and rejects), since the orders it
leads to are real. Checked on three recorded gold markets folded frame by frame through the product's books and the
worker's feature store, with a small trained model that trades often: two decision steps with the same seeded policy,
one deciding each turn's markets as a batch, the other one by one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

pytest.importorskip("sb3_contrib")

import numpy as np

from kalshi.ingest import MarketDataHub
from kalshi.models.ws import Trade
from kalshi.orderbook import BookStore
from models.trader import EpochInput, EpochMarket, EpochSettings, ExitRules, RiskLimits
from recording.metrics import AppMetrics
from rl.features import MarketFeatureState
from rl.tapes import load_markets
from tests.conftest import DATA_DIR
from tests.rl.conftest import recorded_markets
from tests.rl.tiny_model import save_tiny_model
from trading.live import FeatureStore, PolicyLibrary
from trading.pipeline import BookUpdate, DecisionStep

pytestmark = pytest.mark.skipif(not (DATA_DIR / "MARKETS.csv").is_file(), reason="recorded gold tapes not available")

MARKETS = ("KXGOLD15M-26AUG102130-30", "KXGOLD15M-26AUG102200-00", "KXGOLD15M-26AUG102215-15")
RISK = RiskLimits(
    order_size_contracts=Decimal(1),
    max_position_contracts=Decimal(100),
    max_open_positions=10,
    max_spread_dollars=Decimal("0.99"),
    per_market_throttle_ms=250,
    max_entry_price_dollars=Decimal("0.99"),
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    save_tiny_model(root, load_markets(DATA_DIR, [MARKETS[2]]), steps=256, hold_prior=0.3)
    return root


async def _step(registry: Path, store: FeatureStore, purpose: str) -> DecisionStep:
    """A decision step of the registry's model; each ``purpose`` samples from its own generator, same seed."""
    settings = EpochSettings(policy="rl:current", policy_seed=5)
    live = await PolicyLibrary(registry, AppMetrics(), store).resolve(settings, RISK, live_books=True, purpose=purpose)
    assert live.needs_features and live.info.fallback_reason is None
    inp = EpochInput(
        epoch_id="batch",
        deadline=datetime.now(UTC) + timedelta(minutes=1),
        markets=[EpochMarket(ticker=t) for t in MARKETS],
        balance_cents=1_000_000,
        risk=RISK,
        exits=ExitRules(market_closing_window_s=60, cash_reserve_cents=0),
        settings=settings,
    )
    return DecisionStep(inp, live, fills_from_acks=False, features=store)


async def test_a_batch_decides_exactly_as_one_market_at_a_time(registry: Path) -> None:
    recorded = {m.ticker: m for m in recorded_markets() if m.ticker in MARKETS}
    assert sorted(recorded) == sorted(MARKETS)
    store = FeatureStore(MarketDataHub("batch"))
    books = BookStore()
    for ticker, m in recorded.items():
        store.states[ticker] = MarketFeatureState(
            open_ms=m.open_ms, close_ms=m.close_ms, reference_capital_micro=1, position_scale_lots=1
        )
    batched = await _step(registry, store, "epoch")
    one_by_one = await _step(registry, store, "predict")
    assert batched.live.policy is not one_by_one.live.policy
    batched.trace, one_by_one.trace = [], []

    tapes = [iter(recorded[t].frames()) for t in MARKETS]
    turns = multi = 0
    for _ in range(6_000):  # frames per market, folded in lockstep; every 20th step is one actor-loop turn
        for tape in tapes:
            recv_ms, raw = next(tape)
            event = books.apply_frame(raw, recv_ms)
            frame_ticker = getattr(event, "market_ticker", None)
            if event is None or not isinstance(frame_ticker, str) or frame_ticker not in store.states:
                continue
            state = store.states[frame_ticker]
            ts = event.ts_ms if event.ts_ms is not None else recv_ms
            if type(event) is Trade:
                state.on_trade(event.yes_price_cc, event.count_lots, event.taker_outcome_side, ts)
                continue
            book = books.get(frame_ticker)
            if book is not None and book.trusted:
                state.on_book(book, ts)
        turns += 1
        if turns % 20:
            continue
        updates = []
        for ticker in MARKETS:
            book = books.get(ticker)
            if book is not None and book.trusted and book.last_update_ts_ms is not None:
                updates.append(
                    BookUpdate(ticker, book.top(), book.last_update_ts_ms, recorded[ticker].close_ms, 0.0, book)
                )
        together = batched.decide_many(updates)
        apart = [one_by_one.decide(u) for u in updates]
        assert together == apart
        multi += sum(1 for d in together if d is not None and not d.forced) >= 2

    assert len(batched.trace) == len(one_by_one.trace) > 300
    for a, b in zip(batched.trace, one_by_one.trace, strict=True):
        assert a[:3] == b[:3] and a[4] == b[4]
        assert (a[3] is None and b[3] is None) or np.array_equal(a[3], b[3])
    actions = {t[2] for t in batched.trace}
    assert len(actions) > 3 and any(t[4] is not None for t in batched.trace), actions
    # several markets reached the network in the same turn (a real batch), not only singletons
    assert len(batched.inference_ms) == len(one_by_one.inference_ms) > 100
    assert multi > 50, multi
