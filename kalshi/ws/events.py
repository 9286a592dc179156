"""What the WebSocket client reports: its typed errors, the events it synthesises, its state and counters.

Client events (:class:`Connected`, :class:`Disconnected`, :class:`ConnectionFailed`, :class:`SequenceGap`,
:class:`SubscriptionReset`, :class:`Resynced`) are delivered with the wire events (kalshi-api.md §6) to
listeners and to :meth:`kalshi.ws.KalshiWebSocketClient.events`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, TypeAlias

from kalshi.errors import KalshiError, KalshiUnavailableError
from kalshi.models.ws import ERROR_CODE_NAMES, WsEvent

__all__ = [
    "ClientEvent",
    "Connected",
    "ConnectionFailed",
    "ConnectionState",
    "Disconnected",
    "Listener",
    "Resynced",
    "SequenceGap",
    "SubscriptionReset",
    "WebSocketCommandError",
    "WebSocketCommandTimeout",
    "WebSocketDisconnected",
    "WebSocketUnavailable",
    "WsClientCounters",
    "WsItem",
]


class WebSocketUnavailable(KalshiUnavailableError):
    """The WebSocket upgrade was answered with HTTP 503 (the exchange's socket is down; §6.1).

    Counted separately (``WsClientCounters.handshake_503s``, state ``unavailable``) because Kalshi once
    served it for days: callers alert on it and fall back to REST polling instead of treating it as noise.
    Retryable; the client keeps retrying with backoff unless ``max_consecutive_failures`` is reached.
    """


class WebSocketDisconnected(KalshiUnavailableError):
    """The connection ended (or was not up) before a command got its reply; retryable."""


class WebSocketCommandTimeout(KalshiUnavailableError):
    """A command got no reply within ``command_timeout_s``; the connection was aborted and is being rebuilt."""


class WebSocketCommandError(KalshiError):
    """The exchange answered a command with an ``error`` frame (kalshi-api.md §6.3).

    Attributes:
        ws_code: the numeric WebSocket error code (e.g. 8 unknown channel, 9 authentication required).
        ws_message: the exchange's ``msg`` text.
        market_tickers: markets named in the error, when sent.

    """

    retryable = False

    def __init__(self, ws_code: int, ws_message: str, *, market_tickers: Sequence[str] | None = None) -> None:
        self.ws_code = ws_code
        self.ws_message = ws_message
        self.market_tickers = tuple(market_tickers) if market_tickers else None
        super().__init__(
            ws_message or ERROR_CODE_NAMES.get(ws_code, "error"),
            code=str(ws_code),
            details=ERROR_CODE_NAMES.get(ws_code),
            envelope=True,
        )


# --------------------------------------------------------------------------------------------------
# Client events (synthesised by the client; delivered with the wire events)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """The handshake succeeded (``connects`` = successful handshakes so far, 1 for the first)."""

    connects: int
    url: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection ended; every sid is gone (§6.4).

    ``reason``: ``closed`` (close frame), ``dropped`` (no close frame), ``silence``, ``command_timeout``,
    ``client_close`` or ``error``; ``error``: the exception that ended it, if any.
    """

    reason: str
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """A connection attempt failed; ``retry_in_s`` is the backoff before the next one (``None``: giving up).

    ``error`` is :class:`WebSocketUnavailable` for HTTP 503, :class:`~kalshi.errors.KalshiAuthError` for
    401/403 (never retried), else :class:`~kalshi.errors.KalshiUnavailableError` or
    :class:`~kalshi.errors.KalshiRejectedError`. ``failures`` counts consecutive failures.
    """

    error: KalshiError
    failures: int
    retry_in_s: float | None


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """``seq`` on ``sid`` was ``received_seq`` where ``expected_seq`` was due (§6.4).

    Delivered before the frame that revealed it. For ``orderbook_delta`` the books of ``market_tickers`` can no
    longer be trusted; the client resyncs them (``get_snapshot``, else a new subscription).
    """

    sid: int
    channel: str
    expected_seq: int
    received_seq: int
    market_tickers: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class SubscriptionReset:
    """A subscription is being re-created (terminal error 10/25, failed resync); ``old_sid`` is dead.

    For ``orderbook_delta`` the books of ``market_tickers`` are untrusted until the new snapshots arrive.
    """

    channel: str
    old_sid: int | None
    reason: str
    market_tickers: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Resynced:
    """A ``get_snapshot`` resync completed: fresh snapshots of ``market_tickers`` arrived on ``sid``."""

    sid: int
    market_tickers: tuple[str, ...]


ClientEvent: TypeAlias = Connected | Disconnected | ConnectionFailed | SequenceGap | SubscriptionReset | Resynced
"""Events the client synthesises (delivered to listeners and :meth:`KalshiWebSocketClient.events`)."""

Listener: TypeAlias = Callable[[Any, bytes | None, int], None]
"""``listener(event, raw, recv_ms)``: a :data:`~kalshi.models.ws.WsEvent` with its raw frame bytes, or a
:data:`ClientEvent` with ``raw=None``; ``recv_ms`` is the local wall clock (Unix ms) at receipt. Called
synchronously on the reader task in frame order: it must not block; exceptions are logged and swallowed."""


class WsItem(NamedTuple):
    """One item of :meth:`KalshiWebSocketClient.events`: the event and its local receipt time (Unix ms)."""

    event: WsEvent | ClientEvent
    recv_ms: int


class ConnectionState(StrEnum):
    """Where the client is.

    ``idle`` (not started), ``connecting``, ``connected`` (subscriptions being restored or restored),
    ``backoff`` (waiting to retry), ``unavailable`` (waiting after an HTTP 503), ``failed`` (gave up: auth
    error or ``max_consecutive_failures``), ``closed`` (closed by the caller).
    """

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKOFF = "backoff"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass
class WsClientCounters:
    """Plain counters of one client (a later layer exports them to Prometheus).

    All are cumulative ints except ``connected`` (bool) and ``frames_by_type`` (type name -> count).

    Attributes:
        connected: a connection is up now.
        connects: successful handshakes; reconnects: those after the first.
        connect_failures: failed attempts of any kind; handshake_503s: of which HTTP 503;
            auth_failures: of which HTTP 401/403.
        disconnects: connections that ended; silence_timeouts: of which for silence (nothing received for
            ``silence_timeout_s``); command_timeouts: commands left unanswered (connection aborted).
        gaps: seq gaps, all sids; resyncs: ``get_snapshot`` resyncs sent; resubscribes: subscriptions
            re-created (terminal errors, failed resyncs); terminal_errors: errors 10/25 received;
            error_frames: ``error`` frames received (all codes).
        frames: frames received; frames_by_type: per message type (``"malformed"`` for FrameError, the
            frame's own type for unknown ones); malformed_frames; unknown_messages.
        events_dropped: items dropped because the :meth:`~KalshiWebSocketClient.events` queue was full.
        listener_errors: exceptions raised by listeners.

    """

    connected: bool = False
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    handshake_503s: int = 0
    auth_failures: int = 0
    disconnects: int = 0
    silence_timeouts: int = 0
    command_timeouts: int = 0
    gaps: int = 0
    resyncs: int = 0
    resubscribes: int = 0
    terminal_errors: int = 0
    error_frames: int = 0
    frames: int = 0
    malformed_frames: int = 0
    unknown_messages: int = 0
    events_dropped: int = 0
    listener_errors: int = 0
    frames_by_type: dict[str, int] = field(default_factory=dict)
