"""One Prometheus endpoint per worker: the Temporal SDK's metrics plus the trader's own.

The SDK's Rust core serves its metrics (``temporal_*`` plus the workflow-side ``kalshi_trader_*``
counters recorded through ``workflow.metric_meter()``) on an internal loopback port; the trader's
prometheus-client registry (:class:`recording.metrics.AppMetrics`) holds the activity-side metrics.
:class:`MetricsServer` serves ``GET /metrics`` = both expositions concatenated (their metric names
never collide), so one scrape target covers the whole worker (temporal.md §6 "SDK metrics").
"""

from __future__ import annotations

import logging
import socket

import httpx
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a free TCP port on ``host`` (used for the SDK's internal metrics port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def build_runtime(sdk_metrics_port: int) -> Runtime:
    """A Temporal runtime whose Prometheus exporter listens on ``127.0.0.1:sdk_metrics_port``.

    Durations are exported in seconds (``durations_as_seconds``) to match Prometheus conventions.
    """
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"127.0.0.1:{sdk_metrics_port}",
                counters_total_suffix=True,
                durations_as_seconds=True,
            )
        )
    )


class MetricsServer:
    """Serves ``/metrics`` on ``host:port`` merging the SDK exporter and an app registry.

    Args:
        registry: the app's prometheus-client registry.
        sdk_metrics_port: loopback port of the SDK's exporter (see :func:`build_runtime`).
        host, port: where to listen (port 0 = do not serve).
    """

    def __init__(self, registry: CollectorRegistry, sdk_metrics_port: int, host: str = "0.0.0.0", port: int = 9464):
        self.registry = registry
        self.sdk_url = f"http://127.0.0.1:{sdk_metrics_port}/metrics"
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._http = httpx.AsyncClient(timeout=2.0)

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        try:
            sdk = await self._http.get(self.sdk_url)
            body += b"\n" + sdk.content
        except httpx.HTTPError as err:  # the SDK exporter is local; a failure must not hide app metrics
            log.warning("SDK metrics unavailable: %s", err)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        """Start listening (no-op when ``port`` is 0)."""
        if self.port == 0:
            return
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and close the internal HTTP client."""
        if self._runner is not None:
            await self._runner.cleanup()
        await self._http.aclose()
