"""The trader's worker as a real subprocess (``python -m workers.cli worker``): its environment and lifecycle.

Tests that kill a worker (``kill -9``), run two of them, or scrape a separate process's ``/metrics`` start it
here, so every one of them runs the same command with the same settings. :func:`worker_env` points a worker at a
simulator account; :class:`WorkerProcess` starts, kills and stops one process at a time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def worker_env(
    *,
    temporal_address: str,
    task_queue: str,
    rest_url: str,
    key_id: str,
    key_path: Path,
    ws_url: str | None = None,
    metrics_port: int = 0,
    database_url: str | None = "off",
    **extra: str,
) -> dict[str, str]:
    """Environment of a worker subprocess trading the simulator account ``key_id``.

    Args:
        temporal_address: ``host:port`` of the Temporal frontend.
        task_queue: the shared task queue.
        rest_url: the simulator's REST base URL.
        key_id, key_path: the account's API key id and private key file.
        ws_url: the WebSocket URL (None: not set, the worker's default).
        metrics_port: ``METRICS_PORT`` (0: a free port).
        database_url: ``DATABASE_URL`` (``"off"``: no recording; None: not set, the worker's default).
        extra: more variables (e.g. ``STATE_DIR``).
    """
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_address,
        "TRADER_TASK_QUEUE": task_queue,
        "KALSHI_ENV": "sim",
        "KALSHI_REST_URL": rest_url,
        "KALSHI_API_KEY_ID": key_id,
        "KALSHI_PRIVATE_KEY_PATH": str(key_path),
        "METRICS_PORT": str(metrics_port),
        **extra,
    }
    if ws_url is not None:
        env["KALSHI_WS_URL"] = ws_url
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


class WorkerProcess:
    """One ``kalshi-trader worker`` subprocess at a time: start, SIGKILL, graceful stop.

    Args:
        env: its environment (:func:`worker_env`).
        log: where its stdout and stderr go (appended).
    """

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.spawns = 0

    def start(self) -> float:
        """Spawn the worker; returns ``time.monotonic()`` at the spawn."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "workers.cli", "worker"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.spawns += 1
        return time.monotonic()

    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL the worker and reap it (no shutdown code runs)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout_s: float = 30) -> None:
        """Graceful stop (SIGINT, the worker's own shutdown path), SIGKILL after ``timeout_s``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill9()
