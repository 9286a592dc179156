"""The worker process: workflows and REST activities on the ``kalshi-trader`` task queue.

Wiring only (ARCHITECTURE.md: ``workers/`` are process entry points): a Temporal client with the
pydantic data converter and a Prometheus-exporting runtime, one signed Kalshi REST client, the
activities bound to it, and the merged ``/metrics`` endpoint. Secrets come from :class:`Settings`
and stay in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.kalshi_activities import KalshiActivities
from activities.market_data import MarketDataActivities
from activities.trading import TradingEpochActivities
from kalshi.ingest import MarketDataHub
from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner
from recording.metrics import AppMetrics
from recording.recorder import Recorder
from trading.live import FeatureStore, PolicyLibrary
from workers import exit_guard
from workers.metrics import MetricsServer, build_runtime, free_port
from workers.settings import Settings, SettingsError
from workflows.close import ClosePositionWorkflow
from workflows.market_data import MarketDataWorkflow
from workflows.names import SEARCH_ATTRIBUTES
from workflows.trader import TraderWorkflow

log = logging.getLogger(__name__)

STICKY_TIMEOUT_S = 3.0
"""Sticky-queue schedule-to-start timeout of the workflow worker, seconds (restart-to-trading after a crash)."""

WORKFLOWS: Sequence[type] = (TraderWorkflow, ClosePositionWorkflow, MarketDataWorkflow)
"""Every workflow this project registers (also what the replay tests replay)."""


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox runner: ``models`` (pure pydantic types) is passed through instead of re-imported per run."""
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules("models"))


def connect_config(address: str, namespace: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``Client.connect``: TLS and credentials from Temporal's environment configuration.

    ``TEMPORAL_API_KEY``, ``TEMPORAL_TLS``, ``TEMPORAL_TLS_CLIENT_CERT_PATH``/``_KEY_PATH``,
    ``TEMPORAL_TLS_SERVER_CA_CERT_PATH``, ``TEMPORAL_PROFILE`` and ``TEMPORAL_CONFIG_FILE`` are read as the
    ``temporal`` CLI reads them (``temporalio.envconfig``, temporal.md §9), so one set of variables reaches
    Temporal Cloud (API key or mTLS) or a self-hosted cluster with TLS; ``address`` and ``namespace`` (our
    settings) always win. Nothing here enters a workflow input or history.

    Args:
        address: ``host:port`` of the Temporal frontend.
        namespace: the namespace.
        env: the environment to read (default: this process's).
    """
    config: dict[str, Any] = dict(ClientConfig.load_client_connect_config(override_env_vars=env))
    config["target_host"] = address
    config["namespace"] = namespace
    return config


async def connect(address: str, namespace: str = "default", runtime: Runtime | None = None) -> Client:
    """Connect a Temporal client: pydantic data converter (temporal.md §5), TLS/API key per :func:`connect_config`.

    Also installs :mod:`workers.exit_guard` (once per process), so the process never aborts at exit with
    "Fatal Python error: PyGILState_Release" while an SDK thread is handing over the last RPC's result.
    """
    exit_guard.install()
    return await Client.connect(
        **connect_config(address, namespace), data_converter=pydantic_data_converter, runtime=runtime
    )


async def ensure_search_attributes(client: Client, namespace: str = "default") -> list[str]:
    """Register the trader's Keyword search attributes if the server lacks them (idempotent).

    The dev-server start registers them with ``--search-attribute``; a persisted database or a
    separate server may not have them, and upserting an unknown attribute fails the workflow task.

    Returns:
        The names that were added.

    Raises:
        RuntimeError: some are missing and the server refuses to add them (Temporal Cloud namespaces are
            managed with tcld or the Cloud UI), with the command that creates them.
    """
    existing = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    missing = [k.name for k in SEARCH_ATTRIBUTES if k.name not in existing.custom_attributes]
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace,
                    search_attributes={name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in missing},
                )
            )
        except RPCError as err:
            raise RuntimeError(
                f"search attributes {', '.join(missing)} are missing in namespace {namespace!r} and the server "
                f"refused to add them ({err.status.name}: {err.message}); create them as Keyword attributes "
                "first (Temporal Cloud: `tcld namespace search-attributes add` or the Cloud UI; a cluster: "
                "`temporal operator search-attribute create --name <name> --type Keyword`); see docs/operations.md"
            ) from err
        log.info("registered search attributes %s", ", ".join(missing))
    return missing


def worker_queue_name(task_queue: str) -> str:
    """A process-unique task queue: ``<task_queue>-<hostname>-<8 hex>`` (temporal.md §3 worker-specific queues)."""
    return f"{task_queue}-{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


@dataclass
class Workers:
    """What one worker process polls: the shared queue, and its own queue for market data.

    Attributes:
        shared: workflows and REST activities on the shared task queue (``kalshi-trader``).
        market_data: ingestion and the actor loop on this process's queue (None without WebSocket).
        hub: this process's market data (books in memory), None without WebSocket.
        policies: this process's policy library (models loaded once per process).
        features: this process's feature history of the subscribed markets (None without WebSocket or without
            the RL extra).
    """

    shared: Worker
    market_data: Worker | None = None
    hub: MarketDataHub | None = None
    policies: PolicyLibrary | None = None
    features: FeatureStore | None = None
    _task: asyncio.Future[None] | None = field(default=None, init=False, repr=False)

    async def run(self) -> None:
        """Poll until :meth:`shutdown`; if one worker fails, the other is shut down and the error raised."""
        runs = [asyncio.ensure_future(w.run()) for w in self._all()]
        try:
            await asyncio.gather(*runs)
        except BaseException:
            await self.shutdown()
            raise

    async def shutdown(self) -> None:
        """Shut both workers down gracefully (activities get ``graceful_shutdown_timeout`` to finish)."""
        # Safe before a worker has started: its run() sees the marker and shuts down at once.
        await asyncio.gather(*(w.shutdown() for w in self._all()), return_exceptions=True)

    async def __aenter__(self) -> Workers:
        self._task = asyncio.ensure_future(self.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    def _all(self) -> list[Worker]:
        return [self.shared] + ([self.market_data] if self.market_data is not None else [])


def build_workers(
    client: Client,
    kalshi: KalshiRestClient,
    metrics: AppMetrics,
    task_queue: str,
    *,
    ws_url: str | None = None,
    signer: RequestSigner | None = None,
    recorder: Any | None = None,
    model_registry: Path | None = None,
    **worker_kwargs: Any,
) -> Workers:
    """The workers of one process.

    Args:
        client: connected Temporal client (pydantic data converter).
        kalshi: open, signed Kalshi REST client shared by all activities.
        metrics: application metrics.
        task_queue: the shared queue, usually ``kalshi-trader``; tests use a unique queue.
        ws_url: the Kalshi WebSocket URL; None disables WebSocket market data on this process.
        signer: signs the WebSocket handshake.
        recorder: write-behind recorder for frames and orders (None: nothing is persisted).
        model_registry: the model registry folder learned policies are loaded from (None: ``rl:`` policies fall
            back to the configured baseline).
        worker_kwargs: extra :class:`Worker` options for both workers.
    """
    rest = KalshiActivities(kalshi, metrics, recorder)
    hub = MarketDataHub(worker_queue_name(task_queue)) if ws_url is not None else None
    features = None
    if hub is not None:
        try:
            features = FeatureStore(hub)
        except ImportError as err:
            log.info("no feature history for learned policies (the RL extra is not installed: %s)", err)
    policies = PolicyLibrary(model_registry, metrics, features)
    epoch = TradingEpochActivities(kalshi, metrics, policies, recorder=recorder, hub=hub)
    options: dict[str, Any] = {
        "graceful_shutdown_timeout": timedelta(seconds=10),
        "workflow_runner": workflow_runner(),
        # A workflow task queued for a dead worker's sticky queue moves to the shared queue after this
        # (SDK default 10 s): after a kill -9 the trader's next task waits at most this long.
        "sticky_queue_schedule_to_start_timeout": timedelta(seconds=STICKY_TIMEOUT_S),
    }
    options.update(worker_kwargs)
    activities: list[Callable[..., Any]] = [
        rest.calibration_snapshot,
        rest.health_probe,
        rest.place_order,
        rest.get_close_quote,
        rest.cancel_resting_orders,
        rest.ensure_order_group,
        rest.reset_order_group,
        epoch.run_trading_epoch,
        epoch.predict,
    ]
    md_worker = None
    if hub is not None and ws_url is not None:
        md = MarketDataActivities(kalshi, ws_url, signer, metrics, hub, recorder, policies, features)
        activities.append(md.queue_activity())
        md_options = {k: v for k, v in options.items() if k != "workflow_runner"}
        # The ingestion heartbeat carries the stream health the calibration and the health probe read: let it
        # reach the server within a second (the SDK's default throttle is 0.8 x the heartbeat timeout, 16 s).
        md_options.setdefault("max_heartbeat_throttle_interval", timedelta(seconds=1))
        md_worker = Worker(
            client,
            task_queue=hub.queue,
            activities=[md.ingest_market_data, md.run_actor_epoch, epoch.predict],
            **md_options,
        )
    shared = Worker(client, task_queue=task_queue, workflows=list(WORKFLOWS), activities=activities, **options)
    return Workers(shared=shared, market_data=md_worker, hub=hub, policies=policies, features=features)


def build_worker(
    client: Client,
    kalshi: KalshiRestClient,
    metrics: AppMetrics,
    task_queue: str,
    **worker_kwargs: Any,
) -> Worker:
    """The shared-queue worker alone (workflows and REST activities, no WebSocket market data)."""
    return build_workers(client, kalshi, metrics, task_queue, **worker_kwargs).shared


@dataclass
class WorkerProcess:
    """Everything one worker process holds open: Temporal client, Kalshi client, metrics server, worker."""

    client: Client
    kalshi: KalshiRestClient
    metrics_server: MetricsServer
    workers: Workers


@contextlib.asynccontextmanager
async def worker_process(settings: Settings) -> AsyncIterator[WorkerProcess]:
    """Open the worker's resources from settings; closes them (worker shut down gracefully) on exit.

    Raises:
        SettingsError: invalid key or endpoint settings (before connecting anywhere).
    """
    signer = settings.signer()
    endpoints = settings.endpoints()
    sdk_port = free_port()
    runtime = build_runtime(sdk_port)
    client = await connect(settings.temporal_address, settings.temporal_namespace, runtime)
    await ensure_search_attributes(client, settings.temporal_namespace)
    metrics = AppMetrics()
    server = MetricsServer(metrics.registry, sdk_port, port=settings.metrics_port)
    await server.start()
    recorder = None
    if settings.recording_url is not None:
        recorder = Recorder(
            settings.recording_url, source_url=endpoints.ws_url, environment=settings.kalshi_env, label="worker"
        ).start()
        log.info("recording to %s (session %d)", recorder.url.render_as_string(hide_password=True), recorder.session_id)
    presign_s = settings.kalshi_presign_max_age_ms / 1000 or None
    async with KalshiRestClient(endpoints.rest_base_url, signer, presign_max_age_s=presign_s) as kalshi:
        workers = build_workers(
            client,
            kalshi,
            metrics,
            settings.task_queue,
            ws_url=endpoints.ws_url,
            signer=signer,
            recorder=recorder,
            model_registry=settings.model_registry_dir,
        )
        metrics.watch(hub=workers.hub, recorder=recorder)
        try:
            yield WorkerProcess(client=client, kalshi=kalshi, metrics_server=server, workers=workers)
        finally:
            await server.stop()
            if recorder is not None:
                await recorder.aclose()


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the worker until ``stop`` is set or SIGINT/SIGTERM arrives; shuts down gracefully.

    Raises:
        SettingsError: invalid settings (reported before connecting).
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with worker_process(settings) as proc:
        if proc.workers.policies is not None and settings.policy.startswith("rl:"):
            # The trader is configured for a learned policy: load torch and the current model now, not on the
            # first epoch's trading loop; they are long-lived too (frozen below). Not otherwise: torch and a model
            # cost ~700 MB of RSS (measured), a worker trading a baseline does not pay it until set_policy asks.
            await proc.workers.policies.preload()
        # Everything allocated at start-up (modules, clients, workflow definitions) is long-lived: move it
        # out of the cyclic collector's reach so full collections stop pausing the trading loop
        # (bench_market_data measured 50-70 ms gen-2 pauses before).
        gc.collect()
        gc.freeze()
        log.info(
            "worker polling task queues %s and %s on %s (Kalshi %s at %s)",
            settings.task_queue,
            proc.workers.hub.queue if proc.workers.hub else "-",
            settings.temporal_address,
            settings.kalshi_env,
            settings.endpoints().rest_base_url,
        )
        run = asyncio.create_task(proc.workers.run())
        stopper = asyncio.create_task(stop.wait())
        pacer = _start_pacer(settings, proc)
        waits: set[asyncio.Future[Any]] = {run, stopper} | ({pacer} if pacer is not None else set())
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if pacer is not None and not pacer.done():
                pacer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pacer
        if pacer is not None and pacer in done:
            # the backtest's clock would never move again: end the worker so the backtest reports it at once
            log.error("the pacer failed: shutting down the worker")
            await proc.workers.shutdown()
            stopper.cancel()
            await run
            pacer.result()
        if stopper in done:
            log.info("shutting down the worker (waiting up to 10 s for activities)")
            await proc.workers.shutdown()
        stopper.cancel()
        await run


def _start_pacer(settings: Settings, proc: WorkerProcess) -> asyncio.Task[None] | None:
    """The backtest's pacer (``SIM_PACE``, :mod:`workers.pacer`) as a task, or None when pacing is off.

    Raises:
        SettingsError: pacing asked for outside the simulator, or without WebSocket market data.
    """
    from trading.fencing import EpochFence
    from workers.pacer import Pacer, parse_pace

    cap = parse_pace(settings.sim_pace)
    if cap is False:
        return None
    hub = proc.workers.hub
    if settings.kalshi_env != "sim" or hub is None:
        raise SettingsError("SIM_PACE steps the simulator's clock: it needs KALSHI_ENV=sim with WebSocket market data")
    rest = settings.endpoints().rest_base_url
    control = rest.removesuffix("/trade-api/v2") + "/sim/v1"
    fence = EpochFence.for_account(f"{proc.kalshi.base_url}|{proc.kalshi.key_id or '-'}")
    pacer = Pacer(
        hub,
        fence,
        control,
        cap=None if cap is None else Decimal(cap),
        epoch_s=settings.sim_pace_epoch_s or settings.recalibration_interval_s,
        stats_path=settings.state_dir / "pacer.json",
    )
    log.info("pacing the simulator's clock at %s (epochs of %g tape s)", pacer.stats.mode, pacer.epoch_ms / 1000)

    async def run() -> None:
        try:
            await pacer.run()
        except Exception:
            log.exception("the pacer stopped: the simulator's clock no longer moves")
            raise

    return asyncio.create_task(run())
