"""The simulator as a real HTTP server (docs/simulator.md).

``SimulatorServer(config)`` loads the catalog (recorded tape or synthetic), builds the exchange clock,
the exchange, the replay engine, key registry, rate limiter and fault state, and serves

* the Kalshi Trade API at ``/trade-api/v2`` (:mod:`simulator.rest`),
* the control API at ``/sim/v1`` (:mod:`simulator.control`),
* the WebSocket API at ``/trade-api/ws/v2`` (:mod:`simulator.ws`), fed by :attr:`SimulatorServer.bus`.

Every response carries an HTTP ``Date`` header in **served** time (the exchange clock shifted to the
present, see :mod:`simulator.clock`), which clients use to estimate the exchange clock.

Usage::

    async with SimulatorServer(SimulatorConfig(port=0, paused=True)) as sim:
        httpx.get(sim.rest_url + "/markets")
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from email.utils import formatdate
from types import TracebackType
from typing import Any

from aiohttp import web

from models.fees import FeeSchedule
from simulator.auth import KeyRegistry
from simulator.clock import ExchangeClock
from simulator.config import SimulatorConfig
from simulator.context import SimContext, TradeLog
from simulator.control import make_control_app
from simulator.events import EventBus
from simulator.exchange import Exchange
from simulator.fault_specs import RouteTable
from simulator.faults import Faults
from simulator.ratelimit import RateLimiter
from simulator.replay import ReplayEngine
from simulator.rest import make_api_app
from simulator.scenario import ScenarioError
from simulator.scenario import load as load_scenario
from simulator.synthetic import build_synthetic_catalog
from simulator.tape import Catalog, CatalogError, load_recorded_catalog
from simulator.timeutil import iso_ms
from simulator.ws import WsServer

__all__ = ["SimulatorConfig", "SimulatorError", "SimulatorServer"]

log = logging.getLogger("simulator")
access_log = logging.getLogger("simulator.access")

API_PREFIX = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"
CONTROL_PREFIX = "/sim/v1"


class SimulatorError(RuntimeError):
    """The simulator cannot start: bad data directory, start time outside the tape, bad keys, port in use."""


def load_catalog(config: SimulatorConfig) -> Catalog:
    """Build the catalog the config asks for: the recorded tape, or the synthetic generator.

    Raises:
        SimulatorError: if the tape directory cannot be read.

    """
    tape_dir = config.tape_dir()
    if tape_dir is None:
        return build_synthetic_catalog(
            config.synthetic_seed, config.synthetic_markets, price_level_structure=config.synthetic_grid
        )
    try:
        return load_recorded_catalog(tape_dir, config.fractional_trading_enabled)
    except CatalogError as exc:
        raise SimulatorError(str(exc)) from exc


class SimulatorServer:
    """A Kalshi-compatible exchange served over HTTP, driven by tape replay.

    Args:
        config: the configuration (see :class:`SimulatorConfig`).

    Raises:
        SimulatorError: from :meth:`start` for an unusable data dir, start time, keys dir or port.

    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._runner: web.AppRunner | None = None
        self._replay_task: asyncio.Task[None] | None = None
        self._faults_task: asyncio.Task[None] | None = None
        self._port: int | None = None
        self.context: SimContext | None = None
        self.ws: WsServer | None = None

    # -- properties ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound TCP port (after :meth:`start`)."""
        if self._port is None:
            raise SimulatorError("the simulator is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        elif host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """The Kalshi REST base URL: ``base_url + "/trade-api/v2"``."""
        return self.base_url + API_PREFIX

    @property
    def ws_url(self) -> str:
        """The WebSocket URL ``ws://HOST:PORT/trade-api/ws/v2``."""
        return "ws" + self.base_url[len("http") :] + WS_PATH

    @property
    def control_url(self) -> str:
        """The control API base URL: ``base_url + "/sim/v1"``."""
        return self.base_url + CONTROL_PREFIX

    @property
    def ctx(self) -> SimContext:
        """The running context (exchange, clock, engine, ...)."""
        if self.context is None:
            raise SimulatorError("the simulator is not running")
        return self.context

    @property
    def bus(self) -> EventBus:
        """The event publisher (for the WebSocket server and in-process observers)."""
        return self.ctx.bus

    # -- lifecycle -------------------------------------------------------------------------------
    def _build(self) -> SimContext:
        config = self.config
        catalog = load_catalog(config)
        first, last = catalog.time_range_ms()
        start_ms = config.start_ms()
        if start_ms is None:
            start_ms = catalog.auto_start_ms()
        elif not first - 86_400_000 <= start_ms <= last:
            raise SimulatorError(f"start {iso_ms(start_ms)} is outside the tape ({iso_ms(first)} .. {iso_ms(last)})")
        clock = ExchangeClock(start_ms, config.speed, paused=True, time_shift=config.time_shift)
        bus = EventBus()
        exchange = Exchange(
            catalog,
            bus,
            offset_ms=clock.offset_ms,
            start_ms=start_ms,
            initial_balance_cents=config.initial_balance_cents,
            fee_schedule=FeeSchedule.for_series(config.fee_type, config.fee_multiplier),
            determination_delay_ms=None
            if config.determination_delay_s is None
            else int(config.determination_delay_s * 1000),
            settlement_timer_ms=None if config.settlement_timer_s is None else int(config.settlement_timer_s * 1000),
            strict_client_order_ids=config.strict_client_order_ids,
        )
        engine = ReplayEngine(exchange, clock)
        keys = KeyRegistry(config.timestamp_tolerance_s)
        if config.keys_dir is not None:
            try:
                for key_id in keys.load_dir(config.keys_dir):
                    exchange.create_account(key_id)
            except ValueError as exc:
                raise SimulatorError(str(exc)) from exc
        trade_log = TradeLog(bus)
        engine.start()
        return SimContext(
            config=config,
            catalog=catalog,
            clock=clock,
            bus=bus,
            exchange=exchange,
            engine=engine,
            keys=keys,
            limiter=RateLimiter(config.rate_limit_tier),
            faults=Faults(config.latency_ms, seed=config.fault_seed),
            trade_log=trade_log,
            started_wall_ns=time.monotonic_ns(),
        )

    def _make_app(self, ctx: SimContext) -> web.Application:
        app = web.Application(middlewares=[self._root_middleware])
        api = make_api_app(ctx)
        app.add_subapp(API_PREFIX, api)
        ctx.faults.routes = RouteTable((r.method, r.resource.canonical) for r in api.router.routes() if r.resource)
        ctx.faults.pause_hook = ctx.exchange.set_pauses
        app.add_subapp(CONTROL_PREFIX, make_control_app(ctx))
        ws = self.ws = WsServer(ctx)
        ctx.faults.ws_hooks = ws
        app.router.add_get(WS_PATH, ws.handle)
        app.on_shutdown.append(ws.close_all)
        return app

    @web.middleware
    async def _root_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter_ns()
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "bad_request")
            response = web.json_response(
                {"error": {"code": code, "message": exc.reason, "details": request.path}}, status=exc.status
            )
        ctx = self.context
        if ctx is not None and not response.prepared:
            response.headers["Date"] = formatdate(ctx.served_now_ms() // 1000, usegmt=True)
        if self.config.log_requests and access_log.isEnabledFor(logging.DEBUG):
            took_us = (time.perf_counter_ns() - started) // 1000
            access_log.debug("%s %s -> %d (%d us)", request.method, request.path_qs, response.status, took_us)
        return response

    async def start(self) -> None:
        """Load data, fold the tape to the start time, bind the socket and start the replay task.

        Raises:
            SimulatorError: unusable data/keys/start time, or the port cannot be bound.

        """
        if self._runner is not None:
            return
        ctx = self._build()
        self.context = ctx
        app = self._make_app(ctx)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            self.context = None
            where = f"{self.config.host}:{self.config.port}"
            raise SimulatorError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
        self._runner = runner
        addresses = runner.addresses
        self._port = int(addresses[0][1]) if addresses else self.config.port
        if not self.config.paused:
            ctx.clock.resume()
        self._replay_task = asyncio.create_task(ctx.engine.run(), name="simulator-replay")
        self._faults_task = asyncio.create_task(ctx.faults.run(), name="simulator-faults")
        if self.config.scenario is not None:
            try:
                scenario = load_scenario(self.config.scenario)
                ctx.faults.schedule(scenario.faults, scenario)
            except (ScenarioError, ValueError) as exc:
                await self.stop()
                raise SimulatorError(f"scenario {self.config.scenario}: {exc}") from exc
            log.info("playing fault scenario %s (%d faults)", scenario.name, len(scenario.faults))
        log.info(
            "simulator listening on %s (%s, start %s, speed %s%s)",
            self.base_url,
            ctx.catalog.description,
            iso_ms(ctx.clock.now_ms()),
            ctx.clock.speed,
            ", paused" if ctx.clock.paused else "",
        )

    async def stop(self) -> None:
        """Stop serving and the replay task; close open tape files (idempotent)."""
        for task in (self._faults_task, self._replay_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._faults_task = self._replay_task = None
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if self.context is not None:
            self.context.engine.close()
            self.context.trade_log.close()
            self.context.faults.ws_hooks = None
            self.context.faults.pause_hook = None
        self.ws = None
        self._port = None

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
