"""A live trading stack for the dashboard and alert tests: nothing faked, nothing in-process.

* the simulator replaying the real recorded tape (``../shared/data``; synthetic where absent) over HTTP and
  WebSocket, with a fresh account and RSA key registered through its control API;
* the worker as a separate process (``python -m workers.cli worker``) on its own task queue, serving the merged
  SDK + app ``/metrics`` on a free port and recording into a SQLite file;
* a real Prometheus (Debian's ``prometheus`` package) scraping that worker every second with the project's
  alert rules (``deploy/prometheus/alerts.yml``) loaded;
* a ``TraderWorkflow`` on the WebSocket actor loop, sized so that in a minute it places orders on both
  sides, gets fills, is refused by its pre-trade checks, and closes positions (max hold time 2 s).

:class:`Prometheus` runs the server and answers instant queries; :func:`find_prometheus` locates the
binaries (``$PROMETHEUS_BIN`` / ``$PROMTOOL_BIN``, then ``PATH``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from temporalio.client import Client

from kalshi.rest import KalshiRestClient
from models.trader import DegradedSettings, ExitRules
from recording.metrics import AppMetrics
from simulator.server import SimulatorConfig, SimulatorServer
from tests.conftest import Account, eventually, register_account
from tests.harness import Harness, ws_trading_config
from tests.worker_process import WorkerProcess, worker_env
from workers.metrics import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "kalshi-gold15m"
DEPLOY = REPO_ROOT / "deploy"
ALERT_RULES = DEPLOY / "prometheus" / "alerts.yml"
WORKER_JOB = "kalshi-trader-worker"


def find_prometheus() -> tuple[Path | None, Path | None]:
    """``(prometheus, promtool)`` from ``$PROMETHEUS_BIN``/``$PROMTOOL_BIN`` or ``PATH`` (None when absent)."""

    def one(env: str, name: str) -> Path | None:
        found = os.environ.get(env) or shutil.which(name)
        return Path(found) if found and Path(found).is_file() else None

    return one("PROMETHEUS_BIN", "prometheus"), one("PROMTOOL_BIN", "promtool")


class Prometheus:
    """A throwaway Prometheus server on loopback scraping ``targets`` every second.

    Args:
        binary: the ``prometheus`` executable.
        workdir: where its config and TSDB go.
        targets: ``host:port`` of the worker's ``/metrics``.
        rule_files: alert rule files to load (absolute paths).
    """

    def __init__(self, binary: Path, workdir: Path, targets: list[str], rule_files: list[Path]) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": WORKER_JOB, "static_configs": [{"targets": targets}]}],
        }
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / "prometheus.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.AsyncClient(base_url=self.url, timeout=10)

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                [
                    str(self.binary),
                    f"--config.file={self.config_path}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def start(self) -> None:
        """Start the server and wait until it is ready (fails with its log after 30 s)."""
        self.proc = self._spawn()

        async def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log_path.read_text()[-2000:]
            with contextlib.suppress(httpx.HTTPError):
                return (await self.http.get("/-/ready")).status_code == 200
            return False

        await eventually(ready, timeout_s=30, interval_s=0.2, what="Prometheus ready")

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector (raises ``AssertionError`` with the error for a bad query)."""
        r = await self.http.get("/api/v1/query", params={"query": promql})
        body = r.json()
        assert body.get("status") == "success", f"{promql!r}: {body.get('errorType')}: {body.get('error')}"
        result = body["data"]["result"]
        return result if isinstance(result, list) else [{"value": result}]

    async def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule with its ``health`` and ``lastError`` (``GET /api/v1/rules``)."""
        r = await self.http.get("/api/v1/rules")
        r.raise_for_status()
        return [rule for group in r.json()["data"]["groups"] for rule in group["rules"]]

    async def stop(self) -> None:
        """Stop the server and close the client."""
        await self.http.aclose()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def trading_ws_config(md_workflow_id: str):
    """The trader's config for the live stack: :func:`tests.harness.ws_trading_config` with a 2 s max hold time (so
    the recalibration loop closes positions) and a health probe every second of an epoch (so the probe metrics
    exist: the 3 s cycles are shorter than the default 25 s probe interval)."""
    return ws_trading_config(
        md_workflow_id,
        exits=ExitRules(max_hold_time_s=2, market_closing_window_s=120, cash_reserve_cents=0),
        degraded=DegradedSettings(health_probe_interval_s=1),
    )


@dataclass
class LiveStack:
    """The running stack: Prometheus to query, the harness (trader handle, exchange control) and the worker."""

    prometheus: Prometheus
    harness: Harness
    worker: subprocess.Popen[bytes]
    worker_log: Path
    metrics_url: str


@contextlib.asynccontextmanager
async def live_stack(client: Client, temporal_address: str, prometheus_bin: Path) -> AsyncIterator[LiveStack]:
    """Start the simulator, a worker process, Prometheus and a trading ``TraderWorkflow``; tear all down."""
    workdir = Path(tempfile.mkdtemp(prefix="kalshi-ops-"))
    config = SimulatorConfig(port=0, data_dir=DATA_DIR if DATA_DIR.is_dir() else None)
    async with SimulatorServer(config) as sim:
        key_id, key_path, signer = await register_account(sim, workdir, prefix="ops")
        task_queue = f"kalshi-trader-ops-{uuid.uuid4().hex[:8]}"
        metrics_port = free_port()
        env = worker_env(
            temporal_address=temporal_address,
            task_queue=task_queue,
            rest_url=sim.rest_url,
            ws_url=sim.ws_url,
            key_id=key_id,
            key_path=key_path,
            metrics_port=metrics_port,
            database_url=f"sqlite:///{workdir / 'recording.db'}",
            STATE_DIR=str(workdir / "state"),
        )
        worker_log = workdir / "worker.log"
        process = WorkerProcess(env, worker_log)
        process.start()
        assert process.proc is not None
        worker = process.proc
        prometheus = Prometheus(prometheus_bin, workdir, [f"127.0.0.1:{metrics_port}"], [ALERT_RULES])
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        async with (
            KalshiRestClient(sim.rest_url, signer) as rest,
            httpx.AsyncClient(base_url=sim.base_url + "/sim/v1", timeout=30) as control,
        ):
            harness = Harness(
                client=client,
                account=Account(key_id=key_id, key_path=key_path, signer=signer, client=rest),
                control=control,
                task_queue=task_queue,
                metrics=AppMetrics(),  # unused: the worker is a separate process with its own
            )
            try:

                async def metrics_up() -> bool:
                    assert worker.poll() is None, worker_log.read_text()[-3000:]
                    with contextlib.suppress(httpx.HTTPError):
                        async with httpx.AsyncClient(timeout=2) as http:
                            return (await http.get(metrics_url)).status_code == 200
                    return False

                await eventually(metrics_up, timeout_s=60, what="the worker's /metrics")
                await prometheus.start()
                await harness.freeze_on_quoted_market()
                await harness.clock(paused=False, speed="1")  # live deltas from the tape
                md_id = f"kalshi-md-ops-{uuid.uuid4().hex[:8]}"
                await harness.start(trading_ws_config(md_id))
                harness.handles.append(client.get_workflow_handle(md_id))
                yield LiveStack(prometheus, harness, worker, worker_log, metrics_url)
            finally:
                for handle in harness.handles:
                    with contextlib.suppress(Exception):  # already completed or terminated
                        await handle.terminate("ops test finished")
                await asyncio.to_thread(process.stop, 30)
                await prometheus.stop()
    shutil.rmtree(workdir, ignore_errors=True)
