"""Validate recorded simulator response bodies against Kalshi's generated SDK models.

Runs **inside the SDK's virtualenv** (standard library + ``kalshi_python_sync`` only)::

    <sdk-venv>/bin/python validate_bodies.py BODIES.json

``BODIES.json`` is a list of ``{"method", "route", "status", "body"}`` (route as the simulator registers
it, relative to ``/trade-api/v2``, e.g. ``/markets/{ticker}``; body as text). For each one the operation is
looked up in the SDK itself: every public method of every ``*Api`` class declares its HTTP method and
resource path (in ``_<name>_serialize``) and its ``_response_types_map`` (status -> model name), so the
table always matches the installed SDK. The body is then deserialized exactly as the SDK does
(``ApiClient.deserialize``). Rules:

* 2xx: the status must be one the spec declares for the operation; the body must parse as its model
  (``object`` = any JSON object; no model = an empty body).
* 4xx/5xx: the body must parse as the spec's ``ErrorResponse`` with a string ``code`` and ``message``.
* A route the SDK does not know fails, except the V1 order writes dropped from the newest spec, which are
  checked against the V1 models the SDK still ships (``V1_FALLBACK``).

Prints ``{"sdk_version", "validated", "failures": [{"method", "route", "status", "error", "count"}]}``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
import sys
from typing import Any

import kalshi_python_sync as sdk
import kalshi_python_sync.api as api_pkg
from pydantic import ValidationError

V1_FALLBACK: dict[tuple[str, str], dict[str, str | None]] = {
    ("POST", "/portfolio/orders"): {"201": "CreateOrderResponse"},
    ("POST", "/portfolio/orders/batched"): {"201": "BatchCreateOrdersResponse"},
    ("DELETE", "/portfolio/orders/batched"): {"200": "BatchCancelOrdersResponse"},
    ("DELETE", "/portfolio/orders/{}"): {"200": "GetOrderResponse"},
    ("POST", "/portfolio/orders/{}/amend"): {"200": "AmendOrderResponse"},
    ("POST", "/portfolio/orders/{}/decrease"): {"200": "GetOrderResponse"},
}


def normalize(route: str) -> str:
    """``/markets/{ticker}/orderbook`` -> ``/markets/{}/orderbook`` (parameter names differ between sides)."""
    return re.sub(r"\{[^}]*\}", "{}", route)


def _literal_keywords(call: ast.Call) -> dict[str, Any]:
    out = {}
    for kw in call.keywords:
        if kw.arg is not None:
            try:
                out[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                continue
    return out


def operations() -> dict[tuple[str, str], dict[str, str | None]]:
    """``(METHOD, normalized path) -> {status: model name or None}`` for every operation of the SDK."""
    serialize: dict[str, tuple[str, str]] = {}
    types: dict[str, dict[str, str | None]] = {}
    for info in pkgutil.iter_modules(api_pkg.__path__):
        module = importlib.import_module(f"{api_pkg.__name__}.{info.name}")
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call) and getattr(inner.func, "attr", "") == "param_serialize":
                    kw = _literal_keywords(inner)
                    if "method" in kw and "resource_path" in kw:
                        serialize[node.name] = (kw["method"], kw["resource_path"])
                if (
                    isinstance(inner, ast.AnnAssign)
                    and isinstance(inner.target, ast.Name)
                    and inner.target.id == "_response_types_map"
                    and inner.value is not None
                    and not node.name.endswith(("_with_http_info", "_without_preload_content"))
                ):
                    types[node.name] = ast.literal_eval(inner.value)
    table: dict[tuple[str, str], dict[str, str | None]] = {}
    for name, response_types in types.items():
        found = serialize.get(f"_{name}_serialize")
        if found is not None:
            table[(found[0], normalize(found[1]))] = response_types
    return table


def _describe(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        got = repr(err.get("input"))
        out.append(f"{exc.title}.{loc}: {err['msg']} (got {got[:80]})")
    return out


def check(client: Any, table: dict[tuple[str, str], dict[str, str | None]], record: dict[str, Any]) -> list[str]:
    """The problems of one recorded response (empty if it conforms)."""
    method, route, status, text = record["method"], normalize(record["route"]), record["status"], record["body"]
    declared = table.get((method, route)) or V1_FALLBACK.get((method, route))
    if declared is None:
        return [f"the SDK has no operation {method} {record['route']}"]
    if status >= 400:
        try:
            body = json.loads(text)
        except ValueError:
            return ["error body is not JSON"]
        if not isinstance(body, dict):
            return ["error body is not a JSON object"]
        parsed = sdk.ErrorResponse.from_dict(body)
        problems = []
        if not isinstance(parsed.code, str) or not parsed.code:
            problems.append("ErrorResponse.code is missing (the spec's error body is flat: {code, message, details})")
        if not isinstance(parsed.message, str) or not parsed.message:
            problems.append("ErrorResponse.message is missing")
        return problems
    key = str(status) if str(status) in declared else f"{str(status)[0]}XX"
    if key not in declared:
        expected = ", ".join(s for s in declared if s.startswith("2"))
        return [f"status {status} is not a success status of this operation (spec: {expected})"]
    model = declared[key]
    if model is None:
        return [] if not text.strip() else [f"status {status} has no body in the spec, got {text[:60]!r}"]
    if model == "object":
        try:
            return [] if isinstance(json.loads(text), dict) else ["body is not a JSON object"]
        except ValueError:
            return ["body is not JSON"]
    try:
        client.deserialize(text, model, "application/json")
    except ValidationError as exc:
        return _describe(exc)
    except Exception as exc:
        return [f"{model}: {type(exc).__name__}: {exc}"[:300]]
    return []


def main() -> int:
    """Validate the bodies in the file named by the only argument; print the JSON report."""
    with open(sys.argv[1]) as fh:
        records = json.load(fh)
    table = operations()
    client = sdk.ApiClient(sdk.Configuration(host="http://127.0.0.1"))
    failures: dict[tuple[str, str, int, str], int] = {}
    for record in records:
        for problem in check(client, table, record):
            key = (record["method"], record["route"], record["status"], problem)
            failures[key] = failures.get(key, 0) + 1
    json.dump(
        {
            "sdk_version": sdk.__version__,
            "validated": len(records),
            "operations": len(table),
            "failures": [
                {"method": m, "route": r, "status": s, "error": e, "count": n} for (m, r, s, e), n in failures.items()
            ],
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
