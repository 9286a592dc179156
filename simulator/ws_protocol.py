"""The vocabulary and per-connection state of the simulator's WebSocket API (kalshi-api.md §6.2-§6.5).

Channel names, the numeric error codes and their messages (§6.3), the state of one connection and of one of
its subscriptions, and the checks of command arguments that need no exchange state. The server that uses
them is :mod:`simulator.ws`; the frames it sends are rendered by :mod:`simulator.ws_frames`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Any

from aiohttp import web

__all__ = [
    "CHANNELS",
    "COMMUNICATIONS",
    "E_ACTION",
    "E_ACTION_UNSUPPORTED",
    "E_AUTH",
    "E_CHANNEL",
    "E_CHANNELS",
    "E_COMMAND",
    "E_MARKET_REQUIRED",
    "E_ONE_SID",
    "E_OVERFLOW",
    "E_PARAM",
    "E_PARAMS",
    "E_SID",
    "E_SIDS",
    "E_UNABLE",
    "FILL",
    "INDEXED_CHANNELS",
    "LIFECYCLE",
    "MARKET_SCOPED",
    "MVE_LIFECYCLE",
    "ORDERBOOK",
    "ORDER_GROUPS",
    "POSITIONS",
    "PRIVATE_CHANNELS",
    "SEQ_CHANNELS",
    "TICKER",
    "TRADE",
    "UPDATE_ACTIONS",
    "USER_ORDERS",
    "WS_ERROR_MESSAGES",
    "CommandError",
    "QueuedFrame",
    "WsConn",
    "WsSub",
    "market_action_args",
    "subscribe_channels",
    "update_action",
    "update_target",
]

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

MARKET_SCOPED = frozenset({ORDERBOOK, TICKER, TRADE, FILL, POSITIONS, USER_ORDERS})
"""Channels filtered by a market selector (optional except for ``orderbook_delta``)."""

SEQ_CHANNELS = frozenset({ORDERBOOK, TRADE, LIFECYCLE, MVE_LIFECYCLE, ORDER_GROUPS, COMMUNICATIONS})
"""Channels whose data frames and ok/unsubscribed replies carry ``seq`` (§6.4)."""

INDEXED_CHANNELS = (ORDERBOOK, TRADE, TICKER)
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
E_CHANNEL_ERROR = 10
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
    E_CHANNEL_ERROR: "Channel error",
    E_PARAM: "Invalid parameter",
    E_ONE_SID: "Exactly one subscription ID is required",
    E_ACTION_UNSUPPORTED: "Action not supported",
    E_MARKET_REQUIRED: "Market ticker required",
    E_ACTION: "Action required",
    E_OVERFLOW: "Subscription buffer overflow",
}
"""The ``msg`` text of each error code the simulator sends."""

UPDATE_ACTIONS = frozenset({"add_markets", "delete_markets", "get_snapshot"})


class CommandError(Exception):
    """A command failed with WS error ``code``; ``detail`` is appended to the standard message."""

    def __init__(self, code: int, detail: str | None = None, **extra: Any) -> None:
        self.code = code
        self.detail = detail
        self.extra = extra
        super().__init__(f"{code}: {detail}")


def update_action(params: dict[str, Any]) -> str:
    """The ``action`` of an ``update_subscription`` command (error 15 when missing, 13 when unknown)."""
    action = params.get("action")
    if action is None:
        raise CommandError(E_ACTION)
    if action not in UPDATE_ACTIONS:
        raise CommandError(E_ACTION_UNSUPPORTED, str(action)[:100])
    return str(action)


def update_target(conn: WsConn, params: dict[str, Any]) -> WsSub:
    """The one subscription an ``update_subscription`` names by ``sid`` or ``sids: [sid]`` (errors 12, 11, 7)."""
    has_sid, has_sids = params.get("sid") is not None, params.get("sids") is not None
    if has_sid == has_sids:
        raise CommandError(E_ONE_SID)
    sid = params["sid"] if has_sid else params["sids"]
    if has_sids:
        if not isinstance(sid, list) or len(sid) != 1:
            raise CommandError(E_ONE_SID)
        sid = sid[0]
    if type(sid) is not int:
        raise CommandError(E_PARAM, "sid must be an integer")
    sub = conn.subs.get(sid)
    if sub is None:
        raise CommandError(E_SID, str(sid))
    return sub


def market_action_args(sub: WsSub, tickers: list[str] | None) -> tuple[dict[str, None], list[str]]:
    """Check an ``add_markets`` / ``delete_markets`` target (errors 13, 11, 14); its market set and the tickers."""
    if sub.channel not in MARKET_SCOPED:
        raise CommandError(E_ACTION_UNSUPPORTED, f"{sub.channel} has no market list")
    if sub.markets is None:
        raise CommandError(E_PARAM, "the subscription covers all markets")
    if tickers is None:
        raise CommandError(E_MARKET_REQUIRED)
    return sub.markets, tickers


def subscribe_channels(params: dict[str, Any], authenticated: bool, public_orderbook: bool) -> list[str]:
    """The channels of a ``subscribe`` command, unique, in order (errors 3, 11, 8, and 9 for private ones)."""
    channels = params.get("channels")
    if channels is None or channels == []:
        raise CommandError(E_CHANNELS)
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise CommandError(E_PARAM, "channels must be a list of channel names")
    channels = list(dict.fromkeys(channels))
    for channel in channels:
        if channel not in CHANNELS:
            raise CommandError(E_CHANNEL, channel[:100])
    if not authenticated:
        for channel in channels:
            if channel in PRIVATE_CHANNELS or (channel == ORDERBOOK and not public_orderbook):
                raise CommandError(E_AUTH, f"{channel} needs an authenticated connection")
    return channels


# -- connection state -----------------------------------------------------------------------------------
class WsSub:
    """One subscription of one connection (a sid).

    ``markets`` is an insertion-ordered set of tickers, or None for "all markets"; ``seq`` is the last seq
    number assigned (0 before the first frame); ``pending`` counts this sid's frames waiting in the
    connection's queue (bounded by ``ws_subscription_buffer``, error 25 beyond).
    """

    __slots__ = ("alive", "channel", "conn", "has_seq", "markets", "pending", "seq", "sid")

    def __init__(self, conn: WsConn, sid: int, channel: str, markets: dict[str, None] | None) -> None:
        self.conn = conn
        self.sid = sid
        self.channel = channel
        self.markets = markets
        self.seq = 0
        self.pending = 0
        self.alive = True
        self.has_seq = channel in SEQ_CHANNELS

    def covers(self, ticker: str) -> bool:
        """Whether frames about ``ticker`` belong to this subscription."""
        return self.markets is None or ticker in self.markets


QueuedFrame = tuple[WsSub | None, int | None, str, Any]
"""A queued frame: (subscription or None for replies, seq or None, kind, payload)."""


class WsConn:
    """One WebSocket connection: its account, subscriptions, outgoing queue and tasks."""

    def __init__(self, conn_id: int, ws: web.WebSocketResponse, request: web.Request, account_id: str | None) -> None:
        self.conn_id = conn_id
        self.ws = ws
        self.request = request
        self.account_id = account_id
        self.subs: dict[int, WsSub] = {}
        self.next_sid = itertools.count(1)
        self.queue: deque[QueuedFrame] = deque()
        self.wake = asyncio.Event()
        self.awaiting_pong = False
        self.missed_pongs = 0
        self.closed = False
        self.tasks: list[asyncio.Task[None]] = []

    def push(self, item: QueuedFrame) -> None:
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
