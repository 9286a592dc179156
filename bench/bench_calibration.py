"""Calibration duration: the parallel checks vs the same checks one after another.

    python -m bench.bench_calibration [--repeat N] [--latency-ms 50] [--markets 10] [--positions 20]

Set-up (the simulator over real HTTP, replaying the real tape, with ``latency_ms`` injected into every
REST request): one account holding ``--positions`` positions in as many different markets (arranged
through the control API), of which ``--markets`` are tracked by the trader (extra tickers, on top of the
series' open market). Each repeat runs the ``calibration_snapshot`` activity body (the same code the
worker runs: exchange status, balance, positions, resting orders, settlements, market discovery, order
group, then markets and order books of everything discovered or held) once in parallel mode and once
sequentially, and records the wall time. Between runs it waits 2.5 s so the client-side Basic-tier token
bucket (200 read tokens/s, 10 per request) is full again, as it is for a calibration every 60 s in
production; back-to-back runs would measure the rate limiter instead. Prints medians and the ratio sequential/parallel; the issue's
target is a median under 500 ms for 10 markets and 20 positions at 50 ms latency.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import click
import httpx

from activities.kalshi_activities import KalshiActivities
from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner, generate_key_pair
from models.trader import CalibrationInput
from recording.metrics import AppMetrics
from simulator.server import SimulatorConfig, SimulatorServer
from tests.conftest import DATA_DIR


async def run(repeat: int, latency_ms: int, n_markets: int, n_positions: int) -> None:
    config = SimulatorConfig(port=0, data_dir=DATA_DIR if DATA_DIR.is_dir() else None, rate_limit_tier="off")
    async with SimulatorServer(config) as sim, httpx.AsyncClient(base_url=sim.base_url + "/sim/v1") as control:
        private_pem, public_pem = generate_key_pair()
        await control.post("/accounts", json={"key_id": "bench", "public_key_pem": public_pem.decode()})
        markets = (await control.get("/markets")).json()["markets"]
        tickers = [m["ticker"] for m in markets][:n_positions]
        if len(tickers) < n_positions:
            raise SystemExit(f"the tape has only {len(tickers)} markets")
        for i, ticker in enumerate(tickers):
            body = {"position_fp": str(5 + i) if i % 2 == 0 else str(-(5 + i)), "market_exposure_dollars": "2.50"}
            (await control.put(f"/accounts/bench/positions/{ticker}", json=body)).raise_for_status()
        await control.put("/faults", json={"latency_ms": latency_ms})
        signer = RequestSigner.from_pem(private_pem, "bench")
        async with KalshiRestClient(sim.rest_url, signer) as client:
            acts = KalshiActivities(client, AppMetrics())
            inp = CalibrationInput(series_tickers=["KXGOLD15M"], extra_tickers=tickers[:n_markets])
            results: dict[bool, list[float]] = {True: [], False: []}
            reported: dict[bool, list[int]] = {True: [], False: []}
            for _ in range(repeat):
                for parallel in (True, False):
                    await asyncio.sleep(2.5)  # refill the client-side token bucket (see the module docstring)
                    started = time.perf_counter()
                    snap = await acts.calibration_snapshot(inp.model_copy(update={"parallel": parallel}))
                    results[parallel].append((time.perf_counter() - started) * 1000)
                    reported[parallel].append(snap.duration_ms)
                    assert not snap.errors, snap.errors
                    assert snap.positions is not None and len(snap.positions) == n_positions
                    assert snap.markets is not None and len(snap.markets) >= n_markets
    par = statistics.median(results[True])
    seq = statistics.median(results[False])
    print(
        f"calibration, {n_markets} tracked markets + series discovery, {n_positions} positions, {latency_ms} ms/request latency"
    )
    print(f"  repeats {repeat} (medians; 2 shared noisy cores)")
    print(
        f"  parallel   median {par:7.1f} ms  (min {min(results[True]):.1f}, max {max(results[True]):.1f}; report duration_ms median {statistics.median(reported[True]):.0f})"
    )
    print(f"  sequential median {seq:7.1f} ms  (min {min(results[False]):.1f}, max {max(results[False]):.1f})")
    print(f"  ratio sequential/parallel {seq / par:.2f}x; target median < 500 ms: {'met' if par < 500 else 'NOT met'}")


@click.command(help="Calibration duration, parallel vs sequential.")
@click.option("--repeat", type=int, default=15, show_default=True)
@click.option("--latency-ms", type=int, default=50, show_default=True)
@click.option("--markets", type=int, default=10, show_default=True)
@click.option("--positions", type=int, default=20, show_default=True)
def main(repeat: int, latency_ms: int, markets: int, positions: int) -> None:
    asyncio.run(run(repeat, latency_ms, markets, positions))


if __name__ == "__main__":
    main()
