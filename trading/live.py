"""The policy a live epoch runs, and the learned policy's per-market feature history, in one worker process.

* :class:`PolicyLibrary` (one per worker process) turns the configured policy (``EpochSettings.policy``:
  ``imbalance``, ``hold``, ``rl:current``, ``rl:<version>``) into a :class:`LivePolicy` at the start of every epoch.
  Baselines are built at once (:mod:`rl.decision.policies`). A learned policy comes from the model registry
  (:mod:`rl.registry`): ``rl:current`` re-reads the registry's ``current`` pointer every time (hot reload: a new
  ``current`` is picked up by the next epoch), and each version is loaded once per process, off the event loop
  (the first load imports torch), and checked against this trader's feature version and action names. A missing,
  corrupt or incompatible model, a worker without the RL extra, or a learned policy asked to run without live
  books (the REST polling epoch) falls back to ``EpochSettings.fallback_policy``: the epoch runs, its summary's
  :class:`models.trader.PolicyInUse` says which policy decided and why, a warning is logged and
  ``kalshi_trader_policy_fallbacks_total`` counts it. Never a crash, never a silent wrong action.
* :class:`FeatureStore` (one per worker process with market data) keeps one :class:`rl.features.MarketFeatureState`
  per subscribed market (released when the hub releases the market: no longer open and not held, so a worker
  running for days holds the markets it follows only) and feeds it by the training environment's rule (docs/rl.md
  "Observation"): ``on_book`` after EVERY applied book frame and ``on_trade`` for every public trade (our own
  taker fills included: the trade channel shows them), from the hub's frame listener, independent of epochs, so
  the look-back features of the first decision of an epoch are what the environment would have computed.
  Position, cost, cash and the resting order are set from the epoch's portfolio at each decision
  (:mod:`trading.pipeline`).

torch and stable-baselines3 are imported only when a model is loaded (:mod:`rl.inference`), never by workflow
code; numpy (``rl.features``) only when the RL extra is installed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from kalshi.ingest import MarketDataHub
from models.trader import BASELINE_POLICIES, EpochSettings, PolicyInUse, RiskLimits
from recording.metrics import AppMetrics
from rl.decision import ActionSpace, Policy, baseline

__all__ = ["FeatureStore", "LivePolicy", "PolicyLibrary", "baseline_policy"]

log = logging.getLogger(__name__)

_CACHED_MODELS = 2
"""Loaded model versions kept per process (the current one and the previous, for a quick switch back)."""
_QUIET_TICKERS = 1024
"""Tickers a :class:`FeatureStore` remembers not to warn about (released markets, markets warned about once)."""


@dataclass
class LivePolicy:
    """A policy ready for one epoch, with what the epoch reports about it.

    Attributes:
        policy: the :class:`rl.decision.Policy` that chooses actions.
        space: its action space (a learned policy's: its model's action names).
        info: what the summary and ``status`` show (name, model and feature version, fallback reason).
        interval_ms: at most one decision per market per this many exchange ms (0: every update). A learned
            policy's is its model's ``env_config.decision_interval_ms``, so it sees decision points as in training.
        reference_capital_micro: a learned policy's cash and equity features are fractions of this (its training
            environment's initial cash), micro-dollars; None for baselines.
        position_scale_lots: a learned policy's position feature scale (its training position limit), lots.
    """

    policy: Policy
    space: ActionSpace
    info: PolicyInUse
    interval_ms: int = 0
    reference_capital_micro: int | None = None
    position_scale_lots: int | None = None

    @property
    def needs_features(self) -> bool:
        """Whether the policy reads the :func:`rl.features.observe` vector (a learned policy)."""
        return bool(self.policy.needs_features)

    @property
    def name(self) -> str:
        """The policy's name (a metric label): ``imbalance``, ``hold`` or ``rl:<version>``."""
        return self.info.name


def baseline_policy(
    name: str,
    settings: EpochSettings,
    risk: RiskLimits,
    *,
    requested: str | None = None,
    fallback_reason: str | None = None,
    space: ActionSpace | None = None,
) -> LivePolicy:
    """A baseline (``imbalance`` or ``hold``) as a :class:`LivePolicy` over the take-only action space.

    Raises:
        ValueError: an unknown baseline name.
    """
    if name not in BASELINE_POLICIES:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINE_POLICIES)}")
    space = space or ActionSpace.take_only()
    spread_cc = int(risk.max_spread_dollars * 10_000)
    policy = baseline(name, space, imbalance_threshold=settings.imbalance_threshold, max_spread_cc=spread_cc)
    info = PolicyInUse(
        requested=requested or settings.policy,
        name=name,
        actions=list(space.names),
        decision_interval_ms=settings.decision_interval_ms,
        fallback_reason=fallback_reason,
    )
    return LivePolicy(policy, space, info, interval_ms=settings.decision_interval_ms)


@dataclass
class _Loaded:
    """One loaded model version: the registry's loaded model, its metadata and the settings it was trained with."""

    loaded: Any
    metadata: Any
    env_config: Any
    space: ActionSpace
    policies: dict[tuple[int, str], Any] = field(default_factory=dict)


def _fallback_kind(exc: BaseException) -> str:
    """The metric label of why a model could not be used."""
    try:
        from rl.registry import CorruptModelError, IncompatibleModelError, ModelNotFoundError
    except ImportError:  # pragma: no cover - rl.registry needs only pydantic
        return "load_failed"
    if isinstance(exc, ImportError):
        return "no_rl_extra"
    if isinstance(exc, ModelNotFoundError):
        return "missing"
    if isinstance(exc, CorruptModelError):
        return "corrupt"
    if isinstance(exc, IncompatibleModelError | ValueError):
        return "incompatible"
    return "load_failed"


class PolicyLibrary:
    """Resolves the configured policy into a :class:`LivePolicy` per epoch; caches loaded models (module docstring).

    Args:
        registry: the model registry folder (``STATE_DIR/models`` by default), or None (``rl:`` policies then
            fall back).
        metrics: where fallbacks and the policy in use are counted.
        features: this process's :class:`FeatureStore` (None without market data or without the RL extra: learned
            policies then fall back).
    """

    def __init__(self, registry: Path | None, metrics: AppMetrics, features: FeatureStore | None = None) -> None:
        self.registry = registry
        self.metrics = metrics
        self.features = features
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._lock = asyncio.Lock()

    async def resolve(
        self, settings: EpochSettings, risk: RiskLimits, *, live_books: bool, purpose: str = "epoch"
    ) -> LivePolicy:
        """The policy to run now for ``settings.policy`` (see the module docstring); never raises for a bad model.

        Args:
            settings: the epoch settings (policy, fallback, seed, baseline parameters).
            risk: the risk limits (the imbalance baseline's spread cap).
            live_books: the caller has the worker's WebSocket books and their feature history (the actor loop);
                False for the REST polling epoch, where a learned policy falls back.
            purpose: ``epoch`` or ``predict``: each purpose samples from its own seeded generator, so a
                ``predict`` call never changes the epoch's sequence of actions.
        """
        spec = settings.policy
        if spec in BASELINE_POLICIES:
            return self._in_use(baseline_policy(spec, settings, risk))
        reason: str
        kind: str
        if not live_books:
            reason = f"{spec} needs the worker's live WebSocket books and their feature history (REST polling epoch)"
            kind = "no_live_books"
        elif self.features is None:
            reason = f"{spec} needs the RL extra and WebSocket market data on this worker (pip install '.[rl]')"
            kind = "no_rl_extra"
        elif self.registry is None:
            reason = f"{spec}: this worker has no model registry configured (MODEL_REGISTRY)"
            kind = "missing"
        else:
            try:
                return self._in_use(await self._learned(spec, settings, purpose))
            except Exception as exc:  # every model problem falls back; the message is one line saying which
                reason = f"{spec}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else exc!r}"
                kind = _fallback_kind(exc)
        fallback = settings.fallback_policy
        log.warning("policy %s cannot run (%s); falling back to %s", spec, reason, fallback)
        self.metrics.policy_fallbacks.labels(spec, fallback, kind).inc()
        return self._in_use(baseline_policy(fallback, settings, risk, requested=spec, fallback_reason=reason))

    async def preload(self) -> str | None:
        """Load the registry's ``current`` model now (worker start-up, when ``TRADER_POLICY`` is a learned one).

        The first learned epoch then does not pay torch's import and the model read on the trading loop (~0.5 s of
        held GIL and several full collections, measured in bench_market_data), and the worker's start-up
        ``gc.freeze()`` (:func:`workers.worker.run_worker`) moves torch's objects out of the cyclic collector's reach.

        Returns:
            The loaded version, or None (no registry, no ``current``, no feature store, or the model cannot be
            loaded: logged; an epoch that asks for it falls back with its reason as usual). Never raises.
        """
        if self.registry is None or self.features is None:
            return None
        try:
            from rl.registry import ModelRegistry

            version = ModelRegistry(self.registry).resolve("rl:current")
            async with self._lock:
                if version not in self._loaded:
                    self._loaded[version] = await asyncio.to_thread(self._load, version)
            log.info("preloaded model %s (the registry's current)", version)
            return version
        except Exception as exc:  # start-up must not fail on a model: the epoch falls back and says why
            log.info("no model preloaded from %s: %s", self.registry, str(exc).splitlines()[0] if str(exc) else exc)
            return None

    def _in_use(self, live: LivePolicy) -> LivePolicy:
        self.metrics.policy_in_use.clear()
        self.metrics.policy_in_use.labels(live.info.requested, live.info.name).set(1)
        return live

    async def _learned(self, spec: str, settings: EpochSettings, purpose: str) -> LivePolicy:
        """Load (once) and wrap the model ``spec`` names; raises what the registry or the loader raised."""
        from rl.registry import ModelRegistry

        assert self.registry is not None
        registry = ModelRegistry(self.registry)
        version = registry.resolve(spec)  # re-reads the `current` pointer: hot reload between epochs
        async with self._lock:
            loaded = self._loaded.get(version)
            if loaded is None:
                loaded = await asyncio.to_thread(self._load, version)
                self._loaded[version] = loaded
                while len(self._loaded) > _CACHED_MODELS:
                    self._loaded.popitem(last=False)
                log.info("loaded model %s (feature version %d)", version, loaded.metadata.feature_version)
            self._loaded.move_to_end(version)
        key = (settings.policy_seed, purpose)
        policy = loaded.policies.get(key)
        if policy is None:
            from rl.inference import ModelPolicy

            policy = loaded.policies[key] = ModelPolicy(loaded.loaded, loaded.space, seed=settings.policy_seed)
        meta, env = loaded.metadata, loaded.env_config
        info = PolicyInUse(
            requested=spec,
            name=f"rl:{meta.version}",
            model_version=meta.version,
            feature_version=meta.feature_version,
            actions=list(meta.actions),
            decision_interval_ms=env.decision_interval_ms,
        )
        return LivePolicy(
            policy,
            loaded.space,
            info,
            interval_ms=env.decision_interval_ms,
            reference_capital_micro=env.initial_cash_cents * 10_000,
            position_scale_lots=int(Decimal(env.risk.max_position_contracts) * 100),
        )

    def _load(self, version: str) -> _Loaded:
        """Read, check and load one version (in a worker thread: torch's import and the zip read block)."""
        from rl.env import EnvConfig
        from rl.features import FEATURE_VERSION, N_FEATURES
        from rl.inference import limit_torch_threads
        from rl.registry import IncompatibleModelError, ModelRegistry

        limit_torch_threads(1)
        registry = ModelRegistry(self.registry or Path("."))
        meta = registry.metadata(version)
        try:
            space = ActionSpace(meta.actions)
        except ValueError as exc:
            raise IncompatibleModelError(f"model {version}: {exc}") from exc
        loaded = registry.load(version, feature_version=FEATURE_VERSION, n_features=N_FEATURES, actions=space.names)
        try:
            env = EnvConfig.model_validate(meta.env_config)
        except ValueError as exc:
            raise IncompatibleModelError(f"model {version}: its env_config does not validate: {exc}") from exc
        return _Loaded(loaded, meta, env, space)


class FeatureStore:
    """Per-market feature history fed by every book frame and trade of the worker's hub (module docstring).

    Args:
        hub: the worker's market-data hub (its frame listener is registered here; :meth:`close` removes it).

    Raises:
        ImportError: the RL extra (numpy) is not installed; the worker then runs without one.
    """

    def __init__(self, hub: MarketDataHub) -> None:
        from kalshi.models.ws import Trade
        from rl.features import MarketFeatureState

        self._state_type = MarketFeatureState
        self._trade_type = Trade
        self.hub = hub
        self.states: dict[str, Any] = {}
        # Tickers whose frames arrive without a definition in the hub, not to be warned about (again): markets
        # warned about once and markets just released (frames in flight before the unsubscription took effect).
        # Bounded (oldest forgotten first): a worker running for days sees an endless stream of tickers.
        self._quiet: OrderedDict[str, None] = OrderedDict()
        self._removers = [hub.add_frame_listener(self._on_frame), hub.add_release_listener(self.release)]

    def close(self) -> None:
        """Stop listening to the hub."""
        for remove in self._removers:
            remove()

    def release(self, ticker: str) -> None:
        """Forget ``ticker``'s feature history (the hub released the market: settled, closed or no longer followed).

        Called from the hub (:meth:`kalshi.ingest.MarketDataHub.release_markets`); a market followed again later
        starts a new history, as after a worker restart.
        """
        self.states.pop(ticker, None)
        self._hush(ticker)

    def _hush(self, ticker: str) -> None:
        self._quiet[ticker] = None
        self._quiet.move_to_end(ticker)
        if len(self._quiet) > _QUIET_TICKERS:
            self._quiet.popitem(last=False)

    def state(self, ticker: str) -> Any:
        """The :class:`rl.features.MarketFeatureState` of ``ticker``, or None when it has seen nothing yet."""
        return self.states.get(ticker)

    def _create(self, ticker: str) -> Any:
        market = self.hub.markets.get(ticker)
        if market is None or market.open_time is None or market.close_time is None:
            if ticker not in self._quiet:
                self._hush(ticker)
                log.warning("no market definition for %s yet: its feature history starts later", ticker)
            return None
        open_ms = int(market.open_time.timestamp() * 1000)
        close_ms = int(market.close_time.timestamp() * 1000)
        if close_ms <= open_ms:
            return None
        state = self.states[ticker] = self._state_type(
            open_ms=open_ms, close_ms=close_ms, reference_capital_micro=1, position_scale_lots=1
        )
        return state

    def _on_frame(self, event: Any) -> None:
        ticker = event.market_ticker
        state = self.states.get(ticker)
        if state is None:
            state = self._create(ticker)
            if state is None:
                return
        ts = event.ts_ms if event.ts_ms is not None else self.hub.exchange_ms
        if ts is None:
            return
        if type(event) is self._trade_type:
            state.on_trade(event.yes_price_cc, event.count_lots, event.taker_outcome_side, ts)
            return
        feed = self.hub.feed
        book = feed.book(ticker) if feed is not None else None
        if book is not None and book.trusted:
            state.on_book(book, ts)
