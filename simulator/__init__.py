"""A Kalshi-compatible exchange simulator driven by replaying recorded Kalshi order-book tapes.

REST (and later WebSocket) over real HTTP, matching, order groups, lifecycle and settlement.

See docs/simulator.md. Shares only ``models/`` with the trader.
"""

from simulator.config import SimulatorConfig
from simulator.server import SimulatorError, SimulatorServer

__all__ = ["SimulatorConfig", "SimulatorError", "SimulatorServer"]
