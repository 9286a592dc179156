"""The operator's CLI exits cleanly: no "Fatal Python error: PyGILState_Release" abort (exit status 134) at exit.

Before :mod:`workers.exit_guard`, ``kalshi-trader status`` against a dev server aborted at interpreter exit in 3 runs
of 40 on this machine (a bare ``Client.connect`` + query + exit: 13 of 210), when the Temporal SDK's Tokio thread that
handed over the query's answer had not yet left the interpreter (see the module). With it: 0 of 60 and 0 of 150. The
subprocess test below runs the real console script against a real dev server and a running trader 16 times; with the
guard switched off it failed both times it was tried (an abort at the 2nd and at the 8th run); at the quiet rate of
1 in 13 it would catch the regression about 3 times in 4 (1 - (12/13)^16). A red run is a real abort, a green one is
evidence rather than proof. The mechanism itself is tested deterministically.
"""

from __future__ import annotations

import _thread
import asyncio
import os
import sys
import threading
from pathlib import Path

from tests.harness import Harness, fast_config
from workers import exit_guard

RUNS = 16


def test_a_native_thread_inside_the_interpreter_is_waited_for() -> None:
    """A thread holding a thread state that :mod:`threading` does not know (as a Tokio thread handing over an RPC
    result does) is counted; the exit wait returns once it has left, and gives up after its timeout if it does not."""
    assert exit_guard.wait_for_foreign_threads(timeout_s=5)  # quiet to begin with (no RPC handing over a result)
    entered, leave = threading.Event(), threading.Lock()
    leave.acquire()

    def native() -> None:
        entered.set()
        with leave:
            pass

    _thread.start_new_thread(native, ())
    assert entered.wait(5)
    assert exit_guard.foreign_thread_states() >= 1
    assert exit_guard.wait_for_foreign_threads(timeout_s=0.05) is False  # bounded: never a hang at exit
    threading.Timer(0.05, leave.release).start()
    assert exit_guard.wait_for_foreign_threads(timeout_s=5) is True


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("kalshi-trader")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "workers.cli"]


async def test_status_exits_cleanly_every_time(harness: Harness) -> None:
    handle = await harness.start(fast_config())
    await harness.wait_status(handle, lambda st: st.cycle >= 1, "a first calibration cycle")
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": harness.client.service_client.config.target_host,
        "KALSHI_ENV": "sim",
        "TRADER_WORKFLOW_ID": handle.id,
    }
    for run in range(RUNS):
        proc = await asyncio.create_subprocess_exec(
            *_console_script(),
            "status",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        stderr = err.decode(errors="replace")
        assert "Fatal Python error" not in stderr, f"run {run}: {stderr}"
        assert proc.returncode == 0, f"run {run}: exit status {proc.returncode}: {stderr}"
        assert out.decode().startswith(f"{handle.id} (sim): state="), out.decode()
