"""``python -m simulator`` / ``kalshi-sim``: run the exchange simulator from the command line.

Prints one line with the URLs once listening, logs one line per request at DEBUG (``--log-level
debug``) and stops cleanly on SIGINT/SIGTERM. An invalid configuration (a missing data directory that
was given explicitly, a bad speed or start time, a port in use, ...) prints one ``error:`` line and exits
with status 2 (usage) or 1 (startup failure).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from simulator.config import SimulatorConfig
from simulator.ratelimit import TIER_NAMES
from simulator.server import SimulatorError, SimulatorServer


def _config_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


async def _serve(config: SimulatorConfig) -> None:
    server = SimulatorServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ctx = server.ctx
    click.echo(
        f"kalshi-sim listening on {server.base_url} (REST {server.rest_url}, WebSocket {server.ws_url}, "
        f"control {server.control_url}; "
        f"{ctx.catalog.description}; speed {ctx.clock.speed}{', paused' if ctx.clock.paused else ''})",
    )
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.stop()


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8765, show_default=True, type=int, help="TCP port (0 = pick a free one).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Recorded tape directory (kalshi-gold15m layout). Default: ../shared/data/kalshi-gold15m "
    "if present, else the synthetic generator.",
)
@click.option(
    "--default-data-dir",
    type=click.Path(path_type=Path),
    default=None,
    envvar="SIM_DEFAULT_DATA_DIR",
    help="Where to look for the tape when --data-dir is not given (env SIM_DEFAULT_DATA_DIR); the synthetic "
    "generator is used when it is absent.",
)
@click.option("--synthetic", is_flag=True, help="Use the synthetic generator even if a tape is available.")
@click.option("--seed", "synthetic_seed", default=0, show_default=True, type=int, help="Synthetic generator seed.")
@click.option(
    "--synthetic-markets", default=96, show_default=True, type=int, help="Number of synthetic 15-minute markets."
)
@click.option(
    "--synthetic-grid",
    default="linear_cent",
    show_default=True,
    type=click.Choice(["linear_cent", "tapered_deci_cent", "deci_cent"]),
    help="Tick grid of the synthetic markets (tapered_deci_cent: $0.001 ticks below $0.10 and above $0.90).",
)
@click.option("--speed", default="1", show_default=True, help="Replay speed factor (tape seconds per wall second).")
@click.option(
    "--start",
    default="auto",
    show_default=True,
    help="Tape time to start at (ISO 8601), or 'auto' (longest run of back-to-back windows + 60 s).",
)
@click.option("--paused", is_flag=True, help="Start with the clock paused (step it via the control API).")
@click.option(
    "--no-time-shift",
    "time_shift",
    is_flag=True,
    flag_value=False,
    default=True,
    help="Serve the recorded times instead of shifting the start to now.",
)
@click.option(
    "--keys-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory of <key_id>.pub.pem public keys to register at start.",
)
@click.option(
    "--initial-balance-cents",
    default=1_000_000,
    show_default=True,
    type=int,
    help="Cash of every new account, in cents.",
)
@click.option(
    "--rate-limit-tier",
    default="basic",
    show_default=True,
    type=click.Choice(TIER_NAMES),
    help="Kalshi usage tier for the token buckets ('off' disables rate limits).",
)
@click.option("--latency-ms", default=0, show_default=True, type=int, help="Latency added to every REST request.")
@click.option(
    "--timestamp-tolerance-s",
    default=30,
    show_default=True,
    type=int,
    help="Accepted skew of signed timestamps, seconds.",
)
@click.option("--determination-delay-s", default=None, help="Close -> determined delay (tape s); default as recorded.")
@click.option("--settlement-timer-s", default=None, help="Determined -> finalized delay (tape s); default per market.")
@click.option(
    "--ws-ping-interval-s",
    default="10",
    show_default=True,
    help="Seconds between WebSocket keep-alive pings (payload 'heartbeat').",
)
@click.option(
    "--ws-max-missed-pongs",
    default=3,
    show_default=True,
    type=int,
    help="Unanswered pings after which a WebSocket client is dropped.",
)
@click.option(
    "--ws-subscription-buffer",
    default=50_000,
    show_default=True,
    type=int,
    help="Frames a WebSocket subscription may have unsent before it ends with error 25 (overflow).",
)
@click.option(
    "--ws-public-orderbook",
    is_flag=True,
    help="Let unauthenticated WebSocket connections subscribe to orderbook_delta (private on Kalshi).",
)
@click.option(
    "--legacy-market-status",
    is_flag=True,
    help="Serve a finalized market's status as 'settled' (for Kalshi SDK 3.2.0 and other pre-2026 clients).",
)
@click.option(
    "--strict-client-order-ids",
    is_flag=True,
    help="409 for a client_order_id used by ANY earlier order (default: Kalshi's rule, 409 only while an "
    "open order holds the id).",
)
@click.option(
    "--scenario",
    default=None,
    help="Fault scenario to play from the start: a YAML file or a built-in name (ws-503, rest-outage, 429-storm, "
    "5xx-30pct-orders, trading-pause, fill-ws-down, ...; see simulator/scenarios).",
)
@click.option(
    "--fault-seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed of the timed faults' random draws (faults with their own seed use that).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Log level (debug logs every request).",
)
def main(log_level: str, **options: Any) -> None:
    """Run the Kalshi-compatible exchange simulator."""
    logging.basicConfig(
        level=getattr(logging, log_level.upper()), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        config = SimulatorConfig(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        click.echo(f"error: invalid configuration: {_config_error(exc)}", err=True)
        sys.exit(2)
    try:
        asyncio.run(_serve(config))
    except SimulatorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
