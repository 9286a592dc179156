"""Replay throughput benchmark: ``python -m bench.bench_replay [--data-dir DIR] [--speed 60] [--realtime 20]``.

Prints figures, asserts nothing (ARCHITECTURE "Tests that tell the truth"):

1. **Batch replay**: folds every frame of the default run (auto start to the end of the tape, or
   ``--hours``) as fast as possible through the real exchange and replay engine, and reports frames per
   second of CPU, the busiest 1-second window the tape needs at ``--speed``, the resulting headroom, and
   the peak resident memory.
2. **Real time** (``--realtime S``): runs a server at ``--speed`` for ``S`` wall seconds and samples how
   far the exchange lags behind the clock.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections import deque
from decimal import Decimal
from pathlib import Path

import click

from simulator.clock import ExchangeClock
from simulator.config import SimulatorConfig
from simulator.events import EventBus
from simulator.exchange import Exchange
from simulator.replay import ReplayEngine
from simulator.server import SimulatorServer, load_catalog
from simulator.timeutil import iso_ms


def batch_replay(config: SimulatorConfig, hours: Decimal | None, speed: Decimal) -> None:
    """Replay the tape as fast as possible and print throughput and the speed-``speed`` requirement."""
    catalog = load_catalog(config)
    start = config.start_ms() or catalog.auto_start_ms()
    _, last = catalog.time_range_ms()
    end = last if hours is None else start + int(hours * 3_600_000)
    clock = ExchangeClock(start, paused=True)
    exchange = Exchange(catalog, EventBus(), offset_ms=clock.offset_ms, start_ms=start)
    engine = ReplayEngine(exchange, clock)
    engine.start()
    window: deque[tuple[int, int]] = deque()
    window_ms = int(1000 * speed)
    peak = 0
    step = 1000
    began = time.perf_counter()
    t = start
    while t < end:
        t = min(end, t + step)
        before = engine.stats.frames
        engine.advance_to(t)
        window.append((t, engine.stats.frames - before))
        while window and window[0][0] <= t - window_ms:
            window.popleft()
        peak = max(peak, sum(n for _, n in window))
    took = Decimal(str(round(time.perf_counter() - began, 6)))
    frames = engine.stats.frames
    rate = int(frames / took) if took else 0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"source: {catalog.description}")
    print(f"replayed {iso_ms(start)} .. {iso_ms(end)}: {frames} frames in {took} s = {rate} frames/s")
    print(f"busiest wall second at speed {speed}: {peak} frames -> headroom x{Decimal(rate) / max(1, peak):.1f}")
    print(f"peak RSS: {rss_mb} MB")


async def realtime_lag(config: SimulatorConfig, seconds: int) -> None:
    """Run a server at the configured speed and sample the replay lag."""
    async with SimulatorServer(config) as sim:
        ctx = sim.ctx
        worst = 0
        samples = 0
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            await asyncio.sleep(0.1)
            lag = ctx.clock.now_ms() - ctx.exchange.now_ms
            worst = max(worst, lag)
            samples += 1
        frames = ctx.engine.stats.frames
        busy = Decimal(ctx.engine.stats.busy_ns) / 1_000_000_000
        print(
            f"real time at speed {ctx.clock.speed} for {seconds} s: {frames} frames, replay busy {busy:.2f} s "
            f"({Decimal(100) * busy / seconds:.1f}% of one core), worst lag {worst} ms tape over {samples} samples"
        )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None, help="Tape directory (default: the shared tape)."
)
@click.option("--synthetic", is_flag=True, help="Replay the synthetic generator instead of a tape.")
@click.option("--start", default="auto", show_default=True, help="Tape time to start at (ISO 8601) or 'auto'.")
@click.option("--hours", default=None, help="Tape hours to replay (default: to the end).")
@click.option("--speed", default="60", show_default=True, help="Replay speed the headroom is computed for.")
@click.option("--realtime", type=int, default=0, show_default=True, help="Also run S wall seconds at --speed.")
def main(data_dir: Path | None, synthetic: bool, start: str, hours: str | None, speed: str, realtime: int) -> None:
    """Replay throughput of the simulator (see the module docstring)."""
    config = SimulatorConfig(
        port=0,
        data_dir=data_dir,
        synthetic=synthetic,
        start=start,
        speed=speed,
        rate_limit_tier="off",
        log_requests=False,
    )
    batch_replay(config, Decimal(hours) if hours else None, config.speed)
    if realtime:
        asyncio.run(realtime_lag(config, realtime))


if __name__ == "__main__":
    main()
