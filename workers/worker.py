"""The worker process: workflows and REST activities on the ``kalshi-trader`` task queue.

Wiring only (ARCHITECTURE.md: ``workers/`` are process entry points): a Temporal client with the
pydantic data converter and a Prometheus-exporting runtime, one signed Kalshi REST client, the
activities bound to it, and the merged ``/metrics`` endpoint. Secrets come from :class:`Settings`
and stay in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.kalshi_activities import KalshiActivities
from activities.metrics import AppMetrics
from activities.trading import TradingEpochActivities
from kalshi.rest import KalshiRestClient
from workers.metrics import MetricsServer, build_runtime, free_port
from workers.settings import Settings
from workflows.close import ClosePositionWorkflow
from workflows.names import SEARCH_ATTRIBUTES
from workflows.trader import TraderWorkflow

log = logging.getLogger(__name__)

WORKFLOWS: Sequence[type] = (TraderWorkflow, ClosePositionWorkflow)
"""Every workflow this project registers (also what the replay tests replay)."""


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox runner: ``models`` (pure pydantic types) is passed through instead of re-imported per run."""
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules("models"))


async def connect(address: str, namespace: str = "default", runtime: Runtime | None = None) -> Client:
    """Connect a Temporal client with the pydantic data converter (temporal.md §5)."""
    return await Client.connect(address, namespace=namespace, data_converter=pydantic_data_converter, runtime=runtime)


async def ensure_search_attributes(client: Client, namespace: str = "default") -> list[str]:
    """Register the trader's Keyword search attributes if the server lacks them (idempotent).

    The dev-server start registers them with ``--search-attribute``; a persisted database or a
    separate server may not have them, and upserting an unknown attribute fails the workflow task.

    Returns:
        The names that were added.
    """
    existing = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    missing = [k.name for k in SEARCH_ATTRIBUTES if k.name not in existing.custom_attributes]
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in missing},
            )
        )
        log.info("registered search attributes %s", ", ".join(missing))
    return missing


def build_worker(
    client: Client,
    kalshi: KalshiRestClient,
    metrics: AppMetrics,
    task_queue: str,
    **worker_kwargs: Any,
) -> Worker:
    """A worker for the trader's workflows and REST activities on ``task_queue``.

    Args:
        client: connected Temporal client (pydantic data converter).
        kalshi: open, signed Kalshi REST client shared by all activities.
        metrics: application metrics.
        task_queue: usually ``kalshi-trader``; tests use a unique queue.
        worker_kwargs: extra :class:`Worker` options.
    """
    rest = KalshiActivities(kalshi, metrics)
    epoch = TradingEpochActivities(kalshi, metrics)
    options: dict[str, Any] = {
        "graceful_shutdown_timeout": timedelta(seconds=10),
        "workflow_runner": workflow_runner(),
    }
    options.update(worker_kwargs)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=[
            rest.calibration_snapshot,
            rest.place_order,
            rest.get_close_quote,
            rest.cancel_resting_orders,
            rest.ensure_order_group,
            rest.reset_order_group,
            epoch.run_trading_epoch,
        ],
        **options,
    )


@dataclass
class WorkerProcess:
    """Everything one worker process holds open: Temporal client, Kalshi client, metrics server, worker."""

    client: Client
    kalshi: KalshiRestClient
    metrics_server: MetricsServer
    worker: Worker


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
    async with KalshiRestClient(endpoints.rest_base_url, signer) as kalshi:
        worker = build_worker(client, kalshi, metrics, settings.task_queue)
        try:
            yield WorkerProcess(client=client, kalshi=kalshi, metrics_server=server, worker=worker)
        finally:
            await server.stop()


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
        log.info(
            "worker polling task queue %s on %s (Kalshi %s at %s)",
            settings.task_queue,
            settings.temporal_address,
            settings.kalshi_env,
            settings.endpoints().rest_base_url,
        )
        run = asyncio.create_task(proc.worker.run())
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({run, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("shutting down the worker (waiting up to 10 s for activities)")
            await proc.worker.shutdown()
        stopper.cancel()
        await run
