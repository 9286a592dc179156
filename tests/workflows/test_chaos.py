"""Exactly-once under crashes, re-runs and server restarts, against Kalshi's duplicate rule (issue 6).

The simulator answers 409 only while an open order holds a client_order_id (Kalshi's rule), so an
executed IOC's id would be accepted again: a re-sent intent shows up as a second order with the same
id. Each test kills or re-runs real processes while the trader trades all the time (threshold-0
policy, 1-contract IOC orders, a position limit of 3, positions closed after 2 s), then audits the
exchange: no client_order_id on two orders, no position ever above the limit (reconstructed from
every fill's post position), the trader's positions equal the exchange's, no workflow task failure.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from decimal import Decimal

import pytest
from temporalio.client import Client

from models.ids import epoch_key, epoch_order_prefix
from models.trader import LifecycleState, TraderInput, TraderStatus
from tests.chaos import (
    OwnDevServer,
    account_orders,
    audit_account,
    chaos_config,
    wait_for_new_order,
    workflow_task_failures,
)
from tests.harness import Harness
from workers.devserver import find_temporal_cli
from workers.worker import connect
from workflows.names import QUERY_STATUS, SIGNAL_STOP
from workflows.trader import TraderWorkflow

pytestmark = pytest.mark.integration

LIMIT = Decimal(3)


def _signed(st: TraderStatus) -> dict[str, Decimal]:
    return {p.ticker: p.contracts if p.side == "yes" else -p.contracts for p in st.positions}


async def _live_market(harness: Harness) -> None:
    """A quoted market, then the tape running at real speed (books move, the policy keeps trading)."""
    await harness.freeze_on_quoted_market()
    await harness.clock(paused=False, speed="1")


async def _assert_exchange_clean(harness: Harness, final: TraderStatus, client: Client, workflow_id: str) -> None:
    audit = audit_account(await harness.exchange_account())
    assert audit.epoch_orders > 0
    assert audit.duplicate_ids == [], f"intents placed twice: {audit.duplicate_ids}"
    assert audit.worst_position <= LIMIT, f"position above the limit of {LIMIT}: {audit.max_position}"
    assert _signed(final) == audit.positions, "the trader's last calibration differs from the exchange"
    failures = await workflow_task_failures(client, workflow_id)
    assert failures.harmful == 0, f"workflow task failures: {dict(failures.causes)}"


async def test_worker_killed_ten_times_while_trading(harness: Harness, temporal_address: str, sim, tmp_path) -> None:
    await harness.stop_worker()  # the worker runs as a process this test can kill
    await _live_market(harness)
    key = harness.account.key_id
    worker = harness.worker_process(tmp_path / "worker.log", ws_url=sim.ws_url)
    worker.start()
    rng = random.Random(6)
    restarts: list[float] = []
    try:
        handle = await harness.start(chaos_config(recalibration_s=3, heartbeat_timeout_s=2, max_position=LIMIT))
        assert await wait_for_new_order(sim, key, 0, timeout_s=60), "the trader never traded"
        for i in range(10):
            await asyncio.sleep(rng.uniform(0.2, 2.5))  # a random point while it trades
            worker.kill9()
            placed = len(account_orders(sim, key))
            spawned = worker.start()
            traded = await wait_for_new_order(sim, key, placed, timeout_s=60)
            assert traded is not None, f"no trading within 60 s of restart {i + 1}"
            restarts.append(traded - spawned)
        await handle.signal(SIGNAL_STOP, {"reason": "chaos over"})
        final: TraderStatus = await asyncio.wait_for(handle.result(), timeout=60)
    finally:
        worker.stop()
    assert final.state == LifecycleState.STOPPED
    await _assert_exchange_clean(harness, final, harness.client, handle.id)
    print(f"restart -> trading: {sorted(round(r, 1) for r in restarts)} s")


def _run_prefixes(first_execution_run_id: str, run_id: str, cycles: int = 300) -> set[str]:
    return {
        epoch_order_prefix(epoch_key(first_execution_run_id, run_id, c, leg))
        for c in range(cycles)
        for leg in ("", "rest")
    }


def _run_of(client_order_id: str, runs: dict[str, set[str]]) -> str | None:
    prefix = client_order_id[: client_order_id.rfind(":", 0, client_order_id.rfind(":")) + 1]
    return next((name for name, prefixes in runs.items() if prefix in prefixes), None)


async def test_terminate_start_and_reset_never_reuse_or_adopt_an_earlier_runs_orders(
    harness: Harness, temporal_address: str, sim
) -> None:
    await _live_market(harness)
    key = harness.account.key_id
    config = chaos_config(recalibration_s=2, heartbeat_timeout_s=2, max_position=LIMIT)
    wid = f"kalshi-trader-chaos-{uuid.uuid4().hex[:8]}"
    first = await harness.start(config, workflow_id=wid)
    assert await wait_for_new_order(sim, key, 0, timeout_s=60)
    await asyncio.sleep(2)
    # Terminate mid-epoch and start again at once: the old attempt dies while the new run starts.
    await first.terminate("chaos: terminate")
    second = await harness.start(config, workflow_id=wid)
    run_a, run_b = first.result_run_id, second.result_run_id
    assert run_a and run_b
    runs = {"A": _run_prefixes(run_a, run_a), "B": _run_prefixes(run_b, run_b)}
    placed = len(account_orders(sim, key))
    assert await wait_for_new_order(sim, key, placed, timeout_s=60), "the restarted run never traded"
    await asyncio.sleep(3)
    st_b = await harness.status(second)
    assert st_b.cycle >= 1 and st_b.last_epoch is not None

    # Reset the new run to its first workflow task: the cycle counter rewinds to 0.
    cli = find_temporal_cli()
    assert cli is not None
    reset = await asyncio.create_subprocess_exec(
        str(cli),
        *("workflow", "reset", "--address", temporal_address, "-w", wid, "-r", run_b),
        *("--type", "FirstWorkflowTask", "--reason", "chaos: reset", "-y"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(reset.communicate(), timeout=60)
    assert reset.returncode == 0, (out, err)
    run_c = (await harness.client.get_workflow_handle(wid).describe()).run_id
    assert run_c not in (run_a, run_b)
    runs["C"] = _run_prefixes(run_b, run_c)  # a reset keeps first_execution_run_id, not the run id
    placed = len(account_orders(sim, key))
    assert await wait_for_new_order(sim, key, placed, timeout_s=60), "the reset run never traded"
    await asyncio.sleep(3)
    current = harness.client.get_workflow_handle(wid, result_type=TraderStatus)
    st_c = await current.query(QUERY_STATUS, result_type=TraderStatus)
    await current.signal(SIGNAL_STOP, {})
    final: TraderStatus = await asyncio.wait_for(current.result(), timeout=60)

    # Every epoch order at the exchange belongs to exactly one run, and each run reports only its own.
    orders = (await harness.exchange_account())["orders"]
    owners = {o["client_order_id"]: _run_of(o["client_order_id"], runs) for o in orders}
    epoch_ids = [cid for cid in owners if cid.startswith("epoch:")]
    assert epoch_ids and all(owners[cid] is not None for cid in epoch_ids), "an epoch id outside every run's scope"
    assert {owners[cid] for cid in epoch_ids} == {"A", "B", "C"}
    assert all(_run_of(cid, runs) == "B" for cid in st_b.last_epoch.client_order_ids), "B reported another run's"
    assert st_c.last_epoch is not None
    assert all(_run_of(cid, runs) == "C" for cid in st_c.last_epoch.client_order_ids), "C reported another run's"
    await _assert_exchange_clean(harness, final, harness.client, wid)


async def test_dev_server_killed_and_restarted_twice_mid_epoch(harness: Harness, sim, tmp_path) -> None:
    await harness.stop_worker()
    await _live_market(harness)
    cli = find_temporal_cli()
    assert cli is not None
    server = OwnDevServer(cli, tmp_path / "temporal")
    await server.start()
    worker = harness.worker_process(tmp_path / "worker.log", ws_url=sim.ws_url, temporal_address=server.address)
    key = harness.account.key_id
    heartbeat_timeout_s = 2
    try:
        client = await connect(server.address)
        worker.start()
        config = chaos_config(recalibration_s=4, heartbeat_timeout_s=heartbeat_timeout_s, max_position=LIMIT)
        wid = f"kalshi-trader-chaos-{uuid.uuid4().hex[:8]}"
        handle = await client.start_workflow(
            TraderWorkflow.run, TraderInput(config=config), id=wid, task_queue=harness.task_queue
        )
        assert await wait_for_new_order(sim, key, 0, timeout_s=60), "the trader never traded"
        for i in range(2):
            placed = len(account_orders(sim, key))
            assert await wait_for_new_order(sim, key, placed, timeout_s=30), "not trading before the kill"
            server.kill9()
            # The epoch keeps running on the worker, but its lease ends half a heartbeat timeout after the
            # last acknowledged heartbeat: from then on nothing may reach the exchange.
            await asyncio.sleep(heartbeat_timeout_s / 2 + 0.5)
            fenced_at = len(account_orders(sim, key))
            await asyncio.sleep(3)
            assert len(account_orders(sim, key)) == fenced_at, f"orders placed while the server was down ({i + 1})"
            restarted = await server.start()
            traded = await wait_for_new_order(sim, key, fenced_at, timeout_s=90)
            assert traded is not None, f"no trading after server restart {i + 1}"
            print(f"server restart {i + 1}: trading again after {traded - restarted:.1f} s")
        st = await handle.query(QUERY_STATUS, result_type=TraderStatus)
        cycle = st.cycle
        await handle.signal(SIGNAL_STOP, {})
        final: TraderStatus = await asyncio.wait_for(handle.result(), timeout=60)
        assert final.cycle >= cycle
        await _assert_exchange_clean(harness, final, client, wid)
    finally:
        worker.stop()
        server.stop()
