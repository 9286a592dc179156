"""The reconnecting Kalshi WebSocket client: lifecycle, signed handshake, connection loop with backoff.

Handshake (kalshi-api.md §2): signed ``KALSHI-ACCESS-*`` headers, fresh for every attempt. HTTP 401/403 is
fatal (:class:`~kalshi.errors.KalshiAuthError`); HTTP 503 is :class:`~kalshi.ws.events.WebSocketUnavailable`;
transient failures are retried with full-jitter exponential backoff. Liveness (§6.1): when nothing at all
arrives for ``silence_timeout_s`` the connection is aborted and rebuilt.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from kalshi.errors import (
    KalshiAuthError,
    KalshiError,
    KalshiRejectedError,
    KalshiUnavailableError,
    error_from_response,
    parse_error_body,
)
from kalshi.ws.core import Session, TrackedConnection, log, truncate_frame
from kalshi.ws.events import (
    Connected,
    ConnectionFailed,
    ConnectionState,
    Disconnected,
    WebSocketDisconnected,
    WebSocketUnavailable,
)
from kalshi.ws.sequence import FrameRouting

__all__ = ["KalshiWebSocketClient"]


class KalshiWebSocketClient(FrameRouting):
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

    async def _open(self) -> TrackedConnection:
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
                create_connection=TrackedConnection,
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
        assert isinstance(ws, TrackedConnection)
        return ws

    async def _serve(self, ws: TrackedConnection) -> bool:
        """Run one connection to its end; return whether it was healthy (every subscription restored)."""
        session = Session(ws)
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

    async def _read(self, session: Session) -> None:
        ws = session.ws
        try:
            while True:
                raw = await ws.recv(decode=False)
                try:
                    self._on_frame(session, raw)
                except Exception:  # a bug here must not stop ingestion
                    log.exception("Kalshi WebSocket: internal error on frame %s", truncate_frame(raw))
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

    async def _watchdog(self, session: Session) -> None:
        timeout = self.silence_timeout_s
        while session.alive:
            idle = time.monotonic() - session.ws.last_rx
            if idle >= timeout:
                self.counters.silence_timeouts += 1
                log.warning("Kalshi WebSocket %s: nothing received for %.1f s; reconnecting", self.url, idle)
                session.abort("silence")
                return
            await asyncio.sleep(timeout - idle)
