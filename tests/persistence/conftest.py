"""Fixtures of the persistence tests: a real database per test, SQLite file and PostgreSQL.

``db_url`` is parametrized over ``sqlite`` (a file in ``tmp_path``, WAL) and ``postgresql`` (a fresh database
on a throwaway server started once per session from the installed Debian binaries, see
:mod:`tests.persistence.pgcluster`, or on ``$KALSHI_TEST_POSTGRES_URL``). PostgreSQL tests are skipped, with
the reason, only when PostgreSQL or psycopg is not installed.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.persistence.pgcluster import (
    ENV_URL,
    PostgresUnavailable,
    TempPostgres,
    create_database,
    drop_database,
    psycopg_available,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "kalshi-gold15m"
requires_tape = pytest.mark.skipif(
    not DATA_DIR.is_dir(), reason="recorded tape ../shared/data/kalshi-gold15m is absent"
)


@dataclass
class Postgres:
    """The session's PostgreSQL: an admin URL, and the server itself when we started it (else None)."""

    admin_url: str
    server: TempPostgres | None


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    if not psycopg_available():
        pytest.skip("psycopg is not installed (pip install 'psycopg[binary]>=3.2')")
    external = os.environ.get(ENV_URL)
    if external:
        yield Postgres(external, None)
        return
    try:
        server = TempPostgres().init()
        server.start()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield Postgres(server.url(), server)
    finally:
        server.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'recording.db'}"
        return
    pg: Postgres = request.getfixturevalue("postgres")
    url = create_database(pg.admin_url)
    try:
        yield url
    finally:
        drop_database(pg.admin_url, url)


def tape_lines(ticker: str) -> list[tuple[str, bytes]]:
    """Every line of a recorded market, ``(file name, line bytes)``, in file order."""
    out: list[tuple[str, bytes]] = []
    for path in sorted((DATA_DIR / "events" / ticker).glob("*.ndjson.gz")):
        with gzip.open(path, "rb") as fh:
            out.extend((path.name, line) for line in fh)
    return out


def split_line(line: bytes) -> tuple[int, bytes]:
    """``(recv_ms, frame bytes exactly as Kalshi sent them)`` of one tape line."""
    cut = line.index(b',"event":')
    return int(line[len(b'{"recv_ms":') : cut]), line[cut + len(b',"event":') : line.rindex(b"}")]
