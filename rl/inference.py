"""The learned policy behind the pipeline's :class:`rl.decision.Policy` interface: a registry model, on CPU, one thread.

:class:`ModelPolicy` wraps a MaskablePPO model loaded from the registry (:meth:`rl.registry.ModelRegistry.load`, which
refuses a model for another feature version or action space). ``act`` takes the :func:`rl.features.observe` vector
and the action mask of the checks and evaluates the SB3 policy's own masked distribution
(``MaskableActorCriticPolicy.get_distribution``) without autograd. torch is capped at one thread
(:func:`limit_torch_threads`); a decision costs tens of microseconds (``bench/bench_rl_env.py`` prints observation +
inference p50/p99).

Sampled, not argmax, by default: PPO optimises the stochastic policy, and on a market the learned behaviour is
"enter now and then, hold otherwise", i.e. HOLD is the most probable action at nearly every decision point even
when the policy trades well; the argmax then never trades (measured on the planted-edge tape: the sampled policy
earned $8/market where the argmax earned $0, the predecessor's "PPO collapsed to HOLD"). The sample uses the
policy's own seeded generator, so a seed reproduces its choices; ``deterministic=True`` takes the mode.

A NaN/inf in the observation never reaches the network: :func:`rl.features.observe` raises first, and ``act`` checks
the vector it is given (:class:`rl.features.FeatureError`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from rl.decision import ActionSpace, Observation
from rl.features import FEATURE_VERSION, N_FEATURES, FeatureError
from rl.registry import LoadedModel, ModelRegistry

__all__ = ["ModelPolicy", "limit_torch_threads", "load_policy"]

_MASKED = -1e8
"""The logit sb3-contrib gives masked actions (``MaskableCategorical``'s ``HUGE_NEG``)."""


def limit_torch_threads(threads: int = 1) -> None:
    """Run torch's intra- and inter-op work on ``threads`` threads (inference and tests share 2 cores).

    Also turns off ``torch.distributions``' argument validation: it re-checks every probability vector a policy
    produces (a large share of a decision's cost) and the masked distributions here are valid by construction.
    """
    torch.distributions.Distribution.set_default_validate_args(False)
    torch.set_num_threads(threads)
    # torch allows the inter-op setting only once per process, before any parallel work
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(threads)


class ModelPolicy:
    """A trained MaskablePPO policy as a :class:`rl.decision.Policy` (module docstring).

    Args:
        loaded: the registry's :class:`rl.registry.LoadedModel`.
        space: the action space (must be the model's: names and order).
        deterministic: take the most probable allowed action instead of sampling (module docstring).
        seed: the sampling generator's seed.

    Raises:
        ValueError: the model's action names differ from ``space``'s.

    """

    needs_features = True

    def __init__(self, loaded: LoadedModel, space: ActionSpace, *, deterministic: bool = False, seed: int = 0) -> None:
        if tuple(loaded.metadata.actions) != space.names:
            raise ValueError(
                f"model {loaded.metadata.version} acts on {list(loaded.metadata.actions)}, not {list(space.names)}"
            )
        self.name = f"rl:{loaded.metadata.version}"
        self.space = space
        self.model = loaded.model
        self.metadata = loaded.metadata
        self._policy = loaded.model.policy
        self._policy.set_training_mode(False)
        self.deterministic = deterministic
        self._rng = np.random.default_rng(seed)

    def act(self, obs: Observation, mask: Sequence[bool]) -> int:
        """The most probable allowed action for ``obs.features`` (float32, ``N_FEATURES``).

        Raises:
            FeatureError: no features, or a vector of the wrong shape or with a NaN/inf.

        """
        features = obs.features
        if features is None or getattr(features, "shape", None) != (N_FEATURES,):
            raise FeatureError(f"{self.name} needs the {N_FEATURES}-feature observation, got {type(features).__name__}")
        if not np.isfinite(features).all():
            raise FeatureError(f"{self.name}: a NaN or infinite feature reached the policy")
        return self.act_vector(features, mask)

    def act_vector(self, features: np.ndarray, mask: Sequence[bool]) -> int:
        """:meth:`act` on a bare feature vector (the environment's and the benchmark's path).

        The policy network's action logits (its own layers: features extractor, actor MLP, action head), masked as
        sb3-contrib's ``MaskableCategorical`` masks them, then the mode or a sample of the softmax.
        """
        policy = self._policy
        with torch.inference_mode():
            tensor = torch.as_tensor(features, dtype=torch.float32).reshape(1, N_FEATURES)
            latent = policy.mlp_extractor.forward_actor(policy.pi_features_extractor(tensor))
            logits = policy.action_net(latent)[0].numpy().astype(np.float64)
        allowed = np.asarray(mask, dtype=bool)
        logits = np.where(allowed, logits, _MASKED)
        if self.deterministic:
            return int(np.argmax(logits))
        weights = np.exp(logits - logits.max())
        weights[~allowed] = 0.0
        cdf = np.cumsum(weights)
        # inverse CDF; masked actions have weight 0 and are skipped by side="right"
        index = int(np.searchsorted(cdf, self._rng.random() * cdf[-1], side="right"))
        return min(index, len(weights) - 1)


def load_policy(
    registry_root: Path, spec: str, space: ActionSpace, *, deterministic: bool = False, seed: int = 0
) -> ModelPolicy:
    """Load ``spec`` (``rl:current``, ``rl:<version>``, ``current`` or a version) as a :class:`ModelPolicy` on CPU.

    Raises:
        rl.registry.ModelRegistryError: missing, corrupt or incompatible (feature version, observation size, actions).

    """
    loaded = ModelRegistry(registry_root).load(
        spec, feature_version=FEATURE_VERSION, n_features=N_FEATURES, actions=space.names
    )
    return ModelPolicy(loaded, space, deterministic=deterministic, seed=seed)
