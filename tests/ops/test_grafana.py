"""The Grafana dashboard JSON is loadable as provisioned and covers what an operator of the trader watches.

Grafana is not installable offline here, so this checks what Grafana needs from the file (unique panel ids,
a grid inside 24 columns, the provisioned datasource uid on every panel and target, a PromQL expression and
unique refId per target) and that the panels cover the issue's list (state and mode, cycles, calibration,
orders, fills, rejects, positions, cash, P&L, WebSocket, latency, recorder, Temporal SDK task latencies).
That each query returns data from a live worker is test_dashboard.py's job.
"""

from __future__ import annotations

import json

import yaml

from tests.ops.livestack import DEPLOY

DASHBOARD = json.loads((DEPLOY / "grafana" / "dashboards" / "kalshi-trader.json").read_text())
DATASOURCE = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
EXPRESSIONS = " ".join(t["expr"] for p in PANELS for t in p["targets"])


def test_the_dashboard_is_well_formed_for_grafana() -> None:
    uid = DATASOURCE["datasources"][0]["uid"]
    assert DASHBOARD["uid"] and DASHBOARD["title"] and DASHBOARD["schemaVersion"] >= 36
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in DASHBOARD["panels"]:
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
    for p in PANELS:
        assert p["datasource"]["uid"] == uid, p["title"]
        assert p["targets"], f"panel {p['title']!r} has no query"
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["expr"].strip() and t["datasource"]["uid"] == uid, p["title"]


def test_the_panels_cover_what_an_operator_watches() -> None:
    needs = {
        "trader state": "kalshi_trader_state",
        "mode": "kalshi_trader_mode",
        "cycle rate": "kalshi_trader_cycles_total",
        "calibration duration": "kalshi_trader_calibration_seconds_bucket",
        "orders by side/action": "kalshi_trader_orders_total",
        "fills by side/action": "kalshi_trader_fills_contracts_total",
        "rejects by reason": "kalshi_trader_pretrade_rejects_total",
        "positions": "kalshi_trader_positions",
        "cash": "kalshi_trader_cash_cents",
        "P&L": "kalshi_trader_unrealized_pnl_dollars",
        "WebSocket connected": "kalshi_ws_connected",
        "gaps": "kalshi_ws_gaps_total",
        "resyncs": "kalshi_ws_resyncs_total",
        "delta age": "kalshi_feed_delta_age_ms",
        "decision latency": "kalshi_trader_decision_latency_seconds_bucket",
        "order latency": "kalshi_trader_order_latency_seconds_bucket",
        "recorder queue": "kalshi_recorder_queue_depth",
        "recorder drops": "kalshi_recorder_dropped_total",
        "workflow task latency": "temporal_workflow_task_schedule_to_start_latency_bucket",
        "activity task latency": "temporal_activity_schedule_to_start_latency_bucket",
    }
    missing = [need for need, metric in needs.items() if metric not in EXPRESSIONS]
    assert not missing, f"no panel shows: {missing}"
