"""Fault matrix benchmark: time to detect each fault and time to recover, at the default and the scaled intervals.

    python -m bench.bench_faults [--runs 5] [--intervals both|default|scaled] [--faults ws-503,rest-outage,...]

For each fault type, ``--runs`` independent stacks run at once (each its own simulator replaying the recorded
tape at real speed, its own exchange account, trader, market-data workflow and in-process worker, on one Temporal
dev server of our own): the trader trades from the WebSocket actor loop (threshold-0 imbalance policy, 1-contract
orders), and once it is in full operation the simulator starts the fault (a timed fault over its control API:
wall-clock onset and duration) and ends it. The runs' onsets, and their durations (the base duration plus up
to one health-probe interval), are spread over one probe interval, so the fault and the component's return land
at every phase of the trader's probe and recalibration cycle.

Measured from the trader's own status history against the simulator's record of the fault (both wall-clock UTC on
this machine): detection = fault onset -> the mode change (``degraded``, or ``paused`` for a critical fault);
recovery = fault clearance -> the mode change back to ``fully_operational``; noticed = the component healthy again
-> full operation (for a WebSocket fault the streams are sampled in-process: reconnected, channels subscribed,
books trusted; they come back up to the reconnect backoff after the clearance; for a REST or exchange fault, the
clearance itself). Printed per fault type: p50 and max over the runs, and every run's figures.

Faults: ``ws-503`` (open WebSockets dropped, every handshake answered 503), ``fill-ws-down`` /
``position-ws-down`` (the ``fill`` / ``market_positions`` channel ended with error 10 and refused), ``rest-outage``
(every REST route answers 503), ``trading-pause``, ``exchange-pause``.

Intervals: ``default`` is production's, the configuration defaults (health probe 25 s, recalibration 60 s,
paused-mode probes 10/20/30/60 s, market-data grace 5 s, WebSocket reconnect backoff at most 10 s; faults last
60 s plus the spread); ``scaled`` is the test suite's, about a tenth (probe 3 s, recalibration 6 s, probes
1/2/3/6 s, grace 0.5 s, backoff at most 1 s; faults last 8 s plus the spread). Targets at the defaults (issue 10):
degraded detected within 30 s, recovery noticed within 30 s of the component's recovery, a critical outage
detected within one probe.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from kalshi.ingest import MarketDataHub
from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner, generate_key_pair
from models.market_data import IngestSettings, MarketDataInput
from models.trader import (
    DegradedSettings,
    EpochSettings,
    ExitRules,
    OverallStatus,
    RiskLimits,
    TraderConfig,
    TraderStatus,
)
from recording.metrics import AppMetrics
from simulator.server import SimulatorConfig, SimulatorServer
from tests.conftest import DATA_DIR, Account
from tests.harness import SERIES, Harness
from workers.devserver import find_temporal_cli
from workflows.names import SEARCH_ATTRIBUTES, SIGNAL_STOP

FAULTS: dict[str, tuple[bool, Callable[[float, float], list[dict[str, Any]]]]] = {
    # name -> (critical: the trader pauses; the timed faults for (onset s, duration s))
    "ws-503": (
        False,
        lambda at, d: [{"kind": "ws_drop", "after": at}, {"kind": "ws_handshake_503", "after": at, "for": d}],
    ),
    "fill-ws-down": (False, lambda at, d: [{"kind": "ws_channel_down", "channels": ["fill"], "after": at, "for": d}]),
    "position-ws-down": (
        False,
        lambda at, d: [{"kind": "ws_channel_down", "channels": ["market_positions"], "after": at, "for": d}],
    ),
    "rest-outage": (True, lambda at, d: [{"kind": "http_error", "status": 503, "after": at, "for": d}]),
    "trading-pause": (True, lambda at, d: [{"kind": "trading_pause", "after": at, "for": d}]),
    "exchange-pause": (True, lambda at, d: [{"kind": "exchange_pause", "after": at, "for": d}]),
}


@dataclass(frozen=True)
class Intervals:
    """One set of the trader's intervals and the fault duration used with it (seconds)."""

    name: str
    probe_s: float
    recalibration_s: float
    backoff_s: list[float]
    grace_ms: int
    reconnect_max_s: float
    refresh_s: float
    fault_s: float

    def config(self, md_workflow_id: str) -> TraderConfig:
        """A trader trading from the actor loop with these intervals."""
        ingest = IngestSettings(reconnect_backoff_max_s=self.reconnect_max_s, record=False)
        return TraderConfig(
            series_tickers=[SERIES],
            recalibration_interval_s=self.recalibration_s,
            degraded_backoff_s=self.backoff_s,
            degraded=DegradedSettings(health_probe_interval_s=self.probe_s, fallback_refresh_s=self.refresh_s),
            epoch=EpochSettings(
                policy="imbalance",
                imbalance_threshold=Decimal(0),
                use_websocket=True,
                market_data_grace_ms=self.grace_ms,
            ),
            risk=RiskLimits(
                order_size_contracts=Decimal(1),
                max_position_contracts=Decimal(3),
                max_spread_dollars=Decimal("0.99"),
                max_entry_price_dollars=Decimal("0.99"),
            ),
            exits=ExitRules(max_hold_time_s=30, market_closing_window_s=120, cash_reserve_cents=0),
            order_group_contracts_limit=100_000,
            status_history_size=200,
            market_data_workflow_id=md_workflow_id,
            market_data=MarketDataInput(series_tickers=[SERIES], settings=ingest),
        )


def _production() -> Intervals:
    """Production's intervals: the defaults of ``TraderConfig`` and ``IngestSettings`` (faults last 60 s)."""
    trader, degraded = TraderConfig(series_tickers=[SERIES]), DegradedSettings()
    return Intervals(
        "default",
        probe_s=degraded.health_probe_interval_s,
        recalibration_s=trader.recalibration_interval_s,
        backoff_s=list(trader.degraded_backoff_s),
        grace_ms=EpochSettings().market_data_grace_ms,
        reconnect_max_s=IngestSettings().reconnect_backoff_max_s,
        refresh_s=degraded.fallback_refresh_s,
        fault_s=60,
    )


DEFAULT = _production()
SCALED = Intervals("scaled", 3, 6, [1, 2, 3, 6], 500, 1, 2, 8)


@dataclass
class RunResult:
    """One run's figures in seconds (None: not seen).

    Attributes:
        detect_s: fault onset -> the mode change.
        recover_s: fault clearance -> the mode change back to full operation.
        noticed_s: the component healthy again (the WebSocket reconnected, the channel subscribed again, books
            trusted; for a REST or exchange fault, its clearance) -> full operation: how long the trader took to
            notice the recovery.
    """

    detect_s: float | None = None
    recover_s: float | None = None
    noticed_s: float | None = None
    mode: str | None = None
    notes: list[str] = field(default_factory=list)


class StreamSampler:
    """Samples this run's market-data streams every 50 ms (the worker is in-process): when were they all healthy.

    Healthy: the WebSocket connected, the ``fill`` and ``market_positions`` channels subscribed and at least one
    trusted book (what the calibration's ``orderbook_ws``, ``fill_ws`` and ``position_ws`` need).
    """

    def __init__(self, hub: MarketDataHub) -> None:
        self.hub = hub
        self.changes: list[tuple[datetime, bool]] = []
        self._task = asyncio.get_running_loop().create_task(self._run())

    def healthy_now(self) -> bool:
        """Whether every stream is healthy at this moment."""
        health, feed = self.hub.stream_health(), self.hub.feed
        books = int(feed.metrics().get("feed_books_trusted") or 0) if feed is not None else 0
        return health.connected and health.fill and health.positions and books > 0

    async def _run(self) -> None:
        while True:
            ok = self.healthy_now()
            if not self.changes or self.changes[-1][1] != ok:
                self.changes.append((datetime.now(UTC), ok))
            await asyncio.sleep(0.05)

    def healthy_since(self, after: datetime) -> datetime | None:
        """When the streams became (and stayed) healthy at or after ``after``."""
        since = None
        for at, ok in self.changes:
            if ok and since is None:
                since = max(at, after)
            elif not ok:
                since = None
        return since

    def stop(self) -> None:
        """Stop sampling."""
        self._task.cancel()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _one_run(env: WorkflowEnvironment, fault: str, iv: Intervals, onset_s: float, duration_s: float) -> RunResult:
    """Run one stack through one fault (``duration_s`` long, seconds); see the module docstring."""
    critical, make = FAULTS[fault]
    result = RunResult()
    config = SimulatorConfig(port=0, data_dir=DATA_DIR if DATA_DIR.is_dir() else None)
    async with SimulatorServer(config) as sim, httpx.AsyncClient(base_url=sim.base_url + "/sim/v1", timeout=30) as ctl:
        key_id = f"bench-{uuid.uuid4().hex[:8]}"
        private_pem, public_pem = generate_key_pair()
        body = {"key_id": key_id, "public_key_pem": public_pem.decode(), "balance_cents": 1_000_000}
        (await ctl.post("/accounts", json=body)).raise_for_status()
        signer = RequestSigner.from_pem(private_pem, key_id)
        key_path = Path(tempfile.mkdtemp()) / f"{key_id}.pem"
        key_path.write_bytes(private_pem)
        async with KalshiRestClient(sim.rest_url, signer) as kalshi:
            account = Account(key_id=key_id, key_path=key_path, signer=signer, client=kalshi)
            queue = f"bench-faults-{uuid.uuid4().hex[:8]}"
            h = Harness(env.client, account, ctl, queue, AppMetrics(), ws_url=sim.ws_url)
            await h.start_worker()
            md_id = f"{queue}-md"
            try:
                await h.freeze_on_quoted_market()
                await h.clock(paused=False, speed="1")
                handle = await h.start(iv.config(md_id), workflow_id=f"{queue}-trader")
                h.handles.append(env.client.get_workflow_handle(md_id))
                await h.wait_status(
                    handle,
                    lambda s: (
                        s.mode == OverallStatus.FULLY_OPERATIONAL
                        and s.last_epoch is not None
                        and s.last_epoch.driver == "actor"
                    ),
                    "full operation from the actor loop",
                    timeout_s=180,
                )
                assert h.workers is not None and h.workers.hub is not None
                sampler = StreamSampler(h.workers.hub)
                specs = make(onset_s, duration_s)
                faults = await h.timed_faults(*specs)
                lasting = [f["id"] for f, spec in zip(faults, specs, strict=True) if "for" in spec]
                deadline = time.monotonic() + onset_s + duration_s + 4 * max(iv.backoff_s) + 3 * iv.probe_s + 30
                started = ended = None
                while time.monotonic() < deadline:
                    reads = {f["id"]: await h.timed_fault(f["id"]) for f in faults}
                    starts = [_utc(r["started_at"]) for r in reads.values() if r.get("started_at")]
                    started = min(starts, default=None)
                    ends = [reads[i]["ended_at"] for i in lasting if reads[i].get("ended_at")]
                    ended = max(_utc(x) for x in ends) if len(ends) == len(lasting) else None
                    if ended is not None and _recovered(await h.status(handle), ended):
                        break
                    await asyncio.sleep(0.5)
                st = await h.status(handle)
                if started is None or ended is None:
                    result.notes.append("the fault did not run its course")
                    return result
                expected = OverallStatus.PAUSED if critical else OverallStatus.DEGRADED
                down = next(
                    (e for e in st.status_history if e.mode == expected and e.at >= started),
                    None,
                )
                up = next(
                    (
                        e
                        for e in st.status_history
                        if e.mode == OverallStatus.FULLY_OPERATIONAL and e.previous_mode is not None and e.at >= ended
                    ),
                    None,
                )
                result.mode = expected.value
                if down is not None:
                    result.detect_s = (down.at - started).total_seconds()
                else:
                    result.notes.append(f"no {expected.value} mode seen")
                if up is not None:
                    result.recover_s = (up.at - ended).total_seconds()
                    back = ended if critical else sampler.healthy_since(ended)
                    if back is not None and back <= up.at:
                        result.noticed_s = (up.at - back).total_seconds()
                else:
                    result.notes.append("no return to full operation seen")
                sampler.stop()
                await handle.signal(SIGNAL_STOP, {})
                await env.client.get_workflow_handle(md_id).signal(SIGNAL_STOP)
            finally:
                for wh in h.handles:
                    with contextlib.suppress(Exception):  # already completed
                        await wh.terminate("bench finished")
                await h.stop_worker()
    return result


def _recovered(st: TraderStatus, ended: datetime) -> bool:
    return any(e.mode == OverallStatus.FULLY_OPERATIONAL and e.at >= ended for e in st.status_history if e.mode)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _p50_max(values: list[float]) -> tuple[str, str]:
    if not values:
        return "n/a", "n/a"
    return f"{statistics.median(values):.1f}", f"{max(values):.1f}"


async def _matrix(client_env: WorkflowEnvironment, iv: Intervals, faults: list[str], runs: int) -> list[str]:
    lines = [
        f"intervals {iv.name}: probe {iv.probe_s:g} s, recalibration {iv.recalibration_s:g} s, paused probes "
        f"{'/'.join(f'{b:g}' for b in iv.backoff_s)} s, grace {iv.grace_ms} ms, reconnect backoff <= "
        f"{iv.reconnect_max_s:g} s; faults last {iv.fault_s:g} s + up to one probe interval; {runs} runs each",
        f"{'fault':<18}{'mode':<10}{'detect p50':>11}{'max':>7}{'recover p50':>13}{'max':>7}{'noticed p50':>13}"
        f"{'max':>7}   runs (detect/recover/noticed s)",
    ]
    for fault in faults:
        started = time.monotonic()
        # onsets spread over one probe interval, and durations too: a fault the trader detects restarts its probe
        # cadence (a new epoch), so only the duration moves the component's return across the probe's phases
        onsets = [iv.probe_s * (0.2 + i / runs) for i in range(runs)]
        durations = [iv.fault_s + iv.probe_s * i / runs for i in range(runs)]
        results = await asyncio.gather(
            *(_one_run(client_env, fault, iv, at, d) for at, d in zip(onsets, durations, strict=True)),
            return_exceptions=True,
        )
        good = [r for r in results if isinstance(r, RunResult)]
        errors = [r for r in results if not isinstance(r, RunResult)]
        detect = [r.detect_s for r in good if r.detect_s is not None]
        recover = [r.recover_s for r in good if r.recover_s is not None]
        noticed = [r.noticed_s for r in good if r.noticed_s is not None]
        d50, dmax = _p50_max(detect)
        r50, rmax = _p50_max(recover)
        n50, nmax = _p50_max(noticed)
        each = ", ".join("/".join(_s(x) for x in (r.detect_s, r.recover_s, r.noticed_s)) for r in good)
        mode = good[0].mode if good and good[0].mode else "?"
        row = f"{fault:<18}{mode:<10}{d50:>11}{dmax:>7}{r50:>13}{rmax:>7}{n50:>13}{nmax:>7}   {each}"
        print(f"{iv.name}: {row} ({time.monotonic() - started:.0f} s)", flush=True)
        lines.append(row)
        for r in good:
            lines += [f"    note: {n}" for n in r.notes]
        lines += [f"    run failed: {type(e).__name__}: {e}" for e in errors]
    return lines


async def main(args: argparse.Namespace) -> None:
    cli = find_temporal_cli()
    faults = args.faults.split(",") if args.faults else list(FAULTS)
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise SystemExit(f"unknown faults {unknown}; known: {', '.join(FAULTS)}")
    sets = {"both": [SCALED, DEFAULT], "default": [DEFAULT], "scaled": [SCALED]}[args.intervals]
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=list(SEARCH_ATTRIBUTES),
        dev_server_existing_path=str(cli) if cli else None,
        dev_server_log_level="error",
    ) as env:
        report: list[str] = []
        for iv in sets:
            report += await _matrix(env, iv, faults, args.runs)
            report.append("")
    print("\n".join(report))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="independent runs per fault type (at once)")
    parser.add_argument("--intervals", choices=["both", "default", "scaled"], default="both")
    parser.add_argument("--faults", default="", help=f"comma-separated subset of {', '.join(FAULTS)}")
    asyncio.run(main(parser.parse_args()))
