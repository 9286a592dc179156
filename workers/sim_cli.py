"""``kalshi-trader simulator ...``: run the exchange simulator, and drive a running one's faults.

* ``kalshi-trader simulator [FLAGS]`` (or ``simulator run [FLAGS]``): run the simulator (the flags are
  ``kalshi-sim``'s own, ``--scenario FILE`` included).
* ``kalshi-trader simulator status``: clock, markets, accounts and the faults in force or scheduled.
* ``kalshi-trader simulator fault set KIND [--after 30s] [--for 2m] [--route PATH] [--method M] [--rate R] ...``,
  ``fault list``, ``fault clear [ID ...] [--all]``, ``fault load SCENARIO [--time-scale X]``, ``fault scenarios``:
  timed faults through the running simulator's control API (docs/simulator.md "Timed faults and scenarios").

The simulator is found at ``--url`` (env ``SIM_URL``; default ``http://127.0.0.1:$SIM_PORT``, port 8765). The
simulator validates everything; a refused fault prints its message and exits 2, an unreachable simulator
exits 1.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

import click
import httpx

from simulator import scenario as scenarios


def _default_url() -> str:
    return os.environ.get("SIM_URL") or f"http://127.0.0.1:{os.environ.get('SIM_PORT', '8765')}"


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"kalshi-trader simulator: {message}", err=True)
    sys.exit(code)


def _call(url: str, method: str, path: str, body: Any = None) -> Any:
    """One control-API call; exits 2 with the simulator's message on a 4xx, 1 when unreachable or 5xx."""
    target = url.rstrip("/") + "/sim/v1" + path
    try:
        response = httpx.request(method, target, json=body, timeout=30)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the simulator at {url}: {exc}", 1)
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        err = data.get("error") if isinstance(data, dict) else None
        detail = err.get("details") or err.get("message") if isinstance(err, dict) else response.text[:500]
        _fail(f"{method} {path} refused ({response.status_code}): {detail}", 2 if response.status_code < 500 else 1)
    return data


# ----------------------------------------------------------------------------------------------- output


def describe(fault: dict[str, Any]) -> str:
    """What a fault does, in one line: kind, parameters, route, rate."""
    spec = fault["spec"]
    parts = [fault["kind"]]
    if spec.get("status") is not None:
        parts.append(str(spec["status"]))
    for key in ("latency", "delay", "every"):
        if key in spec:
            parts.append(f"{key} {spec[key]}")
    if spec.get("after_processing"):
        parts.append("after processing")
    if "channels" in spec:
        parts.append(",".join(spec["channels"]))
    if fault["kind"] in ("latency", "http_error", "hold"):
        parts.append(f"{spec.get('method', '*')} {spec.get('path', '/')}")
    if spec.get("rate", "1") != "1":
        parts.append(f"rate {spec['rate']}")
    if spec.get("count") is not None:
        parts.append(f"count {spec['count']}")
    return " ".join(parts)


def window(fault: dict[str, Any]) -> str:
    """When: ``starts in 12.0s, lasts 2m``, ``ends in 48.0s``, ``until cleared``, ``ended (expired)``."""
    one_shot = fault["kind"] == "ws_inject" or (fault["kind"] == "ws_drop" and "every" not in fault["spec"])
    if fault["state"] == "scheduled":
        lasts = "once" if one_shot else f"lasts {fault['lasts_s']}s" if "lasts_s" in fault else "until cleared"
        return f"starts in {fault['starts_in_s']}s, {lasts}"
    if fault["state"] == "active":
        return f"ends in {fault['ends_in_s']}s" if "ends_in_s" in fault else "until cleared"
    return f"ended {fault.get('ended_at', '')} ({fault.get('ended_reason')})"


def format_faults(timed: dict[str, Any], *, ended: bool = False) -> list[str]:
    """A table of timed faults (active, then scheduled, then the recently ended ones when asked)."""
    rows = [f for group in ("active", "scheduled") for f in timed.get(group, [])]
    if ended:
        rows += timed.get("ended", [])[:20]
    if not rows:
        return ["no timed faults"]
    lines = [f"{'ID':<5} {'STATE':<10} {'HITS':>11}  {'FAULT':<52} WHEN"]
    for f in rows:
        label = describe(f) + (f" [{f['scenario']}]" if f.get("scenario") else "")
        hits = f"{f['affected']}/{f['matched']}"
        lines.append(f"{f['id']:<5} {f['state']:<10} {hits:>11}  {label:<52} {window(f)}")
    return lines


def format_static(faults: dict[str, Any]) -> str | None:
    """The static faults in force, one line, or None."""
    parts = []
    if faults.get("latency_ms"):
        parts.append(f"latency {faults['latency_ms']} ms")
    if faults.get("fail_next"):
        parts.append(f"{len(faults['fail_next'])} fail_next rule(s)")
    for flag in ("trading_paused", "exchange_paused", "ws_handshake_503"):
        if faults.get(flag):
            parts.append(flag)
    if faults.get("ws_skip_seq"):
        parts.append(f"ws_skip_seq {faults['ws_skip_seq']}")
    return "static: " + ", ".join(parts) if parts else None


# ----------------------------------------------------------------------------------------------- commands


class _SimulatorGroup(click.Group):
    """A group whose default command is ``run``: ``simulator --speed 60`` is ``simulator run --speed 60``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_SimulatorGroup, context_settings={"help_option_names": ["-h", "--help"]})
def simulator() -> None:
    """The Kalshi-compatible exchange simulator: run it (default) or drive a running one's faults."""


@simulator.command(
    "run", context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run_simulator(args: tuple[str, ...]) -> None:
    """Run the simulator (all flags are the simulator's: run --help)."""
    from simulator.__main__ import main as sim_main

    sim_main.main(args=list(args), prog_name="kalshi-trader simulator")


url_option = click.option(
    "--url", default=_default_url, show_default="$SIM_URL or http://127.0.0.1:$SIM_PORT", help="The simulator."
)


@simulator.command()
@url_option
@click.option("--json", "as_json", is_flag=True, help="Print the raw /sim/v1/health answer.")
def status(url: str, as_json: bool) -> None:
    """Clock, markets, accounts and every active or scheduled fault of a running simulator."""
    health = _call(url, "GET", "/health")
    if as_json:
        click.echo(json.dumps(health, indent=2))
        return
    clock = health["clock"]
    click.echo(f"simulator at {url}: {health['description']}")
    paused = ", paused" if clock["paused"] else ""
    click.echo(f"  clock: {clock['now']} (tape {clock['tape_time']}, speed {clock['speed']}{paused})")
    click.echo(f"  markets: {health['markets']}, accounts: {health['accounts']}, requests: {health['requests']}")
    faults = health.get("faults", {})
    eff = faults.get("effective", {})
    if eff.get("trading_paused") or eff.get("exchange_paused"):
        click.echo(f"  pauses in force: {', '.join(k for k, v in eff.items() if v)}")
    static = format_static(faults.get("static", {}))
    if static:
        click.echo("  " + static)
    for line in format_faults(faults):
        click.echo("  " + line)


@simulator.group()
def fault() -> None:
    """Set, list and clear timed faults of a running simulator, or play a scenario."""


@fault.command("set")
@click.argument("kind", type=click.Choice(scenarios.KINDS))
@click.option("--after", help="Start offset from now (30s, 2m, 250ms; default now).")
@click.option("--for", "duration", help="How long it lasts (default: until cleared).")
@click.option("--route", "path", help="Route prefix under /trade-api/v2, e.g. /portfolio/orders (default: all).")
@click.option("--method", type=click.Choice(["GET", "POST", "PUT", "DELETE"], case_sensitive=False))
@click.option("--rate", help="Fraction of matching requests/frames affected, 0..1 (default 1).")
@click.option("--seed", help="Seed of the rate's draws (default: the simulator's fault seed and the fault id).")
@click.option("--count", type=int, help="Affect at most this many, then end.")
@click.option("--status", "status_code", type=int, help="HTTP status (http_error; optional for hold).")
@click.option("--after-processing/--before-processing", default=None, help="Apply the request before failing.")
@click.option("--delay", help="hold: how long the answer is held (e.g. 30s).")
@click.option("--latency", help="latency: added to each request (e.g. 250ms).")
@click.option("--every", help="ws_drop: repeat the drop this often while active.")
@click.option("--channel", "channels", multiple=True, help="ws_channel_down: a channel (repeatable).")
@click.option("--frame", "frames", multiple=True, help="ws_inject: a frame, JSON or raw text (repeatable).")
@click.option("--name", help="A label shown by list/status.")
@url_option
def fault_set(url: str, kind: str, **opts: Any) -> None:
    """Schedule one timed fault of KIND (the simulator checks it; nothing changes when it is refused)."""
    body: dict[str, Any] = {"kind": kind}
    names = {"duration": "for", "status_code": "status", "path": "path"}
    for key, value in opts.items():
        if value is None or value == ():
            continue
        field = names.get(key, key)
        if key == "frames":
            value = [_frame(v) for v in value]
        elif key == "channels":
            value = list(value)
        elif key == "method":
            value = value.upper()
        body[field] = value
    added = _call(url, "POST", "/faults/timed", body)["faults"]
    for f in added:
        click.echo(f"{f['id']}: {describe(f)}; {window(f)} (starts {f['starts_at']})")


def _frame(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@fault.command("list")
@url_option
@click.option("--ended", is_flag=True, help="Also the recently ended faults.")
@click.option("--json", "as_json", is_flag=True, help="Print the raw GET /sim/v1/faults answer.")
def fault_list(url: str, ended: bool, as_json: bool) -> None:
    """List the timed faults (active, scheduled; --ended adds ended ones) and the static faults in force."""
    faults = _call(url, "GET", "/faults")
    if as_json:
        click.echo(json.dumps(faults, indent=2))
        return
    static = format_static(faults)
    if static:
        click.echo(static)
    for line in format_faults(faults["timed"], ended=ended):
        click.echo(line)


@fault.command("clear")
@click.argument("ids", nargs=-1)
@click.option("--all", "clear_all", is_flag=True, help="Every fault: timed ones ended, static ones reset.")
@url_option
def fault_clear(url: str, ids: tuple[str, ...], clear_all: bool) -> None:
    """End timed faults by ID (e.g. f3; all or none), or every fault with --all."""
    if clear_all == bool(ids):
        raise click.UsageError("give fault ids or --all (not both)")
    if clear_all:
        cleared = _call(url, "DELETE", "/faults")["cleared"]
        click.echo(f"cleared {len(cleared)} timed fault(s) and reset the static faults")
        return
    cleared = _call(url, "DELETE", "/faults/timed?ids=" + ",".join(ids))["cleared"]
    click.echo("cleared " + ", ".join(f["id"] for f in cleared))


@fault.command("load")
@click.argument("scenario")
@click.option(
    "--time-scale", default="1", show_default=True, help="Multiply every offset and duration (0.1: 10x faster)."
)
@url_option
def fault_load(url: str, scenario: str, time_scale: str) -> None:
    """Play SCENARIO (a YAML file or a built-in name, see `fault scenarios`) from now."""
    try:
        document = scenarios.read_document(scenario)
    except scenarios.ScenarioError as exc:
        _fail(str(exc), 2)
    answer = _call(url, "POST", "/faults/scenario", {"scenario": document, "time_scale": time_scale})
    click.echo(f"scenario {answer['scenario']} (time scale {answer['time_scale']}):")
    for f in answer["faults"]:
        click.echo(f"  {f['id']}: {describe(f)}; {window(f)}")


@fault.command("scenarios")
def fault_scenarios() -> None:
    """The built-in scenarios and what each does."""
    for name in scenarios.builtin_names():
        click.echo(f"{name:<20} {scenarios.load(name).description}")
