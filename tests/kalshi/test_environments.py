"""Kalshi environments (kalshi-api.md §1)."""

from __future__ import annotations

import pytest

from kalshi.environments import KalshiEndpoints, KalshiEnvironment


def test_default_urls() -> None:
    assert KalshiEnvironment.PROD.endpoints() == KalshiEndpoints(
        "https://external-api.kalshi.com/trade-api/v2", "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
    )
    assert KalshiEnvironment.DEMO.endpoints() == KalshiEndpoints(
        "https://external-api.demo.kalshi.co/trade-api/v2", "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"
    )
    assert KalshiEnvironment.SIM.rest_base_url == "http://127.0.0.1:8765/trade-api/v2"
    assert KalshiEnvironment.SIM.ws_url == "ws://127.0.0.1:8765/trade-api/ws/v2"
    assert KalshiEnvironment.PROD.is_real_money and not KalshiEnvironment.DEMO.is_real_money


def test_overrides() -> None:
    ep = KalshiEnvironment.SIM.endpoints(
        rest_base_url="http://localhost:9000/trade-api/v2/", ws_url="ws://localhost:9000/trade-api/ws/v2"
    )
    assert ep.rest_base_url == "http://localhost:9000/trade-api/v2"
    with pytest.raises(ValueError):
        KalshiEnvironment.SIM.endpoints(rest_base_url="ws://localhost:9000/trade-api/v2")
    with pytest.raises(ValueError):
        KalshiEnvironment.SIM.endpoints(ws_url="http://localhost:9000/trade-api/ws/v2")
    with pytest.raises(ValueError):
        KalshiEnvironment.SIM.endpoints(rest_base_url="http://localhost:9000/trade-api/v2?x=1")


def test_parse() -> None:
    assert KalshiEnvironment.parse("Prod") is KalshiEnvironment.PROD
    assert KalshiEnvironment.parse("production") is KalshiEnvironment.PROD
    assert KalshiEnvironment.parse(" sim ") is KalshiEnvironment.SIM
    assert KalshiEnvironment("demo") is KalshiEnvironment.DEMO
    with pytest.raises(ValueError, match="expected one of sim, demo, prod"):
        KalshiEnvironment.parse("staging")
