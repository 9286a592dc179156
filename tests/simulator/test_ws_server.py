"""The simulator's WebSocket API (/trade-api/ws/v2) over real sockets: commands, frames, errors, faults.

An independent client (aiohttp) talks to the server; nothing of kalshi/ is used. The clock is paused and
stepped with the control API, so every frame sequence is deterministic; "everything sent so far has
arrived" is established with a ``list_subscriptions`` round trip (its reply is queued after every frame
published before it).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from simulator.timeutil import parse_iso_ms
from tests.simulator.conftest import MARKET, Sim, Trader, private_key, requires_tape, running, sign_headers, v1_order
from tests.simulator.tape_oracle import fold

pytestmark = requires_tape

WS_PATH = "/trade-api/ws/v2"
NEXT_MARKET = "KXGOLD15M-26AUG101815-15"
OPEN_AT = "2026-08-10T21:50:00Z"
TIMEOUT = 10

Book = dict[str, dict[Decimal, Decimal]]


class Ws:
    """A test-side WebSocket connection: send commands, read JSON frames with timeouts."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = 0

    async def send(self, cmd: str, params: dict[str, Any] | None = None) -> int:
        self.ids += 1
        frame: dict[str, Any] = {"id": self.ids, "cmd": cmd}
        if params is not None:
            frame["params"] = params
        await self.ws.send_str(json.dumps(frame))
        return self.ids

    async def raw(self, text: str) -> None:
        await self.ws.send_str(text)

    async def recv(self) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=TIMEOUT)
        assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data)
        return json.loads(msg.data)

    async def until(self, pred: Callable[[dict[str, Any]], bool]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Read until a frame satisfies ``pred``; return it and every frame before it."""
        before: list[dict[str, Any]] = []
        while True:
            frame = await self.recv()
            if pred(frame):
                return frame, before
            before.append(frame)

    async def reply(self, cmd_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return await self.until(lambda f: f.get("id") == cmd_id)

    async def barrier(self) -> list[dict[str, Any]]:
        """Every frame sent before now (the list_subscriptions reply is queued behind them)."""
        cmd_id = await self.send("list_subscriptions")
        _, before = await self.reply(cmd_id)
        return before

    async def error(self, text: str | None = None, **cmd: Any) -> dict[str, Any]:
        if text is not None:
            await self.raw(text)
            frame = await self.recv()
        else:
            cmd_id = await self.send(cmd["cmd"], cmd.get("params"))
            frame, _ = await self.reply(cmd_id)
        assert frame["type"] == "error", frame
        return frame


@asynccontextmanager
async def connect(sim: Sim, trader: Trader | None = None, **kwargs: Any) -> AsyncIterator[Ws]:
    headers = sign_headers(trader.key_id, trader.key, "GET", WS_PATH) if trader is not None else {}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(sim.server.ws_url, headers=headers, **kwargs) as ws,
    ):
        yield Ws(ws)


async def rest_book(sim: Sim, ticker: str) -> Book:
    return await sim.book(ticker)


def apply_frames(books: dict[str, Book], frames: list[dict[str, Any]], sid: int) -> None:
    """Fold orderbook frames of ``sid`` into ``books`` (snapshots replace, deltas add)."""
    for f in frames:
        if f.get("sid") != sid:
            continue
        msg = f["msg"]
        if f["type"] == "orderbook_snapshot":
            books[msg["market_ticker"]] = {
                side: {Decimal(p): Decimal(s) for p, s in msg.get(f"{side}_dollars_fp", [])} for side in ("yes", "no")
            }
        elif f["type"] == "orderbook_delta":
            levels = books[msg["market_ticker"]][msg["side"]]
            price = Decimal(msg["price_dollars"])
            size = levels.get(price, Decimal(0)) + Decimal(msg["delta_fp"])
            assert size >= 0, f
            if size:
                levels[price] = size
            else:
                levels.pop(price, None)


def seqs(frames: list[dict[str, Any]], sid: int) -> list[int]:
    return [f["seq"] for f in frames if f.get("sid") == sid and "seq" in f]


# =================================================================================================
# subscribe, frames, seq, books
# =================================================================================================


async def test_subscribe_snapshot_then_deltas_book_equals_rest_and_tape_fold() -> None:
    async with running() as sim:
        clock = await sim.goto(OPEN_AT)
        trader = await sim.trader()
        async with connect(sim, trader) as ws:
            cmd_id = await ws.send("subscribe", {"channels": ["orderbook_delta", "trade"], "market_tickers": [MARKET]})
            frames = await ws.barrier()
            # each channel: its own subscribed reply and sid, then its initial data (snapshot first)
            assert frames[0] == {"id": cmd_id, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}}
            assert frames[2] == {"id": cmd_id, "type": "subscribed", "msg": {"channel": "trade", "sid": 2}}
            snapshot = frames[1]
            assert (snapshot["type"], snapshot["sid"], snapshot["seq"]) == ("orderbook_snapshot", 1, 1)
            assert "id" not in snapshot
            books: dict[str, Book] = {}
            apply_frames(books, frames, 1)
            tape_ms = clock["tape_time_ms"]
            assert books[MARKET] == await rest_book(sim, MARKET) == fold(MARKET, tape_ms)

            all_frames = list(frames)
            for step in ("2", "7.5", "30"):
                clock = await sim.advance(step)
                frames = await ws.barrier()
                all_frames += frames
                apply_frames(books, frames, 1)
                assert books[MARKET] == await rest_book(sim, MARKET) == fold(MARKET, clock["tape_time_ms"])

            assert seqs(all_frames, 1) == list(range(1, len(seqs(all_frames, 1)) + 1))
            assert seqs(all_frames, 2) == list(range(1, len(seqs(all_frames, 2)) + 1))
            deltas = [f for f in all_frames if f["type"] == "orderbook_delta"]
            trades = [f for f in all_frames if f["type"] == "trade"]
            assert len(deltas) > 50 and trades
            for f in deltas:
                msg = f["msg"]
                assert set(msg) >= {"market_ticker", "price_dollars", "delta_fp", "side", "ts", "ts_ms"}
                assert "client_order_id" not in msg
                delta = Decimal(msg["delta_fp"])
                # legacy integers only where exact (§0 superset)
                assert msg.get("delta") == (int(delta) if delta == delta.to_integral_value() else None)
                assert msg["price"] == int(Decimal(msg["price_dollars"]) * 100)
            assert any("delta" not in f["msg"] for f in deltas), "the gold tape has fractional deltas"
            for f in trades:
                msg = f["msg"]
                assert Decimal(msg["yes_price_dollars"]) + Decimal(msg["no_price_dollars"]) == 1
                assert msg["taker_outcome_side"] in ("yes", "no")
                assert msg["taker_book_side"] == ("bid" if msg["taker_outcome_side"] == "yes" else "ask")
                assert msg["ts"] == msg["ts_ms"] // 1000
            # served (shifted) times, like REST: the delta time is the clock's served time
            assert deltas[-1]["msg"]["ts_ms"] <= clock["now_ms"]


async def test_get_snapshot_add_delete_markets_list_and_unsubscribe() -> None:
    async with running() as sim:
        await sim.goto(OPEN_AT)
        trader = await sim.trader()
        async with connect(sim, trader) as ws:
            await ws.send("subscribe", {"channels": ["orderbook_delta"], "market_ticker": MARKET})
            await ws.barrier()

            cmd_id = await ws.send("update_subscription", {"sid": 1, "action": "get_snapshot"})
            snap, _ = await ws.reply(cmd_id)
            assert (snap["type"], snap["sid"], snap["seq"], snap["msg"]["market_ticker"]) == (
                "orderbook_snapshot",
                1,
                2,
                MARKET,
            )
            cmd_id = await ws.send(
                "update_subscription", {"sids": [1], "action": "get_snapshot", "market_tickers": [MARKET]}
            )
            snap, _ = await ws.reply(cmd_id)
            assert snap["seq"] == 3 and snap["id"] == cmd_id

            cmd_id = await ws.send(
                "update_subscription", {"sid": 1, "action": "add_markets", "market_tickers": [NEXT_MARKET, MARKET]}
            )
            ok, _ = await ws.reply(cmd_id)
            assert ok == {
                "id": cmd_id,
                "sid": 1,
                "seq": 4,
                "type": "ok",
                "msg": {"market_tickers": [MARKET, NEXT_MARKET]},
            }
            added = await ws.recv()
            assert (added["type"], added["seq"], added["msg"]["market_ticker"]) == (
                "orderbook_snapshot",
                5,
                NEXT_MARKET,
            )
            assert "yes_dollars_fp" not in added["msg"] or added["msg"]["yes_dollars_fp"]  # empty side -> absent

            cmd_id = await ws.send(
                "update_subscription", {"sid": 1, "action": "delete_markets", "market_tickers": [MARKET]}
            )
            ok, _ = await ws.reply(cmd_id)
            assert ok["msg"] == {"market_tickers": [NEXT_MARKET]} and ok["seq"] == 6
            await sim.advance(5)
            frames = await ws.barrier()
            assert not [f for f in frames if f.get("msg", {}).get("market_ticker") == MARKET]

            await ws.send("subscribe", {"channels": ["trade", "market_lifecycle_v2"]})
            await ws.barrier()
            cmd_id = await ws.send("list_subscriptions")
            listed, _ = await ws.reply(cmd_id)
            assert listed == {
                "id": cmd_id,
                "type": "ok",
                "msg": [
                    {"channel": "orderbook_delta", "sid": 1},
                    {"channel": "trade", "sid": 2},
                    {"channel": "market_lifecycle_v2", "sid": 3},
                ],
            }
            cmd_id = await ws.send("unsubscribe", {"sids": [1, 2]})
            first, _ = await ws.reply(cmd_id)
            second = await ws.recv()
            assert first == {"id": cmd_id, "sid": 1, "seq": 7, "type": "unsubscribed"}
            assert second == {"id": cmd_id, "sid": 2, "seq": 1, "type": "unsubscribed"}
            cmd_id = await ws.send("list_subscriptions")
            listed, _ = await ws.reply(cmd_id)
            assert listed["msg"] == [{"channel": "market_lifecycle_v2", "sid": 3}]


async def test_ticker_channel_initial_snapshot_and_updates() -> None:
    async with running() as sim:
        await sim.goto(OPEN_AT)
        async with connect(sim) as ws:  # public channel: no auth needed
            await ws.send("subscribe", {"channels": ["ticker"], "market_ticker": MARKET, "send_initial_snapshot": True})
            frames = await ws.barrier()
            tickers = [f for f in frames if f["type"] == "ticker"]
            assert len(tickers) == 1 and "seq" not in tickers[0]
            market = await sim.market(MARKET)
            msg = tickers[0]["msg"]
            assert msg["yes_bid_dollars"] == market["yes_bid_dollars"]
            assert msg["yes_ask_dollars"] == market["yes_ask_dollars"]
            assert msg["yes_bid"] == market["yes_bid"]
            await sim.advance(30)
            frames = await ws.barrier()
            updates = [f["msg"] for f in frames if f["type"] == "ticker"]
            assert updates
            market = await sim.market(MARKET)
            assert updates[-1]["yes_bid_dollars"] == market["yes_bid_dollars"]
            assert updates[-1]["volume_fp"] == market["volume_fp"]


# =================================================================================================
# errors
# =================================================================================================


async def test_every_error_code() -> None:
    async with running() as sim:
        await sim.goto(OPEN_AT)
        async with connect(sim) as ws:
            assert (await ws.error("not json"))["msg"]["code"] == 1
            assert "id" not in await ws.error("[1, 2]")
            await ws.ws.send_bytes(b"\x00\x01")
            assert (await ws.recv())["msg"]["code"] == 1
            assert (await ws.error(cmd="subscribe"))["msg"]["code"] == 2
            assert (await ws.error(cmd="subscribe", params={}))["msg"]["code"] == 3
            assert (await ws.error(cmd="unsubscribe", params={}))["msg"]["code"] == 4
            fly = await ws.error(cmd="fly")
            assert fly["msg"]["code"] == 5 and fly["id"] == ws.ids
            assert (await ws.error(cmd="unsubscribe", params={"sids": [99]}))["msg"]["code"] == 7
            assert (await ws.error(cmd="subscribe", params={"channels": ["nope"]}))["msg"] == {
                "code": 8,
                "msg": "Unknown channel name: nope",
            }
            for private in ("fill", "market_positions", "user_orders", "order_group_updates", "orderbook_delta"):
                frame = await ws.error(cmd="subscribe", params={"channels": [private], "market_ticker": MARKET})
                assert frame["msg"]["code"] == 9, private
            unknown = await ws.error(cmd="subscribe", params={"channels": ["trade"], "market_tickers": ["NOPE-1"]})
            assert unknown["msg"]["code"] == 11 and unknown["msg"]["market_tickers"] == ["NOPE-1"]
            both = {"channels": ["trade"], "market_ticker": MARKET, "market_tickers": [MARKET]}
            assert (await ws.error(cmd="subscribe", params=both))["msg"]["code"] == 11
            await ws.raw(json.dumps({"id": "x", "cmd": "list_subscriptions"}))
            bad_id = await ws.recv()
            assert bad_id["msg"]["code"] == 11 and "id" not in bad_id

            await ws.send("subscribe", {"channels": ["trade", "market_lifecycle_v2"], "market_ticker": MARKET})
            await ws.barrier()
            two = {"sids": [1, 2], "action": "add_markets", "market_tickers": [NEXT_MARKET]}
            assert (await ws.error(cmd="update_subscription", params=two))["msg"]["code"] == 12
            none = {"action": "add_markets", "market_tickers": [NEXT_MARKET]}
            assert (await ws.error(cmd="update_subscription", params=none))["msg"]["code"] == 12
            assert (await ws.error(cmd="update_subscription", params={"sid": 1, "action": "explode"}))["msg"][
                "code"
            ] == 13
            snap = {"sid": 1, "action": "get_snapshot"}
            assert (await ws.error(cmd="update_subscription", params=snap))["msg"]["code"] == 13
            lifecycle = {"sid": 2, "action": "add_markets", "market_tickers": [MARKET]}
            assert (await ws.error(cmd="update_subscription", params=lifecycle))["msg"]["code"] == 13
            assert (await ws.error(cmd="update_subscription", params={"sid": 1, "action": "add_markets"}))["msg"][
                "code"
            ] == 14
            assert (await ws.error(cmd="update_subscription", params={"sid": 1}))["msg"]["code"] == 15
            assert (await ws.error(cmd="update_subscription", params={"sid": 42, "action": "get_snapshot"}))["msg"][
                "code"
            ] == 7
            # after all that the connection is alive and its subscriptions intact
            cmd_id = await ws.send("list_subscriptions")
            listed, _ = await ws.reply(cmd_id)
            assert [s["sid"] for s in listed["msg"]] == [1, 2]

        trader = await sim.trader()
        async with connect(sim, trader) as ws:
            assert (await ws.error(cmd="subscribe", params={"channels": ["orderbook_delta"]}))["msg"]["code"] == 14
            await ws.send("subscribe", {"channels": ["orderbook_delta"], "market_ticker": MARKET})
            await ws.barrier()
            outside = {"sid": 1, "action": "get_snapshot", "market_tickers": [NEXT_MARKET]}
            assert (await ws.error(cmd="update_subscription", params=outside))["msg"]["code"] == 11


async def test_public_orderbook_option() -> None:
    async with running(ws_public_orderbook=True) as sim:
        await sim.goto(OPEN_AT)
        async with connect(sim) as ws:
            await ws.send("subscribe", {"channels": ["orderbook_delta"], "market_ticker": MARKET})
            ack = await ws.recv()
            assert ack["type"] == "subscribed"


# =================================================================================================
# handshake: auth, 503
# =================================================================================================


async def test_signed_handshake_good_bad_stale_and_503() -> None:
    async with running() as sim:
        await sim.goto(OPEN_AT)
        trader = await sim.trader()
        async with connect(sim, trader) as ws:
            await ws.send("subscribe", {"channels": ["fill"]})
            assert (await ws.recv())["type"] == "subscribed"

        wrong_key = sign_headers(trader.key_id, private_key(1), "GET", WS_PATH)
        stale = sign_headers(trader.key_id, trader.key, "GET", WS_PATH, ts_ms=time.time_ns() // 1_000_000 - 600_000)
        unknown = sign_headers("nobody", trader.key, "GET", WS_PATH)
        partial = {"KALSHI-ACCESS-KEY": trader.key_id}
        for headers, details in (
            (wrong_key, "INCORRECT_API_KEY_SIGNATURE"),
            (stale, "STALE_TIMESTAMP"),
            (unknown, "UNKNOWN_API_KEY"),
            (partial, "MISSING_AUTH_HEADERS"),
        ):
            r = await sim.http.get(WS_PATH, headers=headers)
            assert r.status_code == 401, details
            assert r.json() == {
                "error": {"code": "authentication_error", "message": "authentication_error", "details": details}
            }
            async with aiohttp.ClientSession() as session:
                with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                    await session.ws_connect(sim.server.ws_url, headers=headers)
                assert info.value.status == 401

        async with connect(sim, trader) as survivor:
            r = await sim.ctl("PUT", "/faults", json={"ws_handshake_503": True})
            assert r.json()["ws_handshake_503"] is True
            r = await sim.http.get(WS_PATH)
            assert r.status_code == 503 and r.json()["error"]["code"] == "service_unavailable"
            async with aiohttp.ClientSession() as session:
                with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                    await session.ws_connect(sim.server.ws_url)
                assert info.value.status == 503
            await survivor.barrier()  # existing connections are untouched
            await sim.ctl("PUT", "/faults", json={"ws_handshake_503": False})
        async with connect(sim) as ws:
            await ws.barrier()
        assert sim.server.ws is not None and sim.server.ws.stats.handshake_503s == 2

        r = await sim.http.get(WS_PATH)  # a plain GET without an upgrade
        assert r.status_code == 400


# =================================================================================================
# account channels
# =================================================================================================


async def test_account_frames_fill_user_order_position_order_group_and_own_deltas() -> None:
    async with running() as sim:
        await sim.goto(OPEN_AT)
        alice, bob = await sim.trader(), await sim.trader(index=1)
        private = ["fill", "user_orders", "market_positions", "order_group_updates", "orderbook_delta"]
        async with connect(sim, alice) as a, connect(sim, bob) as b:
            await a.send("subscribe", {"channels": private, "market_ticker": MARKET})
            await b.send("subscribe", {"channels": private, "market_ticker": MARKET})
            acks = await a.barrier()
            sid = {f["msg"]["channel"]: f["msg"]["sid"] for f in acks if f["type"] == "subscribed"}
            await b.barrier()

            r = await alice.post("/portfolio/order_groups/create", json={"contracts_limit": 100})
            group_id = r.json()["order_group_id"]
            book = await sim.book(MARKET)
            ask = 1 - max(book["no"])
            coid = uuid.uuid4().hex
            r = await alice.post(
                "/portfolio/orders",
                json=v1_order(
                    "yes",
                    "buy",
                    count=2,
                    yes_price_dollars=str(ask),
                    time_in_force="immediate_or_cancel",
                    client_order_id=coid,
                    order_group_id=group_id,
                ),
            )
            order = r.json()["order"]
            assert order["fill_count"] == 2, r.text
            resting_coid = uuid.uuid4().hex
            r = await alice.post(
                "/portfolio/orders",
                json=v1_order("yes", "buy", count=3, yes_price=2, client_order_id=resting_coid),
            )
            assert r.json()["order"]["status"] == "resting"
            await alice.put(f"/portfolio/order_groups/{group_id}/reset")

            frames = await a.barrier()
            by_type: dict[str, list[dict[str, Any]]] = {}
            for f in frames:
                by_type.setdefault(f["type"], []).append(f)

            group = [f for f in by_type["order_group_updates"]]
            assert [f["msg"]["event_type"] for f in group] == ["created", "reset"]
            assert group[0]["msg"]["order_group_id"] == group_id and group[0]["msg"]["contracts_limit_fp"] == "100.00"
            assert "contracts_limit_fp" not in group[1]["msg"]
            assert [f["seq"] for f in group] == [1, 2] and all(f["sid"] == sid["order_group_updates"] for f in group)

            fills = [f["msg"] for f in by_type["fill"]]
            assert sum(Decimal(f["count_fp"]) for f in fills) == 2
            assert all(f["order_id"] == order["order_id"] and f["client_order_id"] == coid for f in fills)
            assert all(f["is_taker"] and f["outcome_side"] == "yes" and f["book_side"] == "bid" for f in fills)
            assert fills[-1]["post_position_fp"] == "2.00" and fills[-1]["post_position"] == 2
            assert all("seq" not in f for f in by_type["fill"] + by_type["user_order"] + by_type["market_position"])

            statuses = [(f["msg"]["order_id"], f["msg"]["status"]) for f in by_type["user_order"]]
            assert (order["order_id"], "executed") in statuses
            resting = [f["msg"] for f in by_type["user_order"] if f["msg"]["client_order_id"] == resting_coid]
            assert resting[-1]["status"] == "resting" and resting[-1]["remaining_count_fp"] == "3.00"
            assert resting[-1]["taker_fees_dollars"] == "0.000000"

            positions = [f["msg"] for f in by_type["market_position"]]
            assert positions[-1]["market_ticker"] == MARKET and positions[-1]["position_fp"] == "2.00"
            assert positions[-1]["position"] == 2
            cost = Decimal(positions[-1]["position_cost_dollars"])
            assert positions[-1]["position_cost"] == int(cost * 10_000)  # legacy centi-cents (§6.5)

            own = [f["msg"] for f in by_type["orderbook_delta"] if "client_order_id" in f["msg"]]
            assert {m["client_order_id"] for m in own} == {coid, resting_coid}
            assert all(m["subaccount"] == 0 for m in own)

            # Bob sees the same book changes, without Alice's client_order_id, and none of her private frames
            bob_frames = await b.barrier()
            assert {f["type"] for f in bob_frames} == {"orderbook_delta"}
            assert not [f for f in bob_frames if "client_order_id" in f["msg"]]
            books: dict[str, Book] = {}
            apply_frames(books, acks + frames, sid["orderbook_delta"])
            assert books[MARKET] == await sim.book(MARKET)  # the displayed book, account orders included

            # a new subscription's snapshot is the displayed book too (Alice's resting bid included)
            await b.send("subscribe", {"channels": ["orderbook_delta"], "market_ticker": MARKET})
            fresh = await b.barrier()
            snap = next(f for f in fresh if f["type"] == "orderbook_snapshot")
            rest = await sim.book(MARKET)
            assert rest["yes"][Decimal("0.02")] >= 3  # Alice's resting bid is displayed
            assert dict(snap["msg"]["yes_dollars_fp"])["0.0200"] == f"{rest['yes'][Decimal('0.02')]:.2f}"
            books = {}
            apply_frames(books, fresh, snap["sid"])
            assert books[MARKET] == await sim.book(MARKET)


# =================================================================================================
# lifecycle
# =================================================================================================


async def test_lifecycle_frames_on_early_close_determination_and_settlement() -> None:
    async with running(determination_delay_s="2", settlement_timer_s="3") as sim:
        await sim.goto(OPEN_AT)
        async with connect(sim) as ws:
            await ws.send("subscribe", {"channels": ["market_lifecycle_v2"]})
            await ws.barrier()
            r = await sim.ctl("POST", f"/markets/{MARKET}/close", json={"result": "yes"})
            close_time = r.json()["close_time"]
            await sim.advance(2)
            await sim.advance(3)
            frames = [f for f in await ws.barrier() if f["type"] == "market_lifecycle_v2"]
            mine = [f for f in frames if f["msg"]["market_ticker"] == MARKET]
            assert [f["msg"]["event_type"] for f in mine] == ["close_date_updated", "determined", "settled"]
            assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
            closed, determined, settled = (f["msg"] for f in mine)
            clock = await sim.ctl("GET", "/clock")
            now_s = clock.json()["now_ms"] // 1000
            assert closed["close_ts"] == parse_iso_ms(close_time) // 1000
            assert determined["result"] == "yes" and determined["settlement_value"] == "1.0000"
            assert determined["determination_ts"] == closed["close_ts"] + 2
            assert settled["settled_ts"] == now_s


# =================================================================================================
# keep-alive, overflow, faults
# =================================================================================================


async def test_pings_carry_heartbeat_and_silent_clients_are_dropped() -> None:
    async with running(ws_ping_interval_s="0.05", ws_max_missed_pongs=8) as sim:
        async with connect(sim, autoping=False) as ws:
            ping = await ws.ws.receive(timeout=TIMEOUT)
            assert ping.type is aiohttp.WSMsgType.PING and ping.data == b"heartbeat"
            await ws.ws.ping(b"client-ping")  # the server answers client pings
            while (msg := await ws.ws.receive(timeout=TIMEOUT)).type is aiohttp.WSMsgType.PING:
                pass
            assert msg.type is aiohttp.WSMsgType.PONG and msg.data == b"client-ping"
            while True:  # never answer: the server gives up after 8 missed pongs
                msg = await ws.ws.receive(timeout=TIMEOUT)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
                assert msg.type is aiohttp.WSMsgType.PING
        assert sim.server.ws is not None and sim.server.ws.stats.pong_timeouts == 1


async def test_slow_subscription_overflows_with_error_25() -> None:
    async with running(ws_subscription_buffer=5) as sim:
        await sim.goto(OPEN_AT)
        trader = await sim.trader()
        async with connect(sim, trader) as ws:
            await ws.send("subscribe", {"channels": ["orderbook_delta"], "market_ticker": MARKET})
            await ws.barrier()
            await sim.advance(20)  # hundreds of deltas published in one synchronous replay step
            error, before = await ws.until(lambda f: f["type"] == "error")
            assert error == {"type": "error", "sid": 1, "msg": {"code": 25, "msg": "Subscription buffer overflow"}}
            assert len([f for f in before if f["type"] == "orderbook_delta"]) == 5
            await sim.advance(20)
            frames = await ws.barrier()
            assert frames == []  # the subscription is gone
            cmd_id = await ws.send("list_subscriptions")
            listed, _ = await ws.reply(cmd_id)
            assert listed["msg"] == []


async def test_drop_ws_is_one_shot_and_closes_every_connection() -> None:
    async with running() as sim:
        async with connect(sim) as one, connect(sim) as two:
            await one.barrier()
            await two.barrier()
            r = await sim.ctl("PUT", "/faults", json={"drop_ws": True})
            assert r.json()["drop_ws"] is False and r.json()["ws_drops"] == 2
            for ws in (one, two):
                msg = await ws.ws.receive(timeout=TIMEOUT)
                assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
        async with connect(sim) as three:
            await three.barrier()


async def test_ws_skip_seq_makes_a_gap_and_ws_inject_sends_frames() -> None:
    async with running() as sim:
        await sim.goto(OPEN_AT)
        trader = await sim.trader()
        async with connect(sim, trader) as ws:
            await ws.send("subscribe", {"channels": ["orderbook_delta"], "market_ticker": MARKET})
            frames = await ws.barrier()
            r = await sim.ctl("PUT", "/faults", json={"ws_skip_seq": 1})
            assert r.json()["ws_skip_seq"] == 1
            await sim.advance(5)
            frames += await ws.barrier()
            numbers = seqs(frames, 1)
            steps = [b - a for a, b in itertools.pairwise(numbers)]
            assert steps.count(2) == 1 and set(steps) == {1, 2}
            assert (await sim.ctl("GET", "/faults")).json()["ws_skip_seq"] == 0

            injected = {"type": "orderbook_delta", "sid": 1, "msg": {"market_ticker": MARKET, "price_dollars": "x"}}
            await sim.ctl("PUT", "/faults", json={"ws_inject": ["{not json", injected, {"type": "mystery", "sid": 7}]})
            raw = await ws.ws.receive(timeout=TIMEOUT)
            assert raw.data == "{not json"
            frame = await ws.recv()
            assert frame["msg"] == injected["msg"] and frame["seq"] == numbers[-1] + 1
            assert await ws.recv() == {"type": "mystery", "sid": 7}
