"""A learned policy in the live actor loop, through a real dev server, the simulator and the worker.

1. **The live loop decides as the training environment does, on the same books.** A small trained model trades one
   recorded market twice: in :class:`rl.env.KalshiTapeEnv`, and live (MarketDataWorkflow ingesting over the
   WebSocket, TraderWorkflow's actor epoch on the worker holding the books, orders over REST). The simulator's clock
   is paused and stepped to each of the environment's decision points (and forced holds), so both see the same
   books at the same exchange millisecond. Asserted: the same decision points, the same observation vectors, the
   same sampled actions (the same seeded generator, asked at the same points), the same orders, and afterwards the
   same cash to the micro-dollar and the same position at the exchange as in the environment's engine.
2. **Choosing the policy at run time** (see its docstring): ``set_policy`` takes effect at the next epoch, hot reload
   of ``current``, a corrupt model falls back with a status entry and a metric, a bad name is refused, ``predict``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

pytest.importorskip("sb3_contrib")

import numpy as np
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from models.trader import EpochMarket, LifecycleState, PredictInput
from rl.decision import ActionSpace, baseline
from rl.env import EnvConfig, KalshiTapeEnv
from rl.features import FEATURE_NAMES
from rl.inference import load_policy
from rl.registry import ModelRegistry
from rl.tapes import KIND_SNAPSHOT, load_markets
from tests.conftest import DATA_DIR, eventually
from tests.rl.live_stack import LiveStack, learned_config, live_stack
from tests.rl.tiny_model import save_tiny_model
from workers.cli import format_status
from workflows.names import SIGNAL_STOP, UPDATE_SET_POLICY

MARKET = "KXGOLD15M-26AUG102215-15"
WINDOW_MS = 45_000  # tape time stepped decision by decision
SNAPSHOT_MARGIN_MS = 125_000  # the 120 s look-back features must not reach back to a recorded snapshot (see below)

pytestmark = pytest.mark.skipif(not (DATA_DIR / "MARKETS.csv").is_file(), reason="recorded gold tapes not available")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _environment_run(tape, registry: Path, config: EnvConfig):
    """The environment's decision points from ``start`` on (the model), after holding until then (no orders).

    ``start`` is the first decision point at least two minutes after the first frame and clear of recorded
    re-snapshots: the simulator streams a recorded snapshot as per-level deltas, so the live feature history records
    the intermediate mids the environment (one update per snapshot) does not; the 120 s look-back features differ for
    two minutes after one. (Live Kalshi sends no snapshot mid-stream: it is a replay artefact of reconnects.)
    """
    times = tape.times.tolist()
    snapshots = [t for t, k in zip(times, tape.kinds.tolist(), strict=True) if k == KIND_SNAPSHOT]
    earliest = times[0] + SNAPSHOT_MARGIN_MS
    for snap in snapshots[1:]:
        if earliest <= snap + SNAPSHOT_MARGIN_MS and snap <= earliest + WINDOW_MS:
            earliest = snap + SNAPSHOT_MARGIN_MS
    space = config.space()
    hold = baseline("hold", space)
    model = load_policy(registry, "rl:current", space, seed=0)
    env = KalshiTapeEnv([tape], config, record=True)
    obs, _ = env.reset(options={"market": tape.ticker})
    decisions: list[tuple[int, str, np.ndarray]] = []
    start = None
    while True:
        observation, mask = env.policy_observation(obs)
        t = observation.now_ms
        if start is None and t >= earliest:
            start = t
        if start is not None and t > start + WINDOW_MS:
            break
        policy = model if start is not None else hold
        action = policy.act(observation, mask)
        if start is not None:
            decisions.append((t, space.names[action], obs.copy()))
        obs, _, done, _, _ = env.step(action)
        assert not done
    record = env.record_so_far
    assert record is not None and start is not None
    forced = [t for t in record.forced_hold_ms if start <= t <= decisions[-1][0]]
    orders = [(t, i) for t, i in record.orders if t >= start]
    # the account after the last decision point's own orders (the environment has replayed further since)
    last = decisions[-1][0] if decisions[-1][0] > (forced[-1] if forced else 0) else forced[-1]
    cash = config.initial_cash_cents * 10_000
    position = 0
    for f in record.fills:
        if f.ts_ms <= last:
            flow = f.count * f.price_dollars * (1 if f.action == "sell" else -1) - f.fee_dollars
            cash += int(flow * 1_000_000)
            signed = int(f.count * 100) * (1 if f.side == "yes" else -1)
            position += signed if f.action == "buy" else -signed
    return start, decisions, forced, orders, cash, position


async def test_the_live_loop_decides_and_trades_as_the_environment_on_the_same_books(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    (tape,) = load_markets(DATA_DIR, [MARKET])
    registry = tmp_path / "models"
    config = EnvConfig()
    save_tiny_model(registry, [tape], seed=5, steps=256, config=config, hold_prior=0.6)
    start, decisions, forced, orders, cash, position = _environment_run(tape, registry, config)
    assert len(orders) >= 3, "the window should hold a few orders to compare"
    points = sorted([(t, "decision") for t, _, _ in decisions] + [(t, "forced") for t in forced])

    wid = f"rl-live-{uuid.uuid4().hex[:6]}"
    open_ms = tape.definition.open_ms
    async with live_stack(
        temporal_env,
        tmp_path,
        [MARKET],
        start=_iso(open_ms),
        registry=registry,
        balance_cents=config.initial_cash_cents,
    ) as stack:
        h = stack.harness
        handle = await h.start(learned_config("rl:current", wid), workflow_id=wid)
        h.handles.append(h.client.get_workflow_handle(f"{wid}-md"))
        hub = h.workers.hub
        await eventually(lambda: hub.feed is not None and MARKET in hub.feed.markets, what="ingestion subscribed")
        # the history before the window: the feature store sees every frame, no epoch trades (the book is empty)
        await stack.advance_to(start - 1)
        core = await eventually(
            lambda: (c := stack.epoch()) is not None and c.ready and c.origin == "actor" and c, what="the actor epoch"
        )
        core.pipeline.trace = []
        assert core.live.info.model_version == ModelRegistry(registry).current_version()
        for t, _ in points:
            await _step(stack, core, t)
        live = [(t, a, f) for ticker, t, a, f, _ in core.pipeline.trace if ticker == MARKET]
        live_intents = [(t, i) for ticker, t, _, _, i in core.pipeline.trace if i is not None]

        assert [t for t, a, _ in live if a == "forced_hold"] == forced
        decided = [(t, a, f) for t, a, f in live if a != "forced_hold"]
        assert [(t, a) for t, a, _ in decided] == [(t, a) for t, a, _ in decisions]
        for (t, _, live_obs), (_, _, env_obs) in zip(decided, decisions, strict=True):
            bad = [
                (FEATURE_NAMES[i], float(live_obs[i]), float(env_obs[i]))
                for i in np.flatnonzero(~np.isclose(live_obs, env_obs, atol=1e-6))
            ]
            assert not bad, f"observations differ at {t} (live, env): {bad}"

        # the same orders: side, action, size, price, time in force, post-only, reduce-only, replacing an order or not
        # (the replaced order's id is the exchange's: the simulator's and the engine's ids differ)
        def same(items):
            return [(t, i._replace(replaces=i.replaces is not None)) for t, i in items]

        assert same(live_intents) == same(orders)
        acct = await h.exchange_account()
        assert int(Decimal(acct["cash_dollars"]) * 1_000_000) == cash
        held = next((p for p in acct["positions"] if p["ticker"] == MARKET), None)
        assert (int(Decimal(held["position_fp"]) * 100) if held else 0) == position
        assert core.pipeline.portfolio.cash_micro == cash  # the live bookkeeping agrees to the micro-dollar
        assert core.pipeline.portfolio.position_lots(MARKET) == position
        await handle.signal(SIGNAL_STOP, {})


async def _step(stack: LiveStack, core, t: int) -> None:
    """Move the clock to decision point ``t`` and wait until the live loop decided there and its order settled."""
    hub = stack.harness.workers.hub
    await stack.advance_to(t - 1)  # frames inside the decision interval: applied, never decided on
    seen = None
    while seen != hub.exchange_ms:  # let them arrive first, so the point's own frames come as one small burst
        seen = hub.exchange_ms
        await asyncio.sleep(0.01)
    await stack.advance_to(t)  # the decision point's own frames
    try:
        await eventually(lambda: core.pipeline.last_decision_ms.get(MARKET) == t, interval_s=0.002, timeout_s=10)
    except AssertionError:
        raise AssertionError(
            f"no decision at {t}: last {core.pipeline.last_decision_ms.get(MARKET)}, frames up to {hub.exchange_ms}, "
            f"{len(core.pipeline.trace or [])} decisions, updates {core.summary.updates_seen}, rejects {dict(core.rejects)}"
        ) from None
    await eventually(
        lambda: not core.in_flight and core.pipeline.streamed.unconfirmed_lots == 0,
        interval_s=0.002,
        what=f"the order of {t} acknowledged and its fills streamed",
    )
    await asyncio.sleep(0.005)  # a market_position frame behind the fills


async def test_set_policy_hot_reload_fallback_and_predict(temporal_env: WorkflowEnvironment, tmp_path: Path) -> None:
    """One trader, the policy changed under it while it runs (each epoch is 2 s; the clock replays at speed 1).

    * starts on ``rl:current`` = model A: the epoch summary and ``status.policy_in_use`` name A;
    * ``current`` moves to model B (hot reload): a later epoch runs B, without any operator call;
    * ``current`` moves to model C whose weights are corrupt: the next epoch falls back to ``imbalance`` with the reason in ``status`` and the
      fallback metric counted; nothing crashes;
    * ``set_policy`` to an unknown name is refused by the validator (nothing changes); ``set_policy {"policy":
      "hold"}`` runs from the next epoch;
    * the ``predict`` activity answers model A's decision for the market from the worker's live book.
    """
    (tape,) = load_markets(DATA_DIR, [MARKET])
    registry = tmp_path / "models"
    a = save_tiny_model(registry, [tape], seed=1, steps=128)
    wid = f"rl-switch-{uuid.uuid4().hex[:6]}"
    async with live_stack(
        temporal_env,
        tmp_path,
        [MARKET],
        start=_iso(tape.definition.open_ms + 120_000),
        registry=registry,
        balance_cents=100_000,
        paused=False,
    ) as stack:
        h = stack.harness
        config = learned_config("rl:current", wid, recalibration_interval_s=2)
        handle = await h.start(config, workflow_id=wid)
        h.handles.append(h.client.get_workflow_handle(f"{wid}-md"))

        def ran(name: str):
            return lambda s: (
                s.policy_in_use is not None and s.policy_in_use.name == name and s.last_epoch.driver == "actor"
            )

        st = await h.wait_status(handle, ran(f"rl:{a.version}"), "an epoch of model A", timeout_s=90)
        assert f"policy: rl:current: model {a.version}, feature version {a.feature_version}" in format_status(st)
        assert st.policy == "rl:current" and st.policy_in_use.feature_version == a.feature_version
        assert st.policy_in_use.fallback_reason is None

        b = save_tiny_model(registry, [tape], seed=2, steps=128)  # `current` moves to B
        await h.wait_status(handle, ran(f"rl:{b.version}"), "hot reload: an epoch of model B", timeout_s=60)

        c = save_tiny_model(registry, [tape], seed=3, steps=64, make_current=False)
        (registry / "versions" / c.version / "model.zip").write_bytes(b"not a zip")  # never loaded before
        ModelRegistry(registry).set_current(c.version)
        st = await h.wait_status(
            handle,
            lambda s: s.policy_in_use is not None and s.policy_in_use.fallback_reason is not None,
            "the corrupt model falling back",
            timeout_s=60,
        )
        assert st.policy_in_use.name == "imbalance" and "checksum" in (st.policy_in_use.fallback_reason or "")
        shown = format_status(st)  # what `kalshi-trader status` prints
        assert "policy: rl:current; the last epoch ran imbalance instead: rl:current: CorruptModelError" in shown
        assert "session P&L: realised " in shown
        assert st.state in (LifecycleState.TRADING, LifecycleState.CALIBRATING)  # still running: no crash, no pause
        fallbacks = h.metrics.policy_fallbacks.labels("rl:current", "imbalance", "corrupt")._value.get()
        assert fallbacks >= 1

        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(UPDATE_SET_POLICY, {"policy": "rl:../../etc"}, result_type=str)
        assert "unknown policy" in str(refused.value.cause)
        assert (await h.status(handle)).policy == "rl:current"
        assert await handle.execute_update(UPDATE_SET_POLICY, {"policy": "hold"}, result_type=str) == "hold"
        await h.wait_status(handle, ran("hold"), "set_policy hold from the next epoch", timeout_s=60)

        ModelRegistry(registry).set_current(a.version)
        env = ActivityEnvironment()
        predicted = await env.run(
            _predict_callable(h),
            PredictInput(
                policy="rl:current",
                markets=[
                    EpochMarket(ticker=MARKET, close_time=datetime.fromtimestamp(tape.definition.close_ms / 1000, UTC))
                ],
                balance_cents=100_000,
                risk=config.risk,
                exits=config.exits,
                settings=config.epoch,
            ),
        )
        assert predicted.policy.name == f"rl:{a.version}"
        (decision,) = predicted.decisions
        assert decision.book_source == "websocket" and decision.action in ActionSpace.full().names
        assert "HOLD" in decision.allowed
        await handle.signal(SIGNAL_STOP, {})
        await handle.result()


def _predict_callable(h):
    from activities.trading import TradingEpochActivities

    w = h.workers
    return TradingEpochActivities(h.account.client, h.metrics, w.policies, hub=w.hub).predict
