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
* ``ws_handshake_503`` / ``drop_ws``: reserved for the WebSocket server (stored and reported only).
"""

from __future__ import annotations

from typing import Any

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


class Faults:
    """The current fault configuration (pauses are mirrored into the exchange by the server)."""

    def __init__(self, latency_ms: int = 0) -> None:
        self.latency_ms = latency_ms
        self.fail_next: list[FailRule] = []
        self.trading_paused = False
        self.exchange_paused = False
        self.ws_handshake_503 = False
        self.drop_ws = False

    def apply(self, update: FaultsUpdate) -> None:
        """Merge a ``PUT`` body into the configuration."""
        for name in ("latency_ms", "trading_paused", "exchange_paused", "ws_handshake_503", "drop_ws"):
            value = getattr(update, name)
            if value is not None:
                setattr(self, name, value)
        if update.fail_next is not None:
            self.fail_next = [rule.model_copy() for rule in update.fail_next]

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
            "drop_ws": self.drop_ws,
        }


def fault_body(status: int) -> dict[str, Any]:
    """The JSON body of an injected failure: Kalshi's 429 string form, else an error envelope."""
    if status == 429:
        return {"error": "too many requests"}
    codes = {500: "internal_server_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}
    code = codes.get(status, "injected_error")
    return {"error": {"code": code, "message": code.replace("_", " "), "details": "injected by the simulator"}}
