"""The trader runs without the RL extra: no trader entry point imports torch, stable-baselines3 or gymnasium.

Checked in a fresh interpreter (this test process has already imported torch), by importing every module the
worker, the CLI and the simulator load and then asking ``sys.modules``.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "stable_baselines3", "sb3_contrib", "gymnasium", "matplotlib")
ENTRY_POINTS = (
    "workers.cli",
    "workers.worker",
    "activities.trading",
    "activities.market_data",
    "simulator.__main__",
    "trading.pipeline",
    "trading.live",
    "trading.predict",
    "rl.decision",
    "models.fees",
)


def test_trader_paths_do_not_import_the_rl_extra() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {ENTRY_POINTS!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(','.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "", f"imported by the trader's paths: {out.stdout.strip()}"
