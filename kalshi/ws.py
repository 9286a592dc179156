"""Kalshi WebSocket client: signed handshake, commands, per-sid seq tracking, resync and reconnect.

Protocol: kalshi-api.md §2 (handshake auth) and §6 (transport, commands, replies, error codes, envelope and
``seq`` rules, channels). Frames are parsed ONCE, at the edge, by :func:`kalshi.models.ws.parse_frame` and
handed, typed, to listeners (:meth:`KalshiWebSocketClient.add_listener`) and to an async iterator
(:meth:`KalshiWebSocketClient.events`). Order-book maintenance lives in :mod:`kalshi.feed`.

What the client guarantees

* **Handshake** (§2): when a :class:`~kalshi.signer.RequestSigner` is given, the upgrade carries the three
  ``KALSHI-ACCESS-*`` headers signed over ``timestamp_ms + "GET" + <URL path>`` (``/trade-api/ws/v2``, no
  query), freshly for every attempt. HTTP 401/403 raises :class:`~kalshi.errors.KalshiAuthError` out of
  :meth:`KalshiWebSocketClient.run` (not retried). HTTP 503 is its own condition,
  :class:`WebSocketUnavailable` (counted in ``handshake_503s``; state ``unavailable``), retried like other
  transient failures (connection refused, timeouts, 5xx, 429): exponential backoff with full jitter,
  ``uniform(0, min(backoff_max_s, backoff_initial_s * 2**failures))``. Other 4xx answers (a wrong URL)
  raise :class:`~kalshi.errors.KalshiRejectedError`.
* **Commands** (§6.2): ids increment from 1 on every connection; replies are matched by id with a timeout
  (``command_timeout_s``). A command that times out means the connection cannot be trusted: it is aborted
  and rebuilt. Error replies raise :class:`WebSocketCommandError` with the numeric code (§6.3).
* **Subscriptions survive reconnects**: :meth:`subscribe` returns :class:`Subscription` handles, one per
  channel as Kalshi acknowledges them; the handle's ``sid`` changes on every (re)subscription and is
  ``None`` while there is none. After a reconnect every handle is subscribed again (all sids are new,
  §6.4), which for ``orderbook_delta`` brings fresh snapshots. An order-book subscription with an empty
  market list is *dormant* (nothing is sent; Kalshi requires a market selector there).
* **seq** (§6.4): tracked per sid, never per market (one subscription spans many markets, so per-market
  numbers have gaps by design). ``seq != last + 1`` on a sid counts a gap and emits :class:`SequenceGap`
  (before the offending frame is delivered); on an ``orderbook_delta`` sid the books of that subscription
  are resynced with ``update_subscription`` / ``get_snapshot``, and if that fails or times out the
  subscription is re-created (:class:`SubscriptionReset`). Errors 10 and 25 (terminal) always re-create it.
  The first seq after a subscribe is accepted whatever it is.
* **Liveness** (§6.1): the library answers the server's pings; the client also pings (``ping_interval_s``,
  ``ping_timeout_s``; ``None`` disables). When NOTHING (no byte: frames, pings, pongs) arrives for
  ``silence_timeout_s`` the connection is aborted and rebuilt (``silence_timeouts``).
* **Bad input never crashes ingestion**: malformed frames (:class:`~kalshi.models.ws.FrameError`) and
  unknown message types (:class:`~kalshi.models.ws.UnknownMessage`) are counted, logged with the raw frame
  (truncated, rate limited) and delivered; exceptions raised by listeners are logged and swallowed.

Running it inside a heartbeating Temporal activity (the library knows nothing of Temporal)::

    client = KalshiWebSocketClient(ws_url, signer, silence_timeout_s=30)
    feed = MarketDataFeed(client)               # kalshi.feed: books + freshness
    async with client:                          # starts run() in the background
        await feed.add_markets(markets)
        while True:                             # cancellation (pause/stop) exits via CancelledError
            await asyncio.sleep(heartbeat_every_s)
            client.raise_if_failed()            # KalshiAuthError etc. surface here
            activity.heartbeat(feed.metrics())

Leaving the ``async with`` (normally or by cancellation) closes the socket and stops every task.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Final, NamedTuple, TypeAlias
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from kalshi.errors import (
    KalshiAuthError,
    KalshiError,
    KalshiRejectedError,
    KalshiUnavailableError,
    error_from_response,
    parse_error_body,
)
from kalshi.models.ws import (
    ERROR_CODE_NAMES,
    TERMINAL_ERROR_CODES,
    ErrorMessage,
    EventLifecycle,
    Fill,
    FrameError,
    MarketLifecycle,
    MarketPositionUpdate,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    Subscribed,
    SubscriptionInfo,
    Ticker,
    TickerV2,
    Trade,
    UnknownMessage,
    Unsubscribed,
    UserOrderUpdate,
    WsEvent,
    parse_frame,
)
from kalshi.signer import RequestSigner

__all__ = [
    "ORDERBOOK_CHANNEL",
    "ClientEvent",
    "Connected",
    "ConnectionFailed",
    "ConnectionState",
    "Disconnected",
    "KalshiWebSocketClient",
    "Listener",
    "Resynced",
    "SequenceGap",
    "Subscription",
    "SubscriptionReset",
    "WebSocketCommandError",
    "WebSocketCommandTimeout",
    "WebSocketDisconnected",
    "WebSocketUnavailable",
    "WsClientCounters",
    "WsItem",
]

log = logging.getLogger(__name__)

ORDERBOOK_CHANNEL: Final = "orderbook_delta"
"""The order-book channel (message types ``orderbook_snapshot`` / ``orderbook_delta``, §6.5)."""

_MARKET_SCOPED: Final = frozenset(
    {ORDERBOOK_CHANNEL, "ticker", "ticker_v2", "trade", "fill", "market_positions", "user_orders"}
)
"""Channels whose subscription takes a market selector (kalshi-api.md §6.5)."""

_RAW_LOG_LIMIT: Final = 500
"""Characters of a bad frame kept in a log line."""

_TYPE_NAMES: Final[dict[type, str]] = {
    OrderbookSnapshot: "orderbook_snapshot",
    OrderbookDelta: "orderbook_delta",
    Trade: "trade",
    Ticker: "ticker",
    TickerV2: "ticker_v2",
    Fill: "fill",
    MarketPositionUpdate: "market_position",
    UserOrderUpdate: "user_order",
    OrderGroupUpdate: "order_group_updates",
    MarketLifecycle: "market_lifecycle_v2",
    EventLifecycle: "event_lifecycle",
    Subscribed: "subscribed",
    Ok: "ok",
    Unsubscribed: "unsubscribed",
    ErrorMessage: "error",
    FrameError: "malformed",
}


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Subscriptions
# --------------------------------------------------------------------------------------------------


class Subscription:
    """A logical subscription to one channel that survives reconnects (kalshi-api.md §6.2).

    Attributes:
        channel: the channel name (``orderbook_delta``, ``trade``, ``fill``, ...).
        market_tickers: the markets (insertion order, unique), or ``None`` for "all markets" / a channel
            without markets. An empty tuple on a market-scoped channel makes the subscription dormant.
        sid: the exchange's current subscription id, ``None`` while not subscribed (disconnected, dormant,
            in flight, failed).
        last_seq: the last ``seq`` seen on ``sid`` (``None`` until the first).
        error: the last command error that left it unsubscribed (e.g. code 9), else ``None``; it is
            retried on the next connection.
        send_initial_snapshot: the ``ticker`` option of §6.2.

    """

    __slots__ = (
        "_closed",
        "_lock",
        "_resync_task",
        "_resync_tickers",
        "channel",
        "error",
        "last_seq",
        "market_tickers",
        "send_initial_snapshot",
        "sid",
    )

    def __init__(self, channel: str, market_tickers: tuple[str, ...] | None, send_initial_snapshot: bool) -> None:
        self.channel = channel
        self.market_tickers = market_tickers
        self.send_initial_snapshot = send_initial_snapshot
        self.sid: int | None = None
        self.last_seq: int | None = None
        self.error: KalshiError | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._resync_tickers: set[str] | None = None
        self._resync_task: asyncio.Task[None] | None = None

    @property
    def dormant(self) -> bool:
        """A market-scoped subscription with no market: nothing to subscribe (Kalshi needs a selector)."""
        return self.market_tickers == () and self.channel in _MARKET_SCOPED

    def __repr__(self) -> str:
        markets = "all" if self.market_tickers is None else len(self.market_tickers)
        return f"<Subscription {self.channel} sid={self.sid} markets={markets}>"


class _Pending:
    """A command awaiting its replies: ``expected`` matching frames, or an error."""

    __slots__ = ("expected", "future", "items", "kind", "subs")

    def __init__(self, kind: str, expected: int, future: asyncio.Future[list[Any]]) -> None:
        self.kind = kind
        self.expected = expected
        self.future = future
        self.items: list[Any] = []
        self.subs: dict[str, Subscription] = {}


class _TrackedConnection(ClientConnection):
    """A websockets connection that records when bytes last arrived (pings included) for the silence timer."""

    last_rx: float = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the silence clock with the connection."""
        self.last_rx = time.monotonic()
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Note the receipt time of every chunk of bytes, then let websockets process it."""
        self.last_rx = time.monotonic()
        super().data_received(data)


class _Session:
    """One connection: its socket, command ids, pending replies and sid bindings."""

    def __init__(self, ws: _TrackedConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, _Pending] = {}
        self.by_sid: dict[int, Subscription] = {}
        self.reason = "closed"
        self.error: BaseException | None = None
        self.alive = True

    def abort(self, reason: str) -> None:
        """Drop the TCP connection now (no close handshake); the reader then ends."""
        if self.alive:
            self.reason = reason
        self.alive = False
        transport = self.ws.transport
        if transport is not None:
            transport.abort()


def _truncate(raw: Any, limit: int = _RAW_LOG_LIMIT) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


# --------------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------------


class KalshiWebSocketClient:
    """A reconnecting Kalshi WebSocket client (kalshi-api.md §2, §6); see the module docstring.

    Args:
        url: ``ws://`` or ``wss://`` URL ending in ``/trade-api/ws/v2`` (``KalshiEnvironment.ws_url``).
        signer: signs the handshake (§2); ``None`` connects unauthenticated (public channels only, where the
            exchange allows it).
        ping_interval_s: seconds between the client's own pings (``None``: none; the server's pings are
            answered either way).
        ping_timeout_s: seconds to wait for the pong of a client ping before the library closes the
            connection (``None``: wait forever).
        silence_timeout_s: reconnect when nothing at all arrives for this many seconds (§6.1 advice: ~30).
        open_timeout_s: handshake timeout, seconds.
        command_timeout_s: seconds to wait for a command's replies (a timeout aborts the connection).
        backoff_initial_s, backoff_max_s: full-jitter exponential backoff between connection attempts,
            seconds: ``uniform(0, min(backoff_max_s, backoff_initial_s * 2**failures))``.
        max_consecutive_failures: give up (``run`` raises the last error) after this many failed attempts
            in a row; ``None`` retries forever.
        max_frame_bytes: largest frame accepted, bytes.
        event_queue_size: bound of the :meth:`events` queue (items beyond it are dropped and counted).
        compression: ``"deflate"`` to offer permessage-deflate, ``None`` (default) for none.
        rng: random source of the jitter (inject for reproducible tests).

    Raises:
        ValueError: a URL that is not ``ws(s)://host/...`` or non-positive timeouts.

    """

    def __init__(
        self,
        url: str,
        signer: RequestSigner | None = None,
        *,
        ping_interval_s: float | None = 10.0,
        ping_timeout_s: float | None = 10.0,
        silence_timeout_s: float = 30.0,
        open_timeout_s: float = 10.0,
        command_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_consecutive_failures: int | None = None,
        max_frame_bytes: int = 4 * 1024 * 1024,
        event_queue_size: int = 100_000,
        compression: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ValueError(f"WebSocket URL must be ws:// or wss://host/..., got {url!r}")
        for name, value in (
            ("silence_timeout_s", silence_timeout_s),
            ("open_timeout_s", open_timeout_s),
            ("command_timeout_s", command_timeout_s),
            ("backoff_max_s", backoff_max_s),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if backoff_initial_s < 0:
            raise ValueError(f"backoff_initial_s must be >= 0, got {backoff_initial_s}")
        self.url = url
        self.path = parts.path or "/"
        self._signer = signer
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.silence_timeout_s = silence_timeout_s
        self.open_timeout_s = open_timeout_s
        self.command_timeout_s = command_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.max_consecutive_failures = max_consecutive_failures
        self.max_frame_bytes = max_frame_bytes
        self.event_queue_size = event_queue_size
        self.compression = compression
        self._rng = rng or random.Random()
        self.counters = WsClientCounters()
        self.state = ConnectionState.IDLE
        self.last_error: KalshiError | None = None
        self.last_frame_wall_ms: int | None = None
        self.last_frame_monotonic: float | None = None
        self._last_rx: float | None = None
        self._subs: list[Subscription] = []
        self._listeners: list[Listener] = []
        self._queue: asyncio.Queue[WsItem | None] | None = None
        self._session: _Session | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._fatal: BaseException | None = None
        self._closing = False
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._bad_logged: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<KalshiWebSocketClient {self.url} {self.state} subs={len(self._subs)}>"

    # ---------------------------------------------------------------------------------------------
    # lifecycle
    # ---------------------------------------------------------------------------------------------

    async def __aenter__(self) -> KalshiWebSocketClient:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`run` in a background task (idempotent) and return the task."""
        if self._run_task is None:
            task = asyncio.create_task(self._run_guarded(), name=f"kalshi-ws {self.url}")
            # the failure is surfaced by raise_if_failed / wait_ready / events, not as "never retrieved"
            task.add_done_callback(lambda t: None if t.cancelled() else t.exception())
            self._run_task = task
        return self._run_task

    async def _run_guarded(self) -> None:
        try:
            await self.run()
        except Exception as exc:
            self._fatal = exc
            raise

    async def close(self) -> None:
        """Close the connection and stop the background task (idempotent; safe under cancellation)."""
        self._closing = True
        self._wake.set()
        session = self._session
        task = self._run_task
        try:
            if session is not None and session.alive:
                session.reason = "client_close"
                session.alive = False
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(session.ws.close(), timeout=2.0)
        finally:  # also when the caller is cancelled meanwhile: never leave the socket or the task behind
            if session is not None:
                session.abort("client_close")
            if task is not None and not task.done():
                task.cancel()
            if self.state is not ConnectionState.FAILED:
                self.state = ConnectionState.CLOSED
        if task is not None and not task.done():
            await asyncio.wait({task})  # propagates our own cancellation, never the task's outcome
        self._end_queue()

    def raise_if_failed(self) -> None:
        """Re-raise the error that stopped the client (auth error, too many failures), if any.

        Raises:
            KalshiAuthError, KalshiRejectedError, KalshiUnavailableError: what stopped :meth:`run`.

        """
        if self._fatal is not None:
            raise self._fatal

    async def wait_ready(self, timeout_s: float | None = None) -> None:
        """Wait until connected with every subscription restored.

        Raises:
            TimeoutError: not ready within ``timeout_s`` seconds.
            KalshiAuthError etc.: the client stopped for good meanwhile.

        """
        self.raise_if_failed()
        waiter = asyncio.ensure_future(self._ready.wait())
        task = self._run_task
        try:
            waits: set[asyncio.Future[Any]] = {waiter}
            if task is not None:
                waits.add(task)
            done, _ = await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if waiter in done and self._ready.is_set():
            return
        self.raise_if_failed()
        if task is not None and task.done():
            raise WebSocketDisconnected("the client is closed")
        raise TimeoutError(f"WebSocket not ready within {timeout_s} s (state {self.state})")

    @property
    def connected(self) -> bool:
        """Whether a connection is up now (subscriptions may still be being restored)."""
        return self._session is not None and self._session.alive

    @property
    def last_receive_monotonic(self) -> float | None:
        """``time.monotonic()`` seconds when bytes last arrived (frames, pings, pongs), or ``None`` if never.

        This is the liveness the silence timeout watches; a quiet market on a healthy connection still
        receives the server's pings (§6.1).
        """
        session = self._session
        return session.ws.last_rx if session is not None else self._last_rx

    @property
    def ready(self) -> bool:
        """Whether connected with every subscription restored."""
        return self._ready.is_set()

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Every live subscription handle (subscribed, pending or dormant)."""
        return tuple(self._subs)

    def subscription_for_sid(self, sid: int) -> Subscription | None:
        """The handle currently bound to ``sid`` on this connection, or ``None``."""
        session = self._session
        return session.by_sid.get(sid) if session is not None else None

    # ---------------------------------------------------------------------------------------------
    # listeners and the event iterator
    # ---------------------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event, raw, recv_ms)`` for every event (see :data:`Listener`); returns a remover."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def events(self) -> AsyncIterator[WsItem]:
        """Iterate over every event (wire and client events) with its receipt time, from this call on.

        The queue holds up to ``event_queue_size`` items; beyond that items are dropped and counted
        (``events_dropped``): consume promptly or use a listener. The iteration ends when the client is
        closed, and raises the fatal error when it failed (e.g. :class:`~kalshi.errors.KalshiAuthError`).
        Only one iterator at a time is supported.
        """
        if self._queue is None:
            self._queue = asyncio.Queue(self.event_queue_size)
        return self._iter_events(self._queue)

    async def _iter_events(self, queue: asyncio.Queue[WsItem | None]) -> AsyncIterator[WsItem]:
        while True:
            item = await queue.get()
            if item is None:
                self.raise_if_failed()
                return
            yield item

    def _end_queue(self) -> None:
        queue = self._queue
        if queue is not None:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                    self.counters.events_dropped += 1
            queue.put_nowait(None)

    def _emit(self, event: Any, raw: bytes | None, recv_ms: int) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event, raw, recv_ms)
            except Exception:
                self.counters.listener_errors += 1
                log.exception("WebSocket listener failed on %s", type(event).__name__)
        queue = self._queue
        if queue is not None:
            try:
                queue.put_nowait(WsItem(event, recv_ms))
            except asyncio.QueueFull:
                self.counters.events_dropped += 1

    def _emit_client(self, event: ClientEvent) -> None:
        self._emit(event, None, time.time_ns() // 1_000_000)

    # ---------------------------------------------------------------------------------------------
    # connection loop
    # ---------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, restore subscriptions, read; reconnect with backoff until :meth:`close`.

        Returns when closed. Normally started by :meth:`start` / ``async with``.

        Raises:
            KalshiAuthError: the handshake was refused with HTTP 401/403 (never retried).
            KalshiRejectedError: the handshake was refused with another non-retryable 4xx (wrong URL).
            KalshiUnavailableError: (incl. :class:`WebSocketUnavailable`) ``max_consecutive_failures``
                failed attempts in a row.

        """
        failures = 0
        while not self._closing:
            self.state = ConnectionState.CONNECTING
            try:
                ws = await self._open()
            except KalshiError as exc:
                self.last_error = exc
                self.counters.connect_failures += 1
                failures += 1
                fatal = not exc.retryable or (
                    self.max_consecutive_failures is not None and failures >= self.max_consecutive_failures
                )
                if fatal:
                    self.state = ConnectionState.FAILED
                    self._fatal = exc
                    self._emit_client(ConnectionFailed(exc, failures, None))
                    log.error("Kalshi WebSocket %s: giving up: %s", self.url, exc)
                    self._end_queue()
                    raise
                delay = self._backoff(failures - 1)
                unavailable = isinstance(exc, WebSocketUnavailable)
                self.state = ConnectionState.UNAVAILABLE if unavailable else ConnectionState.BACKOFF
                self._emit_client(ConnectionFailed(exc, failures, delay))
                log.warning(
                    "Kalshi WebSocket %s: connect failed (%s, %d in a row); retrying in %.2f s",
                    self.url,
                    exc,
                    failures,
                    delay,
                )
                await self._sleep(delay)
                continue
            healthy = await self._serve(ws)
            if self._closing:
                break
            failures = 0 if healthy else failures + 1
            delay = self._backoff(failures)
            self.state = ConnectionState.BACKOFF
            log.info("Kalshi WebSocket %s: reconnecting in %.2f s", self.url, delay)
            await self._sleep(delay)
        self.state = ConnectionState.CLOSED
        self._end_queue()

    def _backoff(self, failures: int) -> float:
        """Full-jitter exponential backoff in seconds for the given number of consecutive failures."""
        ceiling = min(self.backoff_max_s, self.backoff_initial_s * (2 ** min(failures, 62)))
        return self._rng.uniform(0.0, ceiling)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        if self._closing:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _open(self) -> _TrackedConnection:
        """One handshake attempt; typed errors for every failure (see :meth:`run`)."""
        headers = self._signer.headers("GET", self.path) if self._signer is not None else None
        try:
            ws = await connect(
                self.url,
                additional_headers=headers,
                open_timeout=self.open_timeout_s,
                ping_interval=self.ping_interval_s,
                ping_timeout=self.ping_timeout_s,
                close_timeout=2.0,
                max_size=self.max_frame_bytes,
                max_queue=1024,
                compression=self.compression,
                create_connection=_TrackedConnection,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body or b""
            if status == 503:
                self.counters.handshake_503s += 1
                info = parse_error_body(body)
                raise WebSocketUnavailable(
                    info.message or "WebSocket unavailable (HTTP 503)",
                    status=503,
                    code=info.code,
                    details=info.details,
                    method="GET",
                    path=self.path,
                    envelope=info.envelope,
                ) from None
            if status in (401, 403):
                self.counters.auth_failures += 1
            err = error_from_response(status, body, method="GET", path=self.path)
            if isinstance(err, KalshiAuthError | KalshiUnavailableError | KalshiRejectedError):
                raise err from None
            raise KalshiRejectedError(
                err.message, status=status, code=err.code, details=err.details, method="GET", path=self.path
            ) from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise KalshiUnavailableError(
                f"WebSocket connect failed: {type(exc).__name__}: {exc}", method="GET", path=self.path
            ) from exc
        assert isinstance(ws, _TrackedConnection)
        return ws

    async def _serve(self, ws: _TrackedConnection) -> bool:
        """Run one connection to its end; return whether it was healthy (every subscription restored)."""
        session = _Session(ws)
        self._session = session
        c = self.counters
        c.connected = True
        c.connects += 1
        if c.connects > 1:
            c.reconnects += 1
        self.state = ConnectionState.CONNECTED
        self.last_error = None
        log.info("Kalshi WebSocket %s: connected (%d)", self.url, c.connects)
        self._emit_client(Connected(c.connects, self.url))
        reader = asyncio.create_task(self._read(session), name="kalshi-ws-reader")
        watchdog = asyncio.create_task(self._watchdog(session), name="kalshi-ws-watchdog")
        restore = asyncio.create_task(self._restore(session), name="kalshi-ws-restore")
        healthy = False
        try:
            done, _ = await asyncio.wait({reader, restore}, return_when=asyncio.FIRST_COMPLETED)
            if restore in done:
                healthy = restore.result()
                if healthy and session.alive:
                    self._ready.set()
                await reader
        finally:
            self._ready.clear()
            for task in (watchdog, reader, restore):
                if not task.done():
                    task.cancel()
            for task in (watchdog, reader, restore):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            session.abort(session.reason)
            self._last_rx = ws.last_rx
            self._session = None
            for pending in session.pending.values():
                if not pending.future.done():
                    pending.future.set_exception(WebSocketDisconnected(f"connection {session.reason}"))
                    pending.future.exception()  # mark retrieved
            session.pending.clear()
            for sub in self._subs:
                sub.sid = None
                sub.last_seq = None
            session.by_sid.clear()
            c.connected = False
            c.disconnects += 1
            log.info("Kalshi WebSocket %s: disconnected (%s)", self.url, session.reason)
            self._emit_client(Disconnected(session.reason, session.error))
        return healthy

    async def _read(self, session: _Session) -> None:
        ws = session.ws
        try:
            while True:
                raw = await ws.recv(decode=False)
                try:
                    self._on_frame(session, raw)
                except Exception:  # a bug here must not stop ingestion
                    log.exception("Kalshi WebSocket: internal error on frame %s", _truncate(raw))
        except ConnectionClosed as exc:
            if session.alive:
                session.reason = "dropped" if exc.rcvd is None else "closed"
                session.error = exc
        except Exception as exc:
            log.exception("Kalshi WebSocket %s: reader failed", self.url)
            if session.alive:
                session.reason = "error"
                session.error = exc
        finally:
            session.alive = False

    async def _watchdog(self, session: _Session) -> None:
        timeout = self.silence_timeout_s
        while session.alive:
            idle = time.monotonic() - session.ws.last_rx
            if idle >= timeout:
                self.counters.silence_timeouts += 1
                log.warning("Kalshi WebSocket %s: nothing received for %.1f s; reconnecting", self.url, idle)
                session.abort("silence")
                return
            await asyncio.sleep(timeout - idle)

    # ---------------------------------------------------------------------------------------------
    # frames
    # ---------------------------------------------------------------------------------------------

    def _log_bad(self, kind: str, raw: Any, reason: str) -> None:
        """Log a bad frame with its raw text: the first 20 of each kind, then every 1000th."""
        n = self._bad_logged.get(kind, 0) + 1
        self._bad_logged[kind] = n
        if n <= 20 or n % 1000 == 0:
            log.warning("Kalshi WebSocket %s frame #%d (%s): %s", kind, n, reason, _truncate(raw))

    def _on_frame(self, session: _Session, raw: bytes) -> None:
        recv_ms = time.time_ns() // 1_000_000
        self.last_frame_wall_ms = recv_ms
        self.last_frame_monotonic = time.monotonic()
        event = parse_frame(raw)
        c = self.counters
        c.frames += 1
        kind = type(event)
        name = _TYPE_NAMES.get(kind)
        if name is None:
            name = event.type if isinstance(event, UnknownMessage) else kind.__name__
        by_type = c.frames_by_type
        by_type[name] = by_type.get(name, 0) + 1
        # seq counts every frame of the sid, also one we cannot read (its envelope still numbered it)
        sid = event.sid
        seq = event.seq
        if sid is not None and seq is not None:
            sub = session.by_sid.get(sid)
            if sub is not None:
                last = sub.last_seq
                if last is not None and seq != last + 1:
                    self._on_gap(sub, last + 1, seq, recv_ms)
                sub.last_seq = seq if last is None or seq > last else last
        if kind is FrameError:
            assert isinstance(event, FrameError)
            c.malformed_frames += 1
            self._log_bad("malformed", raw, event.reason)
        elif kind is UnknownMessage:
            c.unknown_messages += 1
            self._log_bad("unknown-type", raw, name)
        else:
            if event.id is not None:
                self._on_reply(session, event)
            if kind is ErrorMessage:
                assert isinstance(event, ErrorMessage)
                self._on_error_frame(session, event, raw)
        self._emit(event, raw, recv_ms)

    def _on_reply(self, session: _Session, event: WsEvent) -> None:
        assert event.id is not None
        pending = session.pending.get(event.id)
        if pending is None or pending.future.done():
            return
        kind = type(event)
        if kind is ErrorMessage:
            assert isinstance(event, ErrorMessage)
            session.pending.pop(event.id, None)
            pending.future.set_exception(
                WebSocketCommandError(event.code, event.message, market_tickers=event.market_tickers)
            )
            return
        if pending.kind == "subscribe" and kind is Subscribed:
            assert isinstance(event, Subscribed) and event.sid is not None
            sub = pending.subs.pop(event.channel, None)
            if sub is not None:
                sub.sid = event.sid
                sub.last_seq = None
                sub.error = None
                session.by_sid[event.sid] = sub
        elif pending.kind == "unsubscribe" and kind is Unsubscribed:
            if event.sid is not None:
                session.by_sid.pop(event.sid, None)
        elif not ((pending.kind == "snapshot" and kind is OrderbookSnapshot) or (pending.kind == "ok" and kind is Ok)):
            return
        pending.items.append(event)
        if len(pending.items) >= pending.expected:
            session.pending.pop(event.id, None)
            pending.future.set_result(pending.items)

    def _on_error_frame(self, session: _Session, event: ErrorMessage, raw: bytes) -> None:
        self.counters.error_frames += 1
        sub = session.by_sid.get(event.sid) if event.sid is not None else None
        if event.code in TERMINAL_ERROR_CODES:
            self.counters.terminal_errors += 1
            log.warning("Kalshi WebSocket terminal error %d on sid %s: %s", event.code, event.sid, event.message)
            if sub is not None:
                session.by_sid.pop(sub.sid or 0, None)
                old_sid = sub.sid
                sub.sid = None
                sub.last_seq = None
                self._schedule(self._resubscribe(sub, session, old_sid, f"error {event.code}: {event.message}"))
        elif event.id is None:
            self._log_bad(f"error-{event.code}", raw, event.message)

    def _on_gap(self, sub: Subscription, expected: int, received: int, recv_ms: int) -> None:
        self.counters.gaps += 1
        assert sub.sid is not None
        log.warning(
            "Kalshi WebSocket seq gap on sid %d (%s): expected %d, got %d", sub.sid, sub.channel, expected, received
        )
        self._emit(SequenceGap(sub.sid, sub.channel, expected, received, sub.market_tickers), None, recv_ms)
        if sub.channel == ORDERBOOK_CHANNEL:
            self.request_resync(sub)

    def _schedule(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        task.add_done_callback(_log_task_failure)

    # ---------------------------------------------------------------------------------------------
    # commands
    # ---------------------------------------------------------------------------------------------

    def _live(self) -> _Session | None:
        session = self._session
        return session if session is not None and session.alive else None

    async def _command(
        self,
        session: _Session,
        cmd: str,
        params: dict[str, Any] | None,
        kind: str,
        expected: int,
        subs: dict[str, Subscription] | None = None,
    ) -> list[Any]:
        """Send one command on ``session`` and wait for ``expected`` replies of ``kind``.

        Raises:
            WebSocketCommandError: an ``error`` reply.
            WebSocketDisconnected: the connection ended first.
            WebSocketCommandTimeout: no reply within ``command_timeout_s`` (the connection is aborted).

        """
        if not session.alive:
            raise WebSocketDisconnected("not connected")
        cmd_id = next(session.ids)
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        pending = _Pending(kind, expected, future)
        if subs:
            pending.subs = dict(subs)
        session.pending[cmd_id] = pending
        frame: dict[str, Any] = {"id": cmd_id, "cmd": cmd}
        if params is not None:
            frame["params"] = params
        try:
            await session.ws.send(json.dumps(frame, separators=(",", ":")))
        except ConnectionClosed as exc:
            session.pending.pop(cmd_id, None)
            raise WebSocketDisconnected(f"connection closed while sending {cmd}") from exc
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=self.command_timeout_s)
        except asyncio.CancelledError:
            session.pending.pop(cmd_id, None)
            future.cancel()
            raise
        except TimeoutError:
            session.pending.pop(cmd_id, None)
            if future.done():
                return future.result()
            future.cancel()
            self.counters.command_timeouts += 1
            log.warning("Kalshi WebSocket %s: no reply to %s #%d; reconnecting", self.url, cmd, cmd_id)
            session.abort("command_timeout")
            raise WebSocketCommandTimeout(f"no reply to {cmd} within {self.command_timeout_s} s") from None

    def _subscribe_params(self, subs: Sequence[Subscription]) -> dict[str, Any]:
        first = subs[0]
        params: dict[str, Any] = {"channels": [s.channel for s in subs]}
        if first.market_tickers is not None:
            params["market_tickers"] = list(first.market_tickers)
        if any(s.send_initial_snapshot for s in subs):
            params["send_initial_snapshot"] = True
        return params

    async def _subscribe_on(self, session: _Session, subs: Sequence[Subscription]) -> None:
        """Subscribe ``subs`` (same market list) in one command; bind their sids. Locks held by the caller."""
        await self._command(
            session,
            "subscribe",
            self._subscribe_params(subs),
            "subscribe",
            len(subs),
            {s.channel: s for s in subs},
        )

    async def subscribe(
        self,
        channels: str | Iterable[str],
        market_tickers: Iterable[str] | None = None,
        *,
        send_initial_snapshot: bool = False,
    ) -> list[Subscription]:
        """Subscribe to ``channels`` for ``market_tickers`` (``None``: all markets / no selector), §6.2.

        Equivalent to :meth:`new_subscriptions` then :meth:`activate`. Returns one :class:`Subscription` per
        channel. When connected it waits for the ``subscribed`` replies; when not (or the connection drops
        meanwhile) it returns at once and the subscriptions are made on the next connection (their ``sid`` is
        ``None`` until then). An empty ``market_tickers`` makes market-scoped subscriptions dormant until
        :meth:`update_subscription` adds markets.

        Raises:
            ValueError: no channel, or a channel listed twice.
            WebSocketCommandError: the exchange refused (8 unknown channel, 9 authentication required, 14
                market ticker required, ...); the subscriptions are then forgotten.

        """
        subs = self.new_subscriptions(channels, market_tickers, send_initial_snapshot=send_initial_snapshot)
        await self.activate(subs)
        return subs

    def new_subscriptions(
        self,
        channels: str | Iterable[str],
        market_tickers: Iterable[str] | None = None,
        *,
        send_initial_snapshot: bool = False,
    ) -> list[Subscription]:
        """Create and register subscription handles without sending anything (see :meth:`subscribe`).

        They are subscribed by :meth:`activate` or on the next connection. Useful when the caller must hold
        the handle before the first frame arrives (a frame can be delivered before :meth:`subscribe`
        returns): :class:`kalshi.feed.MarketDataFeed` accepts frames of its own sid only.

        Raises:
            ValueError: no channel, or a channel listed twice.

        """
        names = [channels] if isinstance(channels, str) else list(channels)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"channels must be unique and non-empty, got {names!r}")
        tickers = None if market_tickers is None else tuple(dict.fromkeys(market_tickers))
        subs = [
            Subscription(name, tickers if name in _MARKET_SCOPED else None, send_initial_snapshot) for name in names
        ]
        self._subs.extend(subs)
        return subs

    async def activate(self, subs: Sequence[Subscription]) -> None:
        """Subscribe registered handles now (one command) if connected; otherwise the next connection will.

        Raises:
            WebSocketCommandError: the exchange refused; the handles are then forgotten.

        """
        if self._live() is None or all(s.dormant for s in subs):
            return
        async with contextlib.AsyncExitStack() as stack:
            for s in subs:
                await stack.enter_async_context(s._lock)
            # a reconnect may have restored some of them while we waited for the locks
            active = [s for s in subs if not s.dormant and s.sid is None and not s._closed]
            session = self._live()
            if session is None or not active:
                return
            try:
                await self._subscribe_on(session, active)
            except WebSocketCommandError:
                for s in subs:
                    self._forget(s)
                raise
            except (WebSocketDisconnected, WebSocketCommandTimeout):
                pass  # restored on the next connection

    def _forget(self, sub: Subscription) -> None:
        sub._closed = True
        with contextlib.suppress(ValueError):
            self._subs.remove(sub)
        if sub._resync_task is not None:
            sub._resync_task.cancel()

    async def unsubscribe(self, subs: Subscription | Iterable[Subscription]) -> None:
        """End subscriptions (§6.2 ``unsubscribe``): forget them and tell the exchange when subscribed.

        Raises:
            WebSocketCommandError: the exchange refused (7 unknown sid); the handles are forgotten anyway.

        """
        items = [subs] if isinstance(subs, Subscription) else list(subs)
        for s in items:
            self._forget(s)
        session = self._live()
        live = [s for s in items if s.sid is not None]
        if session is None or not live:
            for s in items:
                s.sid = None
            return
        sids = [s.sid for s in live]
        try:
            await self._command(session, "unsubscribe", {"sids": sids}, "unsubscribe", len(sids))
        except (WebSocketDisconnected, WebSocketCommandTimeout):
            pass
        finally:
            for s in items:
                if s.sid is not None:
                    session.by_sid.pop(s.sid, None)
                s.sid = None

    async def update_subscription(
        self, sub: Subscription, action: str, market_tickers: Iterable[str] | None = None
    ) -> tuple[str, ...] | None:
        """Change a subscription's markets or ask for fresh snapshots (§6.2 ``update_subscription``).

        Args:
            sub: the handle.
            action: ``add_markets``, ``delete_markets`` (update the market list, also while disconnected:
                it applies on the next connection) or ``get_snapshot`` (``orderbook_delta`` only: one fresh
                ``orderbook_snapshot`` per market, carrying the command id; waits until all arrived; a
                no-op while not subscribed, since the next subscription brings snapshots anyway).
            market_tickers: the markets; for ``get_snapshot`` ``None`` means every market of ``sub``.

        Returns:
            The subscription's market list afterwards (``None`` for ``get_snapshot``).

        Raises:
            ValueError: unknown action, missing tickers, or a market action on an all-markets subscription.
            WebSocketCommandError: the exchange refused.
            WebSocketCommandTimeout: ``get_snapshot`` got no answer in time (the connection is rebuilt).
            WebSocketDisconnected: ``get_snapshot`` was interrupted by a disconnect.

        """
        tickers = None if market_tickers is None else tuple(dict.fromkeys(market_tickers))
        if action not in ("add_markets", "delete_markets", "get_snapshot"):
            raise ValueError(f"unknown action {action!r}")
        async with sub._lock:
            if action == "get_snapshot":
                await self._get_snapshot_locked(sub, tickers)
                return None
            if not tickers:
                raise ValueError(f"{action} needs market tickers")
            if sub.market_tickers is None:
                raise ValueError(f"{sub.channel} subscription covers all markets; nothing to {action}")
            before = sub.market_tickers
            if action == "add_markets":
                changed = tuple(t for t in tickers if t not in before)
                sub.market_tickers = before + changed
            else:
                changed = tuple(t for t in tickers if t in before)
                sub.market_tickers = tuple(t for t in before if t not in set(changed))
            session = self._live()
            if not changed or session is None or sub._closed:
                return sub.market_tickers
            try:
                if sub.sid is None:
                    if not sub.dormant:
                        await self._subscribe_on(session, [sub])
                elif sub.dormant:
                    sid = sub.sid
                    await self._command(session, "unsubscribe", {"sids": [sid]}, "unsubscribe", 1)
                    session.by_sid.pop(sid, None)
                    sub.sid = None
                    sub.last_seq = None
                else:
                    params = {"sid": sub.sid, "action": action, "market_tickers": list(changed)}
                    await self._command(session, "update_subscription", params, "ok", 1)
            except (WebSocketDisconnected, WebSocketCommandTimeout):
                pass  # the desired list applies on the next connection
            return sub.market_tickers

    async def _get_snapshot_locked(self, sub: Subscription, tickers: tuple[str, ...] | None) -> None:
        if sub.channel != ORDERBOOK_CHANNEL:
            raise ValueError("get_snapshot is for orderbook_delta subscriptions")
        session = self._live()
        if session is None or sub.sid is None:
            return
        wanted = tickers if tickers is not None else sub.market_tickers or ()
        if not wanted:
            return
        params = {"sid": sub.sid, "action": "get_snapshot", "market_tickers": list(wanted)}
        await self._command(session, "update_subscription", params, "snapshot", len(wanted))

    async def list_subscriptions(self) -> tuple[SubscriptionInfo, ...]:
        """Ask the exchange for its view of this connection's subscriptions (§6.2).

        Also a round-trip barrier: when it returns, every frame the exchange sent before the reply has been
        delivered to listeners.

        Raises:
            WebSocketDisconnected: not connected.
            WebSocketCommandTimeout, WebSocketCommandError: as :meth:`_command`.

        """
        session = self._live()
        if session is None:
            raise WebSocketDisconnected("not connected")
        items = await self._command(session, "list_subscriptions", None, "ok", 1)
        reply = items[0]
        assert isinstance(reply, Ok)
        return reply.subscriptions or ()

    # ---------------------------------------------------------------------------------------------
    # restoring, resyncing, resubscribing
    # ---------------------------------------------------------------------------------------------

    async def _restore(self, session: _Session) -> bool:
        """Subscribe every handle again on a new connection (all sids are new, §6.4)."""
        for sub in list(self._subs):
            if sub.dormant or sub._closed:
                continue
            async with sub._lock:
                if not session.alive:
                    return False
                if sub.sid is not None or sub._closed or sub.dormant:
                    continue
                try:
                    await self._subscribe_on(session, [sub])
                except WebSocketCommandError as exc:
                    sub.error = exc
                    log.error("Kalshi WebSocket: cannot restore %r: %s", sub, exc)
                except (WebSocketDisconnected, WebSocketCommandTimeout):
                    return False
        return session.alive

    def request_resync(self, sub: Subscription, market_tickers: Iterable[str] | None = None) -> None:
        """Resync order books of ``sub``: ``get_snapshot`` for ``market_tickers`` (``None``: all of them).

        Runs in the background, one resync at a time per subscription (requests arriving meanwhile are
        merged). If ``get_snapshot`` fails or times out, the subscription is re-created instead. A no-op
        while ``sub`` is not subscribed (the next subscription brings fresh snapshots anyway).
        """
        if sub.channel != ORDERBOOK_CHANNEL or sub._closed:
            return
        wanted = set(sub.market_tickers or ()) if market_tickers is None else set(market_tickers)
        if sub._resync_tickers is None:
            sub._resync_tickers = wanted
        else:
            sub._resync_tickers |= wanted
        if sub._resync_task is None or sub._resync_task.done():
            task = asyncio.get_running_loop().create_task(self._resync(sub), name=f"kalshi-ws-resync {sub.sid}")
            task.add_done_callback(_log_task_failure)
            sub._resync_task = task

    async def _resync(self, sub: Subscription) -> None:
        while sub._resync_tickers:
            tickers = tuple(t for t in sub.market_tickers or () if t in sub._resync_tickers)
            sub._resync_tickers = None
            sid = sub.sid
            if not tickers or sid is None or self._live() is None:
                return
            self.counters.resyncs += 1
            try:
                await self.update_subscription(sub, "get_snapshot", tickers)
            except (WebSocketCommandError, WebSocketCommandTimeout) as exc:
                log.warning("Kalshi WebSocket: get_snapshot on sid %s failed (%s); resubscribing", sid, exc)
                session = self._live()
                if isinstance(exc, WebSocketCommandError) and session is not None:
                    await self._resubscribe(sub, session, sid, f"get_snapshot failed: {exc}")
                return
            except WebSocketDisconnected:
                return
            if sub.sid == sid:
                self._emit_client(Resynced(sid, tickers))

    async def _resubscribe(self, sub: Subscription, session: _Session, old_sid: int | None, reason: str) -> None:
        """Re-create a subscription on ``session`` (terminal error or failed resync); the old sid is abandoned.

        Does nothing when ``session`` is no longer the live connection (the reconnect restored it already).
        """
        async with sub._lock:
            if sub._closed or self._live() is not session:
                return
            self.counters.resubscribes += 1
            self._emit_client(SubscriptionReset(sub.channel, old_sid, reason, sub.market_tickers))
            if sub.sid is not None:
                sid = sub.sid
                session.by_sid.pop(sid, None)
                sub.sid = None
                with contextlib.suppress(KalshiError):
                    await self._command(session, "unsubscribe", {"sids": [sid]}, "unsubscribe", 1)
            sub.last_seq = None
            if sub.dormant:
                return
            try:
                await self._subscribe_on(session, [sub])
            except WebSocketCommandError as exc:
                sub.error = exc
                log.error("Kalshi WebSocket: cannot re-create %r: %s", sub, exc)
            except (WebSocketDisconnected, WebSocketCommandTimeout):
                pass


def _log_task_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Kalshi WebSocket background task failed", exc_info=task.exception())
