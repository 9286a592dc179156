"""A throwaway PostgreSQL server for the persistence tests and the benchmark (no Docker, no root daemon).

It runs the Debian ``postgresql`` package's binaries (``initdb``, ``pg_ctl``; found on PATH or under
``/usr/lib/postgresql/<version>/bin``) on a fresh data directory in a temporary folder, listening on a Unix
socket only (no TCP port to collide with), with trust authentication for the local superuser ``postgres``.
PostgreSQL refuses to run as root: when the tests run as root, the server runs as the ``postgres`` system user
the package creates (or ``nobody``), and the data directory is handed to that user.

CI (Debian/Ubuntu)::

    apt-get update && apt-get install -y postgresql     # the binaries; no cluster needs to be running

To use an existing server instead, set ``KALSHI_TEST_POSTGRES_URL`` to a superuser URL, e.g.
``postgresql+psycopg://postgres:secret@localhost:5432/postgres``: the tests create (and drop) their own
databases in it, and skip the server-stop outage test.

By hand::

    python -m tests.persistence.pgcluster start /tmp/pg   # prints the URL of database "postgres"
    python -m tests.persistence.pgcluster stop /tmp/pg
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ENV_URL = "KALSHI_TEST_POSTGRES_URL"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, no psycopg, or the server would not start: the reason is the message."""


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (PATH first, then the newest Debian version)."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in candidates:
        if (candidate / "pg_ctl").is_file() and (candidate / "initdb").is_file():
            return candidate
    return None


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when we are root (``None`` when we are not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and neither a 'postgres' nor a 'nobody' user exists")


def psycopg_available() -> bool:
    """Whether the psycopg 3 driver is importable."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return True


class TempPostgres:
    """A PostgreSQL server on a Unix socket in ``base_dir`` (created by :meth:`init`, run by :meth:`start`).

    Args:
        base_dir: directory for ``data/``, ``sock/`` and ``server.log`` (default: a new temporary folder).
        port: the socket's port number (names the socket file only; nothing listens on TCP).
        fast: turn off fsync and synchronous commit (tests; never for data you keep).

    """

    def __init__(self, base_dir: Path | None = None, *, port: int = 5432, fast: bool = True) -> None:
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise PostgresUnavailable(
                "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin); "
                "install it with: apt-get install -y postgresql"
            )
        self.bin_dir = bin_dir
        self.user = _server_user()
        if base_dir is None:
            # as root the server user must be able to reach the folder: /tmp is world-traversable, $TMPDIR may not be
            parent = "/tmp" if self.user is not None and os.path.isdir("/tmp") else None
            base_dir = Path(tempfile.mkdtemp(prefix="kalshi-pg-", dir=parent))
        self.base = Path(base_dir)
        self.data = self.base / "data"
        self.sock = self.base / "sock"
        self.log = self.base / "server.log"
        self.port = port
        self.fast = fast

    # -- process control ----------------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        if self.user is not None:
            kwargs.update(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
            env["HOME"] = str(self.base)
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            check=check,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.base,
            timeout=120,
            **kwargs,
        )

    def init(self) -> TempPostgres:
        """Create the data directory with ``initdb`` (superuser ``postgres``, trust auth, UTF-8).

        Raises:
            PostgresUnavailable: initdb failed (its output is in the message).

        """
        self.base.mkdir(parents=True, exist_ok=True)
        self.sock.mkdir(exist_ok=True)
        if self.user is not None:
            for path in (self.base, self.sock):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
            os.chmod(self.base, 0o755)
        try:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        except subprocess.CalledProcessError as exc:
            raise PostgresUnavailable(f"initdb failed: {exc.stderr or exc.stdout}") from exc
        return self

    def start(self) -> None:
        """Start the server and wait until it accepts connections.

        Raises:
            PostgresUnavailable: pg_ctl start failed (the server log is in the message).

        """
        options = f"-k {self.sock} -c listen_addresses='' -p {self.port}"
        if self.fast:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")
        except subprocess.CalledProcessError as exc:
            log = self.log.read_text() if self.log.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {exc.stderr}\n{log[-2000:]}") from exc

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut); no error if it is not running."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop", check=False)

    def destroy(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    # -- databases ----------------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` over the Unix socket, as the superuser."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.sock}&port={self.port}"

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database and return its URL."""
        return create_database(self.url(), name)


def create_database(admin_url: str, name: str | None = None) -> str:
    """Create database ``name`` (default: a random ``t_<hex>``) on the server of ``admin_url``; return its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = name or f"t_{uuid.uuid4().hex[:16]}"
    url = make_url(admin_url)
    with psycopg.connect(_libpq_dsn(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database of ``url`` (best effort, ends its connections)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with contextlib.suppress(Exception), psycopg.connect(_libpq_dsn(make_url(admin_url)), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq_dsn(url: Any) -> str:
    """A libpq connection string from a SQLAlchemy URL (host may be a socket directory in the query)."""
    parts = {
        "dbname": url.database or "postgres",
        "user": url.username or "postgres",
        "password": url.password,
        "host": url.query.get("host") or url.host,
        "port": url.query.get("port") or url.port,
        "connect_timeout": 10,
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v not in (None, ""))


def main(argv: list[str]) -> int:
    """``start <dir>`` (init if needed, start, print the URL) or ``stop <dir>``."""
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.persistence.pgcluster start|stop DIR", file=sys.stderr)
        return 2
    server = TempPostgres(Path(argv[1]), fast=False)
    if argv[0] == "stop":
        server.stop()
        return 0
    if not (server.data / "PG_VERSION").exists():
        server.init()
    server.start()
    print(server.url())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
