"""The response validator itself: it accepts what the SDK accepts and names the route and field it does not.

Runs ``validate_bodies.py`` in the newest SDK's virtualenv (skipped with the reason where there is none) on
bodies taken from a live simulator, unchanged and with one field broken at a time.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.conformance import recorder
from tests.conformance.sdkenv import SdkUnavailable
from tests.conftest import DATA_DIR


async def _validate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(recorder.validate, samples)
    except SdkUnavailable as exc:
        pytest.skip(str(exc))


def _sample(method: str, route: str, status: int, body: Any) -> dict[str, Any]:
    return {
        "method": method,
        "route": route,
        "status": status,
        "body": body if isinstance(body, str) else json.dumps(body),
    }


async def test_validator_accepts_simulator_bodies_and_names_broken_fields() -> None:
    config = SimulatorConfig(
        port=0, paused=True, rate_limit_tier="off", data_dir=DATA_DIR if DATA_DIR.is_dir() else None
    )
    async with SimulatorServer(config) as sim, httpx.AsyncClient(base_url=sim.rest_url) as http:
        markets = (await http.get("/markets", params={"limit": 3})).json()
        series_ticker = (await http.get("/series")).json()["series"][0]["ticker"]
        series = (await http.get(f"/series/{series_ticker}")).json()
        missing = await http.get("/markets/NO-SUCH-MARKET")
    assert missing.status_code == 404
    no_bounds = json.loads(json.dumps(markets))
    del no_bounds["markets"][1]["settlement_bounds_type"]
    bad_status = json.loads(json.dumps(markets))
    bad_status["markets"][0]["status"] = "settled"
    no_categories = {"series": {k: v for k, v in series["series"].items() if k != "categories"}}
    samples = [
        _sample("GET", "/markets", 200, markets),
        _sample("GET", "/series/{series_ticker}", 200, series),
        _sample("GET", "/markets/{ticker}", 404, missing.text),
        _sample("GET", "/markets", 200, no_bounds),
        _sample("GET", "/markets", 200, bad_status),
        _sample("GET", "/series/{series_ticker}", 200, no_categories),
        _sample("GET", "/markets/{ticker}", 404, {"error": {"code": "not_found", "message": "not found"}}),
        _sample("DELETE", "/portfolio/events/orders", 200, {"orders": []}),
        _sample("GET", "/portfolio/not_a_kalshi_route", 200, {}),
    ]
    report = await _validate(samples)
    problems = {(f["route"], f["status"], f["error"].split(":")[0]) for f in report["failures"]}
    assert report["validated"] == len(samples)
    assert problems == {
        ("/markets", 200, "Market.settlement_bounds_type"),
        ("/markets", 200, "Market.status"),
        ("/series/{series_ticker}", 200, "Series.categories"),
        ("/markets/{ticker}", 404, "ErrorResponse.code is missing (the spec's error body is flat"),
        ("/portfolio/events/orders", 200, "status 200 is not a success status of this operation (spec"),
        ("/portfolio/not_a_kalshi_route", 200, "the SDK has no operation GET /portfolio/not_a_kalshi_route"),
        ("/markets/{ticker}", 404, "ErrorResponse.message is missing"),
    }, report["failures"]
