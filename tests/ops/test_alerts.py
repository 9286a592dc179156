"""The Prometheus alert rules and config pass ``promtool check`` and their unit tests (``promtool test rules``).

``deploy/prometheus/alerts.test.yml`` shows every alert firing on the series that should page (after its
``for:`` delay, with its rendered annotations) and silent on a healthy neighbour. Skipped, with the reason,
when promtool (Debian's ``prometheus`` package) is not installed. The rules are also loaded by a real
Prometheus scraping a live worker in ``test_dashboard.py``.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.ops.livestack import DEPLOY, find_prometheus

_, PROMTOOL = find_prometheus()
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus; or set PROMTOOL_BIN)"
)
PROM_DIR = DEPLOY / "prometheus"


def promtool(*args: str) -> str:
    assert PROMTOOL is not None
    proc = subprocess.run([str(PROMTOOL), *args], cwd=PROM_DIR, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"promtool {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def test_promtool_check_rules() -> None:
    assert "SUCCESS" in promtool("check", "rules", "alerts.yml")


def test_promtool_check_config() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")


def test_promtool_test_rules() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts.test.yml")


def test_every_alert_has_a_unit_test_and_a_runbook_line() -> None:
    rules = [r for g in yaml.safe_load((PROM_DIR / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    tests = yaml.safe_load((PROM_DIR / "alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for t in tests for case in t["alert_rule_test"] if case["exp_alerts"]}
    for rule in rules:
        assert rule["alert"] in tested, f"{rule['alert']} is never shown firing in alerts.test.yml"
        assert rule["labels"]["severity"] in {"page", "warn"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    runbook = (DEPLOY.parent / "docs" / "operations.md").read_text()
    missing = [r["alert"] for r in rules if r["alert"] not in runbook]
    assert not missing, f"docs/operations.md does not say what to do for {missing}"
