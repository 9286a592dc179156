"""Pre-signed order headers (kalshi.presign) against the simulator over real HTTP.

The simulator checks signatures and timestamps as Kalshi does (RSA-PSS over ``timestamp + METHOD + path``, a
timestamp within +/- its tolerance of the real wall clock). Its tolerance is set to its minimum, 1 s, so a header
older than that would be refused (``STALE_TIMESTAMP``): the tests below would fail if a stale pre-signed header were
ever sent. What each request really carried is read off the wire by a transport that wraps httpx's own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from kalshi.models import CreateOrderRequest
from kalshi.presign import PresignPool
from kalshi.rest import KalshiRestClient
from kalshi.signer import HEADER_SIGNATURE, HEADER_TIMESTAMP, RequestSigner
from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.conftest import DATA_DIR, eventually, register_account

pytestmark = pytest.mark.skipif(not (DATA_DIR / "MARKETS.csv").is_file(), reason="recorded gold tapes not available")

SERIES = "KXGOLD15M"


class WireLog(httpx.AsyncBaseTransport):
    """httpx's own transport, noting each request's method, path, signed timestamp and wall time when sent (ms)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.sent: list[tuple[str, str, int, int]] = []
        self.signatures: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        stamp = request.headers.get(HEADER_TIMESTAMP)
        if stamp is not None:
            self.sent.append((request.method, request.url.path, int(stamp), time.time_ns() // 1_000_000))
            self.signatures.append(request.headers[HEADER_SIGNATURE])
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def orders(self, method: str) -> list[tuple[str, str, int, int]]:
        return [s for s in self.sent if s[0] == method and "/orders" in s[1]]


@pytest_asyncio.fixture
async def strict_sim() -> AsyncIterator[SimulatorServer]:
    """The simulator on the real gold tape, accepting signed timestamps within 1 s of its wall clock."""
    async with SimulatorServer(SimulatorConfig(port=0, data_dir=DATA_DIR, timestamp_tolerance_s=1)) as server:
        yield server


async def _client(sim: SimulatorServer, tmp_path: Path, **kwargs: object) -> tuple[KalshiRestClient, WireLog, str]:
    _, _, signer = await register_account(sim, tmp_path)
    wire = WireLog()
    client = KalshiRestClient(sim.rest_url, signer, transport=wire, **kwargs)  # type: ignore[arg-type]
    [market, *_] = await client.get_markets(series_ticker=SERIES, status="open")
    return client, wire, market.ticker


def _bid(ticker: str) -> CreateOrderRequest:
    """A post-only buy of 1 YES at $0.01: it rests (nothing sells that low) until cancelled."""
    return CreateOrderRequest(
        ticker=ticker,
        side="yes",
        action="buy",
        count_fp=Decimal(1),
        price_dollars=Decimal("0.01"),
        client_order_id=uuid.uuid4().hex,
        post_only=True,
    )


async def test_orders_and_cancels_go_out_with_headers_signed_ahead_and_are_accepted(
    strict_sim: SimulatorServer, tmp_path: Path
) -> None:
    client, wire, ticker = await _client(strict_sim, tmp_path, presign_max_age_s=1.0)
    async with client:
        first = await client.create_order(_bid(ticker))  # signed inline: nothing was wanted before
        stats = client.presign_stats
        assert stats is not None and first.status == "resting"
        # the order endpoint and the resting order's DELETE are signed in idle time
        await eventually(lambda: stats.signed >= 2, timeout_s=5, what="the pool to fill")
        acks = []
        for _ in range(2):
            await asyncio.sleep(0.05)
            acks.append(await client.create_order(_bid(ticker)))
            await eventually(lambda: stats.signed >= stats.taken + 2, timeout_s=5, what="the refill")
        assert [a.status for a in acks] == ["resting", "resting"] and stats.taken == 2
        for ack in (first, *acks):
            await eventually(lambda: stats.signed >= stats.taken + 2, timeout_s=5, what="the refill")
            assert await client.cancel_order(ack.order_id, ticker=ticker, reread=False) is None
            assert (await client.get_order(ack.order_id)).status == "canceled"
        # the first order's cancel was crowded out by the two later resting orders' (at most 2 are kept): inline
        assert stats.taken == 4 and stats.stale == 0
    posts, deletes = wire.orders("POST"), wire.orders("DELETE")
    assert len(posts) == 3 and len(deletes) == 3
    # the pre-signed ones were signed before they were sent, and never more than the bound before
    ages = [sent - stamp for _, _, stamp, sent in posts[1:] + deletes]
    assert all(0 <= age <= 1_000 for age in ages), ages
    assert max(ages) >= 20, "signed ahead of time, not at the request"
    # each header set was used once: every signature sent is distinct
    assert len(set(wire.signatures)) == len(wire.signatures)


async def test_a_stale_presigned_header_is_never_sent(strict_sim: SimulatorServer, tmp_path: Path) -> None:
    client, wire, ticker = await _client(strict_sim, tmp_path, presign_max_age_s=0.5)
    async with client:
        await client.create_order(_bid(ticker))
        stats = client.presign_stats
        assert stats is not None
        await eventually(lambda: stats.signed >= 1, timeout_s=5, what="the pool to fill")
        time.sleep(1.6)  # noqa: ASYNC251 - the event loop is blocked on purpose: no refresh can run; the held headers age past 1.5 s
        ack = await client.create_order(_bid(ticker))  # the simulator refuses anything older than 1 s
        assert ack.status == "resting"
        assert stats.stale >= 1 and stats.taken == 0 and stats.missed == 2  # the first order, and this one
    _, _, stamp, sent = wire.orders("POST")[-1]
    assert 0 <= sent - stamp < 200, "signed when sent"


async def test_presign_off_signs_every_request_when_sent(strict_sim: SimulatorServer, tmp_path: Path) -> None:
    client, wire, ticker = await _client(strict_sim, tmp_path, presign_max_age_s=None)
    async with client:
        assert client.presign_stats is None
        for _ in range(3):
            ack = await client.create_order(_bid(ticker))
            await asyncio.sleep(0.3)
            await client.cancel_order(ack.order_id, ticker=ticker)
    assert len(wire.orders("POST")) == 3 and len(wire.orders("DELETE")) == 3
    assert all(0 <= sent - stamp < 200 for _, _, stamp, sent in wire.orders("POST") + wire.orders("DELETE"))


async def test_the_simulator_refuses_a_header_older_than_its_tolerance(
    strict_sim: SimulatorServer, tmp_path: Path
) -> None:
    """As Kalshi would: the check the pool's bound stays far inside (so a stale pre-signed header would show)."""
    _, _, signer = await register_account(strict_sim, tmp_path)
    old = time.time_ns() // 1_000_000 - 1_500
    async with httpx.AsyncClient(base_url=strict_sim.base_url) as http:
        path = "/trade-api/v2/portfolio/balance"
        r = await http.get(path, headers=signer.headers("GET", path, old))
        assert r.status_code == 401 and r.json()["error"]["details"] == "STALE_TIMESTAMP"
        r = await http.get(path, headers=signer.headers("GET", path, old + 1_000))
        assert r.status_code == 200


def test_the_pool_hands_each_header_out_once_and_never_a_stale_one(key_pair_signer: RequestSigner) -> None:
    now = [1_000.0]
    pool = PresignPool(
        key_pair_signer,
        max_age_s=1.0,
        depth=2,
        wall_ms=lambda: int(now[0] * 1000),
        monotonic=lambda: now[0],
    )
    path = "/trade-api/v2/portfolio/events/orders"
    assert pool.take("POST", path) is None and pool.stats.missed == 0  # not wanted: not a miss
    pool.want("POST", path, permanent=True)
    assert pool.next_refresh_in() == 0.0
    assert pool.refill(budget=5) == 2 and pool.refill() == 0
    first, second = pool.take("post", path + "?x=1"), pool.take("POST", path)
    assert first is not None and second is not None and first is not second
    assert pool.take("POST", path) is None and pool.stats.missed == 1
    pool.refill(budget=2)
    assert pool.next_refresh_in() == pytest.approx(0.75)
    now[0] += 0.8  # past 3/4 of the bound: the refill replaces them
    assert pool.refill(budget=5) == 2 and pool.stats.refreshed == 2 and pool.stats.stale == 0
    now[0] += 1.01  # past the bound with no refill in between: discarded, not handed out
    assert pool.take("POST", path) is None and pool.stats.stale == 2
    pool.refill(budget=5)
    headers = pool.take("POST", path)
    assert headers is not None and headers[HEADER_TIMESTAMP] == str(int(now[0] * 1000))
    for i in range(10):  # non-permanent requests (resting orders' cancels) are bounded
        pool.want("DELETE", f"/trade-api/v2/portfolio/events/orders/o{i}")
    assert not pool.wants("DELETE", "/trade-api/v2/portfolio/events/orders/o7")
    assert pool.wants("DELETE", "/trade-api/v2/portfolio/events/orders/o8") and pool.wants("POST", path)
    now[0] += 11  # a resting order's cancel not used for 10 s is dropped; the order endpoint is kept
    pool.refill(budget=0)
    assert not pool.wants("DELETE", "/trade-api/v2/portfolio/events/orders/o9") and pool.wants("POST", path)
    now[0] += 301  # idle for longer than idle_s: nothing is signed for it any more
    assert pool.refill(budget=50) == 0 and not pool.wants("POST", path)
    with pytest.raises(ValueError, match="max_age_s"):
        PresignPool(key_pair_signer, max_age_s=0)


@pytest.fixture(scope="module")
def key_pair_signer() -> RequestSigner:
    from kalshi.signer import generate_key_pair

    return RequestSigner.from_pem(generate_key_pair()[0], "presign-test")
