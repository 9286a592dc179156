"""Run every benchmark in turn: ``python -m bench`` (``make bench``). Each prints its own figures."""

from __future__ import annotations

import runpy
import sys

BENCHES = [
    "bench.bench_orderbook",
    "bench.bench_calibration",
    "bench.bench_history",
    "bench.bench_persistence",
    "bench.bench_market_data",
    "bench.bench_chaos",
]

if __name__ == "__main__":
    for name in sys.argv[1:] or BENCHES:
        print(f"== {name}", flush=True)
        sys.argv = [name]
        runpy.run_module(name, run_name="__main__")
