"""The learned policy behind the pipeline's :class:`rl.decision.Policy` interface: a registry model, on CPU.

:class:`ModelPolicy` wraps a MaskablePPO model loaded from the registry (:meth:`rl.registry.ModelRegistry.load`, which
refuses a model for another feature version or action space). ``act`` takes the :func:`rl.features.observe` vector
and the action mask of the checks and evaluates the SB3 policy's own masked distribution: the actor's logits
(features extractor, actor MLP, action head), masked as sb3-contrib's ``MaskableCategorical`` masks them, then the
mode or a sample of the softmax.

The forward pass runs in numpy (:class:`ActorNetwork`): at load time the actor's layers are exported to float32
matrices, so a decision's inference costs tens of microseconds instead of torch's 100-170 us of per-call dispatch
(``bench/bench_rl_env.py`` prints both: p50 26 us vs 106 us under load). It is the SAME network (the weights are the
model's, the arithmetic float32 as torch's; tests/rl/test_inference.py compares logits, probabilities and actions
with torch's on thousands of real observations), and it is the only path: the training environment's evaluation, the
backtest and the live actor loop all call :meth:`ModelPolicy.act`. A network the export does not cover (another
features extractor or activation) keeps torch's forward pass, and says so (``ModelPolicy.backend``).
:meth:`ModelPolicy.act_batch` evaluates several markets' observations in one forward pass (the actor loop's burst),
with the same draws as one call per market in order.

torch is capped at one thread (:func:`limit_torch_threads`) for the torch path and for training.

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
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rl.decision import ActionSpace, Observation
from rl.features import FEATURE_VERSION, N_FEATURES, FeatureError
from rl.registry import LoadedModel, ModelRegistry

__all__ = ["ActorNetwork", "ModelPolicy", "UnsupportedNetworkError", "limit_torch_threads", "load_policy"]

log = logging.getLogger(__name__)


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


class UnsupportedNetworkError(ValueError):
    """The policy's actor is not a plain flatten -> (Linear, activation)* -> Linear network (keep torch's pass)."""


_ACTIVATIONS = ("Tanh", "ReLU", "Identity")
"""The activations :class:`ActorNetwork` evaluates (SB3's ``MlpPolicy`` uses ``Tanh`` by default, ``ReLU`` often)."""


@dataclass(frozen=True, slots=True)
class ActorNetwork:
    """A MaskablePPO policy's actor as float32 numpy matrices: observation -> action logits.

    ``logits(x) = W_k (... act(W_1 x + b_1) ...) + b_k`` with the layers of the policy's ``pi_features_extractor``
    (a ``FlattenExtractor``), ``mlp_extractor.policy_net`` (``Linear`` and ``Tanh``/``ReLU`` modules) and
    ``action_net`` (``Linear``), in float32 as torch computes them.

    Attributes:
        layers: ``(weight, bias, activation)`` per ``Linear``: weight ``[in, out]`` (transposed, C-contiguous),
            bias ``[out]``, both float32; activation ``"Tanh"``, ``"ReLU"`` or ``None`` after the layer.
    """

    layers: tuple[tuple[np.ndarray, np.ndarray, str | None], ...]

    @classmethod
    def from_policy(cls, policy: Any) -> ActorNetwork:
        """Export an SB3 ``ActorCriticPolicy``'s actor (read once at load time; the copy does not follow training).

        Raises:
            UnsupportedNetworkError: another features extractor, a module other than ``Linear``/``Tanh``/``ReLU``/
                ``Identity``, or an action head that is not one ``Linear``.
        """
        from stable_baselines3.common.torch_layers import FlattenExtractor

        if type(policy.pi_features_extractor) is not FlattenExtractor:
            raise UnsupportedNetworkError(f"features extractor {type(policy.pi_features_extractor).__name__}")
        if not isinstance(policy.action_net, torch.nn.Linear):
            raise UnsupportedNetworkError(f"action head {type(policy.action_net).__name__}")
        layers: list[tuple[np.ndarray, np.ndarray, str | None]] = []
        modules = [*policy.mlp_extractor.policy_net, policy.action_net]
        for module in modules:
            kind = type(module).__name__
            if isinstance(module, torch.nn.Linear):
                weight = module.weight.detach().cpu().numpy().astype(np.float32).T.copy(order="C")
                bias = (
                    module.bias.detach().cpu().numpy().astype(np.float32).copy()
                    if module.bias is not None
                    else np.zeros(weight.shape[1], dtype=np.float32)
                )
                layers.append((weight, bias, None))
            elif kind in _ACTIVATIONS and type(module).__module__.startswith("torch.nn"):
                if not layers or layers[-1][2] is not None:
                    raise UnsupportedNetworkError(f"activation {kind} not right after a Linear layer")
                if kind != "Identity":
                    weight, bias, _ = layers[-1]
                    layers[-1] = (weight, bias, kind)
            else:
                raise UnsupportedNetworkError(f"module {kind} in the actor")
        return cls(tuple(layers))

    @property
    def n_inputs(self) -> int:
        """Observation size."""
        return int(self.layers[0][0].shape[0])

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Action logits of ``x`` (``[n, n_inputs]`` float32) as ``[n, n_actions]`` float32."""
        h = x
        for weight, bias, activation in self.layers:
            h = h @ weight
            h += bias
            if activation == "Tanh":
                np.tanh(h, out=h)
            elif activation == "ReLU":
                np.maximum(h, 0, out=h)
        return h


class ModelPolicy:
    """A trained MaskablePPO policy as a :class:`rl.decision.Policy` (module docstring).

    Args:
        loaded: the registry's :class:`rl.registry.LoadedModel`.
        space: the action space (must be the model's: names and order).
        deterministic: take the most probable allowed action instead of sampling (module docstring).
        seed: the sampling generator's seed.
        backend: ``"numpy"`` (the exported :class:`ActorNetwork`, the default; torch's pass when the network cannot
            be exported) or ``"torch"`` (the policy's own modules: the reference the tests compare with).

    Attributes:
        backend: the forward pass in use, ``"numpy"`` or ``"torch"``.

    Raises:
        ValueError: the model's action names differ from ``space``'s, or an unknown ``backend``.

    """

    needs_features = True

    def __init__(
        self,
        loaded: LoadedModel,
        space: ActionSpace,
        *,
        deterministic: bool = False,
        seed: int = 0,
        backend: str = "numpy",
    ) -> None:
        if tuple(loaded.metadata.actions) != space.names:
            raise ValueError(
                f"model {loaded.metadata.version} acts on {list(loaded.metadata.actions)}, not {list(space.names)}"
            )
        if backend not in ("numpy", "torch"):
            raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
        self.name = f"rl:{loaded.metadata.version}"
        self.space = space
        self.model = loaded.model
        self.metadata = loaded.metadata
        self._policy = loaded.model.policy
        self._policy.set_training_mode(False)
        self.deterministic = deterministic
        self._rng = np.random.default_rng(seed)
        self._actor: ActorNetwork | None = None
        if backend == "numpy":
            try:
                self._actor = ActorNetwork.from_policy(self._policy)
            except UnsupportedNetworkError as exc:
                log.info("%s: torch forward pass (the numpy export does not cover %s)", self.name, exc)
        self.backend = "numpy" if self._actor is not None else "torch"

    def act(self, obs: Observation, mask: Sequence[bool]) -> int:
        """The action for ``obs.features`` (float32, ``N_FEATURES``) under ``mask``: a sample, or the mode.

        Raises:
            FeatureError: no features, or a vector of the wrong shape or with a NaN/inf.

        """
        features = obs.features
        if features is None or getattr(features, "shape", None) != (N_FEATURES,):
            raise FeatureError(f"{self.name} needs the {N_FEATURES}-feature observation, got {type(features).__name__}")
        if not np.isfinite(features).all():
            raise FeatureError(f"{self.name}: a NaN or infinite feature reached the policy")
        return self.act_vector(features, mask)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """The actor's unmasked logits: ``[n, N_FEATURES]`` (or one row) -> ``[n, n_actions]`` float32."""
        x = np.asarray(features, dtype=np.float32).reshape(-1, N_FEATURES)
        if self._actor is not None:
            return self._actor.logits(x)
        policy = self._policy
        with torch.inference_mode():
            latent = policy.mlp_extractor.forward_actor(policy.pi_features_extractor(torch.as_tensor(x)))
            return policy.action_net(latent).numpy()

    def act_vector(self, features: np.ndarray, mask: Sequence[bool]) -> int:
        """:meth:`act` on a bare feature vector (the environment's and the benchmark's path).

        The policy network's action logits, masked as sb3-contrib's ``MaskableCategorical`` masks them, then the mode
        or a sample of the softmax (one draw of the policy's generator).
        """
        return self._choose(self.logits(features)[0], mask)

    def act_batch(self, features: np.ndarray | Sequence[np.ndarray], masks: Sequence[Sequence[bool]]) -> list[int]:
        """The actions of ``n`` observations and their ``n`` masks in ONE forward pass.

        ``features``: ``[n, N_FEATURES]`` float32, or ``n`` vectors of ``N_FEATURES``. The draws are taken row by
        row, in order, so the result equals ``[act_vector(f, m) for f, m in ...]``.

        Raises:
            ValueError: ``features`` and ``masks`` differ in length.
            FeatureError: a NaN or infinite feature (checked for the batch, as :meth:`act` checks one vector).
        """
        if len(features) != len(masks):
            raise ValueError(f"{len(features)} observations but {len(masks)} masks")
        if not len(masks):
            return []
        x = np.asarray(features, dtype=np.float32).reshape(len(masks), N_FEATURES)
        if not np.isfinite(x).all():
            raise FeatureError(f"{self.name}: a NaN or infinite feature reached the policy")
        logits = self.logits(x)
        return [self._choose(row, mask) for row, mask in zip(logits, masks, strict=True)]

    def probabilities(self, features: np.ndarray, mask: Sequence[bool]) -> np.ndarray:
        """The masked action distribution of one observation (float64, sums to 1; masked actions 0)."""
        weights = np.array(_weights(self.logits(features)[0].tolist(), mask))
        return weights / weights.sum()

    def _choose(self, row: np.ndarray, mask: Sequence[bool]) -> int:
        """The mode, or one draw of the masked softmax of ``row`` by inverse CDF (masked actions weigh 0).

        Plain Python over the few actions (a handful of numpy calls on a 9-vector cost more than the arithmetic).
        """
        logits = row.tolist()
        if self.deterministic:
            best = max((i for i, ok in enumerate(mask) if ok), key=logits.__getitem__, default=0)
            return int(best)
        weights = _weights(logits, mask)
        target = self._rng.random() * sum(weights)
        total = 0.0
        for index, weight in enumerate(weights):
            total += weight
            if total > target:
                return index
        return max(i for i, ok in enumerate(mask) if ok) if any(mask) else len(weights) - 1


def _weights(logits: list[float], mask: Sequence[bool]) -> list[float]:
    """``exp(logit - max allowed logit)`` per action, 0 for masked ones (sb3-contrib masks with a huge negative)."""
    top = max((x for x, ok in zip(logits, mask, strict=True) if ok), default=0.0)
    return [math.exp(x - top) if ok else 0.0 for x, ok in zip(logits, mask, strict=True)]


def load_policy(
    registry_root: Path,
    spec: str,
    space: ActionSpace,
    *,
    deterministic: bool = False,
    seed: int = 0,
    backend: str = "numpy",
) -> ModelPolicy:
    """Load ``spec`` (``rl:current``, ``rl:<version>``, ``current`` or a version) as a :class:`ModelPolicy` on CPU.

    Raises:
        rl.registry.ModelRegistryError: missing, corrupt or incompatible (feature version, observation size, actions).

    """
    loaded = ModelRegistry(registry_root).load(
        spec, feature_version=FEATURE_VERSION, n_features=N_FEATURES, actions=space.names
    )
    return ModelPolicy(loaded, space, deterministic=deterministic, seed=seed, backend=backend)
