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
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from models.money import ONE_DOLLAR
from simulator import market as mk
from simulator import wire
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
from simulator.timeutil import iso_ms

__all__ = [
    "CHANNELS",
    "PRIVATE_CHANNELS",
    "WS_ERROR_MESSAGES",
    "WsServer",
    "WsStats",
]

log = logging.getLogger(__name__)

# -- channels ------------------------------------------------------------------------------------------
ORDERBOOK = "orderbook_delta"
TICKER = "ticker"
TRADE = "trade"
FILL = "fill"
POSITIONS = "market_positions"
USER_ORDERS = "user_orders"
ORDER_GROUPS = "order_group_updates"
LIFECYCLE = "market_lifecycle_v2"
COMMUNICATIONS = "communications"
MVE_LIFECYCLE = "multivariate_market_lifecycle"

CHANNELS = frozenset(
    {ORDERBOOK, TICKER, TRADE, FILL, POSITIONS, USER_ORDERS, ORDER_GROUPS, LIFECYCLE, COMMUNICATIONS, MVE_LIFECYCLE}
)
"""Channel names the simulator accepts (kalshi-api.md §6.5)."""

PRIVATE_CHANNELS = frozenset({FILL, POSITIONS, USER_ORDERS, ORDER_GROUPS, COMMUNICATIONS})
"""Channels that need an authenticated connection (error 9 otherwise); ``orderbook_delta`` too unless
``ws_public_orderbook`` is set (see the module docstring)."""

_MARKET_SCOPED = frozenset({ORDERBOOK, TICKER, TRADE, FILL, POSITIONS, USER_ORDERS})
"""Channels filtered by a market selector (optional except for ``orderbook_delta``)."""

_SEQ_CHANNELS = frozenset({ORDERBOOK, TRADE, LIFECYCLE, MVE_LIFECYCLE, ORDER_GROUPS, COMMUNICATIONS})
"""Channels whose data frames and ok/unsubscribed replies carry ``seq`` (§6.4)."""

_INDEXED = (ORDERBOOK, TRADE, TICKER)
"""Channels routed through a per-market index (the high-volume ones)."""

# -- error codes (§6.3) ---------------------------------------------------------------------------------
E_UNABLE = 1
E_PARAMS = 2
E_CHANNELS = 3
E_SIDS = 4
E_COMMAND = 5
E_SID = 7
E_CHANNEL = 8
E_AUTH = 9
E_PARAM = 11
E_ONE_SID = 12
E_ACTION_UNSUPPORTED = 13
E_MARKET_REQUIRED = 14
E_ACTION = 15
E_OVERFLOW = 25

WS_ERROR_MESSAGES: dict[int, str] = {
    E_UNABLE: "Unable to process message",
    E_PARAMS: "Params required",
    E_CHANNELS: "Channels required",
    E_SIDS: "Sids required",
    E_COMMAND: "Unknown command",
    E_SID: "Unknown subscription ID",
    E_CHANNEL: "Unknown channel name",
    E_AUTH: "Authentication required",
    E_PARAM: "Invalid parameter",
    E_ONE_SID: "Exactly one subscription ID is required",
    E_ACTION_UNSUPPORTED: "Action not supported",
    E_MARKET_REQUIRED: "Market ticker required",
    E_ACTION: "Action required",
    E_OVERFLOW: "Subscription buffer overflow",
}
"""The ``msg`` text of each error code the simulator sends."""

_ACTIONS = frozenset({"add_markets", "delete_markets", "get_snapshot"})
_CENT = Decimal(100)
_CENTI_CENT = Decimal(10_000)


class _CommandError(Exception):
    """A command failed with WS error ``code``; ``detail`` is appended to the standard message."""

    def __init__(self, code: int, detail: str | None = None, **extra: Any) -> None:
        self.code = code
        self.detail = detail
        self.extra = extra
        super().__init__(f"{code}: {detail}")


# -- exact legacy integers ------------------------------------------------------------------------------
def _exact_int(value: Decimal) -> int | None:
    """``value`` as an int when it is whole, else None (legacy fields are sent only when exact)."""
    return int(value) if value == value.to_integral_value() else None


def _exact_cents(dollars: Decimal) -> int | None:
    """Legacy integer cents of a dollar price when exact (``0.43 -> 43``; ``0.435 -> None``)."""
    return _exact_int(dollars * _CENT)


def _exact_centi_cents(dollars: Decimal) -> int | None:
    """Legacy integer centi-cents (1/10,000 $) of a money amount when exact (old ``market_position``, §6.5)."""
    return _exact_int(dollars * _CENTI_CENT)


def _put_exact(out: dict[str, Any], key: str, value: int | None) -> None:
    if value is not None:
        out[key] = value


def _dec(text: Any) -> Decimal:
    """Decimal of a wire string/number produced by :mod:`simulator.wire` (never a float there)."""
    return text if isinstance(text, Decimal) else Decimal(str(text))


# -- connection state -----------------------------------------------------------------------------------
class _Sub:
    """One subscription of one connection (a sid).

    ``markets`` is an insertion-ordered set of tickers, or None for "all markets"; ``seq`` is the last seq
    number assigned (0 before the first frame); ``pending`` counts this sid's frames waiting in the
    connection's queue (bounded by ``ws_subscription_buffer``, error 25 beyond).
    """

    __slots__ = ("alive", "channel", "conn", "has_seq", "markets", "pending", "seq", "sid")

    def __init__(self, conn: _Conn, sid: int, channel: str, markets: dict[str, None] | None) -> None:
        self.conn = conn
        self.sid = sid
        self.channel = channel
        self.markets = markets
        self.seq = 0
        self.pending = 0
        self.alive = True
        self.has_seq = channel in _SEQ_CHANNELS

    def covers(self, ticker: str) -> bool:
        """Whether frames about ``ticker`` belong to this subscription."""
        return self.markets is None or ticker in self.markets


_Item = tuple[_Sub | None, int | None, str, Any]
"""A queued frame: (subscription or None for replies, seq or None, kind, payload)."""


class _Conn:
    """One WebSocket connection: its account, subscriptions, outgoing queue and tasks."""

    def __init__(self, conn_id: int, ws: web.WebSocketResponse, request: web.Request, account_id: str | None) -> None:
        self.conn_id = conn_id
        self.ws = ws
        self.request = request
        self.account_id = account_id
        self.subs: dict[int, _Sub] = {}
        self.next_sid = itertools.count(1)
        self.queue: deque[_Item] = deque()
        self.wake = asyncio.Event()
        self.awaiting_pong = False
        self.missed_pongs = 0
        self.closed = False
        self.tasks: list[asyncio.Task[None]] = []

    def push(self, item: _Item) -> None:
        """Queue a frame for the writer task."""
        self.queue.append(item)
        self.wake.set()

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (a network failure, as far as the client knows)."""
        self.closed = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        self.wake.set()


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
        self._conns: dict[int, _Conn] = {}
        self._conn_ids = itertools.count(1)
        self._bus_sub: BusSubscription | None = None
        self._index: dict[str, dict[str, list[_Sub]]] = {ch: {} for ch in _INDEXED}
        self._wild: dict[str, list[_Sub]] = {ch: [] for ch in _INDEXED}
        self._subs: dict[str, list[_Sub]] = {ch: [] for ch in CHANNELS if ch not in _INDEXED}
        self._ticker_dirty: dict[str, Decimal | None] = {}
        self._ticker_scheduled = False
        self._ticker_last: dict[str, tuple[Any, ...]] = {}
        self._market_head: dict[str, str] = {}
        self._price_text: dict[Decimal, tuple[str, int | None]] = {}
        self._delta_text_cache: dict[Decimal, tuple[str, int | None]] = {}
        self._iso_second = -1
        self._iso_prefix = ""
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
        if ctx.faults.ws_handshake_503:
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
        conn = _Conn(next(self._conn_ids), ws, request, account_id)
        self._open(conn)
        try:
            await self._read_loop(conn)
        finally:
            await self._close(conn)
        return ws

    def _open(self, conn: _Conn) -> None:
        self._conns[conn.conn_id] = conn
        self.stats.accepted += 1
        self.stats.connections = len(self._conns)
        if self._bus_sub is None:
            self._bus_sub = self.ctx.bus.subscribe(self._on_event, tuple(self._dispatch))
        conn.tasks.append(asyncio.create_task(self._writer(conn), name=f"ws-writer-{conn.conn_id}"))
        conn.tasks.append(asyncio.create_task(self._pinger(conn), name=f"ws-pinger-{conn.conn_id}"))
        log.debug("ws connection %d opened (account %s)", conn.conn_id, conn.account_id or "-")

    async def _close(self, conn: _Conn) -> None:
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

        async def close_one(conn: _Conn) -> None:
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
    async def _read_loop(self, conn: _Conn) -> None:
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

    async def _writer(self, conn: _Conn) -> None:
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
                text = payload if kind == "text" else self._render(conn, sub, seq, kind, payload)
                await ws.send_str(text)
                self.stats.frames_sent += 1
        except (ConnectionError, RuntimeError) as exc:
            log.debug("ws connection %d: write failed: %s", conn.conn_id, exc)
            conn.abort()

    async def _pinger(self, conn: _Conn) -> None:
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
    def _reply(self, conn: _Conn, frame: dict[str, Any], cmd_id: int | None) -> None:
        if cmd_id:
            frame = {"id": cmd_id, **frame}
        conn.push((None, None, "frame", frame))

    def _error(self, conn: _Conn, cmd_id: int | None, code: int, detail: str | None = None, **extra: Any) -> None:
        text = WS_ERROR_MESSAGES.get(code, "Error")
        msg: dict[str, Any] = {"code": code, "msg": f"{text}: {detail}" if detail else text}
        msg.update(extra)
        self._reply(conn, {"type": "error", "msg": msg}, cmd_id)

    async def _command(self, conn: _Conn, text: str) -> None:
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
                raise _CommandError(E_COMMAND, None if cmd is None else str(cmd)[:100])
        except _CommandError as exc:
            self._error(conn, cmd_id, exc.code, exc.detail, **exc.extra)

    def _params(self, params: Any) -> dict[str, Any]:
        if params is None:
            raise _CommandError(E_PARAMS)
        if not isinstance(params, dict):
            raise _CommandError(E_PARAM, "params must be an object")
        return params

    def _tickers(self, params: dict[str, Any]) -> list[str] | None:
        """The market selector of ``params``: a list of known tickers, or None when absent."""
        given = [k for k in ("market_ticker", "market_tickers", "market_id", "market_ids") if params.get(k) is not None]
        if len(given) > 1:
            raise _CommandError(E_PARAM, "give exactly one market selector")
        if not given:
            return None
        key = given[0]
        if key in ("market_id", "market_ids"):
            raise _CommandError(E_PARAM, f"{key} selectors are not supported; use market_tickers")
        value = params[key]
        tickers = [value] if key == "market_ticker" else value
        if not isinstance(tickers, list) or not tickers or not all(isinstance(t, str) and t for t in tickers):
            raise _CommandError(E_PARAM, f"{key} must be a non-empty ticker string or list of them")
        unknown = [t for t in tickers if t not in self.ctx.exchange.markets]
        if unknown:
            raise _CommandError(E_PARAM, "unknown market ticker", market_tickers=unknown[:100])
        return list(dict.fromkeys(tickers))

    async def _subscribe(self, conn: _Conn, cmd_id: int | None, params: Any) -> None:
        p = self._params(params)
        channels = p.get("channels")
        if channels is None or channels == []:
            raise _CommandError(E_CHANNELS)
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise _CommandError(E_PARAM, "channels must be a list of channel names")
        channels = list(dict.fromkeys(channels))
        for channel in channels:
            if channel not in CHANNELS:
                raise _CommandError(E_CHANNEL, channel[:100])
        if conn.account_id is None:
            for channel in channels:
                if channel in PRIVATE_CHANNELS or (channel == ORDERBOOK and not self.public_orderbook):
                    raise _CommandError(E_AUTH, f"{channel} needs an authenticated connection")
        tickers = self._tickers(p)
        if tickers is None and ORDERBOOK in channels:
            raise _CommandError(E_MARKET_REQUIRED, "orderbook_delta needs market_ticker or market_tickers")
        initial = p.get("send_initial_snapshot", False)
        if not isinstance(initial, bool):
            raise _CommandError(E_PARAM, "send_initial_snapshot must be a boolean")
        await self.ctx.sync()
        if conn.closed:
            return
        # from here on nothing awaits: the snapshots and the routes see one exchange state
        for channel in channels:
            markets = dict.fromkeys(tickers) if tickers is not None and channel in _MARKET_SCOPED else None
            sub = _Sub(conn, next(conn.next_sid), channel, markets)
            conn.subs[sub.sid] = sub
            self._register(sub)
            self._reply(conn, {"type": "subscribed", "msg": {"channel": channel, "sid": sub.sid}}, cmd_id)
            if channel == ORDERBOOK:
                for ticker in sub.markets or ():
                    self._push_snapshot(sub, ticker, None)
            elif channel == TICKER and initial:
                wanted = tickers if tickers is not None else self._active_markets()
                for ticker in wanted:
                    self._push_data(sub, "ticker", self._ticker_msg(ticker, None))

    def _unsubscribe(self, conn: _Conn, cmd_id: int | None, params: Any) -> None:
        p = self._params(params)
        sids = p.get("sids")
        if sids is None or sids == []:
            raise _CommandError(E_SIDS)
        if not isinstance(sids, list) or not all(type(s) is int for s in sids):
            raise _CommandError(E_PARAM, "sids must be a list of integers")
        unknown = [s for s in sids if s not in conn.subs]
        if unknown:
            raise _CommandError(E_SID, ", ".join(str(s) for s in unknown[:20]))
        for sid in dict.fromkeys(sids):
            sub = conn.subs.pop(sid)
            self._unregister(sub)
            frame: dict[str, Any] = {"sid": sid, "type": "unsubscribed"}
            if sub.has_seq:
                sub.seq += 1
                frame["seq"] = sub.seq
            self._reply(conn, frame, cmd_id)

    async def _update(self, conn: _Conn, cmd_id: int | None, params: Any) -> None:
        p = self._params(params)
        action = p.get("action")
        if action is None:
            raise _CommandError(E_ACTION)
        if action not in _ACTIONS:
            raise _CommandError(E_ACTION_UNSUPPORTED, str(action)[:100])
        has_sid, has_sids = p.get("sid") is not None, p.get("sids") is not None
        if has_sid == has_sids:
            raise _CommandError(E_ONE_SID)
        sid = p["sid"] if has_sid else p["sids"]
        if has_sids:
            if not isinstance(sid, list) or len(sid) != 1:
                raise _CommandError(E_ONE_SID)
            sid = sid[0]
        if type(sid) is not int:
            raise _CommandError(E_PARAM, "sid must be an integer")
        sub = conn.subs.get(sid)
        if sub is None:
            raise _CommandError(E_SID, str(sid))
        tickers = self._tickers(p)
        if action == "get_snapshot":
            if sub.channel != ORDERBOOK:
                raise _CommandError(E_ACTION_UNSUPPORTED, "get_snapshot is for orderbook_delta subscriptions")
            assert sub.markets is not None
            wanted = tickers if tickers is not None else list(sub.markets)
            outside = [t for t in wanted if t not in sub.markets]
            if outside:
                raise _CommandError(E_PARAM, "market not in the subscription", market_tickers=outside[:100])
            await self.ctx.sync()
            if conn.closed or not sub.alive:
                return
            for ticker in wanted:
                self._push_snapshot(sub, ticker, cmd_id)
            return
        if sub.channel not in _MARKET_SCOPED:
            raise _CommandError(E_ACTION_UNSUPPORTED, f"{sub.channel} has no market list")
        if sub.markets is None:
            raise _CommandError(E_PARAM, "the subscription covers all markets")
        if tickers is None:
            raise _CommandError(E_MARKET_REQUIRED)
        if action == "add_markets":
            await self.ctx.sync()
            if conn.closed or not sub.alive:
                return
            added = [t for t in tickers if t not in sub.markets]
            self._unregister(sub)
            for t in added:
                sub.markets[t] = None
            self._register(sub)
        else:
            added = []
            self._unregister(sub)
            for t in tickers:
                sub.markets.pop(t, None)
            self._register(sub)
        frame: dict[str, Any] = {"sid": sub.sid, "type": "ok", "msg": {"market_tickers": list(sub.markets)}}
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
    def _register(self, sub: _Sub) -> None:
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

    def _unregister(self, sub: _Sub) -> None:
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

    def _targets(self, channel: str, ticker: str) -> list[_Sub]:
        subs = self._index[channel].get(ticker)
        wild = self._wild[channel]
        if subs is None:
            return wild
        return subs + wild if wild else subs

    def _push_data(self, sub: _Sub, kind: str, payload: Any, *, skip: int = 0) -> None:
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

    def _overflow(self, sub: _Sub) -> None:
        self.stats.overflows += 1
        sub.alive = False
        conn = sub.conn
        conn.subs.pop(sub.sid, None)
        self._unregister(sub)
        log.info("ws connection %d: sid %d (%s) overflowed its buffer", conn.conn_id, sub.sid, sub.channel)
        text = WS_ERROR_MESSAGES[E_OVERFLOW]
        conn.push((None, None, "frame", {"type": "error", "sid": sub.sid, "msg": {"code": E_OVERFLOW, "msg": text}}))

    def _push_snapshot(self, sub: _Sub, ticker: str, cmd_id: int | None) -> None:
        yes, no = _shown_levels(self.ctx.exchange.markets[ticker].book)
        self._push_data(sub, "snapshot", (ticker, yes, no, cmd_id))

    def _on_event(self, event: Any) -> None:
        self._dispatch[type(event)](event)

    def _on_book_delta(self, e: BookDelta) -> None:
        subs = self._index[ORDERBOOK].get(e.ticker)
        if subs:
            faults = self.ctx.faults
            for sub in list(subs):
                skip = 0
                if faults.ws_skip_seq > 0:
                    faults.ws_skip_seq -= 1
                    skip = 1
                self._push_data(sub, "delta", e, skip=skip)
        self._ticker_touch(e.ticker, None)

    def _on_trade(self, e: TradeEvent) -> None:
        for sub in list(self._targets(TRADE, e.ticker)):
            self._push_data(sub, "trade", e)
        self._ticker_touch(e.ticker, e.count)

    def _private(self, channel: str, account_id: str, ticker: str | None) -> list[_Sub]:
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
        msg = self._lifecycle_msg(e)
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
            msg = self._ticker_msg(ticker, trade_count)
            key = (msg["yes_bid_dollars"], msg["yes_ask_dollars"], msg["yes_bid_size_fp"], msg["yes_ask_size_fp"])
            if trade_count is None and self._ticker_last.get(ticker) == key:
                continue
            self._ticker_last[ticker] = key
            for sub in list(self._targets(TICKER, ticker)):
                self._push_data(sub, "ticker", msg)

    def _active_markets(self) -> list[str]:
        return [t for t, s in self.ctx.exchange.markets.items() if s.status == mk.ACTIVE]

    def _ticker_msg(self, ticker: str, trade_count: Decimal | None) -> dict[str, Any]:
        """A ``ticker`` msg (§6.5): top of the displayed book, last trade, volume; served times."""
        state = self.ctx.exchange.markets[ticker]
        book = state.book
        best_yes, best_no = book.best("yes"), book.best("no")
        yes_bid = best_yes[0] if best_yes else Decimal(0)
        yes_ask = ONE_DOLLAR - best_no[0] if best_no else ONE_DOLLAR
        last = state.last_price if state.last_price is not None else Decimal(0)
        now = self.ctx.served_now_ms()
        msg: dict[str, Any] = {"market_ticker": ticker}
        _market_id(msg, state)
        msg.update(
            {
                "price_dollars": wire.price(last),
                "yes_bid_dollars": wire.price(yes_bid),
                "yes_ask_dollars": wire.price(yes_ask),
                "yes_bid_size_fp": wire.count(best_yes[1] if best_yes else Decimal(0)),
                "yes_ask_size_fp": wire.count(best_no[1] if best_no else Decimal(0)),
                "last_trade_size_fp": wire.count(trade_count if trade_count is not None else Decimal(0)),
                "volume_fp": wire.count(state.volume),
                "open_interest_fp": "0.00",
                "ts": now // 1000,
                "ts_ms": now,
                "time": iso_ms(now),
            }
        )
        _put_exact(msg, "price", _exact_cents(last))
        _put_exact(msg, "yes_bid", _exact_cents(yes_bid))
        _put_exact(msg, "yes_ask", _exact_cents(yes_ask))
        _put_exact(msg, "volume", _exact_int(state.volume))
        msg["open_interest"] = 0
        return msg

    # -- lifecycle -------------------------------------------------------------------------------------
    def _lifecycle_msg(self, e: LifecycleEvent) -> dict[str, Any] | None:
        state = self.ctx.exchange.markets.get(e.ticker)
        msg: dict[str, Any] = {"market_ticker": e.ticker}
        if state is not None:
            _market_id(msg, state)
        if e.event_type == "closed":
            if state is None or state.close_ms >= state.definition.close_ms:
                return None  # the scheduled close is implicit on Kalshi (§7)
            msg["event_type"] = "close_date_updated"
            msg["close_ts"] = (state.close_ms + self.ctx.clock.offset_ms) // 1000
        elif e.event_type == "determined":
            msg["event_type"] = "determined"
            msg["determination_ts"] = e.ts_ms // 1000
            msg["result"] = e.result or ""
            if e.settlement_value is not None:
                msg["settlement_value"] = wire.price(e.settlement_value)
        elif e.event_type == "settled":
            msg["event_type"] = "settled"
            msg["settled_ts"] = e.ts_ms // 1000
        else:
            return None  # "opened": implicit on Kalshi (§7)
        return msg

    # ==================================================================================================
    # rendering (in the writer task, off the exchange's path)
    # ==================================================================================================
    def _render(self, conn: _Conn, sub: _Sub | None, seq: int | None, kind: str, payload: Any) -> str:
        if kind == "delta":
            assert sub is not None and seq is not None
            return self._delta_text(conn, sub.sid, seq, payload)
        if kind == "frame":
            frame = payload
        else:
            assert sub is not None
            msg_type, msg, cmd_id = self._RENDERERS[kind](self, conn, payload)
            frame = {"type": msg_type, "sid": sub.sid}
            if seq is not None:
                frame["seq"] = seq
            if cmd_id:
                frame["id"] = cmd_id
            frame["msg"] = msg
        return json.dumps(frame, separators=(",", ":"))

    def _r_snapshot(self, conn: _Conn, payload: Any) -> tuple[str, dict[str, Any], int | None]:
        ticker, yes, no, cmd_id = payload
        msg: dict[str, Any] = {"market_ticker": ticker}
        _market_id(msg, self.ctx.exchange.markets[ticker])
        for side, levels in (("yes", yes), ("no", no)):
            if not levels:
                continue  # a side's key is absent when that side is empty (§6.5)
            msg[f"{side}_dollars_fp"] = [[wire.price(p), wire.count(s)] for p, s in levels]
            legacy = [(_exact_cents(p), _exact_int(s)) for p, s in levels]
            if all(c is not None and n is not None for c, n in legacy):
                msg[side] = [[c, n] for c, n in legacy]
        return "orderbook_snapshot", msg, cmd_id

    def _delta_text(self, conn: _Conn, sid: int, seq: int, e: BookDelta) -> str:
        """The ``orderbook_delta`` frame as JSON text (the hot path: cached pieces, no dict, no json.dumps).

        Same content as the generic renderer would produce: ``market_ticker``, ``market_id`` when known,
        ``price_dollars``, ``delta_fp``, ``side``, ``ts`` (RFC3339), ``ts_ms``, legacy ``price`` (cents) and
        ``delta`` (contracts) when exact, and ``client_order_id``/``subaccount`` for the order's owner.
        """
        head = self._market_head.get(e.ticker)
        if head is None:
            msg: dict[str, Any] = {"market_ticker": e.ticker}
            _market_id(msg, self.ctx.exchange.markets[e.ticker])
            head = self._market_head[e.ticker] = json.dumps(msg, separators=(",", ":"))[:-1]
        price = _cached(self._price_text, e.price, _price_pair)
        delta = _cached(self._delta_text_cache, e.delta, _count_pair)
        ts_ms = e.ts_ms
        second = ts_ms // 1000
        if second != self._iso_second:
            self._iso_second = second
            self._iso_prefix = iso_ms(second * 1000).removesuffix("Z")
        frac = ts_ms % 1000
        iso = f"{self._iso_prefix}.{frac:03d}Z" if frac else f"{self._iso_prefix}Z"
        legacy = ""
        if price[1] is not None:
            legacy += f',"price":{price[1]}'
        if delta[1] is not None:
            legacy += f',"delta":{delta[1]}'
        if e.account_id is not None and e.account_id == conn.account_id and e.client_order_id:
            legacy += f',"client_order_id":{json.dumps(e.client_order_id)},"subaccount":0'
        return (
            f'{{"type":"orderbook_delta","sid":{sid},"seq":{seq},"msg":{head},"price_dollars":"{price[0]}",'
            f'"delta_fp":"{delta[0]}","side":"{e.side}","ts":"{iso}","ts_ms":{ts_ms}{legacy}}}}}'
        )

    def _r_trade(self, conn: _Conn, e: TradeEvent) -> tuple[str, dict[str, Any], int | None]:
        no_price = ONE_DOLLAR - e.yes_price
        outcome = e.taker_outcome_side
        msg: dict[str, Any] = {
            "trade_id": e.trade_id,
            "market_ticker": e.ticker,
            "yes_price_dollars": wire.price(e.yes_price),
            "no_price_dollars": wire.price(no_price),
            "count_fp": wire.count(e.count),
            "taker_side": outcome,
            "taker_outcome_side": outcome,
            "taker_book_side": e.taker_book_side,
            "is_block_trade": False,
            "ts": e.ts_ms // 1000,
            "ts_ms": e.ts_ms,
        }
        _put_exact(msg, "yes_price", _exact_cents(e.yes_price))
        _put_exact(msg, "no_price", _exact_cents(no_price))
        _put_exact(msg, "count", _exact_int(e.count))
        return "trade", msg, None

    def _r_ticker(self, conn: _Conn, msg: dict[str, Any]) -> tuple[str, dict[str, Any], int | None]:
        return "ticker", msg, None

    def _r_fill(self, conn: _Conn, e: FillEvent) -> tuple[str, dict[str, Any], int | None]:
        f = e.fill
        yes_price = _dec(f["yes_price_dollars"])
        count = _dec(f["count_fp"])
        msg: dict[str, Any] = {
            "trade_id": f["trade_id"],
            "order_id": f["order_id"],
            "market_ticker": e.ticker,
            "exchange_index": 0,
            "is_taker": f["is_taker"],
            "side": f["side"],
            "action": f["action"],
            "outcome_side": f["outcome_side"],
            "book_side": f["book_side"],
            "purchased_side": f["outcome_side"],
            "yes_price_dollars": f["yes_price_dollars"],
            "no_price_dollars": f["no_price_dollars"],
            "count_fp": f["count_fp"],
            "fee_cost": f["fee_cost"],
            "post_position_fp": wire.count(e.post_position),
            "ts": e.ts_ms // 1000,
            "ts_ms": e.ts_ms,
        }
        if f.get("client_order_id"):
            msg["client_order_id"] = f["client_order_id"]
        _put_exact(msg, "yes_price", _exact_cents(yes_price))
        _put_exact(msg, "count", _exact_int(count))
        _put_exact(msg, "post_position", _exact_int(e.post_position))
        return "fill", msg, None

    def _r_user_order(self, conn: _Conn, e: UserOrderEvent) -> tuple[str, dict[str, Any], int | None]:
        o = e.order
        msg: dict[str, Any] = {
            key: o.get(key)
            for key in (
                "order_id",
                "user_id",
                "ticker",
                "client_order_id",
                "order_group_id",
                "status",
                "side",
                "outcome_side",
                "book_side",
                "yes_price_dollars",
                "no_price_dollars",
                "fill_count_fp",
                "remaining_count_fp",
                "initial_count_fp",
                "self_trade_prevention_type",
                "created_time",
                "created_ts_ms",
                "last_update_time",
                "last_updated_ts_ms",
                "expiration_time",
                "expiration_ts_ms",
                "subaccount_number",
                "exchange_index",
            )
        }
        msg["is_yes"] = o.get("side") == "yes"
        for key in ("taker_fill_cost_dollars", "maker_fill_cost_dollars", "taker_fees_dollars", "maker_fees_dollars"):
            msg[key] = f"{_dec(o[key]):.6f}"  # 6-dp dollars on this channel (§6.5 user_orders)
        if e.reason is not None or o.get("last_update_reason"):
            msg["last_update_reason"] = e.reason or o.get("last_update_reason")
        _put_exact(msg, "yes_price", _exact_cents(_dec(o["yes_price_dollars"])))
        for key in ("fill_count", "remaining_count", "initial_count"):
            _put_exact(msg, key, _exact_int(_dec(o[f"{key}_fp"])))
        return "user_order", msg, None

    def _r_position(self, conn: _Conn, e: PositionEvent) -> tuple[str, dict[str, Any], int | None]:
        account = self.ctx.exchange.accounts.get(e.account_id)
        msg: dict[str, Any] = {
            "user_id": account.user_id if account is not None else "",
            "market_ticker": e.ticker,
            "position_fp": wire.count(e.position),
            "position_cost_dollars": wire.money(e.position_cost),
            "realized_pnl_dollars": wire.money(e.realized_pnl),
            "fees_paid_dollars": wire.money(e.fees_paid),
            "volume_fp": wire.count(e.volume),
        }
        _put_exact(msg, "position", _exact_int(e.position))
        _put_exact(msg, "position_cost", _exact_centi_cents(e.position_cost))
        _put_exact(msg, "realized_pnl", _exact_centi_cents(e.realized_pnl))
        _put_exact(msg, "fees_paid", _exact_centi_cents(e.fees_paid))
        _put_exact(msg, "volume", _exact_int(e.volume))
        return "market_position", msg, None

    def _r_order_group(self, conn: _Conn, e: OrderGroupEvent) -> tuple[str, dict[str, Any], int | None]:
        msg: dict[str, Any] = {"event_type": e.event_type, "order_group_id": e.order_group_id, "ts_ms": e.ts_ms}
        if e.contracts_limit is not None and e.event_type in ("created", "limit_updated"):
            msg["contracts_limit_fp"] = wire.count(e.contracts_limit)
        return "order_group_updates", msg, None

    def _r_lifecycle(self, conn: _Conn, msg: dict[str, Any]) -> tuple[str, dict[str, Any], int | None]:
        return "market_lifecycle_v2", msg, None

    _RENDERERS: dict[str, Callable[[WsServer, _Conn, Any], tuple[str, dict[str, Any], int | None]]] = {
        "snapshot": _r_snapshot,
        "trade": _r_trade,
        "ticker": _r_ticker,
        "fill": _r_fill,
        "user_order": _r_user_order,
        "market_position": _r_position,
        "order_group": _r_order_group,
        "lifecycle": _r_lifecycle,
    }


_CACHE_LIMIT = 1 << 14
"""Entries kept per text cache (prices: at most 10,001 per side; delta sizes: a few thousand per market)."""


def _price_pair(price: Decimal) -> tuple[str, int | None]:
    return wire.price(price), _exact_cents(price)


def _count_pair(count: Decimal) -> tuple[str, int | None]:
    return wire.count(count), _exact_int(count)


def _cached(
    cache: dict[Decimal, tuple[str, int | None]], key: Decimal, make: Callable[[Decimal], tuple[str, int | None]]
) -> tuple[str, int | None]:
    """``make(key)`` through a bounded cache (cleared when full)."""
    value = cache.get(key)
    if value is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        value = cache[key] = make(key)
    return value


def _market_id(msg: dict[str, Any], state: mk.MarketState) -> None:
    """Add ``market_id`` when the market definition carries one (recorded metadata or synthetic)."""
    market_id = state.definition.raw_market.get("market_id")
    if isinstance(market_id, str) and market_id:
        msg["market_id"] = market_id


def _shown_levels(book: Any) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    """The displayed levels the delta stream was last flushed at: ``(yes, no)``, ascending by price.

    ``OrderBook._shown`` holds the displayed size of every level as of the exchange's last flush, which is
    exactly the state the published :class:`~simulator.events.BookDelta` stream has reached. It equals
    ``OrderBook.displayed_levels`` (what REST serves) whenever no change is waiting to be flushed, and a
    snapshot built from it can never double-count a change whose delta is still to come.
    """
    yes: list[tuple[Decimal, Decimal]] = []
    no: list[tuple[Decimal, Decimal]] = []
    for (side, price), size in book._shown.items():
        (yes if side == "yes" else no).append((price, size))
    yes.sort()
    no.sort()
    return yes, no
