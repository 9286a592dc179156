"""The Kalshi WebSocket API at ``/trade-api/ws/v2`` (kalshi-api.md §6), served by aiohttp.

One connection multiplexes many subscriptions (§6.1). The server speaks Kalshi's commands, replies, numeric
error codes and data frames, in the era-superset form the REST side uses (§0, §10.2): the current
fixed-point fields (``*_dollars`` 4-dp dollar strings, ``*_fp`` 2-dp contract strings) plus the legacy
integer fields (cents, whole contracts, centi-cents for ``market_position`` money) **only where the value is
exactly representable** (a 0.5-contract delta carries ``delta_fp`` but no legacy ``delta``). Every time is
**served** time, shifted like the REST side (:mod:`simulator.clock`).

Handshake (§2)
    Signed headers (``KALSHI-ACCESS-*`` over ``timestamp + "GET" + "/trade-api/ws/v2"``) are verified when
    any of them is present; a bad signature, unknown key or stale timestamp answers HTTP 401 with the REST
    auth body. Unauthenticated connections are accepted (the §2 sim advice) but may only subscribe to public
    channels; private ones answer error 9. ``ws_handshake_503`` (``PUT /sim/v1/faults``) answers the upgrade
    with HTTP 503.

Private channels
    ``fill``, ``market_positions``, ``user_orders``, ``order_group_updates``, ``communications`` and, by
    default, ``orderbook_delta``: both the current docs (§6.5: "listed as private") and the older public-
    channel list of §2 (``ticker``, ``trade``, ``market_lifecycle_v2``, ...) agree that the order book needs
    an authenticated connection. ``SimulatorConfig.ws_public_orderbook`` (``--ws-public-orderbook``) makes it
    public for demos.

Commands (§6.2) and replies (§6.3)
    ``subscribe`` (``channels`` + one of ``market_ticker`` / ``market_tickers``; ``send_initial_snapshot`` for
    ``ticker``), ``unsubscribe`` (``sids``), ``update_subscription`` (``sid`` or ``sids: [one]``; ``action``
    ``add_markets`` / ``delete_markets`` / ``get_snapshot``) and ``list_subscriptions``. Replies:
    one ``subscribed`` per channel (each its own ``sid``, numbered from 1 per connection), one
    ``unsubscribed`` per sid, ``ok`` with the full market list after an update, ``ok`` with
    ``[{channel, sid}]`` for the list, ``error`` with ``{code, msg}``. ``get_snapshot`` answers with one fresh
    ``orderbook_snapshot`` per requested market (default: every market of the subscription) carrying the
    command ``id``, and no ``ok``. ``add_markets`` on an order-book subscription answers ``ok`` then a
    snapshot of each added market. ``id`` 0 or absent means "no id"; replies carry the ``id`` otherwise.

Error codes used (§6.3): 1 malformed JSON / not an object / binary frame, 2 params required, 3 channels
required, 4 sids required (``unsubscribe``), 5 unknown or missing ``cmd``, 7 unknown sid, 8 unknown
channel, 9 authentication required, 11 invalid parameter (bad types, unknown market tickers, more than one
market selector, ``market_id`` selectors, tickers outside the subscription), 12 exactly one sid required
(``update_subscription`` with none or several), 13 unsupported action (unknown action, market actions on
channels without markets, ``get_snapshot`` off ``orderbook_delta``), 14 market ticker required
(``orderbook_delta`` without a selector, ``add_markets``/``delete_markets`` without tickers), 15 action
required, 25 subscription buffer overflow (terminal, see below). A malformed command never closes the
connection.

Channels and frames (§6.4, §6.5)
    * ``orderbook_delta``: ``orderbook_snapshot`` first for every market, then ``orderbook_delta``. The
      levels are the **displayed** book (tape plus resting account orders, minus tape size account orders
      consumed), exactly what ``GET /markets/{ticker}/orderbook`` serves; deltas carry ``client_order_id``
      (and ``subaccount`` 0) only to the account whose order caused the change. ``seq`` per sid from 1.
    * ``trade``: every public trade (recorded tape trades and account executions), ``seq`` per sid.
    * ``ticker``: top of book, last trade and volume whenever they change (coalesced per event-loop turn);
      no ``seq``. ``send_initial_snapshot`` sends one immediately per subscribed market (active markets
      for an all-markets subscription).
    * ``fill``, ``market_positions`` (type ``market_position``), ``user_orders`` (type ``user_order``): the
      connection's account only, optional market filter, no ``seq``.
    * ``order_group_updates``: the account's groups (``created``, ``triggered``, ``reset``, ``deleted``,
      ``limit_updated``; ``contracts_limit_fp`` on created and limit_updated), ``seq``.
    * ``market_lifecycle_v2``: every market (market selectors are ignored), ``seq``, times in Unix
      seconds. Mapping of the simulator's lifecycle (§7): an **early** close (``POST
      /sim/v1/markets/{ticker}/close``) sends ``close_date_updated`` with the new ``close_ts``;
      determination sends ``determined`` (``determination_ts``, ``result``, ``settlement_value`` dollar
      string); finalization sends ``settled`` (``settled_ts``). The open at ``open_time`` and the close at
      the scheduled ``close_time`` are implicit on Kalshi (no WS event) and send nothing here either;
      ``created`` is never sent (every market predates the replay).
    * ``communications`` and ``multivariate_market_lifecycle`` are accepted and never produce data (the
      simulator has no RFQs and no multivariate markets). Any other channel name is error 8.

Keep-alive (§6.1)
    A Ping control frame with payload ``heartbeat`` every ``ws_ping_interval_s`` (10 s); a client that leaves
    ``ws_max_missed_pongs`` (3) consecutive pings unanswered is disconnected. Client pings are answered.

Flow control
    The exchange publishes synchronously on :class:`simulator.events.EventBus`; one bus handler routes each
    event to the subscriptions that want it (dict lookups, seq assignment, an append to the connection's
    deque) and a per-connection writer task serialises and sends, so a slow client never blocks the
    replay. Each subscription may have at most ``ws_subscription_buffer`` frames waiting to be written;
    one more and the subscription ends with error 25 (terminal, ``sid`` set): the client must resubscribe.

Faults (``PUT /sim/v1/faults``, :mod:`simulator.faults`)
    ``ws_handshake_503`` (sticky), ``drop_ws`` (one-shot: aborts every connection's TCP transport without a
    close frame, like a network drop), ``ws_skip_seq: N`` (the next N ``orderbook_delta`` frames, on any
    connection, each skip one ``seq`` number: a client sees a gap of one lost message) and ``ws_inject``
    (one-shot: raw frames sent to every connection, for malformed-frame tests; see
    :meth:`WsServer.inject`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from simulator import market as mk
from simulator.auth import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from simulator.context import SimContext
from simulator.errors import ApiError
from simulator.events import (
    BookDelta,
    FillEvent,
    LifecycleEvent,
    OrderGroupEvent,
    PositionEvent,
    TradeEvent,
    UserOrderEvent,
)
from simulator.events import Subscription as BusSubscription
from simulator.faults import fault_body
from simulator.ws_frames import FrameRenderer, shown_levels
from simulator.ws_protocol import (
    CHANNELS,
    E_ACTION_UNSUPPORTED,
    E_CHANNEL_ERROR,
    E_COMMAND,
    E_MARKET_REQUIRED,
    E_OVERFLOW,
    E_PARAM,
    E_PARAMS,
    E_SID,
    E_SIDS,
    E_UNABLE,
    FILL,
    INDEXED_CHANNELS,
    LIFECYCLE,
    MARKET_SCOPED,
    ORDER_GROUPS,
    ORDERBOOK,
    POSITIONS,
    TICKER,
    TRADE,
    USER_ORDERS,
    WS_ERROR_MESSAGES,
    CommandError,
    WsConn,
    WsSub,
    market_action_args,
    subscribe_channels,
    update_action,
    update_target,
)

__all__ = ["WsServer", "WsStats"]

log = logging.getLogger(__name__)


@dataclass
class WsStats:
    """Server-side counters (for ``GET /sim/v1/faults``-style introspection and tests).

    Attributes:
        connections: open connections now.
        accepted: upgrades accepted since start.
        handshake_503s: upgrades refused by the ``ws_handshake_503`` fault.
        auth_failures: upgrades refused with HTTP 401.
        frames_sent: frames written to sockets.
        overflows: subscriptions ended with error 25.
        pong_timeouts: connections dropped for missed pongs.
        drops: connections aborted by the ``drop_ws`` fault.

    """

    connections: int = 0
    accepted: int = 0
    handshake_503s: int = 0
    auth_failures: int = 0
    frames_sent: int = 0
    overflows: int = 0
    pong_timeouts: int = 0
    drops: int = 0


# -- the server -----------------------------------------------------------------------------------------
class WsServer:
    """The ``/trade-api/ws/v2`` endpoint of one simulator (see the module docstring for the protocol).

    Args:
        ctx: the running simulator's context (exchange, clock, keys, faults, config).

    Use :meth:`handle` as the aiohttp GET handler, :meth:`close_all` on shutdown. :meth:`drop_all` and
    :meth:`inject` implement the ``drop_ws`` and ``ws_inject`` faults.
    """

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        config = ctx.config
        self.ping_interval_s = float(config.ws_ping_interval_s)
        self.max_missed_pongs = config.ws_max_missed_pongs
        self.buffer = config.ws_subscription_buffer
        self.public_orderbook = config.ws_public_orderbook
        self.stats = WsStats()
        self._conns: dict[int, WsConn] = {}
        self._conn_ids = itertools.count(1)
        self._bus_sub: BusSubscription | None = None
        self._index: dict[str, dict[str, list[WsSub]]] = {ch: {} for ch in INDEXED_CHANNELS}
        self._wild: dict[str, list[WsSub]] = {ch: [] for ch in INDEXED_CHANNELS}
        self._subs: dict[str, list[WsSub]] = {ch: [] for ch in CHANNELS if ch not in INDEXED_CHANNELS}
        self._ticker_dirty: dict[str, Decimal | None] = {}
        self._ticker_scheduled = False
        self._ticker_last: dict[str, tuple[Any, ...]] = {}
        self.frames = FrameRenderer(ctx)
        self._dispatch: dict[type, Callable[[Any], None]] = {
            BookDelta: self._on_book_delta,
            TradeEvent: self._on_trade,
            FillEvent: self._on_fill,
            UserOrderEvent: self._on_user_order,
            PositionEvent: self._on_position,
            OrderGroupEvent: self._on_order_group,
            LifecycleEvent: self._on_lifecycle,
        }

    # ==================================================================================================
    # connection lifecycle
    # ==================================================================================================
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /trade-api/ws/v2``: verify, upgrade, serve commands until the connection ends.

        Returns HTTP 503 (``ws_handshake_503`` fault), 401 (bad/stale signature, unknown key) or 400 (not a
        WebSocket upgrade) before upgrading; otherwise the finished :class:`aiohttp.web.WebSocketResponse`.
        """
        ctx = self.ctx
        if ctx.faults.ws_handshake_refused():
            self.stats.handshake_503s += 1
            return web.json_response(fault_body(503), status=503)
        account_id: str | None = None
        if any(h in request.headers for h in (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)):
            try:
                account_id = ctx.keys.verify(request.method, request.url.raw_path, request.headers)
            except ApiError as exc:
                self.stats.auth_failures += 1
                return web.json_response(exc.body(), status=exc.status)
            if account_id not in ctx.exchange.accounts:
                ctx.exchange.create_account(account_id)
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20)
        if not ws.can_prepare(request).ok:
            return web.json_response(
                {"error": {"code": "bad_request", "message": "bad request", "details": "expected a WebSocket upgrade"}},
                status=400,
            )
        await ws.prepare(request)
        conn = WsConn(next(self._conn_ids), ws, request, account_id)
        self._open(conn)
        try:
            await self._read_loop(conn)
        finally:
            await self._close(conn)
        return ws

    def _open(self, conn: WsConn) -> None:
        self._conns[conn.conn_id] = conn
        self.stats.accepted += 1
        self.stats.connections = len(self._conns)
        if self._bus_sub is None:
            self._bus_sub = self.ctx.bus.subscribe(self._on_event, tuple(self._dispatch))
        conn.tasks.append(asyncio.create_task(self._writer(conn), name=f"ws-writer-{conn.conn_id}"))
        conn.tasks.append(asyncio.create_task(self._pinger(conn), name=f"ws-pinger-{conn.conn_id}"))
        log.debug("ws connection %d opened (account %s)", conn.conn_id, conn.account_id or "-")

    async def _close(self, conn: WsConn) -> None:
        conn.closed = True
        for sub in list(conn.subs.values()):
            self._unregister(sub)
        conn.subs.clear()
        conn.queue.clear()
        self._conns.pop(conn.conn_id, None)
        self.stats.connections = len(self._conns)
        if not self._conns and self._bus_sub is not None:
            self._bus_sub.close()
            self._bus_sub = None
        for task in conn.tasks:
            task.cancel()
        for task in conn.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not conn.ws.closed:
            with contextlib.suppress(Exception):
                await conn.ws.close()
        log.debug("ws connection %d closed", conn.conn_id)

    async def close_all(self, app: web.Application | None = None) -> None:
        """Close every connection with code 1001 (going away); the aiohttp ``on_shutdown`` hook.

        A client that does not answer the close frame within a second is aborted.
        """

        async def close_one(conn: WsConn) -> None:
            conn.closed = True
            conn.wake.set()
            try:
                await asyncio.wait_for(conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown"), 1.0)
            except Exception:
                conn.abort()

        await asyncio.gather(*(close_one(c) for c in list(self._conns.values())))

    def drop_all(self) -> int:
        """Abort every connection's transport (the ``drop_ws`` fault); return how many were dropped."""
        conns = list(self._conns.values())
        for conn in conns:
            conn.abort()
        self.stats.drops += len(conns)
        return len(conns)

    def fail_channels(self, channels: frozenset[str]) -> int:
        """End every subscription of ``channels`` with error 10 (the ``ws_channel_down`` fault); return how many.

        Error 10 "channel error" is terminal (kalshi-api.md §6.3): the client must resubscribe, which the fault
        refuses with error 10 while it lasts.
        """
        ended = 0
        for conn in list(self._conns.values()):
            for sub in [s for s in conn.subs.values() if s.channel in channels]:
                sub.alive = False
                conn.subs.pop(sub.sid, None)
                self._unregister(sub)
                msg = {"code": E_CHANNEL_ERROR, "msg": WS_ERROR_MESSAGES[E_CHANNEL_ERROR]}
                conn.push((None, None, "frame", {"type": "error", "sid": sub.sid, "msg": msg}))
                ended += 1
        return ended

    def inject(self, frames: Iterable[str | dict[str, Any]]) -> int:
        """Send raw frames to every connection (the ``ws_inject`` fault); return the number of connections.

        A string is sent verbatim as a text frame (malformed JSON included). An object is serialised; when it
        has a ``sid`` naming one of the connection's seq-carrying subscriptions and no ``seq`` key, it gets
        that sid's next ``seq`` (so an injected frame is "in sequence" and tests exercise malformed-frame
        handling rather than gap detection).
        """
        items = list(frames)
        conns = list(self._conns.values())
        for conn in conns:
            for item in items:
                if isinstance(item, str):
                    conn.push((None, None, "text", item))
                    continue
                frame = dict(item)
                sub = conn.subs.get(frame["sid"]) if isinstance(frame.get("sid"), int) else None
                if sub is not None and sub.has_seq and "seq" not in frame:
                    sub.seq += 1
                    frame["seq"] = sub.seq
                conn.push((None, None, "text", json.dumps(frame, separators=(",", ":"))))
        return len(conns)

    # ==================================================================================================
    # reading, writing, keep-alive
    # ==================================================================================================
    async def _read_loop(self, conn: WsConn) -> None:
        ws = conn.ws
        while not conn.closed:
            msg = await ws.receive()
            kind = msg.type
            if kind is WSMsgType.TEXT:
                await self._command(conn, msg.data)
            elif kind is WSMsgType.PONG:
                conn.awaiting_pong = False
                conn.missed_pongs = 0
            elif kind is WSMsgType.PING:
                with contextlib.suppress(Exception):
                    await ws.pong(msg.data)
            elif kind is WSMsgType.BINARY:
                self._error(conn, None, E_UNABLE, "binary frames are not supported; send JSON text")
            else:  # CLOSE, CLOSING, CLOSED, ERROR
                return

    async def _writer(self, conn: WsConn) -> None:
        queue = conn.queue
        ws = conn.ws
        try:
            while not conn.closed:
                if not queue:
                    conn.wake.clear()
                    await conn.wake.wait()
                    continue
                sub, seq, kind, payload = queue.popleft()
                if sub is not None:
                    sub.pending -= 1
                text = (
                    payload
                    if kind == "text"
                    else self.frames.render(conn.account_id, None if sub is None else sub.sid, seq, kind, payload)
                )
                await ws.send_str(text)
                self.stats.frames_sent += 1
        except (ConnectionError, RuntimeError) as exc:
            log.debug("ws connection %d: write failed: %s", conn.conn_id, exc)
            conn.abort()

    async def _pinger(self, conn: WsConn) -> None:
        try:
            while not conn.closed:
                await asyncio.sleep(self.ping_interval_s)
                if conn.awaiting_pong:
                    conn.missed_pongs += 1
                    if conn.missed_pongs >= self.max_missed_pongs:
                        self.stats.pong_timeouts += 1
                        log.info("ws connection %d: %d pings unanswered, dropping", conn.conn_id, conn.missed_pongs)
                        conn.abort()
                        return
                conn.awaiting_pong = True
                # a client that stopped reading blocks the send (full buffers): that is a missed pong too
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.ws.ping(b"heartbeat"), self.ping_interval_s)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("ws connection %d: ping failed: %s", conn.conn_id, exc)
            conn.abort()

    # ==================================================================================================
    # commands
    # ==================================================================================================
    def _reply(self, conn: WsConn, frame: dict[str, Any], cmd_id: int | None) -> None:
        if cmd_id:
            frame = {"id": cmd_id, **frame}
        conn.push((None, None, "frame", frame))

    def _error(self, conn: WsConn, cmd_id: int | None, code: int, detail: str | None = None, **extra: Any) -> None:
        text = WS_ERROR_MESSAGES.get(code, "Error")
        msg: dict[str, Any] = {"code": code, "msg": f"{text}: {detail}" if detail else text}
        msg.update(extra)
        self._reply(conn, {"type": "error", "msg": msg}, cmd_id)

    async def _command(self, conn: WsConn, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            self._error(conn, None, E_UNABLE, "malformed JSON")
            return
        if not isinstance(data, dict):
            self._error(conn, None, E_UNABLE, "a command must be a JSON object")
            return
        raw_id = data.get("id")
        if raw_id is not None and (type(raw_id) is not int or raw_id < 0):
            self._error(conn, None, E_PARAM, "id must be a non-negative integer")
            return
        cmd_id: int | None = raw_id or None
        cmd = data.get("cmd")
        params = data.get("params")
        try:
            if cmd == "subscribe":
                await self._subscribe(conn, cmd_id, params)
            elif cmd == "unsubscribe":
                self._unsubscribe(conn, cmd_id, params)
            elif cmd == "update_subscription":
                await self._update(conn, cmd_id, params)
            elif cmd == "list_subscriptions":
                subs = [{"channel": s.channel, "sid": s.sid} for s in conn.subs.values()]
                self._reply(conn, {"type": "ok", "msg": subs}, cmd_id)
            else:
                raise CommandError(E_COMMAND, None if cmd is None else str(cmd)[:100])
        except CommandError as exc:
            self._error(conn, cmd_id, exc.code, exc.detail, **exc.extra)

    def _params(self, params: Any) -> dict[str, Any]:
        if params is None:
            raise CommandError(E_PARAMS)
        if not isinstance(params, dict):
            raise CommandError(E_PARAM, "params must be an object")
        return params

    def _tickers(self, params: dict[str, Any]) -> list[str] | None:
        """The market selector of ``params``: a list of known tickers, or None when absent."""
        given = [k for k in ("market_ticker", "market_tickers", "market_id", "market_ids") if params.get(k) is not None]
        if len(given) > 1:
            raise CommandError(E_PARAM, "give exactly one market selector")
        if not given:
            return None
        key = given[0]
        if key in ("market_id", "market_ids"):
            raise CommandError(E_PARAM, f"{key} selectors are not supported; use market_tickers")
        value = params[key]
        tickers = [value] if key == "market_ticker" else value
        if not isinstance(tickers, list) or not tickers or not all(isinstance(t, str) and t for t in tickers):
            raise CommandError(E_PARAM, f"{key} must be a non-empty ticker string or list of them")
        unknown = [t for t in tickers if t not in self.ctx.exchange.markets]
        if unknown:
            raise CommandError(E_PARAM, "unknown market ticker", market_tickers=unknown[:100])
        return list(dict.fromkeys(tickers))

    async def _subscribe(self, conn: WsConn, cmd_id: int | None, params: Any) -> None:
        p = self._params(params)
        channels = subscribe_channels(p, conn.account_id is not None, self.public_orderbook)
        tickers = self._tickers(p)
        if tickers is None and ORDERBOOK in channels:
            raise CommandError(E_MARKET_REQUIRED, "orderbook_delta needs market_ticker or market_tickers")
        initial = p.get("send_initial_snapshot", False)
        if not isinstance(initial, bool):
            raise CommandError(E_PARAM, "send_initial_snapshot must be a boolean")
        down = self.ctx.faults.channels_down(channels)
        if down:
            raise CommandError(E_CHANNEL_ERROR, f"channel unavailable: {', '.join(down)}")
        await self.ctx.sync()
        if conn.closed:
            return
        # from here on nothing awaits: the snapshots and the routes see one exchange state
        for channel in channels:
            markets = dict.fromkeys(tickers) if tickers is not None and channel in MARKET_SCOPED else None
            sub = WsSub(conn, next(conn.next_sid), channel, markets)
            conn.subs[sub.sid] = sub
            self._register(sub)
            self._reply(conn, {"type": "subscribed", "msg": {"channel": channel, "sid": sub.sid}}, cmd_id)
            if channel == ORDERBOOK:
                for ticker in sub.markets or ():
                    self._push_snapshot(sub, ticker, None)
            elif channel == TICKER and initial:
                wanted = tickers if tickers is not None else self._active_markets()
                for ticker in wanted:
                    self._push_data(sub, "ticker", self.frames.ticker_msg(ticker, None))

    def _unsubscribe(self, conn: WsConn, cmd_id: int | None, params: Any) -> None:
        p = self._params(params)
        sids = p.get("sids")
        if sids is None or sids == []:
            raise CommandError(E_SIDS)
        if not isinstance(sids, list) or not all(type(s) is int for s in sids):
            raise CommandError(E_PARAM, "sids must be a list of integers")
        unknown = [s for s in sids if s not in conn.subs]
        if unknown:
            raise CommandError(E_SID, ", ".join(str(s) for s in unknown[:20]))
        for sid in dict.fromkeys(sids):
            sub = conn.subs.pop(sid)
            self._unregister(sub)
            frame: dict[str, Any] = {"sid": sid, "type": "unsubscribed"}
            if sub.has_seq:
                sub.seq += 1
                frame["seq"] = sub.seq
            self._reply(conn, frame, cmd_id)

    async def _update(self, conn: WsConn, cmd_id: int | None, params: Any) -> None:
        p = self._params(params)
        action = update_action(p)
        sub = update_target(conn, p)
        tickers = self._tickers(p)
        if action == "get_snapshot":
            await self._get_snapshot(conn, sub, tickers, cmd_id)
        else:
            await self._change_markets(conn, sub, action == "add_markets", tickers, cmd_id)

    async def _get_snapshot(self, conn: WsConn, sub: WsSub, tickers: list[str] | None, cmd_id: int | None) -> None:
        """``update_subscription`` ``get_snapshot``: one fresh snapshot per market, carrying the command id."""
        if sub.channel != ORDERBOOK:
            raise CommandError(E_ACTION_UNSUPPORTED, "get_snapshot is for orderbook_delta subscriptions")
        assert sub.markets is not None
        wanted = tickers if tickers is not None else list(sub.markets)
        outside = [t for t in wanted if t not in sub.markets]
        if outside:
            raise CommandError(E_PARAM, "market not in the subscription", market_tickers=outside[:100])
        await self.ctx.sync()
        if conn.closed or not sub.alive:
            return
        for ticker in wanted:
            self._push_snapshot(sub, ticker, cmd_id)

    async def _change_markets(
        self, conn: WsConn, sub: WsSub, add: bool, tickers: list[str] | None, cmd_id: int | None
    ) -> None:
        """``add_markets`` / ``delete_markets``: answer ``ok`` with the new list; snapshot added order books."""
        markets, tickers = market_action_args(sub, tickers)
        if add:
            await self.ctx.sync()
            if conn.closed or not sub.alive:
                return
        added = [t for t in tickers if t not in markets] if add else []
        self._unregister(sub)
        for t in tickers:
            if add:
                markets[t] = None
            else:
                markets.pop(t, None)
        self._register(sub)
        frame: dict[str, Any] = {"sid": sub.sid, "type": "ok", "msg": {"market_tickers": list(markets)}}
        if sub.has_seq:
            sub.seq += 1
            frame["seq"] = sub.seq
        self._reply(conn, frame, cmd_id)
        if sub.channel == ORDERBOOK:
            for ticker in added:
                self._push_snapshot(sub, ticker, None)

    # ==================================================================================================
    # routing
    # ==================================================================================================
    def _register(self, sub: WsSub) -> None:
        channel = sub.channel
        if channel in self._index:
            if sub.markets is None:
                self._wild[channel].append(sub)
            else:
                index = self._index[channel]
                for ticker in sub.markets:
                    index.setdefault(ticker, []).append(sub)
        else:
            self._subs[channel].append(sub)

    def _unregister(self, sub: WsSub) -> None:
        channel = sub.channel
        if channel in self._index:
            if sub.markets is None:
                with contextlib.suppress(ValueError):
                    self._wild[channel].remove(sub)
            else:
                index = self._index[channel]
                for ticker in sub.markets:
                    subs = index.get(ticker)
                    if subs is not None:
                        with contextlib.suppress(ValueError):
                            subs.remove(sub)
                        if not subs:
                            del index[ticker]
        else:
            with contextlib.suppress(ValueError):
                self._subs[channel].remove(sub)

    def _targets(self, channel: str, ticker: str) -> list[WsSub]:
        subs = self._index[channel].get(ticker)
        wild = self._wild[channel]
        if subs is None:
            return wild
        return subs + wild if wild else subs

    def _push_data(self, sub: WsSub, kind: str, payload: Any, *, skip: int = 0) -> None:
        """Queue one data frame for ``sub``, assigning its seq; end the sub with error 25 on overflow."""
        if not sub.alive or sub.conn.closed:
            return
        if sub.pending >= self.buffer:
            self._overflow(sub)
            return
        seq = None
        if sub.has_seq:
            sub.seq += 1 + skip
            seq = sub.seq
        sub.pending += 1
        sub.conn.push((sub, seq, kind, payload))

    def _overflow(self, sub: WsSub) -> None:
        self.stats.overflows += 1
        sub.alive = False
        conn = sub.conn
        conn.subs.pop(sub.sid, None)
        self._unregister(sub)
        log.info("ws connection %d: sid %d (%s) overflowed its buffer", conn.conn_id, sub.sid, sub.channel)
        text = WS_ERROR_MESSAGES[E_OVERFLOW]
        conn.push((None, None, "frame", {"type": "error", "sid": sub.sid, "msg": {"code": E_OVERFLOW, "msg": text}}))

    def _push_snapshot(self, sub: WsSub, ticker: str, cmd_id: int | None) -> None:
        yes, no = shown_levels(self.ctx.exchange.markets[ticker].book)
        self._push_data(sub, "snapshot", (ticker, yes, no, cmd_id))

    def _on_event(self, event: Any) -> None:
        self._dispatch[type(event)](event)

    def _on_book_delta(self, e: BookDelta) -> None:
        subs = self._index[ORDERBOOK].get(e.ticker)
        if subs:
            faults = self.ctx.faults
            for sub in list(subs):
                self._push_data(sub, "delta", e, skip=faults.take_ws_skip())
        self._ticker_touch(e.ticker, None)

    def _on_trade(self, e: TradeEvent) -> None:
        for sub in list(self._targets(TRADE, e.ticker)):
            self._push_data(sub, "trade", e)
        self._ticker_touch(e.ticker, e.count)

    def _private(self, channel: str, account_id: str, ticker: str | None) -> list[WsSub]:
        return [
            s for s in self._subs[channel] if s.conn.account_id == account_id and (ticker is None or s.covers(ticker))
        ]

    def _on_fill(self, e: FillEvent) -> None:
        for sub in self._private(FILL, e.account_id, e.ticker):
            self._push_data(sub, "fill", e)

    def _on_user_order(self, e: UserOrderEvent) -> None:
        for sub in self._private(USER_ORDERS, e.account_id, e.ticker):
            self._push_data(sub, "user_order", e)

    def _on_position(self, e: PositionEvent) -> None:
        for sub in self._private(POSITIONS, e.account_id, e.ticker):
            self._push_data(sub, "market_position", e)

    def _on_order_group(self, e: OrderGroupEvent) -> None:
        for sub in self._private(ORDER_GROUPS, e.account_id, None):
            self._push_data(sub, "order_group", e)

    def _on_lifecycle(self, e: LifecycleEvent) -> None:
        subs = self._subs[LIFECYCLE]
        if not subs:
            return
        msg = self.frames.lifecycle_msg(e)
        if msg is None:
            return
        for sub in list(subs):
            self._push_data(sub, "lifecycle", msg)

    # -- ticker ----------------------------------------------------------------------------------------
    def _ticker_touch(self, ticker: str, trade_count: Decimal | None) -> None:
        if not (self._wild[TICKER] or ticker in self._index[TICKER]):
            return
        if trade_count is not None or ticker not in self._ticker_dirty:
            self._ticker_dirty[ticker] = trade_count
        if not self._ticker_scheduled:
            self._ticker_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_tickers)

    def _flush_tickers(self) -> None:
        self._ticker_scheduled = False
        dirty, self._ticker_dirty = self._ticker_dirty, {}
        for ticker, trade_count in dirty.items():
            msg = self.frames.ticker_msg(ticker, trade_count)
            key = (msg["yes_bid_dollars"], msg["yes_ask_dollars"], msg["yes_bid_size_fp"], msg["yes_ask_size_fp"])
            if trade_count is None and self._ticker_last.get(ticker) == key:
                continue
            self._ticker_last[ticker] = key
            for sub in list(self._targets(TICKER, ticker)):
                self._push_data(sub, "ticker", msg)

    def _active_markets(self) -> list[str]:
        return [t for t, s in self.ctx.exchange.markets.items() if s.status == mk.ACTIVE]
