"""Market-data ingestion types: the ``MarketDataWorkflow`` input/state/status and its activities' I/O.

Ingestion holds the Kalshi WebSocket and the in-memory order books on ONE worker (a worker-specific
task queue); the trading-epoch actor loop runs on the same queue so it can read those books
(ARCHITECTURE.md "Two loops, two speeds", temporal.md §3 "Worker-specific task queues"). No secrets here.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from models.common import Environment


class IngestSettings(BaseModel):
    """How the ingestion activity runs.

    Attributes:
        discovery_interval_s: how often open markets of the series and held positions are re-read over
            REST to add new markets (new 15-minute markets) and drop finished ones (seconds).
        heartbeat_interval_s: how often the activity heartbeats its subscription state (seconds).
        silence_timeout_s: reconnect when nothing arrives on the WebSocket for this long (seconds).
        max_run_s: the activity returns after this long so the workflow can rotate / continue as new.
        record: write every frame to the database (the worker's write-behind recorder).
        reconnect_backoff_max_s: ceiling of the WebSocket's full-jitter reconnect backoff (seconds): after an
            outage (a 503 on every handshake) the connection is back within this long of the exchange
            accepting connections again.
    """

    model_config = ConfigDict(extra="forbid")

    discovery_interval_s: float = Field(default=15.0, gt=0)
    heartbeat_interval_s: float = Field(default=2.0, gt=0)
    silence_timeout_s: float = Field(default=30.0, gt=0)
    max_run_s: float = Field(default=6 * 3600.0, gt=0)
    record: bool = True
    reconnect_backoff_max_s: float = Field(default=10.0, gt=0)


class MarketDataInput(BaseModel):
    """``MarketDataWorkflow`` input (carried across continue-as-new with ``state``).

    Attributes:
        environment: sim | demo | prod.
        series_tickers: series whose open markets are subscribed.
        extra_tickers: further markets to subscribe to.
        settings: ingestion settings.
        heartbeat_timeout_s: heartbeat timeout of the ingestion activity: a dead worker is noticed
            within this many seconds.
        schedule_to_start_timeout_s: a worker queue that does not pick the activity up within this many
            seconds is considered dead; another worker is chosen.
        restart_backoff_s: pause before restarting ingestion after a failure, per consecutive failure
            (the last value repeats).
        continue_as_new_after_restarts: continue as new after this many ingestion runs.
        healthy_after_s: an ingestion run that ran this long before it failed was healthy: the failure
            count (and so the restart backoff) starts afresh (seconds).
        state: carried state (None on the first start).
    """

    model_config = ConfigDict(extra="forbid")

    environment: Environment = Environment.SIM
    series_tickers: list[str] = Field(default_factory=lambda: ["KXGOLD15M"], min_length=1)
    extra_tickers: list[str] = Field(default_factory=list)
    settings: IngestSettings = Field(default_factory=IngestSettings)
    heartbeat_timeout_s: float = Field(default=20.0, ge=1)
    schedule_to_start_timeout_s: float = Field(default=15.0, ge=1)
    restart_backoff_s: list[float] = Field(default_factory=lambda: [1.0, 2.0, 5.0, 10.0, 30.0], min_length=1)
    continue_as_new_after_restarts: int = Field(default=200, ge=1)
    healthy_after_s: float = Field(default=60.0, gt=0)
    state: MarketDataState | None = None


class IngestionMove(BaseModel):
    """Ingestion moved (or restarted): when, from which worker queue to which, and why."""

    at: datetime
    from_queue: str | None
    to_queue: str
    reason: str


class MarketDataState(BaseModel):
    """``MarketDataWorkflow``'s carried state.

    Attributes:
        queue: the worker-specific task queue currently holding ingestion.
        since: when ingestion started there.
        runs: ingestion activity runs so far (across continue-as-new).
        consecutive_failures: failures in a row (drives the restart backoff).
        last_error: the last failure, one line.
        moves: the last moves (tail).
        stopped: a stop was requested.
    """

    queue: str | None = None
    since: datetime | None = None
    runs: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    moves: list[IngestionMove] = Field(default_factory=list)
    stopped: bool = False


class IngestInput(BaseModel):
    """Input of ``ingest_market_data`` (runs on a worker-specific queue)."""

    series_tickers: list[str]
    extra_tickers: list[str] = Field(default_factory=list)
    settings: IngestSettings = Field(default_factory=IngestSettings)


class IngestSummary(BaseModel):
    """What an ingestion run did (its result, and the shape of its heartbeat details).

    Attributes:
        queue: the worker queue it ran on.
        markets: markets subscribed at the end.
        connected: whether the WebSocket was connected at the end.
        ended_by: ``max_run`` | ``cancelled`` | ``worker_shutdown``.
        counters: client and feed counters (``ws_*``, ``feed_*``), ints.
    """

    queue: str
    markets: list[str] = Field(default_factory=list)
    connected: bool = False
    ended_by: str = "max_run"
    counters: dict[str, int | bool | None] = Field(default_factory=dict)


class MarketDataStatus(BaseModel):
    """``MarketDataWorkflow``'s ``status`` query answer."""

    workflow_id: str
    queue: str | None
    since: datetime | None
    running: bool
    runs: int
    consecutive_failures: int
    last_error: str | None
    moves: list[IngestionMove]


class MarketDataHealth(BaseModel):
    """What the trader learns about market data at calibration (``locate_market_data``).

    Attributes:
        workflow_running: the ``MarketDataWorkflow`` exists and is running.
        queue: the worker queue holding the books (where the actor loop must run), or None.
        connected: the WebSocket is connected (from the ingestion activity's last heartbeat).
        markets: markets subscribed.
        books_trusted, books_untrusted: order books usable / awaiting a snapshot.
        heartbeat_age_s: seconds since the ingestion activity last heartbeated.
        private_channels: fill / market_positions subscriptions are active.
        fill_channel, position_channel: the ``fill`` / ``market_positions`` subscription is active (None when
            the ingestion heartbeat predates these fields: ``private_channels`` then stands for both).
        error: one line when something is wrong.
    """

    workflow_running: bool = False
    queue: str | None = None
    connected: bool = False
    markets: list[str] = Field(default_factory=list)
    books_trusted: int = 0
    books_untrusted: int = 0
    heartbeat_age_s: float | None = None
    private_channels: bool = False
    fill_channel: bool | None = None
    position_channel: bool | None = None
    error: str | None = None


class LocateInput(BaseModel):
    """Input of ``locate_market_data``: the market-data workflow to ensure and inspect.

    Attributes:
        workflow_id: its id (``kalshi-md-<env>``).
        task_queue: the shared task queue it runs on when it has to be started.
        start: its input when it has to be started.
    """

    workflow_id: str
    task_queue: str = "kalshi-trader"
    start: MarketDataInput


MarketDataInput.model_rebuild()
