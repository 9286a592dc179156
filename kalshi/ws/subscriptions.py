"""Subscriptions that survive reconnects: subscribe, update, unsubscribe, restore, resync, re-create (§6.2, §6.4).

After a reconnect every handle is subscribed again (all sids are new), which for ``orderbook_delta`` brings
fresh snapshots; a gap on an order-book sid is resynced with ``get_snapshot``, and when that fails the
subscription is re-created. An order-book subscription with an empty market list is dormant (Kalshi requires
a market selector there).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

from kalshi.errors import KalshiError
from kalshi.models.ws import Ok, SubscriptionInfo
from kalshi.ws.core import (
    MARKET_SCOPED_CHANNELS,
    ORDERBOOK_CHANNEL,
    ClientCore,
    Session,
    Subscription,
    log,
    log_task_failure,
)
from kalshi.ws.events import (
    Resynced,
    SubscriptionReset,
    WebSocketCommandError,
    WebSocketCommandTimeout,
    WebSocketDisconnected,
)

__all__ = ["SubscriptionCommands"]


class SubscriptionCommands(ClientCore):
    """The subscription layer of :class:`kalshi.ws.KalshiWebSocketClient` (see the module docstring)."""

    def _subscribe_params(self, subs: Sequence[Subscription]) -> dict[str, Any]:
        first = subs[0]
        params: dict[str, Any] = {"channels": [s.channel for s in subs]}
        if first.market_tickers is not None:
            params["market_tickers"] = list(first.market_tickers)
        if any(s.send_initial_snapshot for s in subs):
            params["send_initial_snapshot"] = True
        return params

    async def _subscribe_on(self, session: Session, subs: Sequence[Subscription]) -> None:
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
            Subscription(name, tickers if name in MARKET_SCOPED_CHANNELS else None, send_initial_snapshot)
            for name in names
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

    async def _restore(self, session: Session) -> bool:
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

    async def retry_refused(self) -> list[str]:
        """Subscribe again every handle the exchange refused or ended and that is still wanted (now, if connected).

        A terminal channel error (code 10, §6.3) whose re-subscription is refused too (a channel down at the
        exchange) leaves the handle unsubscribed with ``error`` set until the next connection. Calling this
        periodically brings such a channel back as soon as the exchange serves it again, without reconnecting
        (the ingestion loop calls it at every tick). A refusal leaves ``error`` set and is logged once per
        change of error, not at every retry.

        Returns:
            The channels subscribed again by this call.

        """
        session = self._live()
        if session is None:
            return []
        restored: list[str] = []
        for sub in list(self._subs):
            if sub.error is None or sub.sid is not None or sub.dormant or sub._closed:
                continue
            async with sub._lock:
                if sub.sid is not None or sub._closed or self._live() is not session:
                    continue
                before = str(sub.error) if sub.error is not None else None
                try:
                    await self._subscribe_on(session, [sub])
                except WebSocketCommandError as exc:
                    sub.error = exc
                    if str(exc) != before:
                        log.warning("Kalshi WebSocket: %s still refused: %s", sub.channel, exc)
                    continue
                except (WebSocketDisconnected, WebSocketCommandTimeout):
                    return restored
            sub.error = None
            restored.append(sub.channel)
            log.info("Kalshi WebSocket: %s subscribed again after it was refused", sub.channel)
        return restored

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
            task.add_done_callback(log_task_failure)
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

    async def _resubscribe(self, sub: Subscription, session: Session, old_sid: int | None, reason: str) -> None:
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
