"""Fault injection for reliability tests (ARCHITECTURE "The simulator is a product"; docs/simulator.md).

Controlled through ``GET/PUT /sim/v1/faults``:

* ``latency_ms``: wall milliseconds added to every ``/trade-api`` request before it is handled.
* ``fail_next``: a list of rules ``{status?, count, path_prefix?, method?, after_processing, delay_ms}``;
  each of the next ``count`` matching requests is answered with ``status`` (e.g. 500/502/503/504/429).
  With ``after_processing`` the request is first applied (an order is placed, a cancel happens) and then
  the error is returned: the "outcome unknown" case of kalshi-api.md §5.1. ``delay_ms`` holds the answer
  that long (after processing when ``after_processing``); with no ``status`` the real answer is sent after
  the delay: the window in which a client crash or timeout leaves a write's outcome unknown.
* ``trading_paused`` / ``exchange_paused``: exchange-wide pauses (§3.1), reflected by
  ``GET /exchange/status``.
* ``ws_handshake_503``: while true, the WebSocket upgrade (``/trade-api/ws/v2``) is answered with HTTP 503
  (Kalshi once served that for days); existing connections are not touched.
* ``drop_ws``: a **one-shot action**: ``true`` aborts every open WebSocket connection now (TCP transport closed
  without a close frame, like a network failure) and reads back as ``false``; ``ws_drops`` counts the
  connections dropped so far. Combine with ``ws_handshake_503`` in one request to take the socket down and
  keep it down.
* ``ws_skip_seq``: the next N ``orderbook_delta`` frames (any connection) each skip one ``seq`` number, so a
  client sees a gap as if one message was lost (kalshi-api.md §6.4); reads back the remaining count.
* ``ws_inject``: a one-shot list of frames sent to every open WebSocket connection (strings verbatim, objects
  as JSON; an object with a ``sid`` of that connection and no ``seq`` gets the sid's next seq), to test
  clients against malformed or unknown frames. See :meth:`simulator.ws.WsServer.inject`.

Those are the STATIC faults: set at once, in force until changed. TIMED faults (:mod:`simulator.fault_specs`,
:mod:`simulator.fault_schedule`) start after an offset, last a duration, act on a route and method, on a seeded
fraction of requests, and come from the control API (``POST /sim/v1/faults/timed``), a scenario file
(``POST /sim/v1/faults/scenario``, ``--scenario``) or ``kalshi-trader simulator fault``. :class:`Faults` merges
both for the REST middleware and the WebSocket server: latencies add up, the static ``fail_next`` rules are
tried before the timed faults (in creation order), a pause or a 503 is in force when either kind says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.fault_schedule import FaultSchedule, TimedFault
from simulator.fault_specs import (
    API_PREFIX,
    FaultSpec,
    HoldSpec,
    HttpErrorSpec,
    LatencySpec,
    RouteTable,
    Scenario,
    WsChannelDownSpec,
    WsInjectSpec,
)

log = logging.getLogger(__name__)


class FailRule(BaseModel):
    """One injected failure rule, applied to the next ``count`` matching requests.

    ``path_prefix`` matches the request path (``/trade-api/v2/...``; a prefix without ``/trade-api`` is
    taken relative to ``/trade-api/v2``); ``method`` optionally restricts the HTTP method.
    """

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(default=None, ge=400, le=599)
    count: int = Field(default=1, ge=1)
    path_prefix: str | None = None
    method: str | None = None
    after_processing: bool = False
    delay_ms: int = Field(default=0, ge=0, le=600_000)

    @model_validator(mode="after")
    def _does_something(self) -> FailRule:
        if self.status is None and self.delay_ms == 0:
            raise ValueError("a fail_next rule needs a status, a delay_ms, or both")
        return self

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to ``method path``."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path_prefix is None:
            return True
        prefix = self.path_prefix
        if not prefix.startswith("/trade-api"):
            prefix = API_PREFIX + (prefix if prefix.startswith("/") else "/" + prefix)
        return path.startswith(prefix)


class FaultsUpdate(BaseModel):
    """Body of ``PUT /sim/v1/faults``; absent fields are left unchanged, ``fail_next`` replaces the list."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int | None = Field(default=None, ge=0, le=600_000)
    fail_next: list[FailRule] | None = None
    trading_paused: bool | None = None
    exchange_paused: bool | None = None
    ws_handshake_503: bool | None = None
    drop_ws: bool | None = None
    ws_skip_seq: int | None = Field(default=None, ge=0, le=1_000_000)
    ws_inject: list[str | dict[str, Any]] | None = Field(default=None, max_length=1000)


class WsFaultHooks(Protocol):
    """What the WebSocket server offers the one-shot faults (implemented by :class:`simulator.ws.WsServer`)."""

    def drop_all(self) -> int:
        """Abort every open connection; return how many."""
        ...

    def inject(self, frames: list[str | dict[str, Any]]) -> int:
        """Send ``frames`` to every open connection; return how many connections."""
        ...

    def fail_channels(self, channels: frozenset[str]) -> int:
        """End every subscription of ``channels`` with error 10 (channel error); return how many."""
        ...


PauseHook = Callable[..., None]
"""``hook(trading_paused=bool, exchange_paused=bool)``: :meth:`simulator.exchange.Exchange.set_pauses`."""


@dataclass(frozen=True, slots=True)
class RequestPlan:
    """What the faults do to one ``/trade-api`` request: wait ``latency_s`` first, then apply ``rule`` (or None)."""

    latency_s: float
    rule: FailRule | None


class Faults:
    """Static and timed faults (see the module docstring); pauses are mirrored into the exchange.

    ``ws_hooks`` is set by the server once its WebSocket endpoint exists (the WebSocket actions go through it);
    ``pause_hook`` mirrors the effective pauses into the exchange; ``routes`` validates the routes timed faults
    name. :meth:`run` is the server's background task that starts and ends timed faults on time; every request
    also calls :meth:`tick` first, so a request always sees the faults of its own instant.
    """

    def __init__(self, latency_ms: int = 0, seed: int = 0, schedule: FaultSchedule | None = None) -> None:
        self.latency_ms = latency_ms
        self.fail_next: list[FailRule] = []
        self.trading_paused = False
        self.exchange_paused = False
        self.ws_handshake_503 = False
        self.ws_skip_seq = 0
        self.ws_drops = 0
        self.ws_hooks: WsFaultHooks | None = None
        self.pause_hook: PauseHook | None = None
        self.routes: RouteTable | None = None
        self.timed = schedule if schedule is not None else FaultSchedule(seed)
        self._pauses = (False, False)
        self._wake: asyncio.Event | None = None

    # -- static faults ---------------------------------------------------------------------------------
    def apply(self, update: FaultsUpdate) -> None:
        """Merge a ``PUT`` body into the configuration, then run the one-shot WebSocket actions."""
        for name in ("latency_ms", "trading_paused", "exchange_paused", "ws_handshake_503", "ws_skip_seq"):
            value = getattr(update, name)
            if value is not None:
                setattr(self, name, value)
        if update.fail_next is not None:
            self.fail_next = [rule.model_copy() for rule in update.fail_next]
        if self.ws_hooks is not None:
            if update.ws_inject:
                self.ws_hooks.inject(update.ws_inject)
            if update.drop_ws:
                self.ws_drops += self.ws_hooks.drop_all()
        self.sync_pauses()

    def reset(self) -> list[TimedFault]:
        """Clear every fault: static ones back to their defaults (no latency), timed ones ended; return those."""
        self.apply(
            FaultsUpdate(
                latency_ms=0,
                fail_next=[],
                trading_paused=False,
                exchange_paused=False,
                ws_handshake_503=False,
                ws_skip_seq=0,
            )
        )
        return self.clear()

    def take(self, method: str, path: str) -> FailRule | None:
        """Consume one use of the first static ``fail_next`` rule matching the request; return it (or None)."""
        for rule in self.fail_next:
            if rule.matches(method, path):
                rule.count -= 1
                if rule.count <= 0:
                    self.fail_next.remove(rule)
                return rule.model_copy(update={"count": 1})
        return None

    # -- timed faults ----------------------------------------------------------------------------------
    def check(self, specs: list[FaultSpec]) -> None:
        """Validate the routes of request-kind ``specs`` against the trade API.

        Raises:
            ValueError: ``faults.<i>: <what>`` for the first spec naming an unknown route or method.

        """
        if self.routes is None:
            return
        for i, spec in enumerate(specs):
            if isinstance(spec, LatencySpec | HttpErrorSpec | HoldSpec):
                try:
                    self.routes.check(spec.path, spec.method)
                except ValueError as exc:
                    raise ValueError(f"faults.{i}.path: {exc}") from exc

    def schedule(
        self,
        specs: list[FaultSpec],
        scenario: Scenario | None = None,
        time_scale: Decimal = Decimal(1),
    ) -> list[TimedFault]:
        """Validate then schedule ``specs`` (all or none) from now; return the new faults.

        Raises:
            ValueError: an unknown route or method (nothing is scheduled).

        """
        self.check(specs)
        added = self.timed.add(
            specs,
            scenario=None if scenario is None else scenario.name,
            scenario_seed=None if scenario is None else scenario.seed,
            scale=time_scale,
        )
        self.tick()
        self._notify()
        return added

    def clear(self, ids: list[str] | None = None) -> list[TimedFault]:
        """End timed faults now (all when ``ids`` is None); return them.

        Raises:
            KeyError: an id names no scheduled or active fault (nothing is cleared).

        """
        cleared = self.timed.clear(ids)
        self.sync_pauses()
        self._notify()
        return cleared

    def tick(self) -> None:
        """Start and end the timed faults whose time has come, performing their one-time actions."""
        transitions = self.timed.tick()
        if not transitions:
            return
        hooks = self.ws_hooks
        for what, fault in transitions:
            spec = fault.spec
            if what == "end":
                log.info("fault %s (%s) ended: %s", fault.id, fault.kind, fault.ended_reason)
                continue
            log.info("fault %s (%s) %s", fault.id, fault.kind, "started" if what == "start" else "repeated")
            if hooks is None:
                continue
            if spec.kind == "ws_drop":
                dropped = hooks.drop_all()
                self.ws_drops += dropped
                fault.matched += 1
                fault.affected += dropped
            elif isinstance(spec, WsInjectSpec):
                fault.matched += 1
                fault.affected += hooks.inject(spec.frames)
            elif isinstance(spec, WsChannelDownSpec) and what == "start":
                fault.affected += hooks.fail_channels(frozenset(spec.channels))
        self.sync_pauses()

    async def run(self) -> None:
        """Background task: tick whenever the next start, end or repeat is due (cancel to stop)."""
        self._wake = asyncio.Event()
        while True:
            try:
                self.tick()
            except Exception:
                log.exception("timed faults: tick failed")
            due = self.timed.next_due()
            timeout = None if due is None else max(0.0, due - self.timed.clock())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # -- what the servers ask ----------------------------------------------------------------------------
    def effective_pauses(self) -> tuple[bool, bool]:
        """``(trading_paused, exchange_paused)``: the static flags or an active timed pause."""
        timed = self.timed
        return (
            self.trading_paused or any(True for _ in timed.active("trading_pause")),
            self.exchange_paused or any(True for _ in timed.active("exchange_pause")),
        )

    def sync_pauses(self) -> None:
        """Mirror the effective pauses into the exchange when they changed (a pause start cancels ``HaltCancel``)."""
        pauses = self.effective_pauses()
        if pauses != self._pauses and self.pause_hook is not None:
            self.pause_hook(trading_paused=pauses[0], exchange_paused=pauses[1])
        self._pauses = pauses

    def for_request(self, method: str, path: str) -> RequestPlan:
        """What to do to one ``/trade-api`` request (``path`` as received, with the prefix); draws the rates."""
        self.tick()
        latency = self.latency_ms / 1000
        rule = self.take(method, path)
        timed = self.timed
        rel = (path[len(API_PREFIX) :] or "/") if path.startswith(API_PREFIX) else path
        for fault in list(timed.active("latency", "http_error", "hold")):
            spec = fault.spec
            if not fault.covers(method, rel):
                continue
            if isinstance(spec, LatencySpec):
                if timed.draw(fault):
                    latency += float(spec.latency)
            elif rule is None and timed.draw(fault):
                if isinstance(spec, HttpErrorSpec):
                    rule = FailRule(status=spec.status, after_processing=spec.after_processing)
                elif isinstance(spec, HoldSpec):
                    delay_ms = int(spec.delay * 1000)
                    rule = FailRule(status=spec.status, after_processing=spec.after_processing, delay_ms=delay_ms)
        return RequestPlan(latency, rule)

    def ws_handshake_refused(self) -> bool:
        """Whether this WebSocket upgrade is answered 503 (static flag, or an active timed fault's draw)."""
        self.tick()
        refused = self.ws_handshake_503
        for fault in list(self.timed.active("ws_handshake_503")):
            if self.timed.draw(fault):
                refused = True
        return refused

    def take_ws_skip(self) -> int:
        """1 when this ``orderbook_delta`` frame must skip a ``seq`` number (static count or a timed draw), else 0."""
        if self.ws_skip_seq > 0:
            self.ws_skip_seq -= 1
            return 1
        for fault in list(self.timed.active("ws_skip_seq")):
            if self.timed.draw(fault):
                return 1
        return 0

    def channels_down(self, channels: list[str]) -> list[str]:
        """Those of ``channels`` an active ``ws_channel_down`` fault has taken down (subscribe answers error 10)."""
        self.tick()
        down: set[str] = set()
        for fault in self.timed.active("ws_channel_down"):
            assert isinstance(fault.spec, WsChannelDownSpec)
            down.update(fault.spec.channels)
        return [c for c in channels if c in down]

    # -- reading -------------------------------------------------------------------------------------------
    def as_json(self) -> dict[str, Any]:
        """The ``GET /sim/v1/faults`` body: the static faults, then ``timed`` (active, scheduled, ended)."""
        self.tick()
        trading, exchange = self.effective_pauses()
        return {
            "latency_ms": self.latency_ms,
            "fail_next": [rule.model_dump() for rule in self.fail_next],
            "trading_paused": self.trading_paused,
            "exchange_paused": self.exchange_paused,
            "ws_handshake_503": self.ws_handshake_503,
            "drop_ws": False,
            "ws_drops": self.ws_drops,
            "ws_skip_seq": self.ws_skip_seq,
            "effective": {"trading_paused": trading, "exchange_paused": exchange},
            "timed": self.timed.as_json(),
        }


def fault_body(status: int) -> dict[str, Any]:
    """The JSON body of an injected failure: Kalshi's 429 string form, else an error envelope."""
    if status == 429:
        return {"error": "too many requests"}
    codes = {500: "internal_server_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}
    code = codes.get(status, "injected_error")
    return {"error": {"code": code, "message": code.replace("_", " "), "details": "injected by the simulator"}}
