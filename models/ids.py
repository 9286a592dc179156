"""Client order ids and close workflow ids: unique across workflow executions, stable across retries.

Kalshi refuses a ``client_order_id`` only while an open (resting) order holds it (kalshi-api.md §3.5):
the id of an executed or cancelled order can be sent again and is accepted as a NEW order. So an id is
only an idempotency key if it is never reused by a different intent, by this run or any other. Every
id the trader sends is therefore scoped to one run of one workflow execution chain:

* ``first_execution_run_id`` (``workflow.info()``) is new for every ``temporal workflow start``, also
  after a terminate or with a wiped dev-server database, so a restarted trader never collides with (or
  adopts) an earlier execution's orders;
* ``run_id`` is new for every continue-as-new AND every ``temporal workflow reset``. A reset keeps
  ``first_execution_run_id`` (checked against the CLI v1.5.1 dev server) but rewinds the cycle counter,
  so without the run id a reset run would re-derive the ids of the cycles it replays;
* then the cycle and, inside the trading epoch activity, the attempt number and a sequence.

Formats (Kalshi: at most 64 characters of ``[A-Za-z0-9_-:+=/]``):

* entries: ``epoch:<20 hex epoch key>:<attempt>:<sequence>``; every order of one epoch shares the
  prefix ``epoch:<key>:``, which is how a retried attempt finds what earlier attempts placed;
* closes: ``close_position:<reason>:<32 hex>``, the uuid5 of the close workflow's own
  ``first_execution_run_id`` (a fresh uuid per child run) and the attempt;
* close child workflow ids: ``<trader id>/close/<ticker>/<side>/<reason>/<run token>/c<cycle>/<n>``.

Pure functions of their arguments: safe in workflow code (uuid5 is deterministic).
"""

from __future__ import annotations

import re
import uuid

CLIENT_ORDER_ID_NAMESPACE = uuid.UUID("0f5f3a52-8f7e-4c1e-9d35-6b8f2b8a9c11")
"""uuid5 namespace of every client_order_id this trader issues."""

EPOCH_ID_PREFIX = "epoch:"
"""Every entry order of a trading epoch starts with this."""

CLOSE_ID_PREFIX = "close_position:"
"""Every close order starts with this (then the exit reason)."""

MAX_CLIENT_ORDER_ID_LENGTH = 64
_ALLOWED = re.compile(r"^[A-Za-z0-9_\-:+=/]{1,64}$")


def valid_client_order_id(client_order_id: str) -> bool:
    """Whether Kalshi accepts ``client_order_id`` (1-64 characters of ``[A-Za-z0-9_-:+=/]``)."""
    return bool(_ALLOWED.match(client_order_id))


def run_token(first_execution_run_id: str, run_id: str) -> str:
    """12 hex characters naming one run of one execution chain (new per start, reset and continue-as-new)."""
    return uuid.uuid5(CLIENT_ORDER_ID_NAMESPACE, f"run:{first_execution_run_id}:{run_id}").hex[:12]


def epoch_key(first_execution_run_id: str, run_id: str, cycle: int, leg: str = "") -> str:
    """20 hex characters naming one trading epoch: this run's ``cycle``, and its ``leg``.

    Args:
        first_execution_run_id: ``workflow.info().first_execution_run_id``.
        run_id: ``workflow.info().run_id``.
        cycle: the trader's recalibration cycle.
        leg: ``""`` for the cycle's first epoch activity, ``"rest"`` for the REST polling fallback that
            follows a failed actor epoch in the same cycle (a different activity, whose attempts count
            from 1 again).
    """
    return uuid.uuid5(CLIENT_ORDER_ID_NAMESPACE, f"epoch:{first_execution_run_id}:{run_id}:{cycle}:{leg}").hex[:20]


def epoch_order_prefix(key: str) -> str:
    """The prefix every order of the epoch ``key`` carries: ``epoch:<key>:``."""
    return f"{EPOCH_ID_PREFIX}{key}:"


def epoch_client_order_id(key: str, attempt: int, sequence: int) -> str:
    """The ``sequence``-th order (from 1) of ``attempt`` (from 1) of the epoch ``key``.

    Raises:
        ValueError: a non-positive attempt or sequence.
    """
    if attempt < 1 or sequence < 1:
        raise ValueError(f"attempt and sequence count from 1, got {attempt} and {sequence}")
    return f"{epoch_order_prefix(key)}{attempt}:{sequence}"


def legacy_epoch_client_order_id(epoch_id: str, sequence: int) -> str:
    """The id scheme of workflows started before ``run-scoped-order-ids``: ``epoch:<uuid5(epoch_id:seq) hex>``.

    Kept so an epoch scheduled by such a workflow, retried on a new worker, sends the ids its history
    expects. It repeats across executions (``epoch_id`` is ``<workflow id>:<cycle>``).
    """
    return f"{EPOCH_ID_PREFIX}{uuid.uuid5(CLIENT_ORDER_ID_NAMESPACE, f'{epoch_id}:{sequence}').hex}"


def close_client_order_id(reason: str, scope: str, attempt: int) -> str:
    """Deterministic client_order_id of a close attempt: ``close_position:<reason>:<32 hex>`` (<= 64 chars).

    Args:
        reason: the exit reason (``take_profit``...).
        scope: what makes the id unique: ``run:<the close workflow's first_execution_run_id>``, or the
            close workflow id for closes started before ``close-run-scoped-ids``.
        attempt: the close attempt, from 1.
    """
    digest = uuid.uuid5(CLIENT_ORDER_ID_NAMESPACE, f"{scope}:{attempt}").hex
    return f"{CLOSE_ID_PREFIX}{reason}:{digest}"


def close_workflow_id(
    trader_workflow_id: str, ticker: str, side: str, reason: str, token: str, cycle: int, sequence: int
) -> str:
    """Child workflow id of one close, unique per trader run (``token`` = :func:`run_token`)."""
    return f"{trader_workflow_id}/close/{ticker}/{side}/{reason}/{token}/c{cycle}/{sequence}"


__all__ = [
    "CLIENT_ORDER_ID_NAMESPACE",
    "CLOSE_ID_PREFIX",
    "EPOCH_ID_PREFIX",
    "close_client_order_id",
    "close_workflow_id",
    "epoch_client_order_id",
    "epoch_key",
    "epoch_order_prefix",
    "legacy_epoch_client_order_id",
    "run_token",
    "valid_client_order_id",
]
