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

Modules, one concern each, layered bottom-up into :class:`KalshiWebSocketClient`:
:mod:`~kalshi.ws.events` (errors, client events, state, counters), :mod:`~kalshi.ws.core` (subscription
handles, one connection's session, commands and replies), :mod:`~kalshi.ws.subscriptions` (subscribe,
update, restore, resync, re-create), :mod:`~kalshi.ws.sequence` (frame routing and per-sid ``seq``
tracking), :mod:`~kalshi.ws.client` (lifecycle, handshake, connection loop and backoff).
"""

from kalshi.ws import core, events
from kalshi.ws.client import KalshiWebSocketClient
from kalshi.ws.core import *  # noqa: F403 - the package re-exports the handles and the client's events
from kalshi.ws.events import *  # noqa: F403

__all__ = ["KalshiWebSocketClient", *core.__all__, *events.__all__]
