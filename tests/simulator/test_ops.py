"""Operations: rate limits, injected faults and pauses, the synthetic generator, the CLI, events."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from simulator.__main__ import main
from simulator.events import BookDelta, FillEvent, PositionEvent, TradeEvent, UserOrderEvent
from simulator.ratelimit import RateLimiter, TokenBucket
from tests.simulator.conftest import MARKET, PREFIX, requires_tape, running, v1_order

REPO = Path(__file__).resolve().parents[2]


def test_token_bucket_refills_continuously() -> None:
    now = [0]
    bucket = TokenBucket(rate=100, capacity=100, now_ns=lambda: now[0])
    assert all(bucket.take(10) for _ in range(10))
    assert not bucket.take(10)
    now[0] += 50_000_000  # 50 ms -> 5 tokens
    assert not bucket.take(10)
    now[0] += 50_000_000
    assert bucket.take(10)
    limiter = RateLimiter("basic", now_ns=lambda: now[0])
    assert sum(limiter.allow("k", "read", 10) for _ in range(50)) == 40  # 2 s of 200 tokens/s
    assert sum(limiter.allow("k", "write", 2) for _ in range(60)) == 50  # cancels cost 2
    assert RateLimiter("off").allow("k", "write", 10_000)


@requires_tape
async def test_rate_limit_429_body_and_no_retry_after() -> None:
    async with running(rate_limit_tier="basic") as sim:
        trader = await sim.trader()
        orders = [{"ticker": MARKET, "side": "yes", "action": "buy", "count": 1, "yes_price": 1}] * 11
        r = await trader.post("/portfolio/orders/batched", json={"orders": orders})
        assert r.status_code == 429
        assert r.json() == {"error": "too many requests", "code": "too_many_requests", "message": "too many requests"}
        assert "Retry-After" not in r.headers
        ok = await trader.post("/portfolio/orders/batched", json={"orders": orders[:10]})
        assert ok.status_code == 201
        again = await trader.post("/portfolio/orders/batched", json={"orders": orders[:10]})
        assert again.status_code == 429  # the write bucket (100 tokens) needs a full second to refill
        limits = (await trader.get("/account/limits")).json()
        assert limits["usage_tier"] == "basic" and limits["write"]["bucket_capacity"] == 100


@requires_tape
async def test_injected_failures_latency_and_outcome_unknown_writes() -> None:
    async with running() as sim:
        await sim.goto("2026-08-10T21:47:00Z")
        trader = await sim.trader()
        r = await sim.ctl(
            "PUT", "/faults", json={"fail_next": [{"status": 503, "count": 2, "path_prefix": "/portfolio/balance"}]}
        )
        assert r.status_code == 200 and r.json()["fail_next"][0]["count"] == 2
        for _ in range(2):
            failed = await trader.get("/portfolio/balance")
            assert failed.status_code == 503 and failed.json()["error"]["code"] == "service_unavailable"
        assert (await trader.get("/portfolio/balance")).status_code == 200

        await sim.ctl(
            "PUT",
            "/faults",
            json={
                "fail_next": [
                    {
                        "status": 500,
                        "method": "POST",
                        "path_prefix": "/trade-api/v2/portfolio/orders",
                        "after_processing": True,
                    }
                ]
            },
        )
        coid = uuid.uuid4().hex
        lost = await trader.post(
            "/portfolio/orders",
            json=v1_order("yes", "buy", count=1, yes_price=1, client_order_id=coid),
        )
        assert lost.status_code == 500
        orders = (await trader.get("/portfolio/orders", params={"ticker": MARKET})).json()["orders"]
        assert [o["client_order_id"] for o in orders] == [coid] and orders[0]["status"] == "resting"
        retry = await trader.post(
            "/portfolio/orders",
            json=v1_order("yes", "buy", count=1, yes_price=1, client_order_id=coid),
        )
        assert retry.status_code == 409

        await sim.ctl("PUT", "/faults", json={"fail_next": [{"status": 429, "path_prefix": "/markets"}]})
        limited = await sim.http.get(PREFIX + "/markets")
        assert limited.status_code == 429 and limited.json()["error"] == "too many requests"

        await sim.ctl("PUT", "/faults", json={"latency_ms": 200})
        began = time.monotonic()
        assert (await sim.http.get(PREFIX + "/exchange/status")).status_code == 200
        assert time.monotonic() - began >= 0.2
        await sim.ctl("PUT", "/faults", json={"latency_ms": 0})
        bad = await sim.ctl("PUT", "/faults", json={"fail_next": [{"status": 200}]})
        assert bad.status_code == 400


@requires_tape
async def test_trading_and_exchange_pauses() -> None:
    async with running() as sim:
        await sim.goto("2026-08-10T21:47:00Z")
        trader = await sim.trader()
        order = await trader.post(
            "/portfolio/orders", json={"ticker": MARKET, "side": "yes", "action": "buy", "count": 1, "yes_price": 1}
        )
        halted = await trader.post(
            "/portfolio/orders",
            json=v1_order("yes", "buy", count=1, yes_price=1, cancel_order_on_pause=True),
        )
        await sim.ctl("PUT", "/faults", json={"trading_paused": True})
        status = (await sim.http.get(PREFIX + "/exchange/status")).json()
        assert status["exchange_active"] is True and status["trading_active"] is False
        assert (await trader.order(halted.json()["order"]["order_id"]))["last_update_reason"] == "HaltCancel"
        rejected = await trader.post(
            "/portfolio/orders", json={"ticker": MARKET, "side": "yes", "action": "buy", "count": 1, "yes_price": 1}
        )
        assert rejected.status_code == 400 and rejected.json()["error"]["code"] == "trading_paused"
        assert (await trader.delete(f"/portfolio/orders/{order.json()['order']['order_id']}")).status_code == 200
        await sim.ctl("PUT", "/faults", json={"trading_paused": False, "exchange_paused": True})
        status = (await sim.http.get(PREFIX + "/exchange/status")).json()
        assert status["exchange_active"] is False and status["trading_active"] is False
        paused = await trader.delete(f"/portfolio/orders/{order.json()['order']['order_id']}")
        assert paused.status_code == 503
        await sim.ctl("PUT", "/faults", json={"exchange_paused": False})
        assert (await sim.http.get(PREFIX + "/exchange/status")).json()["trading_active"] is True


@requires_tape
async def test_events_are_published_for_fills_orders_positions_and_book() -> None:
    async with running() as sim:
        await sim.goto("2026-08-10T21:47:00Z")
        seen: list[object] = []
        sub = sim.server.bus.subscribe(seen.append)
        queued = sim.server.bus.subscribe_queue((TradeEvent,))
        trader = await sim.trader()
        book = await sim.book(MARKET)
        ask = 1 - max(book["no"])
        r = await trader.post(
            "/portfolio/orders",
            json={"ticker": MARKET, "side": "yes", "action": "buy", "count": 1, "yes_price_dollars": str(ask)},
        )
        assert r.json()["order"]["status"] == "executed"
        kinds = {type(e) for e in seen}
        assert {FillEvent, UserOrderEvent, PositionEvent, TradeEvent, BookDelta} <= kinds
        fill = next(e for e in seen if isinstance(e, FillEvent))
        assert fill.account_id == trader.key_id and fill.fill["count_fp"] == "1.00"
        delta = next(e for e in seen if isinstance(e, BookDelta))
        assert delta.side == "no" and delta.price == 1 - ask and delta.delta == Decimal(-1)
        seen.clear()
        await sim.advance(30)
        assert any(isinstance(e, BookDelta) for e in seen)
        assert queued.queue.qsize() > 0 and not queued.overflowed
        sub.close()
        queued.close()


async def test_synthetic_generator_when_the_data_dir_is_absent(tmp_path: Path) -> None:
    async with running(default_data_dir=tmp_path / "absent", synthetic_seed=7) as sim:
        health = (await sim.ctl("GET", "/health")).json()
        assert health["source"] == "synthetic" and health["markets"] == 96
        markets = (
            await sim.http.get(PREFIX + "/markets", params={"series_ticker": "KXSYNTH15M", "status": "open"})
        ).json()["markets"]
        assert len(markets) == 1 and markets[0]["fractional_trading_enabled"] is False
        ticker = markets[0]["ticker"]
        await sim.advance(10)
        first = await sim.book(ticker)
        assert first["yes"] and first["no"] and max(first["yes"]) + max(first["no"]) < 1
        trades = (await sim.http.get(PREFIX + "/markets/trades", params={"ticker": ticker})).json()["trades"]
        assert trades
        trader = await sim.trader()
        fractional = await trader.post(
            "/portfolio/orders",
            json={"ticker": ticker, "side": "yes", "action": "buy", "count_fp": "1.50", "yes_price": 1},
        )
        assert fractional.status_code == 400 and fractional.json()["error"]["code"] == "invalid_order"
        await sim.advance(15 * 60)
        nxt = (
            await sim.http.get(PREFIX + "/markets", params={"series_ticker": "KXSYNTH15M", "status": "open"})
        ).json()["markets"]
        assert [m["ticker"] for m in nxt] != [ticker]
        assert (await sim.market(ticker))["status"] == "finalized"
    async with running(default_data_dir=tmp_path / "absent", synthetic_seed=7) as again:
        await again.advance(10)
        assert await again.book(ticker) == first


def test_cli_rejects_bad_configuration() -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["--data-dir", "/definitely/not/here", "--port", "0"])
    assert missing.exit_code == 2
    assert missing.output.strip().count("\n") == 0 and "data dir" in missing.output
    speed = runner.invoke(main, ["--speed", "-3", "--port", "0"])
    assert speed.exit_code == 2 and "speed" in speed.output
    start = runner.invoke(main, ["--start", "yesterday", "--port", "0"])
    assert start.exit_code == 2 and "start" in start.output
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        busy = runner.invoke(main, ["--port", str(port), "--synthetic"])
    assert busy.exit_code == 1 and "cannot listen" in busy.output


async def test_cli_serves_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "--port",
        "0",
        "--synthetic",
        "--paused",
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
    assert line.startswith("kalshi-sim listening on http://127.0.0.1:")
    url = line.split()[3]
    reader, writer = await asyncio.open_connection(*url.removeprefix("http://").split(":"))
    writer.write(b"GET /sim/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    response = await reader.read()
    writer.close()
    assert response.startswith(b"HTTP/1.1 200")
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
