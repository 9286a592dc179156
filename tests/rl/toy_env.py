"""A tiny masked gymnasium environment with a planted edge, to exercise MaskablePPO and the registry.

Observation: ``[bit, 1 - bit, 0.5]`` (float32). Actions: 0 hold, 1 "buy" (pays 1 when ``bit`` is 1), 2 "sell"
(pays 1 when ``bit`` is 0), 3 never allowed (masked). Episodes last 32 steps. A policy that learned the edge
picks 1 on bit 1 and 2 on bit 0.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

ACTIONS = ("HOLD", "BUY", "SELL", "FORBIDDEN")


class PlantedEdgeEnv(gym.Env):
    """See the module docstring."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.Discrete(len(ACTIONS))
        self._t = 0
        self.bit = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        self.bit = int(self.np_random.integers(2))
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        return np.array([self.bit, 1 - self.bit, 0.5], dtype=np.float32)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        reward = 1.0 if (action == 1 and self.bit == 1) or (action == 2 and self.bit == 0) else 0.0
        self._t += 1
        self.bit = int(self.np_random.integers(2))
        return self._obs(), reward, self._t >= 32, False, {}

    def action_masks(self) -> np.ndarray:
        return np.array([True, True, True, False])

    def best_action(self) -> int:
        return 1 if self.bit == 1 else 2
