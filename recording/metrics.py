"""Application metrics recorded by activities (prometheus-client), served by the worker's /metrics.

Workflow-side metrics (cycles, closes by reason, calibration duration as seen by the workflow) go
through ``workflow.metric_meter()`` instead, which is replay-safe and exported by the Temporal SDK's
Prometheus endpoint; the worker merges both into one scrape (``workers.metrics``).

Names follow Prometheus conventions: ``_total`` counters, ``_seconds`` histograms, units in names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_WS_COUNTERS = {
    "connects": "WebSocket connections established",
    "reconnects": "WebSocket reconnects",
    "connect_failures": "WebSocket connection attempts that failed",
    "handshake_503s": "WebSocket handshakes answered 503 (exchange WebSocket unavailable)",
    "auth_failures": "WebSocket handshakes refused for authentication",
    "silence_timeouts": "Reconnects because nothing arrived for the silence timeout",
    "gaps": "Sequence gaps detected (per sid)",
    "resyncs": "Resyncs performed after a gap or a bad book",
    "resubscribes": "Subscriptions re-made after terminal errors or reconnects",
    "frames": "WebSocket frames received",
    "malformed_frames": "Malformed WebSocket frames (counted, logged, never crash ingestion)",
    "unknown_messages": "WebSocket messages of an unknown type",
}
_FEED_COUNTERS = {
    "deltas_applied": "Order-book deltas applied (rate() = updates per second)",
    "snapshots_applied": "Order-book snapshots applied",
    "deltas_dropped_untrusted": "Deltas dropped while their book awaited a snapshot",
    "integrity_errors": "Deltas or snapshots that would make a book negative, off-grid or crossed past its timestamp",
    "transient_crosses": "Locked/crossed books that cleared within the same exchange timestamp (tolerated, no resync)",
    "persistent_crosses": "Locked/crossed books still crossed at a later exchange timestamp (resynced)",
    "crossed_deltas": "Deltas after which a book was locked or crossed (not tradable meanwhile)",
    "unknown_market_deltas": "Deltas for markets without a book",
}
_RECORDER_COUNTERS = {
    "enqueued": "Rows accepted by the write-behind queue",
    "written": "Rows committed to the database",
    "dropped": "Rows dropped because the queue was full (drop-newest backpressure)",
    "write_errors": "Failed database writes (retried with backoff)",
}


class LiveCollector(Collector):
    """Reads the worker's live market data and recorder counters at scrape time (no hot-path cost).

    Counters restart when an ingestion run restarts (a new WebSocket client); Prometheus' ``rate()``
    handles the reset.
    """

    def __init__(self) -> None:
        self.hub: Any | None = None
        self.recorder: Any | None = None

    def collect(self) -> Iterator[Metric]:
        """Yield WebSocket, feed and recorder metrics when those components exist."""
        hub = self.hub
        client = getattr(hub, "client", None)
        feed = getattr(hub, "feed", None)
        if client is not None and feed is not None:
            yield GaugeMetricFamily(
                "kalshi_ws_connected", "1 when the WebSocket is connected", value=int(client.connected)
            )
            for name, doc in _WS_COUNTERS.items():
                yield CounterMetricFamily(f"kalshi_ws_{name}", doc, value=getattr(client.counters, name))
            for name, doc in _FEED_COUNTERS.items():
                yield CounterMetricFamily(f"kalshi_feed_{name}", doc, value=getattr(feed.counters, name))
            age = feed.counters.last_delta_age_ms
            if age is not None:
                yield GaugeMetricFamily(
                    "kalshi_feed_delta_age_ms", "Receipt time minus exchange ts of the last delta (ms)", value=age
                )
            m = feed.metrics()
            yield GaugeMetricFamily(
                "kalshi_feed_books_trusted", "Order books usable", value=m["feed_books_trusted"] or 0
            )
            yield GaugeMetricFamily(
                "kalshi_feed_books_untrusted", "Order books awaiting a snapshot", value=m["feed_books_untrusted"] or 0
            )
            yield GaugeMetricFamily(
                "kalshi_feed_books_crossed",
                "Order books locked or crossed mid-timestamp right now (not tradable)",
                value=m["feed_books_crossed"] or 0,
            )
            yield GaugeMetricFamily(
                "kalshi_feed_max_cross_deltas",
                "Longest tolerated locked/crossed episode, in deltas",
                value=feed.counters.max_cross_deltas,
            )
        recorder = self.recorder
        if recorder is not None:
            st = recorder.stats()
            for name, doc in _RECORDER_COUNTERS.items():
                yield CounterMetricFamily(f"kalshi_recorder_{name}", doc, value=getattr(st, name))
            yield GaugeMetricFamily("kalshi_recorder_queue_depth", "Rows waiting to be written", value=st.queue_depth)
            yield GaugeMetricFamily(
                "kalshi_recorder_last_write_seconds",
                "Duration of the last committed batch",
                value=st.last_write_latency_s,
            )


@dataclass
class AppMetrics:
    """The trader's own metrics, registered in ``registry`` (one per worker process).

    Attributes:
        calibration_seconds: wall time of the calibration checks (seconds), by mode parallel/sequential.
        calibration_check_errors: failed calibration checks by check name.
        orders: orders sent by the trader, by origin (epoch/close), side, action and result
            (accepted/rejected/error).
        fills_contracts: contracts filled on the trader's orders, by origin, side and action.
        decision_latency_seconds: order-book update received to order sent (seconds).
        order_latency_seconds: order sent to exchange acknowledgement (seconds).
        decisions: policy decisions by policy (``imbalance``, ``hold``, ``rl:<version>``) and action.
        inference_seconds: a learned policy's observation + network time per decision (seconds), by policy.
        policy_fallbacks: epochs (and ``predict`` calls) that ran the fallback baseline instead of the configured
            policy, by requested policy, the fallback and the reason (``missing``, ``corrupt``, ``incompatible``,
            ``no_rl_extra``, ``no_live_books``, ``load_failed``).
        policy_in_use: 1 for the policy the last epoch on this worker ran (by requested and actual name).
        pretrade_rejects: pre-trade rejections by reason.
        positions: open positions at the last calibration.
        cash_cents: free cash at the last calibration, in cents.
        exposure_dollars: total cost of open positions at the last calibration, in dollars.
        unrealized_pnl_dollars: mark-to-market P&L of open positions at the last calibration (dollars,
            marked at the best bid of the held side as the exit rules do; unmarked positions count 0).
        last_calibration_timestamp: Unix time (seconds) of this worker's last calibration snapshot; with
            several workers the freshest one holds the current positions/cash gauges.
        epoch_updates: order-book updates processed by trading epochs.
        fallback_refreshes: REST fallback refreshes by trading epochs in degraded mode, by fallback
            (``positions_rest_sync``, ``fills_order_status_polling``).
        live: WebSocket connected/reconnects/gaps/resyncs/malformed frames, deltas applied (updates
            per second via rate()), delta age, trusted books, and the recorder's queue depth, drops and
            writes, read at scrape time (:meth:`watch`).
    """

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.calibration_seconds = Histogram(
            "kalshi_trader_calibration_seconds",
            "Wall time of the calibration checks",
            ["mode"],
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10),
            registry=r,
        )
        self.calibration_check_errors = Counter(
            "kalshi_trader_calibration_check_errors_total", "Failed calibration checks", ["check"], registry=r
        )
        self.orders = Counter(
            "kalshi_trader_orders_total",
            "Orders sent by the trader",
            ["origin", "side", "action", "result"],
            registry=r,
        )
        self.fills_contracts = Counter(
            "kalshi_trader_fills_contracts_total",
            "Contracts filled on the trader's orders (from the order acknowledgement)",
            ["origin", "side", "action"],
            registry=r,
        )
        self.decision_latency_seconds = Histogram(
            "kalshi_trader_decision_latency_seconds",
            "Order-book update received to order sent",
            ["origin"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
            registry=r,
        )
        self.order_latency_seconds = Histogram(
            "kalshi_trader_order_latency_seconds",
            "Order sent to exchange acknowledgement",
            ["origin"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.decisions = Counter("kalshi_trader_decisions_total", "Policy decisions", ["policy", "action"], registry=r)
        self.inference_seconds = Histogram(
            "kalshi_trader_inference_seconds",
            "A learned policy's observation + network time per decision",
            ["policy"],
            buckets=(0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.002, 0.005, 0.01),
            registry=r,
        )
        self.policy_fallbacks = Counter(
            "kalshi_trader_policy_fallbacks_total",
            "Epochs that ran the fallback baseline instead of the configured policy",
            ["requested", "fallback", "reason"],
            registry=r,
        )
        self.policy_in_use = Gauge(
            "kalshi_trader_policy_in_use",
            "1 for the policy the last epoch on this worker ran",
            ["requested", "policy"],
            registry=r,
        )
        self.pretrade_rejects = Counter(
            "kalshi_trader_pretrade_rejects_total", "Pre-trade check rejections", ["reason"], registry=r
        )
        self.positions = Gauge("kalshi_trader_positions", "Open positions at the last calibration", registry=r)
        self.cash_cents = Gauge("kalshi_trader_cash_cents", "Free cash at the last calibration (cents)", registry=r)
        self.exposure_dollars = Gauge(
            "kalshi_trader_exposure_dollars", "Cost of open positions at the last calibration (dollars)", registry=r
        )
        self.unrealized_pnl_dollars = Gauge(
            "kalshi_trader_unrealized_pnl_dollars",
            "Mark-to-market P&L of open positions at the last calibration (dollars; marked at the best bid)",
            registry=r,
        )
        self.last_calibration_timestamp = Gauge(
            "kalshi_trader_last_calibration_timestamp_seconds",
            "Unix time of the last calibration snapshot taken on this worker",
            registry=r,
        )
        self.epoch_updates = Counter(
            "kalshi_trader_epoch_updates_total", "Order-book updates processed by trading epochs", registry=r
        )
        self.fallback_refreshes = Counter(
            "kalshi_trader_fallback_refreshes_total",
            "REST fallback refreshes by trading epochs in degraded mode (positions by REST sync, fills by "
            "order-status polling)",
            ["fallback"],
            registry=r,
        )
        self.live = LiveCollector()
        r.register(self.live)

    def watch(self, *, hub: Any | None = None, recorder: Any | None = None) -> None:
        """Export the live WebSocket/feed counters of ``hub`` and the ``recorder``'s queue at each scrape."""
        self.live.hub = hub
        self.live.recorder = recorder
