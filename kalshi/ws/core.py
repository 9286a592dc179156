"""The core of the WebSocket client: subscription handles, one connection's session, commands and replies.

A command (kalshi-api.md §6.2) gets the next id of its connection and waits for its replies with a timeout; a
command that times out means the connection cannot be trusted, so it is aborted (the client reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Final
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from kalshi.errors import KalshiError
from kalshi.signer import RequestSigner
from kalshi.ws.events import (
    ClientEvent,
    ConnectionState,
    Listener,
    WebSocketCommandTimeout,
    WebSocketDisconnected,
    WsClientCounters,
    WsItem,
)

__all__ = ["ORDERBOOK_CHANNEL", "Subscription"]  # the package's public names; log, ClientCore etc. are internal

log = logging.getLogger("kalshi.ws")
"""The client's one logger (every module of :mod:`kalshi.ws` logs through it)."""


ORDERBOOK_CHANNEL: Final = "orderbook_delta"
"""The order-book channel (message types ``orderbook_snapshot`` / ``orderbook_delta``, §6.5)."""

MARKET_SCOPED_CHANNELS: Final = frozenset(
    {ORDERBOOK_CHANNEL, "ticker", "ticker_v2", "trade", "fill", "market_positions", "user_orders"}
)
"""Channels whose subscription takes a market selector (kalshi-api.md §6.5)."""

_RAW_LOG_LIMIT: Final = 500
"""Characters of a bad frame kept in a log line."""


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
        return self.market_tickers == () and self.channel in MARKET_SCOPED_CHANNELS

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


class TrackedConnection(ClientConnection):
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


class Session:
    """One connection: its socket, command ids, pending replies and sid bindings."""

    def __init__(self, ws: TrackedConnection) -> None:
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


def truncate_frame(raw: Any, limit: int = _RAW_LOG_LIMIT) -> str:
    """A frame as text for a log line: decoded leniently, cut at ``limit`` characters."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def log_task_failure(task: asyncio.Task[Any]) -> None:
    """Done-callback of the client's background tasks: log a failure (a bug) instead of losing it."""
    if not task.cancelled() and task.exception() is not None:
        log.error("Kalshi WebSocket background task failed", exc_info=task.exception())


class ClientCore:
    """The state of a :class:`kalshi.ws.KalshiWebSocketClient` and its plumbing (see its docstring for the args).

    Holds the connection session, the subscription handles, listeners and the event queue, and sends commands
    and matches their replies (kalshi-api.md §6.2). The layers above add subscriptions
    (:mod:`kalshi.ws.subscriptions`), frame routing and ``seq`` tracking (:mod:`kalshi.ws.sequence`), and the
    connection loop with backoff (:mod:`kalshi.ws.client`).
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
        self._session: Session | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._fatal: BaseException | None = None
        self._closing = False
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._bad_logged: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<KalshiWebSocketClient {self.url} {self.state} subs={len(self._subs)}>"

    def raise_if_failed(self) -> None:
        """Re-raise the error that stopped the client (auth error, too many failures), if any.

        Raises:
            KalshiAuthError, KalshiRejectedError, KalshiUnavailableError: what stopped :meth:`run`.

        """
        if self._fatal is not None:
            raise self._fatal

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
    # commands
    # ---------------------------------------------------------------------------------------------

    def _live(self) -> Session | None:
        session = self._session
        return session if session is not None and session.alive else None

    async def _command(
        self,
        session: Session,
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
