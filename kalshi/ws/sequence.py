"""Routing every received frame: parse once, count, track ``seq`` per sid, match replies, handle error frames.

``seq`` is tracked per sid, never per market (kalshi-api.md §6.4: one subscription spans many markets, so
per-market numbers have gaps by design). ``seq != last + 1`` on a sid counts a gap and emits
:class:`~kalshi.ws.events.SequenceGap` before the offending frame is delivered; an ``orderbook_delta`` sid is
then resynced. The first seq after a subscribe is accepted whatever it is. Errors 10 and 25 (terminal,
§6.3) re-create the subscription. Malformed and unknown frames are counted and logged (rate limited), never
fatal.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from kalshi.models.ws import (
    MESSAGE_TYPE_OF,
    TERMINAL_ERROR_CODES,
    ErrorMessage,
    FrameError,
    Ok,
    OrderbookSnapshot,
    Subscribed,
    UnknownMessage,
    Unsubscribed,
    WsEvent,
    parse_frame,
)
from kalshi.ws.core import ORDERBOOK_CHANNEL, Session, Subscription, log, log_task_failure, truncate_frame
from kalshi.ws.events import SequenceGap, WebSocketCommandError
from kalshi.ws.subscriptions import SubscriptionCommands

__all__ = ["FrameRouting"]


_TYPE_NAMES: Final[dict[type, str]] = {**MESSAGE_TYPE_OF, FrameError: "malformed"}


class FrameRouting(SubscriptionCommands):
    """The frame layer of :class:`kalshi.ws.KalshiWebSocketClient` (see the module docstring)."""

    def _log_bad(self, kind: str, raw: Any, reason: str) -> None:
        """Log a bad frame with its raw text: the first 20 of each kind, then every 1000th."""
        n = self._bad_logged.get(kind, 0) + 1
        self._bad_logged[kind] = n
        if n <= 20 or n % 1000 == 0:
            log.warning("Kalshi WebSocket %s frame #%d (%s): %s", kind, n, reason, truncate_frame(raw))

    def _on_frame(self, session: Session, raw: bytes) -> None:
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

    def _on_reply(self, session: Session, event: WsEvent) -> None:
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

    def _on_error_frame(self, session: Session, event: ErrorMessage, raw: bytes) -> None:
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
        task.add_done_callback(log_task_failure)
