"""Run every benchmark in turn: ``python -m bench`` (``make bench``). Each prints its own figures.

Each benchmark is a click command that exits when done; its exit status is noted and the next one runs. The
exit status of the whole run is the first non-zero one (0 when every benchmark succeeded).
"""

from __future__ import annotations

import runpy
import sys

BENCHES = [
    "bench.bench_orderbook",
    "bench.bench_calibration",
    "bench.bench_history",
    "bench.bench_persistence",
    "bench.bench_market_data",
    "bench.bench_rl_features",
    "bench.bench_replay",
    "bench.bench_chaos",
    "bench.bench_faults",
    "bench.bench_backtest",
]

if __name__ == "__main__":
    status = 0
    for name in sys.argv[1:] or BENCHES:
        print(f"== {name}", flush=True)
        sys.argv = [name]
        try:
            runpy.run_module(name, run_name="__main__")
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            if code:
                print(f"== {name} exited with status {code}", flush=True)
                status = status or code
    sys.exit(status)
