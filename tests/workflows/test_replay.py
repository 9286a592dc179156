"""Replay every recorded history in tests/histories with today's workflow code.

A change that would break running workflows (a new activity, a reordered timer, a renamed handler)
fails here with a non-determinism error. Histories are regenerated only for a changed workflow behind
``workflow.patched`` (see tests/histories/record.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workers.worker import WORKFLOWS, workflow_runner

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
INDEX = json.loads((HISTORIES / "index.json").read_text())


def test_every_scenario_and_workflow_type_is_covered() -> None:
    assert {v["workflow_type"] for v in INDEX.values()} == {
        "TraderWorkflow",
        "ClosePositionWorkflow",
        "MarketDataWorkflow",
    }
    assert {v["scenario"] for v in INDEX.values()} >= {
        "take-profit",
        "trading-pause",
        "outage",
        "continue-as-new",
        "actor",
        "exactly-once",
        "no-viable",
        "drain",
        "md-move",
    }


def test_every_patch_has_a_history_that_takes_its_new_branch() -> None:
    """Each ``workflow.patched`` id appears as a marker in some recorded history (its new code replays)."""
    import base64

    from workflows import names

    patches = {v for k, v in vars(names).items() if k.startswith("PATCH_")}
    seen: set[str] = set()
    for name in INDEX:
        for event in json.loads((HISTORIES / name).read_text())["events"]:
            marker = event.get("markerRecordedEventAttributes")
            if marker and "patch-data" in marker.get("details", {}):
                data = marker["details"]["patch-data"]["payloads"][0]["data"]
                seen.add(json.loads(base64.b64decode(data))["id"])
    assert patches <= seen, f"patches without a recorded history: {sorted(patches - seen)}"
    assert sorted(p.name for p in HISTORIES.glob("*.json") if p.name != "index.json") == sorted(INDEX)


@pytest.mark.parametrize("name", sorted(INDEX))
async def test_replay(name: str) -> None:
    entry = INDEX[name]
    history = WorkflowHistory.from_json(entry["workflow_id"], (HISTORIES / name).read_text())
    replayer = Replayer(
        workflows=list(WORKFLOWS), data_converter=pydantic_data_converter, workflow_runner=workflow_runner()
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name} no longer replays: {result.replay_failure}"
