"""Find the ``temporal`` CLI and run its development server (``temporal server start-dev``) as a process.

Resolution order for the binary (README "Temporal CLI"): ``$TEMPORAL_CLI``, a ``temporal`` on
``PATH``, then ``.tools/bin/temporal`` (built by ``make`` from the Go module proxy at v1.5.1). When
none exists, callers fall back to the SDK's own download (works only where the internet is
reachable).

The dev server runs with SQLite persistence (``--db-filename``), the Web UI, and the trader's
search attributes registered at start (temporal.md §8).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from workflows.names import SEARCH_ATTRIBUTES

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL_CLI = REPO_ROOT / ".tools" / "bin" / "temporal"


def find_temporal_cli() -> Path | None:
    """The ``temporal`` binary to use, or None (then the SDK may download one).

    Raises:
        FileNotFoundError: ``$TEMPORAL_CLI`` is set but does not name an executable file.
    """
    env = os.environ.get("TEMPORAL_CLI")
    if env:
        path = Path(env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise FileNotFoundError(f"TEMPORAL_CLI={env} is not an executable file")
        return path
    on_path = shutil.which("temporal")
    if on_path:
        return Path(on_path)
    if LOCAL_CLI.is_file() and os.access(LOCAL_CLI, os.X_OK):
        return LOCAL_CLI
    return None


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def dev_server_args(
    cli: Path,
    *,
    db_file: Path | None,
    port: int,
    ui_port: int | None,
    ip: str = "127.0.0.1",
    extra: list[str] | None = None,
) -> list[str]:
    """The ``temporal server start-dev`` command line (search attributes registered, UI on/off).

    Args:
        cli: the ``temporal`` binary.
        db_file: SQLite file to persist to (None = in memory).
        port: frontend gRPC port (7233).
        ui_port: Web UI port (8233), None = headless.
        ip: address to bind.
        extra: more flags, e.g. ``["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=60"]``.
    """
    args = [str(cli), "server", "start-dev", "--ip", ip, "--port", str(port), "--log-level", "warn"]
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
    if ui_port is None:
        args.append("--headless")
    else:
        args += ["--ui-port", str(ui_port)]
    for key in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}=Keyword"]
    return args + (extra or [])


class DevServer:
    """A ``temporal server start-dev`` child process with its log file.

    Args:
        cli: the ``temporal`` binary.
        db_file: SQLite persistence file (parent directories are created).
        port, ui_port: gRPC and Web UI ports.
        log_file: where the server's output goes.
    """

    def __init__(self, cli: Path, db_file: Path | None, port: int, ui_port: int | None, log_file: Path) -> None:
        self.cli = cli
        self.db_file = db_file
        self.port = port
        self.ui_port = ui_port
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, the frontend address for clients and the CLI."""
        return f"127.0.0.1:{self.port}"

    async def start(self, timeout_s: float = 60.0) -> None:
        """Start the server and wait until its frontend port accepts connections.

        Raises:
            RuntimeError: the process exited early or the port did not open in ``timeout_s``; the
                message includes the end of the log.
        """
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.proc = self._spawn()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"temporal dev server exited with {self.proc.returncode}: {self._tail()}")
            if port_open("127.0.0.1", self.port):
                return
            await asyncio.sleep(0.2)
        self.stop()
        raise RuntimeError(f"temporal dev server did not listen on {self.port} within {timeout_s:.0f}s: {self._tail()}")

    def _spawn(self) -> subprocess.Popen[bytes]:
        args = dev_server_args(self.cli, db_file=self.db_file, port=self.port, ui_port=self.ui_port)
        with self.log_file.open("ab") as log:
            return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, timeout_s: float = 15.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``timeout_s``)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _tail(self, lines: int = 5) -> str:
        try:
            text = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:])
