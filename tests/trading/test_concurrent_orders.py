"""Orders of different markets go out concurrently, at most one per market (issue 9, item 4), through a real dev
server, the simulator over HTTP/WebSocket and the worker's actor loop.

Three replicas of one recorded market are open at once and move together; the simulator adds 400 ms to every REST
request, so an order's round trip is at least 400 ms. The actor trades all three with the imbalance baseline acting
on every update (no throttle). Asserted from the exchange's own order records (``created_time``: when the
simulator handled the request, after the injected latency):

* one in flight per market: consecutive orders of one market are created at least 400 ms apart (the next one
  is sent only after the previous one's acknowledgement);
* concurrency: orders of different markets are created within 200 ms of each other (serialised orders would be
  400 ms apart at least), and the account took more orders in the window than one-at-a-time could.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

pytest.importorskip("numpy")  # rl.tapes (the live stack's tape folder)

from temporalio.testing import WorkflowEnvironment

from models.trader import EpochSettings, RiskLimits
from tests.conftest import DATA_DIR
from tests.rl.live_stack import learned_config, live_stack
from workflows.names import SIGNAL_STOP

MARKET = "KXGOLD15M-26AUG102215-15"
LATENCY_MS = 400

pytestmark = pytest.mark.skipif(not (DATA_DIR / "MARKETS.csv").is_file(), reason="recorded gold tapes not available")


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


async def test_orders_of_different_markets_are_concurrent_one_in_flight_per_market(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    start = "2026-08-11T02:02:00Z"  # the replicated market's open + 120 s: both sides quoted
    wid = f"concurrent-{uuid.uuid4().hex[:6]}"
    async with live_stack(
        temporal_env, tmp_path, [MARKET], start=start, registry=None, balance_cents=1_000_000, paused=False, copies=3
    ) as stack:
        h = stack.harness
        await h.faults(latency_ms=LATENCY_MS)
        config = learned_config(
            "imbalance",
            wid,
            recalibration_interval_s=8,
            epoch=EpochSettings(
                policy="imbalance",
                imbalance_threshold=Decimal(0),
                heartbeat_timeout_s=4,
                use_websocket=True,
                max_book_age_ms=3_600_000,
                max_connection_idle_ms=3_600_000,
            ),
            risk=RiskLimits(
                order_size_contracts=Decimal(1),
                max_position_contracts=Decimal(1000),
                max_open_positions=10,
                max_spread_dollars=Decimal("0.99"),
                per_market_throttle_ms=0,
                max_entry_price_dollars=Decimal("0.99"),
            ),
        )
        handle = await h.start(config, workflow_id=wid)
        h.handles.append(h.client.get_workflow_handle(f"{wid}-md"))
        st = await h.wait_status(
            handle,
            lambda s: s.last_epoch is not None and s.last_epoch.driver == "actor" and s.last_epoch.orders_placed >= 6,
            "an actor epoch trading the three markets",
            timeout_s=120,
        )
        await handle.signal(SIGNAL_STOP, {})
        acct = await h.exchange_account()

    orders = [o for o in acct["orders"] if o["client_order_id"].startswith("epoch:")]
    by_market: dict[str, list[int]] = {}
    for o in orders:
        by_market.setdefault(o["ticker"], []).append(_ms(o["created_time"]))
    assert len(by_market) == 3, f"orders in {sorted(by_market)} only (last epoch: {st.last_epoch})"
    for ticker, times in by_market.items():
        times.sort()
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= LATENCY_MS for g in gaps), f"{ticker}: two orders in flight at once (gaps {gaps} ms)"
    created = sorted((t, ticker) for ticker, times in by_market.items() for t in times)
    close = [(a, b) for a, b in itertools.pairwise(created) if a[1] != b[1] and b[0] - a[0] < LATENCY_MS // 2]
    assert close, f"no two markets' orders overlapped: {created}"
    span_ms = created[-1][0] - created[0][0]
    assert len(created) > span_ms // LATENCY_MS + 1, "no more orders than one-at-a-time allows"
