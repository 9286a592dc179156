"""What a timed fault is: the validated specs of every fault kind, durations, routes and scenarios.

A timed fault (docs/simulator.md "Timed faults and scenarios") has a ``kind``, a start offset ``after`` and a
duration ``for`` (absent: until cleared), both on the WALL clock, plus the fields its kind takes:

==================  ==========================================================================================
``latency``         add ``latency`` to matching ``/trade-api`` requests
``http_error``      answer matching requests with ``status`` (429, 5xx, ...); ``after_processing`` applies the
                    request first (an order is placed, then the client sees the error: outcome unknown)
``hold``            hold the answer ``delay`` (after processing by default), then send it, or ``status``
``ws_handshake_503``  answer WebSocket upgrades with HTTP 503 (existing connections are untouched)
``ws_drop``         abort every open WebSocket connection at the start (and every ``every`` while active)
``ws_skip_seq``     matching ``orderbook_delta`` frames skip one ``seq`` number (a lost message, §6.4)
``ws_inject``       send ``frames`` to every open connection at the start (one-shot)
``ws_channel_down`` end open subscriptions of ``channels`` with error 10 and refuse new ones while active
``trading_pause``   trading paused while active (§3.1: new orders and amends get ``trading_paused``)
``exchange_pause``  exchange paused while active (every order operation gets 503 ``exchange_paused``)
==================  ==========================================================================================

Request kinds (``latency``, ``http_error``, ``hold``) take a route: ``path`` (a prefix relative to
``/trade-api/v2``, or absent for every route) and ``method``; they, ``ws_handshake_503`` and ``ws_skip_seq``
take ``rate`` (the fraction of matching requests or frames affected, drawn from a generator seeded by
``seed``) and ``count`` (at most that many affected, then the fault ends). Impossible values are refused
with a message naming the field: negative or zero durations, rates outside [0, 1], unknown kinds, fields a
kind does not take, unknown routes or a method no route under the prefix accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

API_PREFIX = "/trade-api/v2"
MAX_SECONDS = Decimal(7 * 24 * 3600)
"""The longest offset or duration accepted (7 days)."""
MAX_HOLD_SECONDS = Decimal(600)
"""The longest latency or hold accepted (10 minutes, as the static ``latency_ms`` / ``delay_ms``)."""
WS_CHANNELS = frozenset(
    {
        "orderbook_delta",
        "ticker",
        "trade",
        "fill",
        "market_positions",
        "user_orders",
        "order_group_updates",
        "market_lifecycle_v2",
        "multivariate_market_lifecycle",
        "communications",
    }
)
"""Channels the simulator serves (docs/simulator.md "WebSocket API")."""

_UNIT_S = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600), "d": Decimal(86400)}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: Any) -> Decimal:
    """Seconds (exact Decimal) from ``30``, ``"30"``, ``"1.5"``, ``"250ms"``, ``"30s"``, ``"2m"``, ``"1h30m"``.

    Raises:
        ValueError: not a duration, or negative.

    """
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '30s', '2m', '250ms'")
    if isinstance(value, int | Decimal | float):
        seconds = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.startswith("-"):
            raise ValueError(f"duration {value!r} is negative")
        try:
            seconds = Decimal(text)
        except InvalidOperation:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(
                    f"{value!r} is not a duration (use seconds or units ms/s/m/h/d, e.g. '30s', '2m', '1m30s')"
                ) from None
            seconds = sum((Decimal(n) * _UNIT_S[u] for n, u in parts), Decimal(0))
    else:
        raise ValueError("a duration is a number of seconds or a string like '30s', '2m', '250ms'")
    if not seconds.is_finite():
        raise ValueError(f"duration {value!r} is not finite")
    if seconds < 0:
        raise ValueError(f"duration {value!r} is negative")
    if seconds > MAX_SECONDS:
        raise ValueError(f"duration {value!r} is longer than 7 days")
    return seconds


def format_duration(seconds: Decimal) -> str:
    """The shortest readable form of ``seconds``: ``"250ms"``, ``"30s"``, ``"2m"``, ``"1h30m"``, ``"90.5s"``."""
    if seconds < 1 and seconds != 0:
        return f"{(seconds * 1000).normalize():f}ms"
    if seconds == seconds.to_integral_value():
        whole = int(seconds)
        h, rest = divmod(whole, 3600)
        m, s = divmod(rest, 60)
        out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
        return out or "0s"
    return f"{seconds.normalize():f}s"


def _check_rate(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("rate must be a number between 0 and 1")
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"rate {value!r} is not a number between 0 and 1") from None
    if not rate.is_finite() or rate < 0 or rate > 1:
        raise ValueError(f"rate {value} is outside [0, 1]")
    if rate != rate.quantize(Decimal("0.000001")):
        raise ValueError(f"rate {value} has more than 6 decimal places")
    return rate


Duration = Annotated[Decimal, BeforeValidator(parse_duration)]
"""Seconds as exact Decimal; accepts numbers and unit strings (see :func:`parse_duration`)."""


def _check_hold(value: Decimal) -> Decimal:
    if value <= 0 or value > MAX_HOLD_SECONDS:
        raise ValueError("must be more than 0 and at most 10 minutes")
    return value


HoldDuration = Annotated[Decimal, BeforeValidator(parse_duration), AfterValidator(_check_hold)]
"""A latency or hold: a :data:`Duration` in (0, 10 min]."""
Rate = Annotated[Decimal, BeforeValidator(_check_rate)]
"""A fraction in [0, 1] with at most 6 decimals."""
Method = Literal["GET", "POST", "PUT", "DELETE"]


class _Spec(BaseModel):
    """Fields every kind takes: ``name``, ``after`` (wall seconds from now) and ``for`` (absent: until cleared)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str | None = Field(default=None, min_length=1, max_length=100)
    after: Duration = Decimal(0)
    for_: Duration | None = Field(default=None, alias="for")

    @field_validator("for_")
    @classmethod
    def _positive_for(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value <= 0:
            raise ValueError("'for' must be a positive duration (leave it out for 'until cleared')")
        return value

    def dump(self) -> dict[str, Any]:
        """The spec as JSON (durations as ``"30s"``-style strings, rates as decimal strings)."""
        data = self.model_dump(by_alias=True, exclude_none=True)
        out: dict[str, Any] = {"kind": data.pop("kind")}
        for key, value in data.items():
            if isinstance(value, Decimal):
                out[key] = str(value) if key == "rate" else format_duration(value)
            else:
                out[key] = value
        return out


class _Drawn(_Spec):
    """Kinds that affect a seeded fraction of what they match: ``rate``, ``seed``, ``count``."""

    rate: Rate = Decimal(1)
    seed: int | str | None = None
    count: int | None = Field(default=None, ge=1, le=1_000_000_000)


class _RequestSpec(_Drawn):
    """Kinds that act on ``/trade-api`` requests: a route (``path`` prefix, ``method``)."""

    path: str | None = Field(default=None, min_length=1, max_length=300)
    method: Method | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith(API_PREFIX):
            value = value[len(API_PREFIX) :] or "/"
        if not value.startswith("/"):
            value = "/" + value
        if "?" in value or "#" in value:
            raise ValueError("path is a route prefix without a query string")
        return value


class LatencySpec(_RequestSpec):
    """``latency``: matching requests wait ``latency`` before being handled."""

    kind: Literal["latency"]
    latency: HoldDuration


class HttpErrorSpec(_RequestSpec):
    """``http_error``: matching requests are answered ``status``; ``after_processing`` applies them first."""

    kind: Literal["http_error"]
    status: int = Field(ge=400, le=599)
    after_processing: bool = False


class HoldSpec(_RequestSpec):
    """``hold``: the answer is held ``delay`` (after processing unless ``after_processing: false``).

    With ``status`` the held answer is that error instead of the real one.
    """

    kind: Literal["hold"]
    delay: HoldDuration
    status: int | None = Field(default=None, ge=400, le=599)
    after_processing: bool = True


class WsHandshake503Spec(_Drawn):
    """``ws_handshake_503``: WebSocket upgrades are answered HTTP 503 (a ``rate`` fraction of them)."""

    kind: Literal["ws_handshake_503"]


class WsSkipSeqSpec(_Drawn):
    """``ws_skip_seq``: a ``rate`` fraction of ``orderbook_delta`` frames each skip one ``seq`` number."""

    kind: Literal["ws_skip_seq"]


class WsDropSpec(_Spec):
    """``ws_drop``: abort every WebSocket connection at the start, and every ``every`` while active."""

    kind: Literal["ws_drop"]
    every: Duration | None = None

    @model_validator(mode="after")
    def _window(self) -> WsDropSpec:
        if self.every is not None and self.every <= 0:
            raise ValueError("every must be a positive duration")
        if self.every is None and self.for_ is not None:
            raise ValueError("ws_drop without 'every' is a one-shot action at its start: give 'every' or drop 'for'")
        return self


class WsInjectSpec(_Spec):
    """``ws_inject``: send ``frames`` (strings verbatim, objects as JSON) to every connection at the start."""

    kind: Literal["ws_inject"]
    frames: list[str | dict[str, Any]] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one_shot(self) -> WsInjectSpec:
        if self.for_ is not None:
            raise ValueError("ws_inject is a one-shot action at its start; it takes no 'for'")
        return self


class WsChannelDownSpec(_Spec):
    """``ws_channel_down``: subscriptions of ``channels`` end with error 10 and new ones are refused."""

    kind: Literal["ws_channel_down"]
    channels: list[str] = Field(min_length=1, max_length=len(WS_CHANNELS))

    @field_validator("channels")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in WS_CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown}; known: {', '.join(sorted(WS_CHANNELS))}")
        return list(dict.fromkeys(value))


class TradingPauseSpec(_Spec):
    """``trading_pause``: trading is paused while the fault is active (kalshi-api.md §3.1)."""

    kind: Literal["trading_pause"]


class ExchangePauseSpec(_Spec):
    """``exchange_pause``: the exchange is paused while the fault is active (kalshi-api.md §3.1)."""

    kind: Literal["exchange_pause"]


FaultSpec = Annotated[
    LatencySpec
    | HttpErrorSpec
    | HoldSpec
    | WsHandshake503Spec
    | WsSkipSeqSpec
    | WsDropSpec
    | WsInjectSpec
    | WsChannelDownSpec
    | TradingPauseSpec
    | ExchangePauseSpec,
    Field(discriminator="kind"),
]
"""One timed fault's spec, chosen by ``kind``."""

KINDS = (
    "latency",
    "http_error",
    "hold",
    "ws_handshake_503",
    "ws_drop",
    "ws_skip_seq",
    "ws_inject",
    "ws_channel_down",
    "trading_pause",
    "exchange_pause",
)
REQUEST_KINDS = frozenset({"latency", "http_error", "hold"})


class FaultBatch(BaseModel):
    """Body of ``POST /sim/v1/faults/timed``: one spec, or ``{"faults": [...]}`` (all or nothing)."""

    model_config = ConfigDict(extra="forbid")
    faults: list[FaultSpec] = Field(min_length=1, max_length=1000)


class Scenario(BaseModel):
    """A named list of timed faults (a scenario file, ``simulator/scenarios/*.yaml``)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = Field(default="", max_length=2000)
    seed: int | str | None = None
    faults: list[FaultSpec] = Field(min_length=1, max_length=1000)


class ScenarioLoad(BaseModel):
    """Body of ``POST /sim/v1/faults/scenario``: a scenario and the factor its schedule is scaled by."""

    model_config = ConfigDict(extra="forbid")
    scenario: Scenario
    time_scale: Annotated[Decimal, BeforeValidator(lambda v: Decimal(str(v)))] = Field(
        default=Decimal(1), gt=0, le=1000
    )


def validation_message(exc: ValidationError) -> str:
    """One line per problem, ``where: what``, from a pydantic error (for the control API's 400 details)."""
    lines = []
    for err in exc.errors():
        raw = list(err.get("loc", ()))
        # drop the union tag pydantic puts after a list index (``faults.0.latency.latency`` -> ``faults.0.latency``)
        loc = [str(p) for i, p in enumerate(raw) if not (p in KINDS and i > 0 and isinstance(raw[i - 1], int))]
        where = ".".join(p for p in loc if not p.startswith("function-"))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "union_tag_invalid":
            msg = f"unknown fault kind {err.get('input', {}).get('kind')!r}; known: {', '.join(KINDS)}"
        elif err.get("type") == "union_tag_not_found":
            msg = f"'kind' is required; one of: {', '.join(KINDS)}"
        elif err.get("type") == "extra_forbidden":
            msg = "not a field of this fault kind"
        where = where.replace("for_", "for")
        lines.append(f"{where}: {msg}" if where else msg)
    return "; ".join(lines)


class RouteTable:
    """The REST routes a fault may name: ``(method, template)`` pairs relative to ``/trade-api/v2``.

    A ``path`` is valid when it is a prefix of at least one route, segment by segment, where a template
    segment ``{name}`` matches any value and the last segment of the prefix may be partial
    (``/portfolio/ord`` matches ``/portfolio/orders``); a ``method`` is valid when one of those routes takes it.
    """

    def __init__(self, routes: Iterable[tuple[str, str]]) -> None:
        """Build from ``(method, path template)`` pairs (templates like ``/markets/{ticker}``)."""
        self.routes: list[tuple[str, list[str]]] = []
        for method, template in routes:
            if template.startswith(API_PREFIX):
                template = template[len(API_PREFIX) :]
            self.routes.append((method.upper(), [s for s in template.split("/") if s]))

    @staticmethod
    def _covers(prefix: list[str], template: list[str]) -> bool:
        if len(prefix) > len(template):
            return False
        last = len(prefix) - 1
        for i, part in enumerate(prefix):
            seg = template[i]
            if seg.startswith("{"):
                continue
            if seg != part and not (i == last and seg.startswith(part)):
                return False
        return True

    def check(self, path: str | None, method: str | None) -> None:
        """Raise ``ValueError`` naming the problem when no route matches ``path`` (and ``method``)."""
        prefix = [s for s in (path or "/").split("/") if s]
        matched = [m for m, template in self.routes if self._covers(prefix, template)]
        if not matched:
            raise ValueError(f"path {path!r} matches no route of the simulator's trade API under {API_PREFIX}")
        if method is not None and method not in matched:
            allowed = ", ".join(sorted(set(matched) - {"HEAD", "OPTIONS"}))
            raise ValueError(f"no route under {path or '/'!r} takes {method} (they take {allowed})")
