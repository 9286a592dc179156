"""Fixtures for the simulator tests: a real server on a free port, signed HTTP clients, the tape oracle.

Requests are signed here with ``cryptography`` directly (RSA-PSS, SHA-256, salt = digest length), as
kalshi-api.md §2 describes; the project's kalshi/ client is deliberately not used.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.simulator.tape_oracle import DATA_DIR

requires_tape = pytest.mark.skipif(not DATA_DIR.is_dir(), reason="recorded tape ../shared/data is absent")
PREFIX = "/trade-api/v2"
MARKET = "KXGOLD15M-26AUG101800-00"
"""The tests' market: open 21:45Z .. 22:00Z on 2026-08-10; recorded result: no; settlement_ts 22:00:05.462145Z."""


def v1_order(side: str, action: str, *, ticker: str = MARKET, **fields: Any) -> dict[str, Any]:
    """A V1 ``POST /portfolio/orders`` body: ``ticker``, ``side``, ``action`` and the given fields as sent."""
    return {"ticker": ticker, "side": side, "action": action, **fields}


_KEY_CACHE: list[rsa.RSAPrivateKey] = []


def private_key(index: int) -> rsa.RSAPrivateKey:
    """A process-wide cache of RSA keys (generation is the slow part)."""
    while len(_KEY_CACHE) <= index:
        _KEY_CACHE.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEY_CACHE[index]


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign_headers(
    key_id: str, key: rsa.RSAPrivateKey, method: str, path: str, ts_ms: int | None = None
) -> dict[str, str]:
    """Kalshi auth headers for ``method path`` (path without query, including /trade-api/v2)."""
    ts = str(ts_ms if ts_ms is not None else time.time_ns() // 1_000_000)
    signature = key.sign(
        (ts + method.upper() + path).encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )
    return {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": base64.b64encode(signature).decode(),
    }


class Trader:
    """A signed client of one account; paths are relative to ``/trade-api/v2``."""

    def __init__(self, http: httpx.AsyncClient, key_id: str, key: rsa.RSAPrivateKey) -> None:
        self.http = http
        self.key_id = key_id
        self.key = key

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        full = PREFIX + path
        headers = {**kwargs.pop("headers", {}), **sign_headers(self.key_id, self.key, method, full)}
        return await self.http.request(method, full, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def order(self, order_id: str) -> dict[str, Any]:
        r = await self.get(f"/portfolio/orders/{order_id}")
        assert r.status_code == 200, r.text
        return r.json()["order"]

    async def balance_cents(self) -> int:
        r = await self.get("/portfolio/balance")
        assert r.status_code == 200, r.text
        return int(r.json()["balance"])

    async def buy(self, ticker: str, side: str, price_cents: int, count: int, **extra: Any) -> httpx.Response:
        body = {
            "ticker": ticker,
            "side": side,
            "action": "buy",
            "count": count,
            f"{side}_price": price_cents,
            "client_order_id": uuid.uuid4().hex,
            **extra,
        }
        return await self.post("/portfolio/orders", json=body)


@dataclass
class Sim:
    """A running simulator plus a control-API client."""

    server: SimulatorServer
    http: httpx.AsyncClient

    async def ctl(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, "/sim/v1" + path, **kwargs)

    async def trader(self, balance_cents: int | None = None, index: int = 0) -> Trader:
        key = private_key(index)
        key_id = f"k-{uuid.uuid4().hex[:10]}"
        body: dict[str, Any] = {"key_id": key_id, "public_key_pem": public_pem(key)}
        if balance_cents is not None:
            body["balance_cents"] = balance_cents
        r = await self.ctl("POST", "/accounts", json=body)
        assert r.status_code == 201, r.text
        return Trader(self.http, key_id, key)

    async def advance(self, seconds: Decimal | int | str) -> dict[str, Any]:
        r = await self.ctl("POST", "/clock/advance", json={"seconds": str(seconds)})
        assert r.status_code == 200, r.text
        return r.json()

    async def goto(self, tape_iso: str) -> dict[str, Any]:
        r = await self.ctl("PUT", "/clock", json={"tape_time": tape_iso})
        assert r.status_code == 200, r.text
        return r.json()

    async def book(self, ticker: str) -> dict[str, dict[Decimal, Decimal]]:
        r = await self.http.get(f"{PREFIX}/markets/{ticker}/orderbook")
        assert r.status_code == 200, r.text
        fp = r.json()["orderbook_fp"]
        return {side: {Decimal(p): Decimal(s) for p, s in fp[f"{side}_dollars"]} for side in ("yes", "no")}

    async def market(self, ticker: str) -> dict[str, Any]:
        r = await self.http.get(f"{PREFIX}/markets/{ticker}")
        assert r.status_code == 200, r.text
        return r.json()["market"]


@asynccontextmanager
async def running(**overrides: Any) -> AsyncIterator[Sim]:
    """Start a simulator on a free port, paused, rate limits off unless overridden."""
    options: dict[str, Any] = {"port": 0, "paused": True, "rate_limit_tier": "off"}
    if "synthetic" not in overrides and "default_data_dir" not in overrides and "data_dir" not in overrides:
        options["data_dir"] = DATA_DIR
    options.update(overrides)
    async with (
        SimulatorServer(SimulatorConfig(**options)) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=60) as http,
    ):
        yield Sim(server, http)
