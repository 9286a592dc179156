"""Simulator configuration (docs/simulator.md "Running it")."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from models.money import to_decimal
from simulator.ratelimit import TIER_NAMES
from simulator.scenario import load as load_scenario
from simulator.timeutil import parse_iso_ms

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "kalshi-gold15m"
"""Where the recorded tape lives relative to the repository (``../shared/data/kalshi-gold15m``)."""

ExactDecimal = Annotated[Decimal, BeforeValidator(to_decimal)]
"""A Decimal accepted from strings/ints/Decimals only (floats are refused, see models.money)."""

TierName = Literal["basic", "advanced", "expert", "premier", "paragon", "prime", "prestige", "off"]
assert set(TIER_NAMES) == set(TierName.__args__)  # type: ignore[attr-defined]


class SimulatorConfig(BaseModel):
    """Everything that configures a :class:`simulator.server.SimulatorServer`.

    Attributes:
        host / port: where to listen (port 0 = pick a free port; see ``SimulatorServer.base_url``).
        data_dir: recorded tape directory (``kalshi-gold15m`` layout). When None, ``default_data_dir`` is
            used if it exists, else the synthetic generator. An explicitly given directory must exist.
        default_data_dir: where to look when ``data_dir`` is None (``../shared/data/kalshi-gold15m``
            relative to the repository root).
        synthetic: force the synthetic generator even when a tape is available.
        synthetic_seed / synthetic_markets: generator seed and number of 15-minute markets.
        synthetic_grid: the synthetic markets' tick grid (``price_level_structure``, kalshi-api.md §4):
            ``linear_cent`` (default), ``tapered_deci_cent`` ($0.001 ticks below $0.10 and above $0.90) or
            ``deci_cent``.
        speed: tape seconds per wall second (Decimal > 0; 1 = real time, 60 = a 15-minute market in 15 s).
        start: ``"auto"`` (the longest run of back-to-back windows + 60 s) or an ISO 8601 **tape** time.
        paused: start with the clock paused (tests step it with ``POST /sim/v1/clock/advance``).
        time_shift: serve times shifted so that ``start`` is "now" (True) or the recorded times (False).
        keys_dir: directory of ``<key_id>.pub.pem`` public keys registered at start (one account each).
        initial_balance_cents: cash of every new account, integer cents (default $10,000).
        rate_limit_tier: Kalshi usage tier for the token buckets, or ``"off"``.
        latency_ms: initial injected latency per REST request (wall ms).
        timestamp_tolerance_s: accepted skew of signed timestamps vs the real wall clock, seconds.
        determination_delay_s: close -> determined delay (tape seconds); None = as recorded per market.
        settlement_timer_s: determined -> finalized delay (tape seconds); None = the market's
            ``settlement_timer_seconds``.
        fee_type: the series fee model every market charges (kalshi-api.md §7): ``quadratic`` (takers pay
            0.07 x C x P x (1 - P), makers nothing; Kalshi's default and the recorded gold series') or
            ``quadratic_with_maker_fees`` (makers pay 0.0175 x ...), with Kalshi's fee rounding and per-order
            rebate (:mod:`models.fees`).
        fee_multiplier: the series' ``fee_multiplier`` scaling both (Decimal >= 0, default 1).
        fractional_trading_enabled: override every market's flag; None = metadata (True for the gold
            tape, which has fractional sizes; False for synthetic markets).
        log_requests: log one DEBUG line per request.
        ws_ping_interval_s: seconds between the WebSocket server's keep-alive pings (payload ``heartbeat``,
            kalshi-api.md §6.1; Decimal > 0, default 10).
        ws_max_missed_pongs: consecutive unanswered pings after which a WebSocket client is dropped (3).
        ws_subscription_buffer: frames one WebSocket subscription may have waiting to be written before it
            ends with error 25 "subscription buffer overflow" (§6.3).
        ws_public_orderbook: let unauthenticated WebSocket connections subscribe to ``orderbook_delta``
            (Kalshi lists it as private, §6.5; default False: error 9 without auth).
        fault_seed: seed of the timed faults that name none (each fault draws from its own generator seeded by
            its ``seed``, or by this seed and its id; docs/simulator.md "Timed faults and scenarios").
        scenario: a fault scenario (a YAML file, or the name of a built-in one under ``simulator/scenarios``)
            whose timed faults start counting when the simulator starts.
        legacy_market_status: serve a finalized market's REST ``status`` as ``"settled"``, the name the
            pre-2026 API and SDK 3.2.0 use (their status enum has no ``finalized``); default False serves the
            current spec's ``finalized`` (docs/simulator.md "Kalshi SDK conformance").
        strict_client_order_ids: answer 409 for a ``client_order_id`` used by ANY earlier order of the
            account. Default False = Kalshi's rule: 409 only while an open (resting) order holds the id;
            the id of an executed or cancelled order can be used again (kalshi-api.md §3.5).

    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    data_dir: Path | None = None
    default_data_dir: Path = DEFAULT_DATA_DIR
    synthetic: bool = False
    synthetic_seed: int = 0
    synthetic_markets: int = Field(default=96, ge=1, le=100_000)
    synthetic_grid: Literal["linear_cent", "tapered_deci_cent", "deci_cent"] = "linear_cent"
    speed: ExactDecimal = Field(default=Decimal(1), gt=0, le=100_000)
    start: str = "auto"
    paused: bool = False
    time_shift: bool = True
    keys_dir: Path | None = None
    initial_balance_cents: int = Field(default=1_000_000, ge=0)
    rate_limit_tier: TierName = "basic"
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    timestamp_tolerance_s: int = Field(default=30, ge=1)
    determination_delay_s: ExactDecimal | None = Field(default=None, ge=0)
    settlement_timer_s: ExactDecimal | None = Field(default=None, ge=0)
    fee_type: Literal["quadratic", "quadratic_with_maker_fees"] = "quadratic"
    fee_multiplier: ExactDecimal = Field(default=Decimal(1), ge=0, le=100)
    fractional_trading_enabled: bool | None = None
    log_requests: bool = True
    ws_ping_interval_s: ExactDecimal = Field(default=Decimal(10), gt=0, le=3600)
    ws_max_missed_pongs: int = Field(default=3, ge=1, le=1000)
    ws_subscription_buffer: int = Field(default=50_000, ge=1, le=10_000_000)
    ws_public_orderbook: bool = False
    legacy_market_status: bool = False
    strict_client_order_ids: bool = False
    fault_seed: int = 0
    scenario: str | None = None

    @field_validator("start")
    @classmethod
    def _check_start(cls, value: str) -> str:
        if value != "auto":
            try:
                parse_iso_ms(value)
            except ValueError as exc:
                raise ValueError(f"start must be 'auto' or an ISO 8601 time, got {value!r}") from exc
        return value

    @field_validator("speed", mode="before")
    @classmethod
    def _speed_text(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower().endswith("x"):
            return value.strip()[:-1]
        return value

    @model_validator(mode="after")
    def _check_paths(self) -> SimulatorConfig:
        if self.data_dir is not None and not self.data_dir.is_dir():
            raise ValueError(f"data dir {self.data_dir} does not exist")
        if self.keys_dir is not None and not self.keys_dir.is_dir():
            raise ValueError(f"keys dir {self.keys_dir} does not exist")
        if self.scenario is not None:
            load_scenario(self.scenario)  # ScenarioError is a ValueError: a missing or invalid file fails validation
        return self

    def start_ms(self) -> int | None:
        """The configured start as tape epoch ms, or None for ``"auto"``."""
        return None if self.start == "auto" else parse_iso_ms(self.start)

    def tape_dir(self) -> Path | None:
        """The recorded tape directory to use, or None when the synthetic generator applies."""
        if self.synthetic:
            return None
        if self.data_dir is not None:
            return self.data_dir
        return self.default_data_dir if (self.default_data_dir / "MARKETS.csv").is_file() else None
