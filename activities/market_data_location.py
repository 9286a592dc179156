"""Where the WebSocket market data is, and how healthy it looks: read from Temporal by the calibration.

:func:`locate_market_data` runs inside the ``calibration_snapshot`` activity (its ``market_data_ws`` check): it
ensures ``MarketDataWorkflow`` runs and reads the ingestion activity's last heartbeat. It is not an activity of
its own (that would add a command to every calibration's history), but it is activity-side code: it talks to the
Temporal server with the activity's client.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from models.market_data import LocateInput, MarketDataHealth, MarketDataStatus
from workflows.names import INGEST_MARKET_DATA, MARKET_DATA_WORKFLOW, QUERY_STATUS


async def locate_market_data(client: Client, inp: LocateInput) -> MarketDataHealth:
    """Ensure ``MarketDataWorkflow`` runs, and report where ingestion is and how healthy it looks.

    Starts the workflow if missing (``USE_EXISTING``: idempotent), queries its ``status`` for the worker
    queue and reads the ingestion activity's last heartbeat details from ``describe`` (connected,
    markets, trusted books, private channels). Never raises for a Temporal error: the answer then says
    what is wrong in ``error`` (the calibration reports the optional WebSocket components as down).
    """
    health = MarketDataHealth()
    try:
        handle = await client.start_workflow(
            MARKET_DATA_WORKFLOW,
            inp.start,
            id=inp.workflow_id,
            task_queue=inp.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"Kalshi market data ({inp.start.environment.value}): {', '.join(inp.start.series_tickers)}",
        )
        desc = await handle.describe()
        health.workflow_running = desc.status == WorkflowExecutionStatus.RUNNING
        status = await handle.query(QUERY_STATUS, result_type=MarketDataStatus)
        health.queue = status.queue if status.running else None
        for pending in desc.raw_description.pending_activities:
            if pending.activity_type.name != INGEST_MARKET_DATA:
                continue
            if pending.state != PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
                health.error = "ingestion is scheduled but not started"
                continue
            details = pending.heartbeat_details.payloads
            if pending.HasField("last_heartbeat_time"):
                beat = pending.last_heartbeat_time.ToDatetime(tzinfo=UTC)
                health.heartbeat_age_s = round((datetime.now(UTC) - beat).total_seconds(), 3)
            if details:
                [info] = await client.data_converter.decode(list(details[:1]), [dict])
                health.connected = bool(info.get("connected"))
                health.markets = list(info.get("markets") or [])
                health.books_trusted = int(info.get("feed_books_trusted") or 0)
                health.books_untrusted = int(info.get("feed_books_untrusted") or 0)
                health.private_channels = bool(info.get("private_channels"))
                for key in ("fill_channel", "position_channel"):
                    if key in info:
                        setattr(health, key, bool(info[key]))
                health.queue = str(info.get("queue") or health.queue)
        if health.queue is None and health.error is None:
            health.error = status.last_error or "no ingestion running"
    except (RPCError, ApplicationError) as err:
        health.error = f"market data workflow: {err}"
    return health
