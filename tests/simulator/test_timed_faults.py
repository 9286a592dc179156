"""Timed faults over real HTTP and WebSocket: windows, seeded rates, every kind, scenarios, bad input.

The simulator runs in process on a free port (synthetic markets, so no recorded data is needed); an
independent client (httpx, aiohttp) observes what a real Kalshi client would. Timed faults run on the wall
clock, so these tests measure wall time on purpose: a window is checked by classifying every request by its
own send/receive instants against the window the simulator announced (``starts_at`` / ``ends_at``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from simulator.fault_specs import format_duration, parse_duration
from simulator.scenario import builtin_names
from simulator.scenario import load as load_scenario
from simulator.timeutil import parse_iso_ms
from tests.simulator.conftest import PREFIX, Sim, running, sign_headers
from workers.cli import run as cli_run

WS_PATH = "/trade-api/ws/v2"
STATUS = f"{PREFIX}/exchange/status"


def synthetic(**overrides: Any) -> Any:
    return running(synthetic=True, **overrides)


async def schedule(sim: Sim, *specs: dict[str, Any]) -> list[dict[str, Any]]:
    r = await sim.ctl("POST", "/faults/timed", json={"faults": list(specs)})
    assert r.status_code == 201, r.text
    return r.json()["faults"]


async def timed(sim: Sim) -> dict[str, Any]:
    r = await sim.ctl("GET", "/faults/timed")
    assert r.status_code == 200, r.text
    return r.json()


async def poll(http: httpx.AsyncClient, url: str, until_s: float) -> list[tuple[int, int, int]]:
    """GET ``url`` back to back until ``until_s`` (wall); return ``(send_ms, recv_ms, status)`` per request."""
    seen = []
    while time.time() < until_s:
        sent = time.time_ns() // 1_000_000
        r = await http.get(url)
        seen.append((sent, time.time_ns() // 1_000_000, r.status_code))
    return seen


# =================================================================================================
# windows
# =================================================================================================


async def test_a_window_is_observed_exactly_by_a_real_client() -> None:
    async with synthetic() as sim:
        (fault,) = await schedule(
            sim,
            {
                "kind": "http_error",
                "status": 503,
                "path": "/exchange/status",
                "method": "GET",
                "after": "600ms",
                "for": "900ms",
            },
        )
        assert fault["state"] == "scheduled" and fault["spec"]["after"] == "600ms" and fault["lasts_s"] == "0.900"
        start, end = parse_iso_ms(fault["starts_at"]), parse_iso_ms(fault["ends_at"])
        assert end - start == 900
        other = asyncio.create_task(poll(sim.http, f"{PREFIX}/markets?limit=1", end / 1000 + 0.3))
        seen = await poll(sim.http, STATUS, end / 1000 + 0.5)
        others = await other

        inside = [s for sent, recv, s in seen if sent >= start + 1 and recv < end - 1]
        before = [s for sent, recv, s in seen if recv < start - 1]
        after = [s for sent, recv, s in seen if sent >= end + 1]
        assert len(inside) >= 5 and len(before) >= 5 and len(after) >= 3, (len(inside), len(before), len(after))
        assert set(inside) == {503}, "every request inside the window fails"
        assert set(before) == {200} and set(after) == {200}, "nothing outside it does"
        assert {s for _, _, s in others} == {200}, "another route is untouched"
        failed = sum(1 for *_, s in seen if s == 503)

        state = await timed(sim)
        assert not state["active"] and not state["scheduled"]
        (ended,) = state["ended"]
        assert ended["id"] == fault["id"] and ended["ended_reason"] == "expired"
        assert ended["affected"] == ended["matched"] == failed


async def test_error_rate_within_tolerance_and_reproducible_by_seed() -> None:
    n = 600

    async def pattern(sim: Sim, seed: int | None) -> tuple[list[int], dict[str, Any]]:
        spec: dict[str, Any] = {"kind": "http_error", "status": 500, "path": "/exchange/status", "rate": "0.3"}
        if seed is not None:
            spec["seed"] = seed
        (fault,) = await schedule(sim, spec)
        statuses = [(await sim.http.get(STATUS)).status_code for _ in range(n)]
        r = await sim.ctl("DELETE", f"/faults/timed/{fault['id']}")
        assert r.status_code == 200
        (cleared,) = r.json()["cleared"]
        return [i for i, s in enumerate(statuses) if s == 500], cleared

    async with synthetic() as sim:
        hits, cleared = await pattern(sim, 11)
        again, _ = await pattern(sim, 11)
        other, _ = await pattern(sim, 12)
        unseeded, unseeded_fault = await pattern(sim, None)
    # binomial(600, 0.3): mean 180, sd 11.2; +-4 sd
    assert 135 <= len(hits) <= 225, len(hits)
    assert cleared["affected"] == len(hits) and cleared["matched"] == n and cleared["ended_reason"] == "cleared"
    assert again == hits, "the same seed fails the same requests"
    assert other != hits and 135 <= len(other) <= 225
    assert unseeded_fault["seed"] == f"0/{unseeded_fault['id']}" and 135 <= len(unseeded) <= 225
    async with synthetic() as sim:  # a fresh simulator: same seed, same pattern
        fresh, _ = await pattern(sim, 11)
    assert fresh == hits


async def test_count_ends_a_fault_and_rules_apply_in_order() -> None:
    async with synthetic() as sim:
        first, second = await schedule(
            sim,
            {"kind": "http_error", "status": 429, "path": "/exchange", "count": 3},
            {"kind": "http_error", "status": 502, "path": "/exchange/status", "count": 2},
        )
        statuses = [(await sim.http.get(STATUS)).status_code for _ in range(7)]
        assert statuses == [429, 429, 429, 502, 502, 200, 200]
        r = await sim.http.get(STATUS)
        assert r.status_code == 200
        ended = {f["id"]: f for f in (await timed(sim))["ended"]}
        assert ended[first["id"]]["ended_reason"] == ended[second["id"]]["ended_reason"] == "count_exhausted"


async def test_latency_hold_and_apply_then_fail_on_order_writes() -> None:
    async with synthetic() as sim:
        await sim.advance(120)
        trader = await sim.trader()
        market = (await sim.http.get(f"{PREFIX}/markets", params={"status": "open", "limit": 1})).json()["markets"][0]
        ticker = market["ticker"]

        async def place() -> tuple[httpx.Response, str, float]:
            coid = uuid.uuid4().hex
            body = {
                "ticker": ticker,
                "side": "yes",
                "action": "buy",
                "count": 1,
                "yes_price": 1,
                "client_order_id": coid,
            }
            t0 = time.perf_counter()
            r = await trader.post("/portfolio/orders", json=body)
            return r, coid, time.perf_counter() - t0

        async def exists(coid: str) -> bool:
            orders = (await trader.get("/portfolio/orders", params={"ticker": ticker})).json()["orders"]
            return any(o["client_order_id"] == coid for o in orders)

        await schedule(
            sim, {"kind": "latency", "latency": "300ms", "path": "/portfolio/orders", "method": "POST", "count": 1}
        )
        r, coid, took = await place()
        assert r.status_code == 201 and took >= 0.3
        await schedule(
            sim,
            {
                "kind": "http_error",
                "status": 500,
                "path": "/portfolio/orders",
                "method": "POST",
                "after_processing": True,
                "count": 1,
            },
        )
        r, coid, _ = await place()
        assert r.status_code == 500 and await exists(coid), "applied, then answered 500: outcome unknown"
        await schedule(
            sim, {"kind": "http_error", "status": 503, "path": "/portfolio/orders", "method": "POST", "count": 1}
        )
        r, coid, _ = await place()
        assert r.status_code == 503 and not await exists(coid), "refused before processing"
        await schedule(
            sim, {"kind": "hold", "delay": "400ms", "path": "/portfolio/orders", "method": "POST", "count": 1}
        )
        task = asyncio.create_task(place())
        await asyncio.sleep(0.2)
        assert not task.done()
        r, coid, took = await task
        assert r.status_code == 201 and took >= 0.4 and await exists(coid)


async def test_timed_pauses_mirror_into_the_exchange_and_combine_with_static_ones() -> None:
    async with synthetic() as sim:
        await sim.advance(120)
        trader = await sim.trader()
        ticker = (await sim.http.get(f"{PREFIX}/markets", params={"status": "open", "limit": 1})).json()["markets"][0][
            "ticker"
        ]
        (pause,) = await schedule(sim, {"kind": "trading_pause", "after": "300ms", "for": "1500ms"})
        assert (await sim.http.get(STATUS)).json()["trading_active"] is True
        start, end = parse_iso_ms(pause["starts_at"]), parse_iso_ms(pause["ends_at"])
        await asyncio.sleep(max(0, start / 1000 - time.time()) + 0.05)
        assert (await sim.http.get(STATUS)).json()["trading_active"] is False
        r = await trader.buy(ticker, "yes", 1, 1)
        assert r.status_code == 400 and r.json()["error"]["code"] == "trading_paused"
        health = (await sim.ctl("GET", "/health")).json()["faults"]
        assert health["effective"]["trading_paused"] is True and [f["id"] for f in health["active"]] == [pause["id"]]
        # a static pause set meanwhile outlasts the timed one
        await sim.ctl("PUT", "/faults", json={"exchange_paused": True})
        await asyncio.sleep(max(0, end / 1000 - time.time()) + 0.05)
        assert (await sim.http.get(STATUS)).json()["exchange_active"] is False
        effective = (await sim.ctl("GET", "/faults")).json()["effective"]
        assert effective == {"trading_paused": False, "exchange_paused": True}
        await sim.ctl("PUT", "/faults", json={"exchange_paused": False})
        status = (await sim.http.get(STATUS)).json()
        assert status["exchange_active"] is True and status["trading_active"] is True
        assert (await trader.buy(ticker, "yes", 1, 1)).status_code == 201


# =================================================================================================
# WebSocket kinds
# =================================================================================================


async def _ws_status(sim: Sim) -> int:
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(sim.server.ws_url):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


async def test_ws_503_scenario_drops_open_sockets_and_refuses_handshakes_for_its_window() -> None:
    async with synthetic() as sim, aiohttp.ClientSession() as session, session.ws_connect(sim.server.ws_url) as ws:
        r = await sim.ctl(
            "POST",
            "/faults/scenario",
            json={"scenario": load_scenario("ws-503").model_dump(by_alias=True, mode="json"), "time_scale": "0.01"},
        )
        assert r.status_code == 201, r.text
        drop, refuse = r.json()["faults"]
        assert (drop["kind"], refuse["kind"]) == ("ws_drop", "ws_handshake_503") and refuse["scenario"] == "ws-503"
        start, end = parse_iso_ms(refuse["starts_at"]), parse_iso_ms(refuse["ends_at"])
        assert (start - time.time() * 1000) > 200 and end - start == 1200  # 30 s and 2 min at 1/100
        msg = await ws.receive(timeout=5)
        dropped_at = time.time() * 1000
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)
        assert dropped_at >= start - 5
        outcomes = []
        while time.time() * 1000 < end + 400:
            sent = time.time() * 1000
            status = await _ws_status(sim)
            outcomes.append((sent, time.time() * 1000, status))
            await asyncio.sleep(0.02)
        assert {s for sent, recv, s in outcomes if sent >= start and recv < end - 1} == {503}
        assert {s for sent, recv, s in outcomes if sent >= end + 1} == {101}
        assert sim.server.ws.stats.drops == 1


async def test_ws_channel_down_ends_subscriptions_with_error_10_and_refuses_new_ones() -> None:
    async with synthetic() as sim:
        trader = await sim.trader()
        headers = sign_headers(trader.key_id, trader.key, "GET", WS_PATH)
        async with aiohttp.ClientSession() as session, session.ws_connect(sim.server.ws_url, headers=headers) as ws:

            async def cmd(frame: dict[str, Any]) -> dict[str, Any]:
                await ws.send_str(json.dumps(frame))
                while True:
                    reply = json.loads((await ws.receive(timeout=5)).data)
                    if reply.get("id") == frame["id"]:
                        return reply

            ok = await cmd({"id": 1, "cmd": "subscribe", "params": {"channels": ["fill"]}})
            assert ok["type"] == "subscribed"
            sid = ok["msg"]["sid"]
            (fault,) = await schedule(sim, {"kind": "ws_channel_down", "channels": ["fill"], "for": "2s"})
            err = json.loads((await ws.receive(timeout=5)).data)
            assert err == {"type": "error", "sid": sid, "msg": {"code": 10, "msg": "Channel error"}}
            refused = await cmd({"id": 2, "cmd": "subscribe", "params": {"channels": ["fill"]}})
            assert refused["type"] == "error" and refused["msg"]["code"] == 10 and "fill" in refused["msg"]["msg"]
            assert (await cmd({"id": 3, "cmd": "subscribe", "params": {"channels": ["user_orders"]}}))[
                "type"
            ] == "subscribed"
            listed = await cmd({"id": 4, "cmd": "list_subscriptions"})
            assert [s["channel"] for s in listed["msg"]] == ["user_orders"]
            await asyncio.sleep(max(0, parse_iso_ms(fault["ends_at"]) / 1000 - time.time()) + 0.05)
            assert (await cmd({"id": 5, "cmd": "subscribe", "params": {"channels": ["fill"]}}))["type"] == "subscribed"
        (ended,) = (await timed(sim))["ended"]
        assert ended["affected"] == 1 and ended["ended_reason"] == "expired"


async def test_timed_skip_seq_and_inject_and_repeating_drops() -> None:
    async with synthetic(ws_public_orderbook=True) as sim:
        await sim.advance(120)
        ticker = (await sim.http.get(f"{PREFIX}/markets", params={"status": "open", "limit": 1})).json()["markets"][0][
            "ticker"
        ]
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(sim.server.ws_url) as ws:
                await ws.send_str(
                    json.dumps(
                        {
                            "id": 1,
                            "cmd": "subscribe",
                            "params": {"channels": ["orderbook_delta"], "market_ticker": ticker},
                        }
                    )
                )
                await schedule(sim, {"kind": "ws_skip_seq", "count": 1}, {"kind": "ws_inject", "frames": ["{not json"]})
                await sim.advance(5)
                await ws.send_str(json.dumps({"id": 2, "cmd": "list_subscriptions"}))
                seqs, raw_seen = [], []
                while True:
                    msg = await ws.receive(timeout=5)
                    try:
                        frame = json.loads(msg.data)
                    except ValueError:
                        raw_seen.append(msg.data)
                        continue
                    if frame.get("id") == 2:
                        break
                    if "seq" in frame:
                        seqs.append(frame["seq"])
                gaps = [b - a for a, b in itertools.pairwise(seqs) if b - a != 1]
                assert gaps == [2] and raw_seen == ["{not json"]
            (drops,) = await schedule(sim, {"kind": "ws_drop", "every": "150ms", "for": "700ms"})
            dropped = 0
            last_drop = parse_iso_ms(drops["ends_at"]) - 100  # drops at +0, +150, ..., +600 ms of the 700 ms
            while time.time() * 1000 < last_drop - 150:  # a socket opened now is dropped by a later drop
                async with session.ws_connect(sim.server.ws_url) as ws:
                    msg = await ws.receive(timeout=5)
                    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)
                    dropped += 1
        assert dropped >= 3
        await asyncio.sleep(max(0, parse_iso_ms(drops["ends_at"]) / 1000 - time.time()) + 0.05)
        ended = {f["kind"]: f for f in (await timed(sim))["ended"]}
        assert ended["ws_drop"]["matched"] >= 4 and ended["ws_skip_seq"]["ended_reason"] == "count_exhausted"
        assert ended["ws_inject"]["ended_reason"] == "done" and ended["ws_inject"]["affected"] == 1


# =================================================================================================
# bad input, scenarios, command line
# =================================================================================================

BAD = [
    ({"kind": "meteor"}, "unknown fault kind 'meteor'"),
    ({"status": 503}, "'kind' is required"),
    ({"kind": "http_error", "status": 503, "for": "-2s"}, "for: duration '-2s' is negative"),
    ({"kind": "http_error", "status": 503, "after": -1}, "after: duration -1 is negative"),
    ({"kind": "http_error", "status": 503, "for": 0}, "'for' must be a positive duration"),
    ({"kind": "http_error", "status": 503, "after": "soon"}, "'soon' is not a duration"),
    ({"kind": "http_error", "status": 503, "rate": "1.5"}, "rate 1.5 is outside [0, 1]"),
    ({"kind": "http_error", "status": 503, "rate": -0.1}, "rate -0.1 is outside [0, 1]"),
    ({"kind": "http_error", "status": 200}, "status: Input should be greater than or equal to 400"),
    ({"kind": "http_error", "status": 503, "path": "/nowhere"}, "path '/nowhere' matches no route"),
    (
        {"kind": "http_error", "status": 503, "path": "/markets", "method": "DELETE"},
        "no route under '/markets' takes DELETE",
    ),
    ({"kind": "http_error", "status": 503, "method": "PATCH"}, "method: Input should be"),
    ({"kind": "latency", "latency": "20m"}, "latency: must be more than 0 and at most 10 minutes"),
    ({"kind": "ws_channel_down", "channels": ["fills"]}, "unknown channel(s) ['fills']"),
    ({"kind": "ws_inject", "frames": ["x"], "for": "1s"}, "takes no 'for'"),
    ({"kind": "trading_pause", "status": 503}, "status: not a field of this fault kind"),
    ({"kind": "http_error", "status": 503, "after": "8d"}, "longer than 7 days"),
]


@pytest.mark.parametrize(("spec", "message"), BAD, ids=[m[:30] for _, m in BAD])
async def test_bad_faults_are_rejected_with_a_clear_message_and_change_nothing(
    spec: dict[str, Any], message: str
) -> None:
    async with synthetic() as sim:
        (kept,) = await schedule(sim, {"kind": "trading_pause", "after": "1h"})
        before = (await sim.ctl("GET", "/faults")).json()
        for body in (spec, {"faults": [{"kind": "exchange_pause"}, spec]}):
            r = await sim.ctl("POST", "/faults/timed", json=body)
            assert r.status_code == 400, r.text
            assert r.json()["error"]["code"] == "invalid_parameters" and message in r.json()["error"]["details"], r.text
        after = (await sim.ctl("GET", "/faults")).json()
        assert [f["id"] for f in after["timed"]["scheduled"]] == [kept["id"]] and not after["timed"]["active"]
        assert {k: v for k, v in after.items() if k != "timed"} == {k: v for k, v in before.items() if k != "timed"}


async def test_clearing_unknown_ids_and_bad_scenarios_change_nothing() -> None:
    async with synthetic() as sim:
        (kept,) = await schedule(sim, {"kind": "ws_handshake_503", "after": "1h"})
        r = await sim.ctl("DELETE", "/faults/timed", params={"ids": f"{kept['id']},f99"})
        assert r.status_code == 404 and "f99" in r.json()["error"]["details"]
        bad = {"name": "bad", "faults": [{"kind": "exchange_pause"}, {"kind": "hold", "delay": "1s", "path": "/nope"}]}
        r = await sim.ctl("POST", "/faults/scenario", json={"scenario": bad})
        assert r.status_code == 400 and "scenario.faults.1.path" in r.json()["error"]["details"], r.text
        r = await sim.ctl("POST", "/faults/scenario", json={"scenario": bad, "time_scale": 0})
        assert r.status_code == 400 and "time_scale" in r.json()["error"]["details"]
        state = await timed(sim)
        assert [f["id"] for f in state["scheduled"]] == [kept["id"]] and not state["active"] and not state["ended"]
        assert (await sim.http.get(STATUS)).json()["exchange_active"] is True


async def test_every_builtin_scenario_is_valid_and_plays(tmp_path: Path) -> None:
    names = builtin_names()
    assert {"ws-503", "rest-outage", "429-storm", "5xx-30pct-orders", "trading-pause", "fill-ws-down"} <= set(names)
    async with synthetic() as sim:
        for name in names:
            scenario = load_scenario(name)
            r = await sim.ctl(
                "POST",
                "/faults/scenario",
                json={"scenario": scenario.model_dump(by_alias=True, mode="json", exclude_none=True)},
            )
            assert r.status_code == 201, (name, r.text)
            assert len(r.json()["faults"]) == len(scenario.faults) and all(
                f["state"] == "scheduled" for f in r.json()["faults"]
            )
        r = await sim.ctl("DELETE", "/faults")
        assert r.status_code == 200 and len(r.json()["cleared"]) == sum(len(load_scenario(n).faults) for n in names)


async def test_scenario_file_played_from_start(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\nseed: 5\nfaults:\n"
        "  - {kind: http_error, status: 503, path: /exchange/status, after: 300ms, for: 300ms}\n"
        "  - {kind: exchange_pause, after: 1h}\n"
    )
    async with synthetic(scenario=str(path)) as sim:
        health = (await sim.ctl("GET", "/health")).json()["faults"]
        assert [f["kind"] for f in health["scheduled"]] == ["http_error", "exchange_pause"]
        assert {f["scenario"] for f in health["scheduled"]} == {"mine"} and health["scheduled"][0]["seed"] == "5/0"
        first = health["scheduled"][0]
        seen = await poll(sim.http, STATUS, parse_iso_ms(first["ends_at"]) / 1000 + 0.2)
        assert 503 in {s for *_, s in seen} and seen[-1][2] == 200
    path.write_text("name: broken\nfaults:\n  - {kind: http_error, status: 503, rate: 2}\n")
    with pytest.raises(ValueError, match=r"faults.0.rate: rate 2 is outside \[0, 1\]"):
        async with synthetic(scenario=str(path)):
            pass


async def test_command_line_sets_lists_and_clears(capsys: pytest.CaptureFixture[str]) -> None:
    async with synthetic() as sim:
        url = ["--url", sim.server.base_url]

        async def cli(*args: str) -> tuple[int, str, str]:
            code = await asyncio.to_thread(cli_run, ["simulator", *args])
            out = capsys.readouterr()
            return code, out.out, out.err

        code, out, _ = await cli(
            "fault",
            "set",
            "http_error",
            "--status",
            "503",
            "--route",
            "/portfolio/orders",
            "--method",
            "post",
            "--rate",
            "0.3",
            "--after",
            "30s",
            "--for",
            "2m",
            "--seed",
            "7",
            *url,
        )
        assert code == 0 and out.startswith(
            "f1: http_error 503 POST /portfolio/orders rate 0.3; starts in 30.000s, lasts 120.000s"
        )
        code, out, err = await cli("fault", "set", "http_error", "--status", "503", "--route", "/bogus", *url)
        assert code == 2 and "path '/bogus' matches no route" in err
        code, out, err = await cli("fault", "set", "latency", "--latency", "250ms", "--for", "-3s", *url)
        assert code == 2 and "for: duration '-3s' is negative" in err
        code, out, _ = await cli("fault", "load", "fill-ws-down", "--time-scale", "0.5", *url)
        assert code == 0 and "f2: ws_channel_down fill; starts in 15.000s, lasts 60.000s" in out
        code, out, _ = await cli("fault", "list", *url)
        assert code == 0 and "f1" in out and "[fill-ws-down]" in out and "scheduled" in out
        code, out, _ = await cli("status", *url)
        assert code == 0 and "synthetic generator" in out and "f2" in out
        code, out, err = await cli("fault", "clear", "f1", "f9", *url)
        assert code == 2 and "f9" in err
        assert [f["id"] for f in (await timed(sim))["scheduled"]] == ["f2", "f1"]
        code, out, _ = await cli("fault", "clear", "f1", *url)
        assert code == 0 and out.strip() == "cleared f1"
        code, out, _ = await cli("fault", "clear", "--all", *url)
        assert code == 0 and "cleared 1 timed fault(s)" in out
        code, out, _ = await cli("fault", "scenarios")
        assert code == 0 and "ws-503" in out and "5xx-30pct-orders" in out
    code, _, err = await cli("fault", "list", "--url", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach the simulator" in err


@pytest.mark.parametrize(
    ("text", "seconds", "shown"),
    [
        ("250ms", "0.25", "250ms"),
        ("30s", "30", "30s"),
        ("2m", "120", "2m"),
        ("1m30s", "90", "1m30s"),
        ("1h30m", "5400", "1h30m"),
        ("1d", "86400", "24h"),
        (45, "45", "45s"),
        ("1.5", "1.5", "1.5s"),
        ("0", "0", "0s"),
    ],
)
def test_durations_parse_and_print(text: Any, seconds: str, shown: str) -> None:
    assert parse_duration(text) == Decimal(seconds)
    assert format_duration(parse_duration(text)) == shown


@pytest.mark.parametrize("text", ["-1s", "3x", "1s2", "", True, "s", [1]])
def test_bad_durations_are_refused(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
