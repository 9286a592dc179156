"""The numpy forward pass of a learned policy is the model's own network: same logits, probabilities and actions as torch.

:class:`rl.inference.ActorNetwork` replaces torch's per-call dispatch on the decision path (the live actor loop, the
environment's evaluation and the backtest all call :class:`rl.inference.ModelPolicy`). Compared here with the policy's
own torch modules (``backend="torch"``, SB3's ``get_distribution`` for the probabilities) on thousands of REAL
observations and action masks: a small MaskablePPO trained on a recorded gold market, then run through the training
environment on another recorded market, every decision point's observation and mask collected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sb3_contrib")

import numpy as np
import torch

from rl.decision import ActionSpace
from rl.env import EnvConfig, KalshiTapeEnv
from rl.features import FEATURE_VERSION, N_FEATURES
from rl.inference import ActorNetwork, ModelPolicy, UnsupportedNetworkError, load_policy
from rl.tapes import load_markets
from tests.conftest import DATA_DIR
from tests.rl.tiny_model import save_tiny_model

pytestmark = pytest.mark.skipif(not (DATA_DIR / "MARKETS.csv").is_file(), reason="recorded gold tapes not available")

TRAIN_MARKET = "KXGOLD15M-26AUG102215-15"
OBSERVED_MARKET = "KXGOLD15M-26AUG102130-30"
N_OBSERVATIONS = 2_000


@pytest.fixture(scope="module")
def model_and_observations(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A registry with a tiny trained model; ``N_OBSERVATIONS`` real (observation, mask) pairs of another market.

    The environment is driven by the model itself (sampled, as it trades), so the positions, cash and resting-order
    features and the masks cover what the policy meets.
    """
    registry = tmp_path_factory.mktemp("registry") / "models"
    save_tiny_model(registry, load_markets(DATA_DIR, [TRAIN_MARKET]), steps=256, hold_prior=0.3)
    config = EnvConfig()
    policy = load_policy(registry, "rl:current", config.space(), seed=1)
    env = KalshiTapeEnv(load_markets(DATA_DIR, [OBSERVED_MARKET]), config)
    features: list[np.ndarray] = []
    masks: list[list[bool]] = []
    obs, _ = env.reset(options={"market": OBSERVED_MARKET})
    done = False
    while not done and len(features) < N_OBSERVATIONS:
        observation, mask = env.policy_observation(obs)
        features.append(np.array(obs, dtype=np.float32))
        masks.append(mask)
        obs, _, done, _, _ = env.step(policy.act(observation, mask))
    assert len(features) == N_OBSERVATIONS, f"the market had only {len(features)} decision points"
    masks_array = np.array(masks, dtype=bool)
    assert masks_array[:, 1:].any(axis=1).mean() > 0.5, "most points must allow an order (not only forced holds)"
    assert (~masks_array[:, 1:]).any(), "some actions must be masked somewhere"
    return registry, np.stack(features), masks_array


def test_numpy_logits_probabilities_and_actions_equal_torchs(
    model_and_observations: tuple[Path, np.ndarray, np.ndarray],
) -> None:
    registry, features, masks = model_and_observations
    space = ActionSpace.full()
    fast = load_policy(registry, "rl:current", space, seed=7)
    reference = load_policy(registry, "rl:current", space, seed=7, backend="torch")
    assert (fast.backend, reference.backend) == ("numpy", "torch")

    # logits: the same float32 network, one row at a time and as one batch
    ref_logits = reference.logits(features)
    np.testing.assert_allclose(fast.logits(features), ref_logits, rtol=0, atol=2e-5)
    single = np.stack([fast.logits(row)[0] for row in features[:300]])
    np.testing.assert_allclose(single, ref_logits[:300], rtol=0, atol=2e-5)

    # probabilities: sb3-contrib's own masked distribution
    with torch.inference_mode():
        dist = reference.model.policy.get_distribution(torch.as_tensor(features[:500]), masks[:500])
        sb3_probs = dist.distribution.probs.numpy()
    ours = np.stack([fast.probabilities(f, m) for f, m in zip(features[:500], masks[:500], strict=True)])
    np.testing.assert_allclose(ours, sb3_probs, rtol=0, atol=1e-5)
    assert (ours[~masks[:500]] == 0).all()

    # actions: sampled with the same seeded generator, and the mode (MaskablePPO.predict's deterministic action)
    fast_actions = [fast.act_vector(f, m) for f, m in zip(features, masks, strict=True)]
    ref_actions = [reference.act_vector(f, m) for f, m in zip(features, masks, strict=True)]
    assert fast_actions == ref_actions
    assert all(m[a] for a, m in zip(fast_actions, masks, strict=True))
    assert len(set(fast_actions)) > 2, "the sample must exercise several actions"
    mode = load_policy(registry, "rl:current", space, deterministic=True)
    predicted, _ = mode.model.predict(features, action_masks=masks, deterministic=True)
    assert [mode.act_vector(f, m) for f, m in zip(features, masks, strict=True)] == predicted.tolist()


def test_a_batch_is_one_forward_pass_with_the_same_draws_as_one_call_per_market(
    model_and_observations: tuple[Path, np.ndarray, np.ndarray],
) -> None:
    registry, features, masks = model_and_observations
    one_by_one = load_policy(registry, "rl:current", ActionSpace.full(), seed=3)
    batched = load_policy(registry, "rl:current", ActionSpace.full(), seed=3)
    expected = [one_by_one.act_vector(f, m) for f, m in zip(features, masks, strict=True)]
    got: list[int] = []
    for start in range(0, len(features), 7):  # bursts of 7 markets
        got += batched.act_batch(features[start : start + 7], masks[start : start + 7].tolist())
    assert got == expected
    assert batched.act_batch(features[:0], []) == []
    with pytest.raises(ValueError, match="3 observations but 2 masks"):
        batched.act_batch(features[:3], masks[:2].tolist())


def test_relu_networks_export_and_other_networks_keep_torch(
    model_and_observations: tuple[Path, np.ndarray, np.ndarray],
) -> None:
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy

    from rl.registry import LoadedModel, ModelRegistry

    registry, features, _ = model_and_observations
    space = ActionSpace.full()
    loaded = ModelRegistry(registry).load(
        "rl:current", feature_version=FEATURE_VERSION, n_features=N_FEATURES, actions=space.names
    )
    env = KalshiTapeEnv(load_markets(DATA_DIR, [TRAIN_MARKET]), EnvConfig())

    def policy(**kwargs: Any) -> MaskableActorCriticPolicy:
        torch.manual_seed(0)
        return MaskableActorCriticPolicy(env.observation_space, env.action_space, lambda _: 3e-4, **kwargs)

    relu = policy(net_arch=[32, 16], activation_fn=torch.nn.ReLU)
    with torch.inference_mode():
        expected = relu.action_net(relu.mlp_extractor.forward_actor(torch.as_tensor(features))).numpy()
    np.testing.assert_allclose(ActorNetwork.from_policy(relu).logits(features), expected, rtol=0, atol=2e-5)

    elu = policy(net_arch=[32], activation_fn=torch.nn.ELU)
    with pytest.raises(UnsupportedNetworkError, match="ELU"):
        ActorNetwork.from_policy(elu)
    loaded.model.policy = elu  # a model whose actor the export does not cover keeps torch's forward pass
    kept = ModelPolicy(LoadedModel(loaded.model, loaded.metadata, loaded.path), space)
    assert kept.backend == "torch"
    with torch.inference_mode():
        expected = elu.action_net(elu.mlp_extractor.forward_actor(torch.as_tensor(features[:10]))).numpy()
    np.testing.assert_allclose(kept.logits(features[:10]), expected, rtol=0, atol=1e-6)
