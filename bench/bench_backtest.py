"""``kalshi-trader backtest``: wall time per 15-minute market through the whole stack, and the sim-to-env gap.

Usage::

    python -m bench.bench_backtest [--markets 3] [--policy imbalance --policy rl:current] [--registry DIR]
                                   [--speed max] [--sweep max,20,free:10,free:40] [--sweep-market TICKER]

Speeds: ``max`` or ``X`` are paced runs (the exchange clock waits for the trader; ``X`` caps the tape rate),
``free:X`` the free-running clock at ``X`` (``--no-pacing``).

1. **Gap per policy** on the validation markets (the last ``--markets`` of :func:`rl.tapes.time_split`'s validation
   set, never trained on), one backtest per policy over all of them (one stack start): wall time per market (median
   of each market's replay-to-settlement time), the stack's start-up, live and env net P&L, the gap in dollars and
   in % of the env's traded value, and the contributors the report names.
2. **Speed sweep** on one market (the shortest tape by default) with the imbalance baseline: at each speed the wall
   time (replay to settlement, and with the stack's start-up), the orders and fills the exchange booked, whether the
   exchange's order records (market, tape ms, side, action, contracts, price, time in force, post-only) are identical
   to the first run's, the net P&L, the actor loop's coalesced and deferred updates, the wall time the paced clock
   waited for the trader and the tape time no epoch covered: whether the decisions are unchanged by the speed.

A learned policy needs ``--registry`` (default ``STATE_DIR/models``) to hold it; it is skipped with a note
otherwise. Every run is the real stack (a dev server, the simulator, a worker process, the trader): minutes.
"""

from __future__ import annotations

import statistics
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from rl.registry import ModelRegistry, ModelRegistryError
from rl.tapes import default_cache_dir, load_markets, time_split
from workers.backtest import BacktestError, BacktestOptions, OrderRecord, StackView, exchange_orders, run_backtest
from workers.settings import load_settings

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kalshi-gold15m"


def _speed(text: str) -> tuple[Decimal | None, bool]:
    """``max`` / ``X`` (paced) or ``free:X`` (free-running): ``(speed, pacing)``."""
    if text.startswith("free:"):
        return Decimal(text.removeprefix("free:")), False
    return (None if text == "max" else Decimal(text)), True


def _run(markets: list[str], policy: str, speed: str, registry: Path, tmp: Path) -> dict[str, Any]:
    out = tmp / f"{policy.replace(':', '_')}-{speed.replace(':', '_')}-{len(markets)}"
    value, pacing = _speed(speed)
    options = BacktestOptions(
        data_dir=DATA_DIR,
        markets=markets,
        policy=policy,
        speed=value,
        pacing=pacing,
        registry=registry,
        out=out,
        progress=False,
    )
    orders: list[OrderRecord] = []

    async def read_orders(view: StackView) -> None:
        orders.extend(await exchange_orders(view))

    report = run_backtest(options, lambda _line: None, read_orders)
    doc: dict[str, Any] = report.to_json()
    doc["order_records"] = orders
    return doc


def _gap_table(doc: dict[str, Any]) -> list[str]:
    walls = [m["wall_s"] for m in doc["per_market"].values() if m["wall_s"] is not None]
    lines = [
        f"  {doc['policy']}, {doc['mode']}, on {len(doc['per_market'])} markets: wall per market median "
        f"{statistics.median(walls):.1f} s (replay to settlement; stack start {doc['stack_start_s']:.1f} s once), "
        f"total {doc['wall_s']:.1f} s",
        f"    live net {doc['net_pnl_dollars']} USD ({doc['fills']} fills, traded {doc['live_traded_value_dollars']}), "
        f"env net {doc['env_net_pnl_dollars']} USD ({doc['env_fills']} fills, traded {doc['traded_value_dollars']})",
        f"    gap {doc['gap_dollars']} USD = {doc['gap_pct_of_traded_value']} % of the env's traded value",
    ]
    for ticker, m in doc["per_market"].items():
        lines.append(
            f"    {ticker}: wall {m['wall_s']:.1f} s, live {m['net_pnl_dollars']}, env {m['env_net_pnl_dollars']}, "
            f"gap {m['gap_dollars']} ({m['gap_pct_of_traded_value']} %)"
        )
    for c in doc["contributors"]:
        priced = "" if c["dollars"] is None else f"{c['dollars']} USD; "
        lines.append(f"    - {c['name']}: {priced}{c['detail']}")
    return lines


@click.command()
@click.option("--markets", "n_markets", default=3, show_default=True, help="Validation markets for the gap.")
@click.option("--policy", "policies", multiple=True, help="Policies (default: imbalance and rl:current).")
@click.option("--registry", type=click.Path(path_type=Path), default=None, help="Model registry (STATE_DIR/models).")
@click.option("--speed", default="max", show_default=True, help="Speed of the gap runs (max, X or free:X).")
@click.option("--sweep", default="max,20,free:10,free:40", show_default=True, help="Speeds of the sweep ('' skips it).")
@click.option("--sweep-market", default=None, help="Market of the sweep (default: the shortest tape).")
@click.option("--gap/--no-gap", default=True, show_default=True, help="Run the gap part (1).")
def main(
    n_markets: int,
    policies: tuple[str, ...],
    registry: Path | None,
    speed: str,
    sweep: str,
    sweep_market: str | None,
    gap: bool,
) -> None:
    """Backtest wall time per market and the sim-to-env gap through the whole stack."""
    root = registry or load_settings().model_registry_dir
    tapes = load_markets(DATA_DIR, cache_dir=default_cache_dir())
    _, validation = time_split(tapes)
    chosen = [m.ticker for m in validation[-n_markets:]]
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        if gap:
            print(f"== sim-to-env gap on validation markets {', '.join(chosen)} at speed {speed}")
        for policy in (policies or ("imbalance", "rl:current")) if gap else ():
            if policy.startswith("rl:"):
                try:
                    ModelRegistry(root).metadata(policy)
                except ModelRegistryError as err:
                    print(f"  {policy}: skipped ({str(err).splitlines()[0]}; pass --registry)")
                    continue
            try:
                doc = _run(chosen, policy, speed, root, Path(tmp))
            except BacktestError as err:
                print(f"  {policy}: failed: {err}")
                continue
            print("\n".join(_gap_table(doc)), flush=True)
        speeds = [s.strip() for s in sweep.split(",") if s.strip()]
        if speeds:
            market = sweep_market or min(tapes, key=len).ticker
            print(f"== speed sweep: imbalance on {market} (same: order records identical to the first run's)")
            print(
                "  speed     wall_s  +stack_s  orders  fills  same  net_usd   coalesced  deferred  waited_s  "
                "uncovered  ack_p99_ms"
            )
            first: list[OrderRecord] | None = None
            for s in speeds:
                doc = _run([market], "imbalance", s, root, Path(tmp))
                records = doc["order_records"]
                first = records if first is None else first
                loop = doc["actor_loop"]
                share = f"{doc['uncovered_tape_s'] / max(doc['tradeable_tape_s'], 0.001):.1%}"
                waited = (doc["pacing"] or {}).get("wait_trader_s")
                print(
                    f"  {s:>8}  {doc['wall_s']:6.1f}  {doc['stack_start_s']:8.1f}  {doc['orders']:6d}  "
                    f"{doc['fills']:5d}  {'yes' if records == first else 'no':>4}  {doc['net_pnl_dollars']:>8}  "
                    f"{loop['updates_coalesced']:9d}  {loop['updates_deferred']:8d}  "
                    f"{'-' if waited is None else f'{waited:.1f}':>8}  {share:>9}  "
                    f"{loop['ack_latency_ms_p99_max'] or 0:10.1f}",
                    flush=True,
                )
                if records != first:
                    at = next((i for i, (a, b) in enumerate(zip(records, first, strict=False)) if a != b), None)
                    at = min(len(records), len(first)) if at is None else at
                    print(
                        f"            first difference at order {at}: "
                        f"{records[at] if at < len(records) else '-'} vs {first[at] if at < len(first) else '-'}; "
                        f"rejects {loop['rejects']}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
