"""Settings from the environment and ``.env`` (pydantic-settings), validated before anything starts.

Every variable is documented in README.md. Secrets (the API key id and the private key) are read
here, in the worker process, and go only into the request signer: never into workflow inputs,
histories, search attributes, memos or logs. ``Settings.__repr__`` masks them.

Invalid settings (unknown environment, missing or malformed key, negative thresholds, production
without the explicit flag) raise :class:`SettingsError` with one clear line, which the CLI prints
before any workflow starts.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kalshi.environments import KalshiEndpoints, KalshiEnvironment
from kalshi.errors import KalshiCredentialsError
from kalshi.signer import RequestSigner
from models.common import Environment
from models.trader import (
    CloseSettings,
    EpochSettings,
    ExitRules,
    RiskLimits,
    TraderConfig,
)
from workflows.names import TASK_QUEUE, default_workflow_id

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = REPO_ROOT / ".state"
SIM_KEY_ID = "local-sim-trader"


class SettingsError(ValueError):
    """Settings are invalid; the message is one line naming the variable and the problem."""


class Settings(BaseSettings):
    """Worker, CLI and trader settings.

    Environment variables (prefix none; names as below, case-insensitive; ``.env`` is read too):

    * ``KALSHI_ENV``: ``sim`` (default), ``demo`` or ``prod``.
    * ``KALSHI_API_KEY_ID``, ``KALSHI_PRIVATE_KEY_PATH`` (PEM file) or ``KALSHI_PRIVATE_KEY_PEM``
      (PEM text). On ``sim`` they default to a throwaway key generated under ``.state/keys``.
    * ``KALSHI_REST_URL``, ``KALSHI_WS_URL``: override the environment's endpoints.
    * ``KALSHI_ALLOW_PRODUCTION``: must be ``true`` to trade ``prod`` (real money).
    * ``KALSHI_PRESIGN_MAX_AGE_MS`` (1000): the order endpoints' auth headers are signed ahead of time, off the
      order path, and never sent older than this (:mod:`kalshi.presign`); 0 signs every request when it is sent.
    * ``TEMPORAL_ADDRESS`` (``localhost:7233``), ``TEMPORAL_NAMESPACE`` (``default``),
      ``TRADER_TASK_QUEUE`` (``kalshi-trader``), ``TRADER_WORKFLOW_ID`` (``kalshi-trader-<env>``).
    * ``METRICS_PORT``: the worker's Prometheus port (9464; 0 disables).
    * ``DATABASE_URL``: where the worker records market data, orders, fills, calibration reports and
      status history (``sqlite:///.state/recording.db`` by default; ``postgresql+psycopg://...``;
      ``off`` disables recording).
    * ``STATE_DIR``: where local state lives (``.state``: dev-server database, generated keys).
    * ``MODEL_REGISTRY``: the model registry learned policies (``rl:current``, ``rl:<version>``) are loaded from
      (default ``STATE_DIR/models``, where ``kalshi-trader train`` saves).
    * ``TRADER_POLICY`` (``imbalance``), ``TRADER_FALLBACK_POLICY`` (``imbalance``): the policy the trader starts
      with and the baseline that runs when a learned one cannot (``set_policy`` changes the policy at run time).
    * Trader thresholds: ``TRADER_SERIES`` (comma list, ``KXGOLD15M``),
      ``TRADER_RECALIBRATION_INTERVAL_S`` (60), ``TRADER_TAKE_PROFIT_PCT`` (0.20),
      ``TRADER_STOP_LOSS_PCT`` (0.10), ``TRADER_MAX_HOLD_TIME_S`` (3600),
      ``TRADER_MARKET_CLOSING_WINDOW_S`` (300), ``TRADER_CASH_RESERVE_CENTS`` (10000),
      ``TRADER_ORDER_SIZE_CONTRACTS`` (5), ``TRADER_MAX_POSITION_CONTRACTS`` (20),
      ``TRADER_MAX_OPEN_POSITIONS`` (5), ``TRADER_POLL_INTERVAL_MS`` (2000),
      ``TRADER_ORDER_GROUP_LIMIT`` (200 contracts per 15 s), ``TRADER_CANCEL_RESTING_ON_START`` (true).
    * Simulator (``kalshi-trader up``): ``SIM_PORT`` (8765), ``SIM_DATA_DIR``, ``SIM_SPEED`` (1),
      ``SIM_START`` (``auto``).
    * Backtest only (``kalshi-trader backtest`` sets them for its worker): ``SIM_PACE`` (``off``; ``max`` or a
      number: the worker steps the simulator's clock whenever the trader is quiescent, :mod:`workers.pacer`; only
      with ``KALSHI_ENV=sim``) and ``SIM_PACE_EPOCH_S`` (tape seconds per actor epoch; default
      ``TRADER_RECALIBRATION_INTERVAL_S``).
    """

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    kalshi_env: str = Field(default="sim", alias="KALSHI_ENV")
    kalshi_api_key_id: SecretStr | None = Field(default=None, alias="KALSHI_API_KEY_ID")
    kalshi_private_key_path: Path | None = Field(default=None, alias="KALSHI_PRIVATE_KEY_PATH")
    kalshi_private_key_pem: SecretStr | None = Field(default=None, alias="KALSHI_PRIVATE_KEY_PEM")
    kalshi_rest_url: str | None = Field(default=None, alias="KALSHI_REST_URL")
    kalshi_ws_url: str | None = Field(default=None, alias="KALSHI_WS_URL")
    kalshi_allow_production: bool = Field(default=False, alias="KALSHI_ALLOW_PRODUCTION")
    kalshi_presign_max_age_ms: int = Field(default=1_000, ge=0, le=5_000, alias="KALSHI_PRESIGN_MAX_AGE_MS")

    temporal_address: str = Field(default="localhost:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    task_queue: str = Field(default=TASK_QUEUE, alias="TRADER_TASK_QUEUE")
    workflow_id: str | None = Field(default=None, alias="TRADER_WORKFLOW_ID")
    metrics_port: int = Field(default=9464, ge=0, le=65535, alias="METRICS_PORT")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    state_dir: Path = Field(default=DEFAULT_STATE_DIR, alias="STATE_DIR")
    model_registry: Path | None = Field(default=None, alias="MODEL_REGISTRY")
    policy: str = Field(default="imbalance", alias="TRADER_POLICY")
    fallback_policy: str = Field(default="imbalance", alias="TRADER_FALLBACK_POLICY")

    series: str = Field(default="KXGOLD15M", alias="TRADER_SERIES")
    recalibration_interval_s: float = Field(default=60.0, ge=1, alias="TRADER_RECALIBRATION_INTERVAL_S")
    take_profit_pct: Decimal = Field(default=Decimal("0.20"), gt=0, alias="TRADER_TAKE_PROFIT_PCT")
    stop_loss_pct: Decimal = Field(default=Decimal("0.10"), gt=0, le=1, alias="TRADER_STOP_LOSS_PCT")
    max_hold_time_s: float = Field(default=3600.0, gt=0, alias="TRADER_MAX_HOLD_TIME_S")
    market_closing_window_s: float = Field(default=300.0, ge=0, alias="TRADER_MARKET_CLOSING_WINDOW_S")
    cash_reserve_cents: int = Field(default=10_000, ge=0, alias="TRADER_CASH_RESERVE_CENTS")
    order_size_contracts: Decimal = Field(default=Decimal("5"), gt=0, alias="TRADER_ORDER_SIZE_CONTRACTS")
    max_position_contracts: Decimal = Field(default=Decimal("20"), gt=0, alias="TRADER_MAX_POSITION_CONTRACTS")
    max_open_positions: int = Field(default=5, ge=1, alias="TRADER_MAX_OPEN_POSITIONS")
    poll_interval_ms: int = Field(default=2_000, ge=100, alias="TRADER_POLL_INTERVAL_MS")
    order_group_limit: int = Field(default=200, ge=1, le=1_000_000, alias="TRADER_ORDER_GROUP_LIMIT")
    cancel_resting_on_start: bool = Field(default=True, alias="TRADER_CANCEL_RESTING_ON_START")

    sim_port: int = Field(default=8765, ge=1, le=65535, alias="SIM_PORT")
    sim_data_dir: Path | None = Field(default=None, alias="SIM_DATA_DIR")
    sim_speed: float = Field(default=1.0, gt=0, le=10_000, alias="SIM_SPEED")
    sim_start: str = Field(default="auto", alias="SIM_START")
    sim_pace: str = Field(default="off", alias="SIM_PACE")
    sim_pace_epoch_s: float | None = Field(default=None, gt=0, alias="SIM_PACE_EPOCH_S")

    @field_validator("sim_pace")
    @classmethod
    def _pace(cls, v: str) -> str:
        from workers.pacer import parse_pace

        parse_pace(v)  # ValueError: a clear message
        return v

    @field_validator("kalshi_env")
    @classmethod
    def _env(cls, v: str) -> str:
        return KalshiEnvironment.parse(v).value

    def __repr__(self) -> str:
        return f"Settings(env={self.kalshi_env}, temporal={self.temporal_address}, task_queue={self.task_queue})"

    __str__ = __repr__

    # ------------------------------------------------------------------ derived

    @property
    def environment(self) -> KalshiEnvironment:
        """The Kalshi environment (sim/demo/prod)."""
        return KalshiEnvironment(self.kalshi_env)

    @property
    def trader_workflow_id(self) -> str:
        """``TRADER_WORKFLOW_ID`` or ``kalshi-trader-<env>``."""
        return self.workflow_id or default_workflow_id(self.kalshi_env)

    @property
    def recording_url(self) -> str | None:
        """The recorder's database URL (None when ``DATABASE_URL=off``)."""
        if self.database_url is not None and self.database_url.strip().lower() in ("off", "none", ""):
            return None
        return self.database_url or f"sqlite:///{self.state_dir / 'recording.db'}"

    @property
    def model_registry_dir(self) -> Path:
        """``MODEL_REGISTRY`` or ``STATE_DIR/models``."""
        return self.model_registry or self.state_dir / "models"

    @property
    def sim_key_path(self) -> Path:
        """Private key generated for the local simulator account (``.state/keys/<id>.pem``)."""
        return self.state_dir / "keys" / f"{SIM_KEY_ID}.pem"

    def endpoints(self) -> KalshiEndpoints:
        """REST and WebSocket endpoints of the configured environment, with overrides applied."""
        rest = self.kalshi_rest_url
        ws = self.kalshi_ws_url
        if self.environment is KalshiEnvironment.SIM and rest is None:
            rest = f"http://127.0.0.1:{self.sim_port}/trade-api/v2"
            ws = ws or f"ws://127.0.0.1:{self.sim_port}/trade-api/ws/v2"
        return self.environment.endpoints(rest_base_url=rest, ws_url=ws)

    def signer(self) -> RequestSigner:
        """Build the request signer from the key settings (the only place the private key is read).

        Raises:
            SettingsError: no key configured, key file missing/unreadable, malformed PEM.
        """
        key_id = self.kalshi_api_key_id.get_secret_value() if self.kalshi_api_key_id else None
        path = self.kalshi_private_key_path
        pem = self.kalshi_private_key_pem.get_secret_value() if self.kalshi_private_key_pem else None
        if self.environment is KalshiEnvironment.SIM and key_id is None and path is None and pem is None:
            key_id, path = SIM_KEY_ID, self.sim_key_path
            if not path.exists():
                raise SettingsError(
                    f"no simulator key at {path}: run `kalshi-trader up` (it generates one) "
                    "or set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH"
                )
        if not key_id:
            raise SettingsError(f"KALSHI_API_KEY_ID is required for KALSHI_ENV={self.kalshi_env}")
        try:
            if pem is not None:
                return RequestSigner.from_pem(pem, key_id)
            if path is None:
                raise SettingsError("set KALSHI_PRIVATE_KEY_PATH (a PEM file) or KALSHI_PRIVATE_KEY_PEM")
            return RequestSigner.from_pem_file(path, key_id)
        except KalshiCredentialsError as err:
            raise SettingsError(str(err)) from None

    def trader_config(self) -> TraderConfig:
        """The :class:`TraderConfig` (workflow input) these settings describe; contains no secrets."""
        return TraderConfig(
            environment=Environment(self.kalshi_env),
            series_tickers=[s for s in self.series.split(",") if s.strip()],
            recalibration_interval_s=self.recalibration_interval_s,
            exits=ExitRules(
                take_profit_pct=self.take_profit_pct,
                stop_loss_pct=self.stop_loss_pct,
                max_hold_time_s=self.max_hold_time_s,
                market_closing_window_s=self.market_closing_window_s,
                cash_reserve_cents=self.cash_reserve_cents,
            ),
            risk=RiskLimits(
                order_size_contracts=self.order_size_contracts,
                max_position_contracts=self.max_position_contracts,
                max_open_positions=self.max_open_positions,
            ),
            epoch=EpochSettings.model_validate(
                {
                    "poll_interval_ms": self.poll_interval_ms,
                    "policy": self.policy,
                    "fallback_policy": self.fallback_policy,
                }
            ),
            close=CloseSettings(),
            cancel_resting_on_start=self.cancel_resting_on_start,
            order_group_contracts_limit=self.order_group_limit,
        )

    def check_production(self) -> None:
        """Refuse ``prod`` unless ``KALSHI_ALLOW_PRODUCTION=true``.

        Raises:
            SettingsError: production without the explicit flag.
        """
        if self.environment.is_real_money and not self.kalshi_allow_production:
            raise SettingsError(
                "KALSHI_ENV=prod trades real money: set KALSHI_ALLOW_PRODUCTION=true (or pass --allow-production)"
            )


def load_settings(**overrides: Any) -> Settings:
    """Load and validate settings (environment, ``.env``, then ``overrides`` by field name).

    Raises:
        SettingsError: one line per the first invalid variable, e.g.
            ``TRADER_STOP_LOSS_PCT: Input should be greater than 0 (got -0.1)``.
    """
    try:
        settings = Settings(**overrides)
        settings.endpoints()
        settings.trader_config()
    except ValidationError as err:
        first = err.errors()[0]
        loc = first["loc"][0] if first["loc"] else "settings"
        field = Settings.model_fields.get(str(loc))
        name = field.alias if field is not None and field.alias else str(loc).upper()
        got = "" if "KEY" in name else f" (got {first.get('input')!r})"
        raise SettingsError(f"{name}: {first['msg']}{got}") from None
    except ValueError as err:
        raise SettingsError(str(err).splitlines()[0]) from None
    return settings
