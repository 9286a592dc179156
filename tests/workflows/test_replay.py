"""Replay every recorded history in tests/histories with today's workflow code.

A change that would break running workflows (a new activity, a reordered timer, a renamed handler)
fails here with a non-determinism error. Histories are regenerated only for a changed workflow behind
``workflow.patched`` (see tests/histories/record.py).

Before a deploy, replay production's own histories with the same test: export them with
``temporal workflow show -w <id> -o json > DIR/<id>.json`` and run
``REPLAY_HISTORIES=DIR .venv/bin/pytest -q tests/workflows/test_replay.py`` (docs/operations.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workers.worker import WORKFLOWS, workflow_runner

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
INDEX = json.loads((HISTORIES / "index.json").read_text())
# A folder of exported production histories (`temporal workflow show -o json`), replayed when set.
EXTRA = Path(os.environ["REPLAY_HISTORIES"]) if os.environ.get("REPLAY_HISTORIES") else None
EXTRA_FILES = sorted(p for p in EXTRA.glob("*.json") if p.name != "index.json") if EXTRA and EXTRA.is_dir() else []


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
        "policy",
        "degraded",
        "close-pause",
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


def _replayer() -> Replayer:
    return Replayer(
        workflows=list(WORKFLOWS), data_converter=pydantic_data_converter, workflow_runner=workflow_runner()
    )


def test_the_production_history_folder_holds_histories() -> None:
    if EXTRA is None:
        pytest.skip("set REPLAY_HISTORIES=<folder of `temporal workflow show -o json` files> to replay them")
    assert EXTRA_FILES, f"REPLAY_HISTORIES={EXTRA} holds no *.json history"


def load_exported(path: Path) -> WorkflowHistory:
    """An exported history, its workflow id from ``index.json`` beside it or else the file name (``<id>.json``;
    the id matters: client order ids derive from it). Fails at once on a file that is not a started history."""
    index_file = path.parent / "index.json"
    index = json.loads(index_file.read_text()) if index_file.is_file() else {}
    workflow_id = index.get(path.name, {}).get("workflow_id", path.stem)
    history = WorkflowHistory.from_json(workflow_id, path.read_text())
    first = history.events[0].event_type if history.events else None
    assert first == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, (
        f"{path} is not a workflow history (`temporal workflow show -w <id> -o json`): first event {first}"
    )
    return history


@pytest.mark.parametrize("path", EXTRA_FILES, ids=[p.name for p in EXTRA_FILES])
async def test_replay_exported_history(path: Path) -> None:
    result = await _replayer().replay_workflow(load_exported(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path} no longer replays: {result.replay_failure}"
