"""Validate every Trade API body the simulator serves during the test run against Kalshi's SDK models.

A pytest session hook (wired in ``tests/conftest.py``) registers a :class:`ResponseRecorder` with
:func:`simulator.rest.observe_responses` before the first test; every in-process simulator then reports
each response. The recorder keeps one sample per distinct *shape* of body for each (method, route,
status): the set of JSON paths and value types plus the values of enum-like fields (``status``,
``result``, ``side`` ...), so a market that turns ``determined`` or a fill on the NO side is a new shape
and is kept, while the thousandth identical poll of ``/portfolio/balance`` is not.

At the end of the session the samples go to ``validate_bodies.py`` running in the newest SDK's virtualenv
(:mod:`tests.conformance.sdkenv`). Any body that does not parse as the SDK's model for its operation, any
success status the spec does not declare and any route the SDK does not know fails the session, listing
method, route, status and the model field. Set ``KALSHI_SDK_VALIDATE=0`` to switch the hook off; with no
Python >= 3.13 (or no PyPI and no cached SDK) it reports why it was skipped and passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from simulator.rest import ObservedResponse
from tests.conformance.sdkenv import NEWEST, SdkUnavailable, ensure_sdk

VALIDATOR = Path(__file__).with_name("validate_bodies.py")
ENUM_KEYS = frozenset(
    {
        "status",
        "result",
        "market_result",
        "side",
        "action",
        "book_side",
        "outcome_side",
        "taker_side",
        "taker_book_side",
        "taker_outcome_side",
        "type",
        "time_in_force",
        "self_trade_prevention_type",
        "last_update_reason",
        "market_type",
        "strike_type",
        "price_level_structure",
        "settlement_bounds_type",
        "collateral_return_type",
        "fee_type",
    }
)
MAX_SHAPES_PER_ROUTE = 200


def shape(value: Any, path: str = "", out: set[str] | None = None) -> frozenset[str]:
    """The structural signature of a JSON value: paths with types, and enum-like field values."""
    out = set() if out is None else out
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}"
            if key in ENUM_KEYS and isinstance(item, str):
                out.add(f"{child}={item}")
            shape(item, child, out)
    elif isinstance(value, list):
        out.add(f"{path}[]" if value else f"{path}[empty]")
        for item in value:
            shape(item, f"{path}[]", out)
    else:
        out.add(f"{path}:{type(value).__name__}")
    return frozenset(out)


class ResponseRecorder:
    """Observer for :func:`simulator.rest.observe_responses` keeping one body per distinct shape."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, int], set[frozenset[str]]] = {}
        self.samples: list[dict[str, Any]] = []
        self.responses = 0

    def __call__(self, answer: ObservedResponse) -> None:
        """Record one response.

        Skipped: paths no route matched (nothing Kalshi defines) and simulators started with
        ``legacy_market_status`` (they serve ``settled`` on purpose, for SDK 3.2.0).
        """
        self.responses += 1
        if answer.route is None or answer.legacy_market_status:
            return
        method, route, status = answer.method, answer.route, answer.status
        text = answer.body.decode("utf-8", errors="replace")
        try:
            signature = shape(json.loads(text)) if text.strip() else frozenset({"<empty>"})
        except ValueError:
            signature = frozenset({"<not json>"})
        seen = self._seen.setdefault((method, route, status), set())
        if signature in seen or len(seen) >= MAX_SHAPES_PER_ROUTE:
            return
        seen.add(signature)
        self.samples.append({"method": method, "route": route, "status": status, "body": text})


def validate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the validator on ``samples`` in the newest SDK's venv; return its report.

    Raises:
        SdkUnavailable: no SDK environment can be made here (the reason is the message).
        RuntimeError: the validator crashed (its stderr is in the message).

    """
    env = ensure_sdk(NEWEST)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(samples, fh)
        path = fh.name
    try:
        proc = subprocess.run(
            [str(env.python), str(VALIDATOR), path], capture_output=True, text=True, timeout=600, check=False
        )
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise RuntimeError(f"validate_bodies.py failed: {proc.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def summary_lines(recorder: ResponseRecorder, report: dict[str, Any] | None, skipped: str | None) -> list[str]:
    """The terminal-summary lines: one headline plus one line per distinct failure."""
    if skipped is not None:
        return [f"SDK response validation skipped: {skipped}"]
    if report is None:
        return []
    failures = report["failures"]
    head = (
        f"SDK response validation (kalshi-python-sync {report['sdk_version']}): {recorder.responses} simulator "
        f"responses, {report['validated']} distinct shapes validated, {len(failures)} problem(s)"
        + (" -> the run fails" if failures else "")
    )
    lines = [head]
    for f in failures:
        lines.append(f"  {f['method']} {f['route']} -> {f['status']}: {f['error']} (x{f['count']})")
    return lines


def enabled() -> bool:
    """Whether the session hook runs (``KALSHI_SDK_VALIDATE`` is not ``0``)."""
    return os.environ.get("KALSHI_SDK_VALIDATE", "1") != "0"


def finish(recorder: ResponseRecorder) -> tuple[dict[str, Any] | None, str | None]:
    """Validate what ``recorder`` kept: ``(report, None)``, or ``(None, reason)`` when skipped."""
    if not recorder.samples:
        return None, None
    try:
        return validate(recorder.samples), None
    except SdkUnavailable as exc:
        return None, str(exc)
