"""The order request's way through httpx and httpcore: what an order write costs on the client, stage by stage.

Usage::

    python -m bench.bench_order_write [--requests 2000] [--no-pin]

A minimal HTTP/1.1 server in a separate process (aiohttp, pinned to the other CPU) answers every POST with a small
JSON body at once; the client is the product's :class:`kalshi.rest.KalshiRestClient` (no signer: the signature's
cost is measured elsewhere and is pre-signed off the order path now, ``kalshi.presign``), sending the real V2 order
body of a 1-contract IOC order over one kept-alive connection, one request at a time. Per request, on
``perf_counter``:

* ``build``: ``RestTransport._build_request`` (URL, headers, the JSON body): the direct build the order writes use,
  and httpx's ``AsyncClient.build_request`` for comparison;
* ``send -> written``: ``AsyncClient.send`` called -> httpcore's ``http11.send_request_body.complete`` trace (the
  last byte handed to the kernel), with the event-loop turns it took (a callback counts loop iterations);
* for comparison only (not used by the product): the same POST with ``aiohttp`` (already a dependency: the simulator
  serves with it), ``ClientSession.post`` called -> its ``on_request_chunk_sent`` trace (the body handed to the
  transport), with its event-loop turns;
* the same bytes written with a bare asyncio ``transport.write`` on a second connection: the floor.

Figures are medians and p99 over ``--requests`` requests, after 200 warm-up requests.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

import click

from kalshi.models import CreateOrderRequest
from kalshi.rest import KalshiRestClient

SERVER = """
import sys
from aiohttp import web
async def order(request):
    await request.read()
    return web.json_response({"order_id": "o", "client_order_id": "c"}, status=201)
app = web.Application()
app.router.add_post("/trade-api/v2/portfolio/events/orders", order)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


class _Turns:
    """Counts event-loop iterations: a callback that re-schedules itself once per turn."""

    def __init__(self) -> None:
        self.count = 0
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        self._handle = self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()


async def _measure(port: int, n: int) -> dict[str, list[float]]:
    base = f"http://127.0.0.1:{port}/trade-api/v2"
    out: dict[str, list[float]] = {
        "build_direct": [],
        "build_httpx": [],
        "written": [],
        "turns": [],
        "raw": [],
        "aiohttp": [],
        "aiohttp_turns": [],
    }
    written: list[float] = []
    done = asyncio.Event()

    async def trace(name: str, info: dict[str, Any]) -> None:
        if name == "http11.send_request_body.complete":
            written.append(time.perf_counter())
            done.set()

    req = CreateOrderRequest(
        ticker="KXGOLD15M-26AUG102130-30",
        side="yes",
        action="buy",
        count_fp=Decimal(1),
        price_dollars=Decimal("0.43"),
        client_order_id="epoch:bench:1:1",
        time_in_force="immediate_or_cancel",
    )
    body = req.to_v2_body()
    async with KalshiRestClient(base) as client:
        endpoint = "/portfolio/events/orders"
        raw_reader, raw_writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(n + 200):
            t0 = time.perf_counter()
            request, _ = client._build_request("POST", endpoint, json_body=body)
            t1 = time.perf_counter()
            client._http.build_request("POST", endpoint.lstrip("/"), json=body)
            t2 = time.perf_counter()
            request.extensions["trace"] = trace
            written.clear()
            done.clear()
            turns = _Turns()
            started = time.perf_counter()
            sending = asyncio.ensure_future(client._http.send(request))
            await done.wait()
            turns.stop()
            wire_turns = turns.count
            response = await sending
            await response.aread()
            # the floor: the same request bytes with one transport.write on a plain asyncio connection
            head = f"POST /trade-api/v2{endpoint} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            head += b"".join(k + b": " + v + b"\r\n" for k, v in request.headers.raw if k.lower() != b"host")
            payload = head + b"\r\n" + request.content
            r0 = time.perf_counter()
            raw_writer.write(payload)
            r1 = time.perf_counter()
            await raw_reader.readuntil(b"\r\n\r\n")
            length = 0
            # the answer's body (content-length), so the next request starts on a clean connection
            while not length:
                length = len(await raw_reader.read(65536))
            if i >= 200:
                out["build_direct"].append(t1 - t0)
                out["build_httpx"].append(t2 - t1)
                out["written"].append(written[0] - started)
                out["turns"].append(float(wire_turns))
                out["raw"].append(r1 - r0)
        raw_writer.close()
    import aiohttp

    sent: list[float] = []

    async def chunk_sent(session: Any, ctx: Any, params: Any) -> None:
        sent.append(time.perf_counter())
        done.set()

    tracing = aiohttp.TraceConfig()
    tracing.on_request_chunk_sent.append(chunk_sent)
    data = request.content
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    async with aiohttp.ClientSession(trace_configs=[tracing]) as session:
        for i in range(n + 200):
            sent.clear()
            done.clear()
            turns = _Turns()
            started = time.perf_counter()
            posting = asyncio.ensure_future(session.post(f"{base}{endpoint}", data=data, headers=headers))
            await done.wait()
            turns.stop()
            async with await posting as answer:
                await answer.read()
            if i >= 200:
                out["aiohttp"].append(sent[0] - started)
                out["aiohttp_turns"].append(float(turns.count))
    return out


@click.command()
@click.option("--requests", "n", type=int, default=2000, show_default=True)
@click.option("--no-pin", is_flag=True, help="Do not pin the client and the server to different CPUs.")
def main(n: int, no_pin: bool) -> None:
    """Print the order write's client-side stages (module docstring)."""
    port = 18_765
    cpus = sorted(os.sched_getaffinity(0))
    pin = not no_pin and len(cpus) >= 2
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        if pin:
            os.sched_setaffinity(server.pid, {cpus[1]})
            os.sched_setaffinity(0, {cpus[0]})
        time.sleep(1.5)
        out = asyncio.run(_measure(port, n))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"order write, client side: {n:,} POSTs over one kept-alive connection; load average {os.getloadavg()[0]:.2f}"
    )
    rows = [
        ("build: RestTransport._build_request (direct, the product's)", "build_direct"),
        ("build: httpx AsyncClient.build_request (before)", "build_httpx"),
        ("AsyncClient.send -> body written (httpx + httpcore + h11)", "written"),
        ("aiohttp ClientSession.post -> body written (comparison only)", "aiohttp"),
        ("the same bytes, one asyncio transport.write (the floor)", "raw"),
    ]
    for label, key in rows:
        values = out[key]
        print(f"  {label:<62} p50 {_pct(values, 0.5) * 1e6:7.1f} us  p99 {_pct(values, 0.99) * 1e6:7.1f} us")
    print(
        f"  event-loop turns from the call to the body written: httpx median {statistics.median(out['turns']):.0f}, "
        f"aiohttp {statistics.median(out['aiohttp_turns']):.0f}"
    )


if __name__ == "__main__":
    main()
