"""The worker's feature history holds the markets it follows, not every market it ever saw.

Through a real dev server, the simulator replaying two consecutive recorded 15-minute gold markets (the clock paused
and stepped by the test), the worker's real :class:`kalshi.ingest.MarketDataHub` fed by the ingestion activity and
its :class:`trading.live.FeatureStore`: while the first market trades both the hub and the store hold it; when it
closes and settles (the exchange's lifecycle event makes discovery run at once) the hub releases it, and with it its
feature history and definition, while the next market, open, keeps its own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("numpy")

from temporalio.testing import WorkflowEnvironment

from tests.conftest import DATA_DIR, eventually
from tests.rl.live_stack import learned_config, live_stack
from workflows.names import SIGNAL_STOP

SETTLING = "KXGOLD15M-26AUG102215-15"  # 02:00-02:15Z, settled 02:15:05Z (MARKETS.csv)
NEXT = "KXGOLD15M-26AUG102230-30"  # 02:15-02:30Z
CLOSE_MS = int(datetime(2026, 8, 11, 2, 15, tzinfo=UTC).timestamp() * 1000)

pytestmark = pytest.mark.skipif(not (DATA_DIR / "MARKETS.csv").is_file(), reason="recorded gold tapes not available")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def test_a_settled_market_releases_its_feature_history(temporal_env: WorkflowEnvironment, tmp_path: Path) -> None:
    wid = f"rl-release-{uuid.uuid4().hex[:6]}"
    async with live_stack(
        temporal_env, tmp_path, [SETTLING, NEXT], start=_iso(CLOSE_MS - 90_000), registry=None, balance_cents=100_000
    ) as stack:
        h = stack.harness
        handle = await h.start(learned_config("hold", wid), workflow_id=wid)
        h.handles.append(h.client.get_workflow_handle(f"{wid}-md"))
        hub, store = h.workers.hub, h.workers.features
        assert hub is not None and store is not None
        await eventually(lambda: hub.feed is not None and SETTLING in hub.feed.markets, what="ingestion subscribed")

        # the last minute of trading: the store records the market's mids and trades
        await stack.advance_to(CLOSE_MS - 30_000)
        state = await eventually(
            lambda: (s := store.state(SETTLING)) is not None and len(s._mid2) > 0 and s, what="a feature history"
        )
        assert state.close_ms == CLOSE_MS
        assert SETTLING in hub.markets and NEXT not in hub.markets

        # close, settlement and the next market's open: the settled market is released, the open one followed
        await stack.advance_to(CLOSE_MS + 30_000)
        await eventually(lambda: store.state(NEXT) is not None, what=f"{NEXT}'s feature history")
        await eventually(lambda: store.state(SETTLING) is None, what=f"{SETTLING}'s feature history released")
        assert SETTLING not in hub.markets, "the hub forgets the settled market's definition too"
        assert SETTLING not in hub.feed.markets and NEXT in hub.feed.markets
        assert list(store.states) == [NEXT]
        assert (await h.exchange_account()).get("positions", []) == []  # nothing held kept it followed
        await handle.signal(SIGNAL_STOP, {})
