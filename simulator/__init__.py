"""A Kalshi-compatible exchange simulator driven by replaying recorded Kalshi order-book tapes.

REST and WebSocket over real HTTP, matching, order groups, lifecycle and settlement. See docs/simulator.md.
Shares only ``models/`` with the trader.

Two halves: the exchange engine (:mod:`simulator.ledger`, :mod:`simulator.matching`, :mod:`simulator.liquidity`,
:mod:`simulator.exchange`, :mod:`simulator.replay` and the data modules they use) is synchronous and needs no
HTTP and no event loop, so it can be driven in-process (the RL training environment does); the served half
(:mod:`simulator.server`, :mod:`simulator.rest`, :mod:`simulator.ws`, :mod:`simulator.control`) puts it on
aiohttp. Importing this package loads neither: ``SimulatorServer`` and ``SimulatorError`` are resolved on
first access.
"""

from __future__ import annotations

from typing import Any

from simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig", "SimulatorError", "SimulatorServer"]


def __getattr__(name: str) -> Any:
    """Load the HTTP server only when ``simulator.SimulatorServer`` / ``simulator.SimulatorError`` is used."""
    if name in ("SimulatorServer", "SimulatorError"):
        from simulator import server

        return getattr(server, name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
