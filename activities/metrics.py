"""Application metrics recorded by activities (prometheus-client), served by the worker's /metrics.

Workflow-side metrics (cycles, closes by reason, calibration duration as seen by the workflow) go
through ``workflow.metric_meter()`` instead, which is replay-safe and exported by the Temporal SDK's
Prometheus endpoint; the worker merges both into one scrape (``workers.metrics``).

Names follow Prometheus conventions: ``_total`` counters, ``_seconds`` histograms, units in names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class AppMetrics:
    """The trader's own metrics, registered in ``registry`` (one per worker process).

    Attributes:
        calibration_seconds: wall time of the calibration checks (seconds), by mode parallel/sequential.
        calibration_check_errors: failed calibration checks by check name.
        orders: orders sent by the trader, by origin (epoch/close), side, action and result
            (accepted/rejected/error).
        order_latency_seconds: decision to exchange acknowledgement (seconds).
        decisions: policy decisions by action.
        pretrade_rejects: pre-trade rejections by reason.
        positions: open positions at the last calibration.
        cash_cents: free cash at the last calibration, in cents.
        exposure_dollars: total cost of open positions at the last calibration, in dollars.
        epoch_updates: order-book updates processed by trading epochs.
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
        self.order_latency_seconds = Histogram(
            "kalshi_trader_order_latency_seconds",
            "Decision to exchange acknowledgement",
            ["origin"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.decisions = Counter("kalshi_trader_decisions_total", "Policy decisions", ["action"], registry=r)
        self.pretrade_rejects = Counter(
            "kalshi_trader_pretrade_rejects_total", "Pre-trade check rejections", ["reason"], registry=r
        )
        self.positions = Gauge("kalshi_trader_positions", "Open positions at the last calibration", registry=r)
        self.cash_cents = Gauge("kalshi_trader_cash_cents", "Free cash at the last calibration (cents)", registry=r)
        self.exposure_dollars = Gauge(
            "kalshi_trader_exposure_dollars", "Cost of open positions at the last calibration (dollars)", registry=r
        )
        self.epoch_updates = Counter(
            "kalshi_trader_epoch_updates_total", "Order-book updates processed by trading epochs", registry=r
        )
