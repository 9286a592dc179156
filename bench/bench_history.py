"""History events per idle recalibration cycle, and cycles per run before continue-as-new.

    python -m bench.bench_history [--cycles 30] [--suggest-at 400]

A real dev server (the built ``temporal`` CLI) and the simulator replaying the real tape; the trader
runs with the ``hold`` policy (an idle cycle: calibration, no exits, an epoch that places nothing) at a
1 s recalibration interval. Printed:

* events per idle cycle: the history length grows by this much per cycle (measured over ``--cycles``);
* cycles per run at the server's default suggestion (``limit.historyCount.suggestContinueAsNew`` =
  4,096 events), predicted from the above, and hours per run at the 60 s production interval;
* a check of the prediction: a second server with the suggestion lowered to ``--suggest-at`` events;
  the first run's cycle count before the workflow continued as new, against the prediction.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import click
import httpx
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner, generate_key_pair
from models.trader import TraderStatus
from recording.metrics import AppMetrics
from simulator.server import SimulatorConfig, SimulatorServer
from tests.conftest import DATA_DIR, Account
from tests.harness import Harness, fast_config
from workers.devserver import find_temporal_cli
from workflows.names import QUERY_STATUS, SEARCH_ATTRIBUTES

DEFAULT_SUGGEST = 4096


async def _history_len(client: Client, wid: str, run_id: str | None = None) -> int:
    history = await client.get_workflow_handle(wid, run_id=run_id).fetch_history()
    return len(history.events)


async def _status(handle: WorkflowHandle) -> TraderStatus:
    return await handle.query(QUERY_STATUS, result_type=TraderStatus)


async def _wait_cycle(handle: WorkflowHandle, cycle: int) -> TraderStatus:
    while True:
        st = await _status(handle)
        if st.cycle >= cycle:
            return st
        await asyncio.sleep(0.1)


async def _with_trader(suggest_at: int | None, body):
    cli = find_temporal_cli()
    extra = ["--dynamic-config-value", f"limit.historyCount.suggestContinueAsNew={suggest_at}"] if suggest_at else []
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=list(SEARCH_ATTRIBUTES),
        dev_server_existing_path=str(cli) if cli else None,
        dev_server_extra_args=extra,
    ) as env:
        config = SimulatorConfig(port=0, data_dir=DATA_DIR if DATA_DIR.is_dir() else None)
        async with SimulatorServer(config) as sim, httpx.AsyncClient(base_url=sim.base_url + "/sim/v1") as control:
            private_pem, public_pem = generate_key_pair()
            await control.post("/accounts", json={"key_id": "bench", "public_key_pem": public_pem.decode()})
            signer = RequestSigner.from_pem(private_pem, "bench")
            async with KalshiRestClient(sim.rest_url, signer) as kalshi:
                account = Account(key_id="bench", key_path=Path("/dev/null"), signer=signer, client=kalshi)
                h = Harness(env.client, account, control, f"bench-{uuid.uuid4().hex[:6]}", AppMetrics())
                await h.start_worker()
                try:
                    await h.freeze_on_quoted_market()
                    return await body(env.client, h)
                finally:
                    for handle in h.handles:
                        with contextlib.suppress(Exception):  # already closed
                            await handle.terminate("bench done")
                    await h.stop_worker()


async def run(cycles: int, suggest_at: int) -> None:
    async def measure(client: Client, h: Harness) -> tuple[float, int]:
        handle = await h.start(fast_config(continue_as_new_after_cycles=100_000))
        st = await _wait_cycle(handle, 3)
        start_cycle, start_len = st.cycle, await _history_len(client, handle.id)
        st = await _wait_cycle(handle, start_cycle + cycles)
        # The history grows by whole cycles; read it at the same point of the next cycle boundary.
        end_len = await _history_len(client, handle.id)
        st2 = await _status(handle)
        per_cycle = (end_len - start_len) / (st2.cycle - start_cycle) if st2.cycle > start_cycle else float("nan")
        startup = start_len - per_cycle * start_cycle
        return per_cycle, int(startup)

    per_cycle, startup = await _with_trader(None, measure)
    predicted = int((DEFAULT_SUGGEST - startup) / per_cycle)
    print(f"idle cycle (hold policy, 1 s interval), measured over {cycles} cycles")
    print(f"  events per idle cycle: {per_cycle:.1f} (start-up events ~{startup})")
    print(
        f"  cycles per run at the default suggestion ({DEFAULT_SUGGEST} events): ~{predicted} "
        f"= {predicted / 60:.1f} h at the 60 s production interval"
    )

    async def check(client: Client, h: Harness) -> int:
        handle = await h.start(fast_config(continue_as_new_after_cycles=100_000))
        while (await _status(handle)).generation < 1:  # noqa: ASYNC110 - polling a query, not an event
            await asyncio.sleep(0.2)
        first_run = None
        async for wf in client.list_workflows(f"WorkflowId = '{handle.id}'"):
            if wf.status is not None and wf.status.name == "CONTINUED_AS_NEW":
                first_run = wf.run_id
        assert first_run is not None
        history = await client.get_workflow_handle(handle.id, run_id=first_run).fetch_history()
        return sum(
            1
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
            and e.activity_task_scheduled_event_attributes.activity_type.name == "run_trading_epoch"
        )

    observed = await _with_trader(suggest_at, check)
    expected = int((suggest_at - startup) / per_cycle)
    print(
        f"  check with suggestContinueAsNew={suggest_at}: first run did {observed} cycles before continue-as-new (predicted ~{expected})"
    )


@click.command(help="History events per idle cycle; cycles per run.")
@click.option("--cycles", type=int, default=30, show_default=True)
@click.option("--suggest-at", type=int, default=400, show_default=True)
def main(cycles: int, suggest_at: int) -> None:
    asyncio.run(run(cycles, suggest_at))


if __name__ == "__main__":
    main()
