"""Chaos benchmark: kill -9 the worker N times and the Temporal dev server M times while the trader trades.

    python -m bench.bench_chaos [--worker-kills 30] [--server-restarts 2] [--recalibration-s 10]
                                [--heartbeat-timeout-s 4] [--websocket] [--seed 6]

The real stack as separate processes: our own ``temporal server start-dev`` with a SQLite file (killed
with SIGKILL and restarted on the same file), the worker as a ``kalshi-trader worker`` subprocess
(killed with SIGKILL at a random point while it trades, and started again at once), and the simulator
replaying the recorded tape at real speed under Kalshi's duplicate rule (409 only while an open order
holds a client_order_id). The trader trades all the time: threshold-0 imbalance policy, 1-contract IOC
orders, a position limit of 3 contracts, positions closed after 2 s.

Prints (targets from issue 6: 0, 0, within the limit, 0, 0, p50 under 15 s):

* orders placed (entries and closes) and duplicate intents (client_order_ids on more than one order);
* the largest position ever held (from every fill's post position) against the limit;
* drift at the end: markets where the trader's last calibration differs from the exchange;
* workflow task failures in every run's history (server bookkeeping such as a reset marker apart);
* restart -> trading: from the worker's spawn (or the server's restart) to the next entry order, p50/max;
* orders that reached the exchange while the server was down, after the epoch's lease had ended.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner, generate_key_pair
from models.trader import TraderInput, TraderStatus
from recording.metrics import AppMetrics
from simulator.server import SimulatorConfig, SimulatorServer
from tests.chaos import (
    OwnDevServer,
    account_orders,
    audit_account,
    chaos_config,
    wait_for_new_order,
    workflow_task_failures,
)
from tests.conftest import DATA_DIR, Account
from tests.harness import Harness
from tests.worker_process import WorkerProcess
from workers.devserver import find_temporal_cli
from workers.worker import connect
from workflows.names import QUERY_STATUS, SIGNAL_STOP
from workflows.trader import TraderWorkflow


def _p50_max(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"p50 {statistics.median(values):.1f} s, max {max(values):.1f} s (n={len(values)})"


async def main(args: argparse.Namespace) -> None:
    cli = find_temporal_cli()
    if cli is None:
        raise SystemExit("no temporal CLI: set TEMPORAL_CLI or run `make install`")
    rng = random.Random(args.seed)
    state = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    server = OwnDevServer(cli, state / "temporal")
    await server.start()
    config = SimulatorConfig(port=0, data_dir=DATA_DIR if DATA_DIR.is_dir() else None)
    worker: WorkerProcess | None = None
    async with SimulatorServer(config) as sim, httpx.AsyncClient(base_url=sim.base_url + "/sim/v1") as control:
        key_id = f"chaos-{uuid.uuid4().hex[:8]}"
        private_pem, public_pem = generate_key_pair()
        (
            await control.post(
                "/accounts", json={"key_id": key_id, "public_key_pem": public_pem.decode(), "balance_cents": 10**7}
            )
        ).raise_for_status()
        key_path = state / f"{key_id}.pem"
        key_path.write_bytes(private_pem)
        key_path.chmod(0o600)
        signer = RequestSigner.from_pem(private_pem, key_id)
        try:
            async with KalshiRestClient(sim.rest_url, signer) as kalshi:
                client = await connect(server.address)
                account = Account(key_id=key_id, key_path=key_path, signer=signer, client=kalshi)
                h = Harness(client, account, control, f"chaos-{uuid.uuid4().hex[:6]}", AppMetrics(), ws_url=sim.ws_url)
                await h.freeze_on_quoted_market()
                await h.clock(paused=False, speed="1")
                worker = h.worker_process(state / "worker.log", ws_url=sim.ws_url)
                worker.start()
                trader_config = chaos_config(
                    recalibration_s=args.recalibration_s,
                    heartbeat_timeout_s=args.heartbeat_timeout_s,
                    use_websocket=args.websocket,
                    market_data_workflow_id=f"kalshi-md-chaos-{uuid.uuid4().hex[:6]}" if args.websocket else None,
                )
                limit = trader_config.risk.max_position_contracts
                wid = f"kalshi-trader-chaos-{uuid.uuid4().hex[:8]}"
                handle = await client.start_workflow(
                    TraderWorkflow.run, TraderInput(config=trader_config), id=wid, task_queue=h.task_queue
                )
                if await wait_for_new_order(sim, key_id, 0, timeout_s=120) is None:
                    raise SystemExit(f"the trader never traded (see {state})")
                print(
                    f"chaos: {args.worker_kills} worker kill -9, {args.server_restarts} dev-server kill -9 restarts; "
                    f"{args.recalibration_s:g} s cycles, heartbeat timeout {args.heartbeat_timeout_s:g} s, "
                    f"{'WebSocket actor loop' if args.websocket else 'REST polling'}; logs in {state}",
                    flush=True,
                )
                restart_at = {
                    round((i + 1) * args.worker_kills / (args.server_restarts + 1)) for i in range(args.server_restarts)
                }
                worker_restarts: list[float] = []
                server_restarts: list[float] = []
                fenced_violations = 0
                started = time.monotonic()
                for kill in range(args.worker_kills + 1):
                    if kill in restart_at:
                        placed = len(account_orders(sim, key_id))
                        await wait_for_new_order(sim, key_id, placed, timeout_s=60)
                        server.kill9()
                        await asyncio.sleep(args.heartbeat_timeout_s / 2 + 0.5)  # the epoch's lease has ended
                        fenced = len(account_orders(sim, key_id))
                        await asyncio.sleep(rng.uniform(2, 5))
                        fenced_violations += len(account_orders(sim, key_id)) - fenced
                        restarted = await server.start()
                        traded = await wait_for_new_order(sim, key_id, fenced, timeout_s=120)
                        if traded is None:
                            raise SystemExit(f"no trading within 120 s of a server restart (see {state})")
                        server_restarts.append(traded - restarted)
                        print(f"  server restart: trading again after {traded - restarted:.1f} s", flush=True)
                    if kill == args.worker_kills:
                        break
                    await asyncio.sleep(rng.uniform(0.5, args.recalibration_s))  # a random point while trading
                    worker.kill9()
                    placed = len(account_orders(sim, key_id))
                    spawned = worker.start()
                    traded = await wait_for_new_order(sim, key_id, placed, timeout_s=120)
                    if traded is None:
                        raise SystemExit(f"no trading within 120 s of worker restart {kill + 1} (see {state})")
                    worker_restarts.append(traded - spawned)
                    print(f"  worker kill {kill + 1}: trading again after {traded - spawned:.1f} s", flush=True)
                chaos_s = time.monotonic() - started
                before = await handle.query(QUERY_STATUS, result_type=TraderStatus)
                await handle.signal(SIGNAL_STOP, {"reason": "chaos over"})
                final: TraderStatus = await asyncio.wait_for(handle.result(), timeout=120)
                audit = audit_account(await h.exchange_account())
                trader = {p.ticker: p.contracts if p.side == "yes" else -p.contracts for p in final.positions}
                drift = sorted(t for t in set(trader) | set(audit.positions) if trader.get(t) != audit.positions.get(t))
                failures = await workflow_task_failures(client, wid)
                print(f"chaos ran {chaos_s:.0f} s; trader cycle {before.cycle}, generation {before.generation}")
                print(
                    f"orders placed: {audit.orders} ({audit.epoch_orders} entries by epochs, "
                    f"{audit.close_orders} by closes)"
                )
                print(f"duplicate intents: {len(audit.duplicate_ids)}")
                print(f"max position: {audit.worst_position} contracts (limit {limit})")
                print(f"drift at the end: {len(drift)} markets{' ' + ', '.join(drift) if drift else ''}")
                print(
                    f"workflow task failures: {failures.harmful} (server bookkeeping, not failures: {failures.benign})"
                )
                print(f"restart -> trading after worker kill -9: {_p50_max(worker_restarts)}")
                print(f"restart -> trading after dev-server kill -9: {_p50_max(server_restarts)}")
                print(f"orders placed while the server was down, after the epoch lease ended: {fenced_violations}")
        finally:
            if worker is not None:
                worker.stop()
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker-kills", type=int, default=30)
    parser.add_argument("--server-restarts", type=int, default=2)
    parser.add_argument("--recalibration-s", type=float, default=10)
    parser.add_argument("--heartbeat-timeout-s", type=float, default=4)
    parser.add_argument("--websocket", action="store_true", help="trade from the WebSocket actor loop")
    parser.add_argument("--seed", type=int, default=6)
    asyncio.run(main(parser.parse_args()))
