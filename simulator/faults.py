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
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

API_PREFIX = "/trade-api/v2"


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


class Faults:
    """The current fault configuration (pauses are mirrored into the exchange by the server).

    ``ws_hooks`` is set by the server once its WebSocket endpoint exists; the one-shot WebSocket faults
    (``drop_ws``, ``ws_inject``) act through it.
    """

    def __init__(self, latency_ms: int = 0) -> None:
        self.latency_ms = latency_ms
        self.fail_next: list[FailRule] = []
        self.trading_paused = False
        self.exchange_paused = False
        self.ws_handshake_503 = False
        self.ws_skip_seq = 0
        self.ws_drops = 0
        self.ws_hooks: WsFaultHooks | None = None

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

    def take(self, method: str, path: str) -> FailRule | None:
        """Consume one use of the first rule matching the request; return it (or None)."""
        for rule in self.fail_next:
            if rule.matches(method, path):
                rule.count -= 1
                if rule.count <= 0:
                    self.fail_next.remove(rule)
                return rule.model_copy(update={"count": 1})
        return None

    def as_json(self) -> dict[str, Any]:
        """The ``GET /sim/v1/faults`` body."""
        return {
            "latency_ms": self.latency_ms,
            "fail_next": [rule.model_dump() for rule in self.fail_next],
            "trading_paused": self.trading_paused,
            "exchange_paused": self.exchange_paused,
            "ws_handshake_503": self.ws_handshake_503,
            "drop_ws": False,
            "ws_drops": self.ws_drops,
            "ws_skip_seq": self.ws_skip_seq,
        }


def fault_body(status: int) -> dict[str, Any]:
    """The JSON body of an injected failure: Kalshi's 429 string form, else an error envelope."""
    if status == 429:
        return {"error": "too many requests"}
    codes = {500: "internal_server_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}
    code = codes.get(status, "injected_error")
    return {"error": {"code": code, "message": code.replace("_", " "), "details": "injected by the simulator"}}
