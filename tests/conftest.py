"""Shared fixtures: a real Temporal dev server (the built CLI) and the simulator over real HTTP.

* ``temporal_env`` (session): ``temporal server start-dev`` via ``WorkflowEnvironment.start_local``
  with the binary found like the Makefile does ($TEMPORAL_CLI, PATH, .tools/bin), the pydantic data
  converter and the trader's search attributes.
* ``sim`` (function): a fresh simulator replaying the real recorded tape from ../shared/data (or the
  synthetic generator where that folder is absent) on a free port.
* ``account`` (function): a new exchange account with its own RSA key registered through the
  simulator's control API, and a signed :class:`KalshiRestClient` for it.

Session hooks validate every Trade API body the in-process simulators served during the run against
Kalshi's official SDK models (:mod:`tests.conformance.recorder`); a body that does not conform fails the
session with its method, route, status and model field.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from kalshi.rest import KalshiRestClient
from kalshi.signer import RequestSigner, generate_key_pair
from simulator.rest import observe_responses
from simulator.server import SimulatorConfig, SimulatorServer
from tests.conformance import recorder as sdk_recorder
from workers import exit_guard
from workers.devserver import find_temporal_cli
from workflows.names import SEARCH_ATTRIBUTES

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "kalshi-gold15m"

_SDK_CHECK = pytest.StashKey[dict]()

exit_guard.install()  # the test process holds Temporal clients too: no abort at its exit (workers/exit_guard.py)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Record every simulator response of the run (see :mod:`tests.conformance.recorder`)."""
    if sdk_recorder.enabled():
        rec = sdk_recorder.ResponseRecorder()
        session.config.stash[_SDK_CHECK] = {"recorder": rec, "stop": observe_responses(rec)}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Validate the recorded bodies against the newest SDK's models; fail the session on a mismatch."""
    state = session.config.stash.get(_SDK_CHECK, None)
    if state is None:
        return
    state["stop"]()
    report, skipped = sdk_recorder.finish(state["recorder"])
    state["lines"] = sdk_recorder.summary_lines(state["recorder"], report, skipped)
    if report is not None and report["failures"] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Print the SDK response validation result (headline, and every failure)."""
    state = config.stash.get(_SDK_CHECK, None)
    for line in (state or {}).get("lines", []):
        terminalreporter.write_line(line, red=line.startswith("  "))


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    cli = find_temporal_cli()
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=list(SEARCH_ATTRIBUTES),
        dev_server_existing_path=str(cli) if cli else None,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def temporal_address(temporal_env: WorkflowEnvironment) -> str:
    return temporal_env.client.service_client.config.target_host


@pytest_asyncio.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimulatorServer]:
    config = SimulatorConfig(port=0, data_dir=DATA_DIR if DATA_DIR.is_dir() else None)
    async with SimulatorServer(config) as server:
        yield server


@dataclass
class Account:
    """A simulator account: its key id, key file (for subprocess workers) and a signed client."""

    key_id: str
    key_path: Path
    signer: RequestSigner
    client: KalshiRestClient


async def register_account(
    sim: SimulatorServer, key_dir: Path, prefix: str = "test"
) -> tuple[str, Path, RequestSigner]:
    """A new simulator account with its own RSA key (file in ``key_dir``, 0600) and $10,000 of cash.

    Returns:
        (key id, private key path, signer).
    """
    key_id = f"{prefix}-{uuid.uuid4().hex[:12]}"
    private_pem, public_pem = generate_key_pair()
    key_path = key_dir / f"{key_id}.pem"
    key_path.write_bytes(private_pem)
    os.chmod(key_path, 0o600)
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.post(
            "/sim/v1/accounts",
            json={"key_id": key_id, "public_key_pem": public_pem.decode(), "balance_cents": 1_000_000},
        )
        r.raise_for_status()
    return key_id, key_path, RequestSigner.from_pem(private_pem, key_id)


@pytest_asyncio.fixture
async def account(sim: SimulatorServer, tmp_path: Path) -> AsyncIterator[Account]:
    key_id, key_path, signer = await register_account(sim, tmp_path)
    async with KalshiRestClient(sim.rest_url, signer) as client:
        yield Account(key_id=key_id, key_path=key_path, signer=signer, client=client)


@pytest_asyncio.fixture
async def control(sim: SimulatorServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the simulator's control API (``/sim/v1``)."""
    async with httpx.AsyncClient(base_url=sim.base_url + "/sim/v1", timeout=30) as http:
        yield http


async def eventually(fn, *, timeout_s: float = 60.0, interval_s: float = 0.25, what: str = "condition"):
    """Call ``fn()`` (sync, or async and awaited) until truthy; fail with ``what`` after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = fn()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last value: {last!r}")


@pytest_asyncio.fixture
async def harness(
    temporal_env: WorkflowEnvironment, sim: SimulatorServer, account: Account, control: httpx.AsyncClient
):
    """A started in-process worker for one test (unique task queue) with its account and control API."""
    from recording.metrics import AppMetrics
    from tests.harness import Harness

    h = Harness(
        client=temporal_env.client,
        account=account,
        control=control,
        task_queue=f"kalshi-trader-test-{uuid.uuid4().hex[:8]}",
        metrics=AppMetrics(),
        ws_url=sim.ws_url,
    )
    await h.start_worker()
    try:
        yield h
    finally:
        for handle in h.handles:
            with contextlib.suppress(Exception):  # already completed or terminated
                await handle.terminate("test finished")
        await h.stop_worker()
