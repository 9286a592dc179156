"""``TraderWorkflow``: the durable entity that calibrates, trades, recalibrates and closes positions.

The workflow class is :class:`workflows.trader.workflow.TraderWorkflow` (its lifecycle in that module's
docstring); the package splits it by part: :mod:`~workflows.trader.base` (shared state and helpers),
:mod:`~workflows.trader.calibrate`, :mod:`~workflows.trader.closes`, :mod:`~workflows.trader.epoch`,
:mod:`~workflows.trader.handlers` (signals, query, updates) and :mod:`~workflows.trader.details` (the Web UI's
status table).
"""

from workflows.trader.details import pause_reason, render_details
from workflows.trader.workflow import TraderWorkflow

__all__ = ["TraderWorkflow", "pause_reason", "render_details"]
