"""The training environment on the real recorded gold tapes: Gymnasium conformance, the accounting invariants, the
fill model's limits (never beyond displayed liquidity, never more than the tape ever showed), settlement at the
recorded result, seeded determinism, and the observation equal to the live path's on the same book.

The markets are read where they lie (``../shared/data/kalshi-gold15m``) and decoded through rl.tapes' cache; the
tests skip when the data is absent.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kalshi.models.ws import OrderbookDelta, OrderbookSnapshot, Trade
from kalshi.orderbook import BookStore, OrderBook
from rl.decision import OrderIntent
from rl.env import EnvConfig, EnvError, KalshiTapeEnv
from rl.features import MarketFeatureState, observe
from rl.tapes import MarketTape, TapeDataError, default_cache_dir, load_markets
from tests.rl.conftest import GOLD_DIR

pytestmark = pytest.mark.skipif(not (GOLD_DIR / "MARKETS.csv").is_file(), reason=f"recorded data absent: {GOLD_DIR}")


@pytest.fixture(scope="module")
def gold() -> list[MarketTape]:
    return load_markets(GOLD_DIR, cache_dir=default_cache_dir())


def _play(env: KalshiTapeEnv, choose: Any, options: dict[str, Any] | None = None, seed: int | None = None) -> float:
    env.reset(seed=seed, options=options)
    total, done = 0.0, False
    while not done:
        _, reward, done, _, _ = env.step(choose(env))
        total += reward
    return total


def _random(seed: int) -> Any:
    rng = np.random.default_rng(seed)
    return lambda env: int(rng.choice(np.flatnonzero(env.action_masks())))


class RecordingEnv(KalshiTapeEnv):
    """The environment, noting each order it sends with the displayed book just before and the fills it got."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[int, OrderIntent, dict[str, dict[int, int]], list[Any]]] = []
        self.episode: Any = None

    def _execute(self, ep: Any, intent: OrderIntent) -> None:
        shown = {}
        for side in ("yes", "no"):
            prices, sizes = ep.book.bid_view(side)
            shown[side] = {p: sizes[p] for p in prices}
        before = len(ep.account.fills)
        super()._execute(ep, intent)
        self.sent.append((ep.t, intent, shown, list(ep.account.fills[before:])))
        self.episode = ep


def test_check_env_passes(gold: list[MarketTape]) -> None:
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    gym_check(KalshiTapeEnv(gold[:2]), skip_render_check=True)
    sb3_check(KalshiTapeEnv(gold[:2]), warn=True)


def test_accounting_invariants_on_real_tapes(gold: list[MarketTape]) -> None:
    """Random masked trading on three markets: bookkeeping equals the engine's account at every step; the rewards
    sum to the net P&L; cash moves only by fills (net of fees) and the settlement payout."""
    env = KalshiTapeEnv(gold[:3], record=True, check_invariants=True)
    choose = _random(7)
    for _ in range(3):
        total = _play(env, choose)
        rec = env.last_episode
        assert rec is not None and rec.fills, "the random policy should trade"
        result = rec.result(env.space)
        net = result.net_pnl_dollars
        assert abs(total - float(net)) < 1e-6
        assert rec.pnl_path[-1][1] == net
        cash_from_fills = sum((f.cash_flow_dollars - f.fee_dollars for f in rec.fills), Decimal(0))
        assert cash_from_fills + rec.settlement_dollars == net
        assert all(f.fee_dollars >= 0 for f in rec.fills)
        assert sum(rec.actions.values()) == rec.decisions > 100


def _tape_additions(tape: MarketTape) -> dict[tuple[str, int], int]:
    """Lots the tape ever added at each (side, price) before the close: snapshot increases and positive deltas."""
    size: dict[tuple[str, int], int] = defaultdict(int)
    added: dict[tuple[str, int], int] = defaultdict(int)
    for i in range(len(tape)):
        if int(tape.times[i]) >= tape.definition.close_ms:
            break
        kind = int(tape.kinds[i])
        if kind == 0:
            yes, no = tape.snapshot(int(tape.a[i]))
            new = {("yes", p): v for p, v in yes.items()} | {("no", p): v for p, v in no.items()}
            for key in set(size) | set(new):
                grow = new.get(key, 0) - size[key]
                if grow > 0:
                    added[key] += grow
                size[key] = new.get(key, 0)
        elif kind == 1:
            key = ("yes" if int(tape.a[i]) == 0 else "no", int(tape.b[i]))
            delta = int(tape.c[i])
            if delta > 0:
                added[key] += delta
            size[key] += delta
    return added


def test_fills_never_exceed_displayed_liquidity_nor_what_the_tape_ever_added(gold: list[MarketTape]) -> None:
    """An aggressor that takes at every recorded millisecond it may (no throttle), buying and selling both sides."""
    from models.trader import RiskLimits

    risk = RiskLimits(
        per_market_throttle_ms=0,
        max_spread_dollars=Decimal("0.99"),
        max_entry_price_dollars=Decimal("0.99"),
        order_size_contracts=Decimal(25),
        max_position_contracts=Decimal(50),
    )
    config = EnvConfig(
        risk=risk,
        decision_interval_ms=0,
        initial_cash_cents=100_000_000,  # $1 M: it pays the spread all day long and must not run out
        actions=("HOLD", "BUY_YES_TAKE", "SELL_YES_TAKE", "BUY_NO_TAKE", "SELL_NO_TAKE"),
    )
    market = gold[5]
    env = RecordingEnv([market], config, check_invariants=True)
    rng = np.random.default_rng(3)

    def aggressor(e: KalshiTapeEnv) -> int:
        mask = e.action_masks()
        allowed = np.flatnonzero(mask[1:]) + 1
        return int(rng.choice(allowed)) if allowed.size else 0

    _play(env, aggressor)
    assert len(env.sent) > 5_000
    taken: dict[tuple[str, int], int] = defaultdict(int)
    for _, intent, shown, fills in env.sent:
        per_level: dict[tuple[str, int], int] = defaultdict(int)
        for f in fills:
            assert f.is_taker
            yes_cc = int(f.yes_price * 10_000)
            # a bid (buy YES / sell NO) takes NO bids at 1 - y; an ask takes YES bids at y
            level = ("no", 10_000 - yes_cc) if f.book_side == "bid" else ("yes", yes_cc)
            per_level[level] += int(f.count * 100)
        for (side, price), lots in per_level.items():
            assert lots <= shown[side].get(price, 0), (intent, side, price, lots, shown[side].get(price))
            taken[(side, price)] += lots
        assert sum(per_level.values()) <= intent.count_lots
    added = _tape_additions(market)
    over = {k: (v, added.get(k, 0)) for k, v in taken.items() if v > added.get(k, 0)}
    assert not over, f"levels gave more than the tape ever showed: {over}"
    assert sum(taken.values()) > 100_000  # the test really hammered the book


def test_settlement_pays_exactly_the_recorded_result(gold: list[MarketTape]) -> None:
    """Buy YES early and hold to the close, on a YES market and a NO market."""
    for result in ("yes", "no"):
        market = next(m for m in gold if m.result == result)
        env = KalshiTapeEnv([market], record=True, check_invariants=True)
        bought: list[bool] = []

        def buy_once(e: KalshiTapeEnv, bought: list[bool] = bought) -> int:
            ok = bool(e.action_masks()[1]) and not bought
            if ok:
                bought.append(True)
            return 1 if ok else 0

        _play(env, buy_once)
        rec = env.last_episode
        assert rec is not None
        held = sum((f.count for f in rec.fills if f.side == "yes" and f.action == "buy"), Decimal(0))
        assert held > 0
        assert rec.settlement_dollars == (held if result == "yes" else Decimal(0))
        assert rec.result(env.space).net_pnl_dollars == (
            rec.settlement_dollars + sum((f.cash_flow_dollars - f.fee_dollars for f in rec.fills), Decimal(0))
        )


def test_same_seed_same_returns(gold: list[MarketTape]) -> None:
    def run() -> list[float]:
        env = KalshiTapeEnv(gold[:4])
        env.reset(seed=11)
        choose = _random(5)
        out = [_play(env, choose)]
        out.append(_play(env, choose))
        return out

    first, second = run(), run()
    assert first == second and first[0] != 0.0


def _live_observation(market: MarketTape, at_ms: int, state: MarketFeatureState) -> np.ndarray:
    """The live path: the recorded WebSocket frames through kalshi.orderbook.BookStore (the worker's book), feature
    history fed per frame, up to and including every frame at ``at_ms``."""
    store = BookStore()
    running = 0
    book: OrderBook | None = None
    for path in market.files:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                record = json.loads(line)
                frame = json.dumps(record["event"]).encode()
                msg = record["event"]["msg"]
                when = record["recv_ms"] if record["event"]["type"] == "orderbook_snapshot" else msg["ts_ms"]
                running = max(running, when)
                if running > at_ms:
                    assert book is not None
                    return observe(book, state, at_ms)
                event = store.apply_frame(frame, record["recv_ms"])
                if isinstance(event, OrderbookSnapshot | OrderbookDelta):
                    book = store[market.ticker]
                    state.on_book(book, running)
                elif isinstance(event, Trade):
                    state.on_trade(event.yes_price_cc, event.count_lots, event.taker_outcome_side, running)
    raise AssertionError("decision time beyond the tape")


def test_env_observation_equals_the_live_paths_on_the_same_book(gold: list[MarketTape]) -> None:
    market = gold[2]
    env = KalshiTapeEnv([market])
    obs, _ = env.reset()
    observed = []
    for step in range(1, 1_200):
        obs, _, done, _, _ = env.step(0)
        assert not done
        if step in (5, 300, 1_199):
            observed.append((env._ep.t, obs))
    cash = env.config.initial_cash_cents * 10_000
    for at_ms, env_obs in observed:
        state = MarketFeatureState(
            open_ms=market.definition.open_ms,
            close_ms=market.definition.close_ms,
            reference_capital_micro=cash,
            position_scale_lots=env.limits.max_position_lots,
        )
        live = _live_observation(market, at_ms, state)
        np.testing.assert_array_equal(env_obs, live)


# -- bad input --------------------------------------------------------------------------------------------------------


def _copy_layout(src: Path, dst: Path, tickers: list[str]) -> None:
    import csv
    import shutil

    with (src / "MARKETS.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["window"] in tickers]
    dst.mkdir(parents=True, exist_ok=True)
    with (dst / "MARKETS.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (dst / "metadata").mkdir(exist_ok=True)
    for row in rows:
        shutil.copy(src / "metadata" / f"{row['event_ticker']}.json", dst / "metadata")
        (dst / "events" / row["window"]).mkdir(parents=True, exist_ok=True)


def _tape_lines(market: MarketTape, n: int) -> list[bytes]:
    with gzip.open(market.files[0], "rb") as fh:
        return [next(fh) for _ in range(n)]


def test_bad_tapes_are_one_clear_error(gold: list[MarketTape], tmp_path: Path) -> None:
    market = gold[0]
    lines = _tape_lines(market, 200)
    cases = {
        "empty": b"",
        "truncated": gzip.compress(b"".join(lines))[:-40],
        "corrupt": None,
        "delta_first": None,
    }
    for name in cases:
        root = tmp_path / name
        _copy_layout(GOLD_DIR, root, [market.ticker])
        path = root / "events" / market.ticker / "2026-08-05.ndjson.gz"
        if name == "empty":
            path.write_bytes(gzip.compress(b""))
        elif name == "truncated":
            path.write_bytes(cases["truncated"])  # type: ignore[arg-type]
        elif name == "corrupt":
            path.write_bytes(gzip.compress(b"".join(lines[:50]) + b"{not json\n" + b"".join(lines[50:])))
        else:
            path.write_bytes(gzip.compress(b"".join(lines[1:])))  # the first line is the snapshot
        with pytest.raises(TapeDataError) as err:
            load_markets(root, cache_dir=None)
        message = str(err.value)
        assert "\n" not in message and market.ticker in message, message
        expected = {"empty": "no frames", "truncated": "truncated", "corrupt": ":51: not a recorded frame",
                    "delta_first": "before any snapshot"}[name]  # fmt: skip
        assert expected in message, message


def test_a_market_without_a_result_is_one_clear_error(gold: list[MarketTape], tmp_path: Path) -> None:
    market = gold[0]
    _copy_layout(GOLD_DIR, tmp_path, [market.ticker])
    text = (
        (tmp_path / "MARKETS.csv")
        .read_text()
        .replace(",finalized,no,", ",finalized,,")
        .replace(",finalized,yes,", ",finalized,,")
    )
    (tmp_path / "MARKETS.csv").write_text(text)
    meta = tmp_path / "metadata" / f"{market.definition.event_ticker}.json"
    doc = json.loads(meta.read_text())
    for m in doc["response"]["markets"]:
        m["result"] = ""
    meta.write_text(json.dumps(doc))
    (tmp_path / "events" / market.ticker / "x.ndjson.gz").write_bytes(gzip.compress(b"".join(_tape_lines(market, 10))))
    with pytest.raises(TapeDataError, match="unsupported result"):
        load_markets(tmp_path, cache_dir=None)
    with pytest.raises(TapeDataError, match=r"MARKETS\.csv"):
        load_markets(tmp_path / "nowhere", cache_dir=None)


def test_env_refuses_unknown_markets_and_steps_out_of_order(gold: list[MarketTape]) -> None:
    env = KalshiTapeEnv(gold[:1])
    with pytest.raises(EnvError, match="call reset"):
        env.step(0)
    with pytest.raises(EnvError, match="not among"):
        env.reset(options={"market": "KXNOPE"})
    with pytest.raises(EnvError, match="at least one market"):
        KalshiTapeEnv([])
