"""kalshi.ws / kalshi.feed against the real simulator over real sockets.

The simulator runs in process on a free port with a paused clock; the tests step it with the control API
and compare the feed's books with the simulator's REST book and an independent fold of the recorded tape.
Waiting is always on events (a listener queue) or on a ``list_subscriptions`` round trip, whose reply the
server queues behind every frame published before it; timeouts only bound failures.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from kalshi.errors import KalshiAuthError
from kalshi.feed import MarketDataFeed
from kalshi.models.ws import OrderbookSnapshot
from kalshi.orderbook import PriceGrid
from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner, generate_key_pair
from kalshi.ws import (
    Connected,
    ConnectionFailed,
    ConnectionState,
    Disconnected,
    KalshiWebSocketClient,
    Resynced,
    SequenceGap,
    SubscriptionReset,
    WebSocketCommandError,
    WebSocketUnavailable,
)
from tests.simulator.conftest import Sim, requires_tape, running
from tests.simulator.tape_oracle import fold

pytestmark = requires_tape

MARKET = "KXGOLD15M-26AUG101800-00"
OTHER = "KXGOLD15M-26AUG101815-15"
OPEN_AT = "2026-08-10T21:50:00Z"
TIMEOUT = 10.0

_KEYS: list[tuple[bytes, bytes]] = []


def key_pair(index: int = 0) -> tuple[bytes, bytes]:
    while len(_KEYS) <= index:
        _KEYS.append(generate_key_pair())
    return _KEYS[index]


async def register(sim: Sim, key_id: str = "ws-client", index: int = 0) -> RequestSigner:
    private_pem, public_pem = key_pair(index)
    r = await sim.ctl("POST", "/accounts", json={"key_id": key_id, "public_key_pem": public_pem.decode()})
    assert r.status_code == 201, r.text
    return RequestSigner.from_pem(private_pem, key_id)


def make_client(sim: Sim, signer: RequestSigner | None, **kwargs: Any) -> KalshiWebSocketClient:
    options: dict[str, Any] = {
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        "command_timeout_s": 5.0,
        "rng": random.Random(7),
    }
    options.update(kwargs)
    return KalshiWebSocketClient(sim.server.ws_url, signer, **options)


class Events:
    """Every event the client delivers, in order, for awaiting specific ones."""

    def __init__(self, client: KalshiWebSocketClient) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.seen: list[Any] = []
        client.add_listener(self._on)

    def _on(self, event: Any, raw: bytes | None, recv_ms: int) -> None:
        self.queue.put_nowait(event)

    async def wait(self, pred: Callable[[Any], bool], what: str = "event") -> Any:
        async with asyncio.timeout(TIMEOUT):
            while True:
                event = await self.queue.get()
                self.seen.append(event)
                if pred(event):
                    return event


@asynccontextmanager
async def feed_on(
    sim: Sim, signer: RequestSigner | None, **kwargs: Any
) -> AsyncIterator[tuple[KalshiWebSocketClient, MarketDataFeed, Events]]:
    client = make_client(sim, signer, **kwargs)
    feed = MarketDataFeed(client)
    events = Events(client)
    async with client:
        await client.wait_ready(TIMEOUT)
        yield client, feed, events


async def book_matches_rest(
    sim: Sim, client: KalshiWebSocketClient, feed: MarketDataFeed, ticker: str
) -> dict[str, Any]:
    """Barrier, then compare the feed's book with REST; return the REST book."""
    await client.list_subscriptions()
    book = feed.book(ticker)
    assert book is not None and book.trusted, feed.freshness(ticker)
    rest = await sim.book(ticker)
    assert book.as_decimal_levels() == rest
    return rest


# =================================================================================================
# books
# =================================================================================================


async def test_feed_books_equal_rest_book_and_tape_fold() -> None:
    async with running() as sim:
        clock = await sim.goto(OPEN_AT)
        signer = await register(sim)
        async with (
            KalshiRestClient(sim.server.rest_url, signer) as rest,
            feed_on(sim, signer) as (client, feed, _events),
        ):
            market = await rest.get_market(MARKET)
            assert await feed.add_markets([market]) == (MARKET,)
            assert feed.book(MARKET) is not None and feed.book(MARKET).grid is PriceGrid.linear_cent()
            book = await book_matches_rest(sim, client, feed, MARKET)
            assert book == fold(MARKET, clock["tape_time_ms"])
            # another order-book subscription on the same client: the feed applies its own sid only
            (extra,) = await client.subscribe("orderbook_delta", [MARKET])
            assert extra.sid == 2 and feed.subscription.sid == 1
            for step in ("1.5", "4", "20"):
                clock = await sim.advance(step)
                book = await book_matches_rest(sim, client, feed, MARKET)
                assert book == fold(MARKET, clock["tape_time_ms"])

            fresh = feed.freshness(MARKET)
            assert fresh.trusted and fresh.connected and fresh.exists
            assert fresh.last_exchange_ts_ms is not None and fresh.last_recv_ms is not None
            assert fresh.usable(60_000) and feed.usable_book(MARKET, 60_000) is feed.book(MARKET)
            assert not feed.freshness(OTHER).usable(60_000) and feed.usable_book(OTHER, 60_000) is None
            c, f = client.counters, feed.counters
            assert (c.connects, c.reconnects, c.gaps, c.resyncs, c.malformed_frames) == (1, 0, 0, 0, 0)
            assert c.frames_by_type["orderbook_snapshot"] == 2 and f.snapshots_applied == 1
            assert c.frames_by_type["orderbook_delta"] == f.deltas_applied + f.ignored_frames - 1
            assert f.deltas_applied > 100 and f.ignored_frames > 100 and f.last_delta_age_ms is not None
            metrics = feed.metrics()
            assert metrics["ws_connected"] is True and metrics["feed_books_trusted"] == 1
            assert metrics["ws_frames_orderbook_delta"] == c.frames_by_type["orderbook_delta"]


async def test_seq_gap_marks_books_untrusted_and_resyncs_with_get_snapshot() -> None:
    async with running() as sim:
        await sim.goto(OPEN_AT)
        signer = await register(sim)
        async with feed_on(sim, signer) as (client, feed, events):
            await feed.add_markets([MARKET])
            await book_matches_rest(sim, client, feed, MARKET)
            trusted_at_gap: list[bool] = []
            client.add_listener(
                lambda e, raw, t: (
                    trusted_at_gap.append(feed.book(MARKET).trusted) if isinstance(e, SequenceGap) else None
                )
            )
            await sim.ctl("PUT", "/faults", json={"ws_skip_seq": 1})
            await sim.advance(3)
            gap = await events.wait(lambda e: isinstance(e, SequenceGap))
            assert gap.channel == "orderbook_delta" and gap.received_seq == gap.expected_seq + 1
            assert gap.market_tickers == (MARKET,)
            assert trusted_at_gap == [False]  # the feed marked the book before the revealing frame arrived
            resynced = await events.wait(lambda e: isinstance(e, Resynced))
            assert resynced.market_tickers == (MARKET,)
            await book_matches_rest(sim, client, feed, MARKET)
            await sim.advance(5)
            await book_matches_rest(sim, client, feed, MARKET)
            c, f = client.counters, feed.counters
            assert (c.gaps, c.resyncs, c.connects, c.resubscribes) == (1, 1, 1, 0)
            assert (f.gaps, f.resyncs_completed, f.snapshots_applied) == (1, 1, 2)
            assert f.deltas_dropped_untrusted > 0


# =================================================================================================
# connection failures
# =================================================================================================


async def test_drop_ws_reconnects_resubscribes_and_rebuilds_books() -> None:
    async with running() as sim:
        await sim.goto(OPEN_AT)
        signer = await register(sim)
        async with feed_on(sim, signer) as (client, feed, events):
            await feed.add_markets([MARKET])
            await book_matches_rest(sim, client, feed, MARKET)
            trusted_at_drop: list[bool] = []
            client.add_listener(
                lambda e, raw, t: (
                    trusted_at_drop.append(feed.book(MARKET).trusted) if isinstance(e, Disconnected) else None
                )
            )
            await sim.ctl("PUT", "/faults", json={"drop_ws": True})
            dropped = await events.wait(lambda e: isinstance(e, Disconnected))
            assert dropped.reason == "dropped" and trusted_at_drop == [False]
            assert (await events.wait(lambda e: isinstance(e, Connected))).connects == 2
            await client.wait_ready(TIMEOUT)
            await sim.advance(3)
            await book_matches_rest(sim, client, feed, MARKET)
            c, f = client.counters, feed.counters
            assert (c.connects, c.reconnects, c.disconnects) == (2, 1, 1)
            assert f.snapshots_applied == 2 and feed.subscription is not None and feed.subscription.sid == 1


async def test_handshake_503_is_reported_as_unavailable_then_recovers() -> None:
    async with running() as sim:
        await sim.goto(OPEN_AT)
        signer = await register(sim)
        async with feed_on(sim, signer) as (client, feed, events):
            await feed.add_markets([MARKET])
            await book_matches_rest(sim, client, feed, MARKET)
            states: list[ConnectionState] = []
            client.add_listener(
                lambda e, raw, t: states.append(client.state) if isinstance(e, ConnectionFailed) else None
            )
            await sim.ctl("PUT", "/faults", json={"ws_handshake_503": True, "drop_ws": True})
            for _ in range(2):
                failed = await events.wait(lambda e: isinstance(e, ConnectionFailed))
                assert isinstance(failed.error, WebSocketUnavailable) and failed.error.status == 503
                assert failed.error.retryable and failed.retry_in_s is not None
            assert states[:2] == [ConnectionState.UNAVAILABLE] * 2
            assert client.counters.handshake_503s >= 2 and client.counters.connect_failures >= 2
            assert not feed.freshness(MARKET).usable(60_000)  # no stale book is offered meanwhile
            await sim.ctl("PUT", "/faults", json={"ws_handshake_503": False})
            await events.wait(lambda e: isinstance(e, Connected))
            await client.wait_ready(TIMEOUT)
            await sim.advance(2)
            await book_matches_rest(sim, client, feed, MARKET)
            assert client.state is ConnectionState.CONNECTED and client.counters.auth_failures == 0


async def test_silence_timeout_reconnects() -> None:
    async with running(ws_ping_interval_s="3600") as sim:  # the server stays silent
        await sim.goto(OPEN_AT)
        signer = await register(sim)
        async with feed_on(sim, signer, silence_timeout_s=0.2, ping_interval_s=None) as (client, feed, events):
            await feed.add_markets([MARKET])
            gone = await events.wait(lambda e: isinstance(e, Disconnected))
            assert gone.reason == "silence"
            await events.wait(lambda e: isinstance(e, Connected) and e.connects == 2)
            assert client.counters.silence_timeouts >= 1


async def test_bad_key_is_a_non_retryable_auth_error() -> None:
    async with running() as sim:
        signer = await register(sim)
        impostor = RequestSigner.from_pem(key_pair(1)[0], signer.key_id)  # a registered id, the wrong key
        unknown = RequestSigner.from_pem(key_pair(0)[0], "never-registered")
        for bad, details in ((impostor, "INCORRECT_API_KEY_SIGNATURE"), (unknown, "UNKNOWN_API_KEY")):
            client = make_client(sim, bad)
            with pytest.raises(KalshiAuthError) as info:
                await client.run()
            assert info.value.status == 401 and info.value.details == details
            assert (client.counters.auth_failures, client.counters.connect_failures) == (1, 1)
            assert client.state is ConnectionState.FAILED and not client.counters.connected
        client = make_client(sim, impostor)
        async with client:
            with pytest.raises(KalshiAuthError):
                await client.wait_ready(TIMEOUT)
            with pytest.raises(KalshiAuthError):
                client.raise_if_failed()


async def test_terminal_error_25_recreates_the_subscription() -> None:
    async with running(ws_subscription_buffer=5) as sim:
        await sim.goto(OPEN_AT)
        signer = await register(sim)
        async with feed_on(sim, signer) as (client, feed, events):
            await feed.add_markets([MARKET])
            await book_matches_rest(sim, client, feed, MARKET)
            await sim.advance(20)  # more deltas at once than the subscription's buffer holds
            reset = await events.wait(lambda e: isinstance(e, SubscriptionReset))
            assert reset.old_sid == 1 and "error 25" in reset.reason
            await events.wait(lambda e: isinstance(e, OrderbookSnapshot) and e.sid == 2)
            await book_matches_rest(sim, client, feed, MARKET)
            assert feed.subscription is not None and feed.subscription.sid == 2
            c = client.counters
            assert (c.terminal_errors, c.resubscribes, c.connects) == (1, 1, 1)


# =================================================================================================
# bad input
# =================================================================================================


async def test_malformed_unknown_and_impossible_frames_are_counted_and_resynced() -> None:
    async with running() as sim:
        await sim.goto(OPEN_AT)
        signer = await register(sim)
        async with feed_on(sim, signer) as (client, feed, events):
            await feed.add_markets([MARKET])
            await book_matches_rest(sim, client, feed, MARKET)
            sid = feed.subscription.sid
            rounds: list[tuple[list[Any], str]] = [
                # size below zero -> BookIntegrityError
                (
                    [
                        {
                            "type": "orderbook_delta",
                            "sid": sid,
                            "msg": {
                                "market_ticker": MARKET,
                                "price_dollars": "0.0100",
                                "delta_fp": "-99999.00",
                                "side": "yes",
                                "ts_ms": 1,
                            },
                        }
                    ],
                    "integrity_errors",
                ),
                # a price off the linear_cent grid -> OffTickPriceError
                (
                    [
                        {
                            "type": "orderbook_delta",
                            "sid": sid,
                            "msg": {
                                "market_ticker": MARKET,
                                "price_dollars": "0.0150",
                                "delta_fp": "1.00",
                                "side": "yes",
                                "ts_ms": 1,
                            },
                        }
                    ],
                    "off_tick_errors",
                ),
                # not JSON, an unknown type, a malformed order-book frame, a delta for a market we do not hold
                (
                    [
                        "{not json",
                        {"type": "mystery_update", "sid": sid, "msg": {"x": 1}},
                        {
                            "type": "orderbook_delta",
                            "sid": sid,
                            "msg": {"market_ticker": MARKET, "price_dollars": "abc", "delta_fp": "1.00", "side": "yes"},
                        },
                        {
                            "type": "orderbook_delta",
                            "sid": sid,
                            "msg": {
                                "market_ticker": OTHER,
                                "price_dollars": "0.5000",
                                "delta_fp": "1.00",
                                "side": "yes",
                            },
                        },
                    ],
                    "malformed_book_frames",
                ),
            ]
            for frames, counter in rounds:
                await sim.ctl("PUT", "/faults", json={"ws_inject": frames})
                await events.wait(lambda e: isinstance(e, Resynced))
                assert getattr(feed.counters, counter) == 1, counter
                await book_matches_rest(sim, client, feed, MARKET)
            await sim.advance(5)
            await book_matches_rest(sim, client, feed, MARKET)
            c, f = client.counters, feed.counters
            assert (c.malformed_frames, c.unknown_messages, c.frames_by_type["mystery_update"]) == (2, 1, 1)
            assert (c.gaps, c.connects, c.resubscribes) == (0, 1, 0)  # injected frames kept their place in seq
            assert (f.integrity_errors, f.off_tick_errors, f.ignored_frames, f.resyncs_requested) == (2, 1, 1, 3)


# =================================================================================================
# commands
# =================================================================================================


async def test_commands_subscriptions_and_dormant_order_book() -> None:
    async with running() as sim:
        await sim.goto(OPEN_AT)
        signer = await register(sim)
        client = make_client(sim, signer)
        early = await client.subscribe(["trade", "market_lifecycle_v2"], [MARKET])  # not connected yet
        assert [s.sid for s in early] == [None, None]
        assert early[1].market_tickers is None  # lifecycle takes no market filter
        feed = MarketDataFeed(client)
        events = Events(client)
        items = client.events()
        async with client:
            first = await asyncio.wait_for(anext(items), TIMEOUT)
            assert isinstance(first.event, Connected) and first.recv_ms > 0
            await client.wait_ready(TIMEOUT)
            assert [s.sid for s in early] == [1, 2]
            infos = await client.list_subscriptions()
            assert [(i.channel, i.sid) for i in infos] == [("trade", 1), ("market_lifecycle_v2", 2)]

            with pytest.raises(WebSocketCommandError) as info:
                await client.subscribe("no_such_channel")
            assert info.value.ws_code == 8
            assert len(client.subscriptions) == 2  # the refused handle is forgotten

            await feed.add_markets([MARKET])
            assert feed.subscription is not None and feed.subscription.sid == 3
            assert await feed.add_markets([OTHER]) == (MARKET, OTHER)
            await events.wait(lambda e: isinstance(e, OrderbookSnapshot) and e.market_ticker == OTHER)
            assert await feed.remove_markets([MARKET, OTHER]) == ()
            assert feed.subscription.sid is None and feed.subscription.dormant  # unsubscribed, kept for later
            assert [i.sid for i in await client.list_subscriptions()] == [1, 2]
            await feed.add_markets([MARKET])
            assert feed.subscription.sid == 4
            await book_matches_rest(sim, client, feed, MARKET)

            await client.unsubscribe(early)
            assert [i.channel for i in await client.list_subscriptions()] == ["orderbook_delta"]
        rest = [item async for item in items]
        assert isinstance(rest[-1].event, Disconnected) and rest[-1].event.reason == "client_close"

        anonymous = make_client(sim, None)
        async with anonymous:
            await anonymous.wait_ready(TIMEOUT)
            with pytest.raises(WebSocketCommandError) as info:
                await anonymous.subscribe("fill")
            assert info.value.ws_code == 9
            (trades,) = await anonymous.subscribe("trade", [MARKET])
            assert trades.sid == 1


def test_backoff_is_full_jitter_under_the_cap() -> None:
    client = KalshiWebSocketClient(
        "ws://127.0.0.1:1/trade-api/ws/v2", backoff_initial_s=0.5, backoff_max_s=4.0, rng=random.Random(3)
    )
    for failures in range(12):
        ceiling = min(4.0, 0.5 * 2**failures)
        values = [client._backoff(failures) for _ in range(200)]
        assert all(0 <= v <= ceiling for v in values)
        assert max(values) > ceiling * 0.8  # spread over the whole range, not a fixed delay
    with pytest.raises(ValueError):
        KalshiWebSocketClient("http://example.com/trade-api/ws/v2")


async def test_a_tape_re_snapshot_reaches_clients_without_a_crossed_book() -> None:
    """The recorded tape re-snapshots KXGOLD15M-26AUG102130-30 at 01:16:27.242Z (a collector reconnect).

    The simulator publishes the re-snapshot as per-level deltas; applied one at a time they must never
    cross the book (removals first), so the client keeps trusting the book and never resyncs.
    """
    ticker = "KXGOLD15M-26AUG102130-30"
    async with running(start="2026-08-11T01:16:20Z") as sim:
        signer = await register(sim)
        async with (
            KalshiRestClient(sim.server.rest_url, signer) as rest,
            feed_on(sim, signer) as (client, feed, _events),
        ):
            await feed.add_markets([await rest.get_market(ticker)])
            await book_matches_rest(sim, client, feed, ticker)
            for _ in range(4):
                clock = await sim.advance("5")  # through the re-snapshot
                assert await book_matches_rest(sim, client, feed, ticker) == fold(ticker, clock["tape_time_ms"])
            assert feed.counters.integrity_errors == 0 and client.counters.resyncs == 0
            assert feed.freshness(ticker).trusted
