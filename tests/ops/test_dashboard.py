"""Every query of the Grafana dashboard returns data from a real Prometheus scraping a real trading worker.

The live stack (:mod:`tests.ops.livestack`) runs the worker as its own process trading the simulator over
the WebSocket actor loop, recording into SQLite, with Prometheus (Debian's ``prometheus`` package) scraping
it every second and the alert rules loaded. Grafana's ``$__rate_interval`` becomes ``30s`` here (30 samples
at a 1 s scrape; Grafana computes at least four scrape intervals).

A query that returns nothing (or only NaN) fails with the panel's title and the query. The alert rules must
load and evaluate without error, and every metric they name must exist in the live worker's scrape (an
alert on a misspelt metric would never fire). Skipped, with the reason, when Prometheus is not installed.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import yaml
from temporalio.testing import WorkflowEnvironment

from tests.ops.livestack import ALERT_RULES, DEPLOY, WORKER_JOB, LiveStack, find_prometheus, live_stack

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "kalshi-trader.json"
GRAFANA_VARIABLES = {"$__rate_interval": "30s", "$__interval": "5s", "$__range": "5m"}
WARM_UP_TIMEOUT_S = 150.0

PROMETHEUS, _ = find_prometheus()
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="Prometheus is not installed (Debian: apt-get install prometheus; or set PROMETHEUS_BIN)",
)


def dashboard_queries() -> list[tuple[str, str]]:
    """``(panel title [refId], PromQL with Grafana variables substituted)`` for every target of every panel."""
    dashboard = json.loads(DASHBOARD.read_text())
    out: list[tuple[str, str]] = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(var, value)
            assert "$" not in expr, f"panel {panel['title']!r}: unknown Grafana variable in {expr!r}"
            out.append((f"{panel['title']} [{target['refId']}]", expr))
    return out


QUERIES = dashboard_queries()


def has_data(result: list[dict[str, Any]]) -> bool:
    """True when the instant vector holds at least one finite sample."""
    return any(math.isfinite(float(r["value"][1])) for r in result if "value" in r)


@pytest_asyncio.fixture(scope="module")
async def stack(temporal_env: WorkflowEnvironment, temporal_address: str) -> AsyncIterator[LiveStack]:
    assert PROMETHEUS is not None
    async with live_stack(temporal_env.client, temporal_address, PROMETHEUS) as s:
        # Trade until every panel has data (or the warm-up ends: the tests below then name what is missing).
        deadline = asyncio.get_running_loop().time() + WARM_UP_TIMEOUT_S
        while asyncio.get_running_loop().time() < deadline:
            assert s.worker.poll() is None, s.worker_log.read_text()[-3000:]
            results = await asyncio.gather(*(s.prometheus.query(q) for _, q in QUERIES))
            if all(has_data(r) for r in results):
                break
            await asyncio.sleep(2)
        yield s


@pytest.mark.parametrize(("panel", "query"), QUERIES, ids=[p for p, _ in QUERIES])
async def test_panel_query_returns_data(stack: LiveStack, panel: str, query: str) -> None:
    result = await stack.prometheus.query(query)
    assert has_data(result), f"panel {panel!r}: query returned no data: {query}"


async def test_alert_rules_load_and_evaluate_on_live_data(stack: LiveStack) -> None:
    rules = await stack.prometheus.rules()
    defined = [r["alert"] for g in yaml.safe_load(ALERT_RULES.read_text())["groups"] for r in g["rules"]]
    assert sorted(r["name"] for r in rules) == sorted(defined)
    for rule in rules:
        assert rule["health"] == "ok", f"alert {rule['name']}: {rule.get('lastError')}"


# Counters the Temporal SDK creates at their first increment only (a healthy run has none). Seen exported by a
# real worker whose workflow task failed: temporal_workflow_task_execution_failed_total{failure_reason=...}.
CREATED_AT_FIRST_FAILURE = {"temporal_workflow_task_execution_failed_total"}


async def test_every_metric_an_alert_names_exists_in_the_live_scrape(stack: LiveStack) -> None:
    exported = {r["metric"]["__name__"] for r in await stack.prometheus.query(f'{{job="{WORKER_JOB}"}}')}
    exported |= {"up"} | CREATED_AT_FIRST_FAILURE
    for group in yaml.safe_load(ALERT_RULES.read_text())["groups"]:
        for rule in group["rules"]:
            names = set(re.findall(r"\b((?:kalshi|temporal)_[a-z0-9_]+|up)\b", rule["expr"]))
            missing = names - exported
            assert not missing, f"alert {rule['alert']} names metrics the worker does not export: {missing}"


async def test_the_trader_was_really_trading(stack: LiveStack) -> None:
    """The data behind the panels comes from real trading: orders accepted, contracts filled, a close."""
    [accepted] = await stack.prometheus.query('sum(kalshi_trader_orders_total{result="accepted"})')
    [filled] = await stack.prometheus.query("sum(kalshi_trader_fills_contracts_total)")
    [closes] = await stack.prometheus.query("sum(kalshi_trader_closes_total)")
    assert float(accepted["value"][1]) > 0 and float(filled["value"][1]) > 0 and float(closes["value"][1]) > 0
    acct = await stack.harness.exchange_account()
    assert any(o["client_order_id"].startswith("close_position:") for o in acct["orders"])
