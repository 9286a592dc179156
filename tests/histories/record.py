"""Record the workflow histories replayed by ``tests/workflows/test_replay.py``.

Run ``python -m tests.histories.record`` ONLY when a workflow changed behind ``workflow.patched`` (the
old histories must keep replaying; add new ones next to them, never rewrite old ones silently).

Each scenario runs the real worker against a fresh dev server and simulator (replaying the real
tape), drives the trader the way an operator would, waits for every run to close (stop, or
continue-as-new), and writes each closed run's history as JSON (the ``temporal workflow show -o json``
format) plus an entry in ``index.json`` (file -> workflow id, type, scenario).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner, generate_key_pair
from models.trader import (
    CloseResult,
    CloseSettings,
    DegradedSettings,
    EpochSettings,
    ExitRules,
    LifecycleState,
    OverallStatus,
    RiskLimits,
)
from recording.metrics import AppMetrics
from simulator.server import SimulatorConfig, SimulatorServer
from tests.conftest import DATA_DIR, Account
from tests.harness import Harness, fast_config, fast_market_data, trading_config, trading_risk
from workers.devserver import find_temporal_cli
from workflows.names import (
    SEARCH_ATTRIBUTES,
    SIGNAL_PAUSE,
    SIGNAL_RESUME,
    SIGNAL_STOP,
    UPDATE_FORCE_CLOSE,
    UPDATE_SET_POLICY,
    UPDATE_SET_RISK_LIMITS,
)

HERE = Path(__file__).resolve().parent
Scenario = Callable[[Harness], Awaitable[list[str]]]


async def take_profit_then_stop(h: Harness) -> list[str]:
    """A take_profit close (child workflow), a few cycles, stop with close_all."""
    ticker, yes_bid, _ = await h.freeze_on_quoted_market()
    await h.arrange_position(ticker, "10", (yes_bid * 10 / Decimal("1.5")).quantize(Decimal("0.01")))
    handle = await h.start(fast_config(), workflow_id="hist-take-profit")
    await h.wait_status(handle, lambda s: bool(s.recent_closes) and s.cycle >= 3, "a close and 3 cycles")
    await handle.signal(SIGNAL_STOP, {"close_all": True})
    await handle.result()
    return [handle.id]


async def trading_pause_resume_stop(h: Harness) -> list[str]:
    """The epoch places orders, pause cancels it, resume, stop with close_all (closes what was opened)."""
    await h.freeze_on_quoted_market()
    config = trading_config(recalibration_interval_s=2)
    handle = await h.start(config, workflow_id="hist-trading-pause")
    await h.wait_status(
        handle, lambda s: s.cycle >= 2 and s.last_epoch is not None and s.last_epoch.orders_placed > 0, "orders placed"
    )
    await handle.signal(SIGNAL_PAUSE, {"reason": "maintenance"})
    await h.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused")
    await handle.signal(SIGNAL_RESUME)
    await h.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading again")
    await handle.signal(SIGNAL_STOP, {"close_all": True})
    await handle.result()
    return [handle.id]


async def outage_and_recovery(h: Harness) -> list[str]:
    """A critical outage pauses the trader; backoff probes; recovery; stop."""
    await h.freeze_on_quoted_market()
    handle = await h.start(fast_config(degraded_backoff_s=[1, 1]), workflow_id="hist-outage")
    await h.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading")
    await h.faults(exchange_paused=True)
    await h.wait_status(
        handle, lambda s: any(x.result.startswith("recovery probe #2") for x in s.status_history), "two probes"
    )
    await h.faults(exchange_paused=False)
    await h.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "recovered")
    await handle.signal(SIGNAL_STOP, {})
    await handle.result()
    return [handle.id]


async def continue_as_new_chain(h: Harness) -> list[str]:
    """Three cycles per run: continue-as-new twice, then stop."""
    ticker, yes_bid, _ = await h.freeze_on_quoted_market()
    await h.arrange_position(ticker, "4", (yes_bid * 4 / Decimal("0.5")).quantize(Decimal("0.01")))  # stop_loss
    handle = await h.start(
        fast_config(continue_as_new_after_cycles=3, exits=ExitRules(cash_reserve_cents=0)), workflow_id="hist-can"
    )
    await h.wait_status(handle, lambda s: s.generation >= 2, "two continue-as-new")
    await handle.signal(SIGNAL_STOP, {})
    await handle.result()
    return [handle.id]


async def actor_loop_and_market_data(h: Harness) -> list[str]:
    """WebSocket market data: MarketDataWorkflow ingests on this worker; the actor loop trades live updates."""

    await h.freeze_on_quoted_market()
    await h.clock(paused=False, speed="1")
    config = fast_config(
        recalibration_interval_s=2,
        epoch=EpochSettings(
            policy="imbalance", imbalance_threshold=Decimal(0), heartbeat_timeout_s=2, use_websocket=True
        ),
        risk=RiskLimits(
            order_size_contracts=Decimal(1),
            max_position_contracts=Decimal(3),
            max_spread_dollars=Decimal("0.99"),
            max_entry_price_dollars=Decimal("0.99"),
        ),
        exits=ExitRules(max_hold_time_s=2, cash_reserve_cents=0),
        order_group_contracts_limit=100_000,
        market_data_workflow_id="hist-md",
        market_data=fast_market_data(silence_timeout_s=None),
    )
    handle = await h.start(config, workflow_id="hist-actor")
    await h.wait_status(
        handle,
        lambda s: (
            s.last_epoch is not None and s.last_epoch.driver == "actor" and s.cycle >= 4 and bool(s.recent_closes)
        ),
        "actor epochs and a close",
        timeout_s=120,
    )
    await handle.signal(SIGNAL_STOP, {"close_all": True})
    await handle.result()
    md = h.client.get_workflow_handle("hist-md")
    await md.signal(SIGNAL_STOP)
    await md.result()
    return [handle.id, md.id]


async def exactly_once_operator(h: Harness) -> list[str]:
    """Issue 6 behaviour: run-scoped ids, a take-profit close with its floor and P&L, operator updates, a
    second pause then resume, an exchange-wide trading pause, then stop with close_all until flat."""
    ticker, yes_bid, _ = await h.freeze_on_quoted_market()
    await h.arrange_position(ticker, "4", (yes_bid * 4 / Decimal(2)).quantize(Decimal("0.01")))  # take profit
    config = trading_config(recalibration_interval_s=2, degraded_backoff_s=[1])
    config.risk.max_position_contracts = Decimal(3)
    handle = await h.start(config, workflow_id="hist-exactly-once")
    await h.wait_status(
        handle,
        lambda s: bool(s.recent_closes) and s.last_epoch is not None and s.last_epoch.orders_placed > 0,
        "a close and epoch orders",
    )
    await handle.execute_update(UPDATE_SET_RISK_LIMITS, {"order_size_contracts": "2"}, result_type=RiskLimits)
    await handle.execute_update(UPDATE_FORCE_CLOSE, {"ticker": ticker}, result_type=CloseResult)
    await handle.signal(SIGNAL_PAUSE, {"reason": "first"})
    await h.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused")
    await handle.signal(SIGNAL_PAUSE, {"reason": "second"})
    await handle.signal(SIGNAL_RESUME)
    await h.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading again")
    await h.faults(trading_paused=True)
    await h.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "exchange-wide trading pause")
    await h.faults(trading_paused=False)
    await h.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "recovered")
    await h.wait_status(handle, lambda s: s.cycle >= 2 and s.state == LifecycleState.TRADING, "a cycle after")
    await handle.signal(SIGNAL_STOP, {"close_all": True})
    await handle.result()
    return [handle.id]


async def no_viable_market(h: Harness) -> list[str]:
    """Every market closed: cycles run no epoch and recalibrate after no_viable_retry_s; then stop."""
    await h.freeze_on_quoted_market()
    for m in await h.account.client.get_markets(series_ticker="KXGOLD15M", status="open"):
        (await h.control.post(f"/markets/{m.ticker}/close", json={})).raise_for_status()
    handle = await h.start(fast_config(recalibration_interval_s=30, no_viable_retry_s=1), workflow_id="hist-no-viable")
    await h.wait_status(handle, lambda s: s.cycle >= 3, "three short cycles")
    await handle.signal(SIGNAL_STOP, {})
    await handle.result()
    return [handle.id]


async def signals_during_drain(h: Harness) -> list[str]:
    """Continue-as-new every cycle; a pause sent while a force_close keeps the run draining is carried."""
    ticker, yes_bid, _ = await h.freeze_on_quoted_market()
    await h.arrange_position(ticker, "2", (yes_bid * 2).quantize(Decimal("0.01")))
    handle = await h.start(fast_config(continue_as_new_after_cycles=1), workflow_id="hist-drain")
    await h.wait_status(handle, lambda s: s.generation >= 1 and bool(s.positions), "a continue-as-new")
    closing = asyncio.ensure_future(
        handle.execute_update(UPDATE_FORCE_CLOSE, {"ticker": ticker}, result_type=CloseResult)
    )
    await asyncio.sleep(0.05)
    await handle.signal(SIGNAL_PAUSE, {"reason": "during the drain"})
    await closing
    await h.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused in the next run")
    await handle.signal(SIGNAL_STOP, {})
    await handle.result()
    return [handle.id]


async def market_data_move(h: Harness) -> list[str]:
    """Two worker processes; the one holding market data (and the actor epoch) is killed: the actor epoch
    falls back to REST polling in the same cycle, and ingestion, healthy before, moves without backoff."""

    await h.stop_worker()
    await h.freeze_on_quoted_market()
    await h.clock(paused=False, speed="1")
    key_path = h.account.key_path
    workers = [h.worker_process(key_path.parent / f"w{i}.log", ws_url=h.ws_url or "") for i in range(2)]
    for w in workers:
        w.start()
    try:
        config = fast_config(
            recalibration_interval_s=20,
            epoch=EpochSettings(policy="hold", heartbeat_timeout_s=2, use_websocket=True),
            market_data_workflow_id="hist-md-move",
            market_data=fast_market_data(
                timeout_s=3, silence_timeout_s=None, restart_backoff_s=[0.5, 5], healthy_after_s=5
            ),
        )
        handle = await h.start(config, workflow_id="hist-md-actor")
        st = await h.wait_status(
            handle,
            lambda s: (
                s.state == LifecycleState.TRADING
                and s.last_calibration is not None
                and s.last_calibration.market_data is not None
                and s.last_calibration.market_data.connected
                and (s.last_calibration.market_data.heartbeat_age_s or 0) < 2
            ),
            "an actor epoch",
            timeout_s=90,
        )
        first = st.last_calibration.market_data.queue
        await asyncio.sleep(6)  # ingestion has been healthy longer than healthy_after_s
        victim = next(w for w in workers if first and first in w.log.read_text(errors="replace"))
        victim.kill9()
        await h.wait_status(
            handle,
            lambda s: (
                s.last_calibration is not None
                and s.last_calibration.market_data is not None
                and s.last_calibration.market_data.connected
                and s.last_calibration.market_data.queue != first
            ),
            "ingestion moved",
            timeout_s=120,
        )
        await handle.signal(SIGNAL_STOP, {})
        await handle.result()
        md = h.client.get_workflow_handle("hist-md-move")
        await md.signal(SIGNAL_STOP)
        await md.result()
    finally:
        for w in workers:
            w.stop()
    return [handle.id, "hist-md-move"]


async def policy_switch_and_session_pnl(h: Harness) -> list[str]:
    """Patch live-policy-and-session-pnl: epochs trade ``imbalance`` and their realised P&L and fees are summed for
    the session; ``set_policy`` (a refused name first, then ``hold``) switches from the next epoch; stop close_all."""
    await h.freeze_on_quoted_market()
    handle = await h.start(trading_config(recalibration_interval_s=2), workflow_id="hist-policy")
    await h.wait_status(
        handle, lambda s: s.cycle >= 2 and s.last_epoch is not None and s.last_epoch.orders_placed > 0, "orders placed"
    )
    try:
        await handle.execute_update(UPDATE_SET_POLICY, {"policy": "rl:../x"}, result_type=str)
        raise AssertionError("set_policy accepted an invalid policy name")
    except WorkflowUpdateFailedError:
        pass  # refused by the validator: nothing in the history
    await handle.execute_update(UPDATE_SET_POLICY, {"policy": "hold"}, result_type=str)
    await h.wait_status(
        handle,
        lambda s: (
            s.policy_in_use is not None and s.policy_in_use.name == "hold" and s.session_realized_pnl_dollars != 0
        ),
        "an epoch of hold and session P&L",
    )
    await handle.signal(SIGNAL_STOP, {"close_all": True})
    await handle.result()
    return [handle.id]


async def degraded_and_recovered(h: Harness) -> list[str]:
    """Issue 10: an actor epoch loses its WebSocket (every handshake answered 503): it ends (market_data_lost), the
    trader recalibrates into degraded mode (REST fallbacks, effective limits, closing only), health probes notice
    the recovery; then a REST outage: a transient 503 retried at once, paused, probes, recovered; stop."""
    await h.freeze_on_quoted_market()
    await h.clock(paused=False, speed="1")
    md = fast_market_data(silence_timeout_s=None, restart_backoff_s=[0.5, 1])
    md.settings.reconnect_backoff_max_s = 1.0
    config = fast_config(
        recalibration_interval_s=4,
        degraded_backoff_s=[1, 2],
        degraded=DegradedSettings(health_probe_interval_s=1.5, fallback_refresh_s=1, close_wait_s=2),
        epoch=EpochSettings(
            policy="imbalance",
            imbalance_threshold=Decimal(0),
            heartbeat_timeout_s=2,
            use_websocket=True,
            market_data_grace_ms=500,
        ),
        risk=trading_risk(3, throttle_ms=250),
        order_group_contracts_limit=100_000,
        market_data_workflow_id="hist-md-degraded",
        market_data=md,
    )
    handle = await h.start(config, workflow_id="hist-degraded")
    await h.wait_status(
        handle, lambda s: s.last_epoch is not None and s.last_epoch.driver == "actor", "an actor epoch", timeout_s=90
    )
    await h.timed_faults({"kind": "ws_drop"}, {"kind": "ws_handshake_503", "for": "8s"})
    await h.wait_status(handle, lambda s: s.mode == OverallStatus.DEGRADED, "degraded", timeout_s=30)
    await h.wait_status(
        handle,
        lambda s: s.mode == OverallStatus.FULLY_OPERATIONAL and s.last_probe is not None,
        "recovered after probes",
        timeout_s=60,
    )
    await h.timed_faults({"kind": "http_error", "status": 503, "for": "5s"})
    await h.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused by the outage", timeout_s=30)
    await h.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading again", timeout_s=60)
    await handle.signal(SIGNAL_STOP, {"close_all": True})
    await handle.result()
    md_handle = h.client.get_workflow_handle("hist-md-degraded")
    await md_handle.signal(SIGNAL_STOP)
    await md_handle.result()
    return [handle.id, "hist-md-degraded"]


async def _close_across_a_trading_pause(h: Harness, workflow_id: str, degraded: DegradedSettings) -> list[str]:
    """Trading pauses while a take-profit close is quoting; the trader pauses, recovers, the close completes once;
    stop. ``degraded`` sets how long the cycle waits for the close and how often it probes meanwhile."""
    ticker, hold = await h.take_profit_close_held()
    config = fast_config(
        recalibration_interval_s=2,
        degraded_backoff_s=[1],
        close=CloseSettings(max_attempts=3, retry_delay_s=0.2, pause_retry_s=[1, 1, 2]),
        degraded=degraded,
    )
    handle = await h.start(config, workflow_id=workflow_id)
    for _ in range(300):
        faults = (await h.control.get("/faults/timed")).json()
        if any(f["id"] == hold["id"] and f["matched"] for g in faults.values() for f in g):
            break
        await asyncio.sleep(0.1)
    await h.faults(trading_paused=True)
    await h.wait_status(handle, lambda s: s.state == LifecycleState.PAUSED, "paused by the trading pause")
    await asyncio.sleep(2)
    await h.faults(trading_paused=False)
    await h.wait_status(handle, lambda s: any(c.ticker == ticker for c in s.recent_closes), "the close's result")
    await h.wait_status(handle, lambda s: s.state == LifecycleState.TRADING, "trading again")
    await handle.signal(SIGNAL_STOP, {})
    await handle.result()
    return [handle.id]


async def close_waits_out_a_trading_pause(h: Harness) -> list[str]:
    """Issue 10: the close waits the pause out on durable timers, the cycle stops waiting for it after 2 s (it goes
    on in the background), the trader pauses and recovers, the close completes once; stop."""
    return await _close_across_a_trading_pause(h, "hist-close-pause", DegradedSettings(close_wait_s=2))


async def close_pause_detected_by_probe(h: Harness) -> list[str]:
    """Issue 10 (probe-during-close-wait): the cycle would wait up to 30 s for the close, but the health probe
    (every 1 s) reports the pause at once and the trader pauses; it recovers and the close completes once."""
    return await _close_across_a_trading_pause(
        h, "hist-close-pause-probe", DegradedSettings(close_wait_s=30, health_probe_interval_s=1)
    )


SCENARIOS: dict[str, Scenario] = {
    "take-profit": take_profit_then_stop,
    "trading-pause": trading_pause_resume_stop,
    "outage": outage_and_recovery,
    "continue-as-new": continue_as_new_chain,
    "actor": actor_loop_and_market_data,
    "exactly-once": exactly_once_operator,
    "no-viable": no_viable_market,
    "drain": signals_during_drain,
    "md-move": market_data_move,
    "policy": policy_switch_and_session_pnl,
    "degraded": degraded_and_recovered,
    "close-pause": close_waits_out_a_trading_pause,
    "close-pause-probe": close_pause_detected_by_probe,
}


async def _export(client: Client, scenario: str, root_ids: list[str], index: dict[str, Any]) -> None:
    """Write every closed run of the scenario's workflows and their close children."""
    query = " OR ".join(f"WorkflowId = '{wid}' OR WorkflowId STARTS_WITH '{wid}/close/'" for wid in root_ids)
    async for wf in client.list_workflows(query):
        if wf.status == WorkflowExecutionStatus.RUNNING:
            raise RuntimeError(f"{wf.id} is still running; histories must be of closed runs")
        handle = client.get_workflow_handle(wf.id, run_id=wf.run_id)
        history = await handle.fetch_history()
        last = history.events[-1].event_type
        if last not in (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        ):
            continue
        name = f"{scenario}-{wf.workflow_type}-{wf.run_id[-12:]}.json"
        (HERE / name).write_text(history.to_json())
        index[name] = {"workflow_id": wf.id, "workflow_type": wf.workflow_type, "scenario": scenario}
        print(f"  {name}: {wf.workflow_type} {wf.id} ({len(history.events)} events)")


async def main(selected: list[str]) -> None:
    cli = find_temporal_cli()
    index_file = HERE / "index.json"
    index: dict[str, Any] = json.loads(index_file.read_text()) if index_file.exists() else {}
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=list(SEARCH_ATTRIBUTES),
        dev_server_existing_path=str(cli) if cli else None,
    ) as env:
        for name in selected:
            config = SimulatorConfig(port=0, data_dir=DATA_DIR if DATA_DIR.is_dir() else None)
            async with SimulatorServer(config) as sim, httpx.AsyncClient(base_url=sim.base_url + "/sim/v1") as control:
                key_id = f"hist-{uuid.uuid4().hex[:8]}"
                private_pem, public_pem = generate_key_pair()
                (
                    await control.post(
                        "/accounts",
                        json={"key_id": key_id, "public_key_pem": public_pem.decode(), "balance_cents": 1_000_000},
                    )
                ).raise_for_status()
                signer = RequestSigner.from_pem(private_pem, key_id)
                key_path = Path(tempfile.mkdtemp()) / f"{key_id}.pem"  # for worker subprocesses
                key_path.write_bytes(private_pem)
                key_path.chmod(0o600)
                async with KalshiRestClient(sim.rest_url, signer) as kalshi:
                    account = Account(key_id=key_id, key_path=key_path, signer=signer, client=kalshi)
                    h = Harness(env.client, account, control, f"hist-{name}", AppMetrics(), ws_url=sim.ws_url)
                    await h.start_worker()
                    try:
                        print(f"scenario {name}")
                        ids = await SCENARIOS[name](h)
                        await _export(env.client, name, ids, index)
                    finally:
                        await h.stop_worker()
    index_file.write_text(json.dumps(dict(sorted(index.items())), indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or list(SCENARIOS)))
