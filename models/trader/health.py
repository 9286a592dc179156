"""Health between calibrations and what degraded mode changes: the probe, the fallbacks, the effective limits.

* :class:`HealthProbeInput` / :class:`HealthProbe`: the ``health_probe`` activity (a short calibration: exchange
  status, balance, the market-data streams) the workflow runs every ``degraded.health_probe_interval_s`` while
  an epoch trades; :class:`ProbeResult` is what the workflow made of it (pure code, ``workflows.calibration``).
* :class:`ActiveFallback`, :class:`EpochFallbacks`, :class:`ModeLimits`: which fallback replaces which component,
  what the epoch must refresh over REST, and the effective limits of the current mode (docs/architecture.md
  "Degraded mode").
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from models.market_data import LocateInput, MarketDataHealth
from models.money import Contracts
from models.trader.calibration import ComponentHealth
from models.trader.enums import OverallStatus


class HealthProbeInput(BaseModel):
    """Input of the ``health_probe`` activity.

    Attributes:
        market_data: the market-data workflow to inspect (None: WebSocket market data off).
    """

    market_data: LocateInput | None = None


class HealthProbe(BaseModel):
    """Raw result of a health probe (the critical REST checks and the market-data streams, in parallel).

    Attributes:
        exchange_time: the exchange's clock when the probe completed (HTTP Date header).
        duration_ms: wall time of the probe, milliseconds.
        errors: per-check one-line error (``exchange_status``, ``balance``, ``market_data_ws``).
        error_status: per failed check, the HTTP status (0: no answer).
        exchange_active, trading_active: ``GET /exchange/status`` (None when unreadable).
        market_data: WebSocket ingestion health (None when not checked).
    """

    exchange_time: datetime
    duration_ms: int
    errors: dict[str, str] = Field(default_factory=dict)
    error_status: dict[str, int] = Field(default_factory=dict)
    exchange_active: bool | None = None
    trading_active: bool | None = None
    market_data: MarketDataHealth | None = None


class ProbeResult(BaseModel):
    """What one health probe found, compared with the last calibration.

    Attributes:
        at: workflow time of the probe.
        duration_ms: how long the probe took, milliseconds.
        components: the probed components' health (``exchange_rest``, ``order_tracking`` and, with WebSocket
            market data, ``orderbook_ws``, ``fill_ws``, ``position_ws``).
        overall_status: the mode these components imply (components not probed keep their last health).
        can_trade: no critical component down and trading active.
        changed: why the trader recalibrates now (a component's health or the mode differs from the last
            calibration), None when nothing changed.
        failed: the probe activity itself failed (its error; the trader then recalibrates).
    """

    at: datetime
    duration_ms: int = 0
    components: list[ComponentHealth] = Field(default_factory=list)
    overall_status: OverallStatus | None = None
    can_trade: bool = False
    changed: str | None = None
    failed: str | None = None


class ActiveFallback(BaseModel):
    """A fallback standing in for an unhealthy optional component.

    Attributes:
        component: the component that is down (``orderbook_ws``, ``fill_ws``, ``position_ws``, ``market_data``,
            ``settlements``, ``order_group``).
        fallback: the fallback's stable identifier (metric label ``fallback``).
        description: what the trader does instead, in words.
    """

    component: str
    fallback: str
    description: str


class EpochFallbacks(BaseModel):
    """The REST fallbacks a trading epoch runs itself (the order books' fallback is the REST polling driver).

    Attributes:
        fills_by_order_polling: the fill stream is down: fills are booked from the order acknowledgements and
            the epoch's orders are polled (``GET /portfolio/orders``) every ``refresh_s`` to confirm fills and
            resolve orders whose outcome was unknown.
        positions_by_rest_sync: the position stream is down: positions and cash are read over REST
            (``GET /portfolio/positions``, ``GET /portfolio/balance``) every ``refresh_s``.
        refresh_s: the refresh interval, seconds.
    """

    fills_by_order_polling: bool = False
    positions_by_rest_sync: bool = False
    refresh_s: float = 30.0

    @property
    def any(self) -> bool:
        """Whether the epoch has anything to refresh."""
        return self.fills_by_order_polling or self.positions_by_rest_sync


class ModeLimits(BaseModel):
    """The mode the trader trades in and the EFFECTIVE limits the epoch gets (docs/architecture.md "Degraded mode").

    Attributes:
        mode: the calibration's overall status.
        max_position_contracts: effective position cap per market (contracts): the normal limit, in degraded
            mode ``min(degraded cap, normal)``.
        cash_reserve_cents: effective free cash an entry must leave (cents): in degraded mode
            ``max(degraded minimum, normal)``.
        closing_only: why no new positions may be opened (closing preferred over opening), None when entries
            are allowed.
        fallbacks: the fallbacks in force.
    """

    mode: OverallStatus
    max_position_contracts: Contracts
    cash_reserve_cents: int
    closing_only: str | None = None
    fallbacks: list[ActiveFallback] = Field(default_factory=list)
