"""The training environment: one recorded Kalshi market per episode, filled by the simulator's own engine.

``KalshiTapeEnv`` is a Gymnasium environment (``check_env`` clean) over decoded recorded markets
(:mod:`rl.tapes`: the shared gold tapes or any exported recording):

* **Episode** = one market, from its first frame to its close, then settlement at the recorded result ($1 per
  winning contract, kalshi-api.md §7); episodes never cross markets. ``reset`` draws markets from a seeded
  permutation (every market once per pass), or the one named in ``options={"market": ticker}``.
* **Fills** come from the simulator's engine, in-process (:class:`simulator.exchange.Exchange`: the very code the
  HTTP simulator runs): aggressive orders walk the book at VWAP within their limit, resting orders fill only when
  the tape trades through them behind the queue ahead, consumed tape size stays consumed, and every fill pays
  Kalshi's fees with its per-order accumulator (:mod:`models.fees`). The frames are the simulator's replay
  batches (trades before book frames inside one exchange millisecond).
* **Decision points**: after all frames of one exchange millisecond (never between a trade and the delta that
  removes its size) that the exchange shows (a public trade, or a change of the displayed book: a tape delta on
  liquidity our own orders already consumed changes nothing a trader sees, and the live loop, which decides on what
  the exchange publishes, gets no event there), at most one per ``decision_interval_ms`` of exchange time (default
  100 ms), from the open to the close. Every frame still updates the engine, the displayed book and the feature
  history. With ``skip_forced_holds`` (default) a decision point where the checks allow only HOLD (the throttle after
  an order, the closing window) is not shown to the policy: the environment moves on and the reward accrues.
* **Observation**: :func:`rl.features.observe` on the engine's displayed book (tape + own resting orders - consumed),
  kept as a :class:`kalshi.orderbook.OrderBook` (the live loop's book type) through the engine's display sink. The
  feature history is fed as the live loop feeds it: ``on_book`` after every change of the displayed book (one
  WebSocket delta live: tape frames, and our own orders taking or resting), ``on_trade`` for every public trade
  (the tape's, and our own fills, which the trade channel shows; the simulator prints them the same way).
* **Actions and masks**: the decision pipeline's (:mod:`rl.decision`): TAKE = immediate-or-cancel at the touch,
  MAKE = post-only at the touch replacing the market's own resting order; :meth:`KalshiTapeEnv.action_masks` runs
  the pre-trade checks of every action (MaskablePPO reads it). A masked action sent anyway (``check_env`` does) is
  rejected exactly as live: no order, the reason counted in ``rejects``.
* **Reward**: the change of ``V = cash + liquidation value of the position`` in dollars, where the liquidation value
  sells the held side into its displayed bids level by level (own resting orders excluded; size beyond the bids is
  worth 0) and cash has every fill's net fee taken out; at the close ``V = cash`` after the settlement payout. The
  sum of an episode's rewards is its net P&L. No shaping.
* **Determinism**: no clock and no randomness besides ``reset``'s seeded market order: the same seed and data give
  the same returns.

Bookkeeping is the pipeline's :class:`rl.decision.Portfolio`, fed by the engine's fills; with
``check_invariants`` the environment compares it with the engine's account after every step (cash to the
micro-dollar, the position to the lot) and raises :class:`EnvInvariantError` on any difference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Final, Literal

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from kalshi.orderbook import BookIntegrityError, OrderBook, PriceGrid
from models.fees import FeeSchedule
from models.trader import ExitRules, RiskLimits
from rl import evaluate as ev
from rl.decision import (
    ActionSpace,
    CheckContext,
    DecisionPipeline,
    Fill,
    Limits,
    Observation,
    OrderIntent,
    Portfolio,
    RestingOrder,
)
from rl.features import N_FEATURES, OBS_HIGH, OBS_LOW, MarketFeatureState, observe
from rl.features import RestingOrder as FeatureResting
from rl.tapes import KIND_DELTA, KIND_TRADE, MarketTape
from simulator.accounts import Account
from simulator.errors import ApiError
from simulator.events import EventBus
from simulator.exchange import Exchange
from simulator.orders import RESTING, book_side_of
from simulator.orders import Order as EngineOrder
from simulator.orders import OrderIntent as EngineIntent
from simulator.tape import Catalog

__all__ = ["EnvConfig", "EnvError", "EnvInvariantError", "EpisodeRecord", "KalshiTapeEnv"]

_CC: Final = 10_000
_MICRO: Final = 1_000_000
_SIDES: Final = ("yes", "no")
_TAKERS: Final = ("bid", "ask")
_ACCOUNT: Final = "rl-env"


class EnvError(RuntimeError):
    """The environment cannot continue: a book the tape makes impossible, or a call out of order."""


class EnvInvariantError(EnvError):
    """The pipeline's bookkeeping and the engine's account disagree (only raised with ``check_invariants``)."""


class EnvConfig(BaseModel):
    """What an action does in the environment; recorded in every trained model's metadata (``env_config``).

    Attributes:
        actions: the action names in index order (:class:`rl.decision.ActionSpace`; default all nine).
        risk: the pre-trade risk limits (order size, position limit, spread and price caps, throttle), as live.
        exits: the exit rules' closing window and cash reserve, as live.
        decision_interval_ms: at most one decision per this many exchange ms (0 = every distinct millisecond).
        initial_cash_cents: the account's cash at the start of each episode, cents.
        fee_type: the series' fee model (``quadratic``: Kalshi's default and the gold series'; or
            ``quadratic_with_maker_fees``).
        fee_multiplier: the series' ``fee_multiplier``.
        skip_forced_holds: do not show the policy decision points where only HOLD is allowed.

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: tuple[str, ...] = ActionSpace.full().names
    risk: RiskLimits = Field(default_factory=RiskLimits)
    exits: ExitRules = Field(default_factory=ExitRules)
    decision_interval_ms: int = Field(default=100, ge=0, le=3_600_000)
    initial_cash_cents: int = Field(default=100_000, ge=1)
    fee_type: Literal["quadratic", "quadratic_with_maker_fees"] = "quadratic"
    fee_multiplier: Decimal = Field(default=Decimal(1), ge=0, le=100)
    skip_forced_holds: bool = True

    def space(self) -> ActionSpace:
        """The action space."""
        return ActionSpace(self.actions)

    def fee_schedule(self) -> FeeSchedule:
        """The series' fee schedule."""
        return FeeSchedule.for_series(self.fee_type, self.fee_multiplier)

    def limits(self) -> Limits:
        """The pre-trade limits in integer units (:meth:`rl.decision.Limits.from_settings`)."""
        return Limits.from_settings(self.risk, self.exits, fee_schedule=self.fee_schedule())


@dataclass
class EpisodeRecord:
    """What happened in one episode, for the evaluation (:class:`rl.evaluate.MarketResult`).

    Attributes:
        market: the ticker; open_ms: its open time.
        fills: our fills in time order (a fill that closed an opposite position is recorded as a sell of the held
            side, so cash flows need no netting), with their net fees.
        settlement_dollars: the payout at settlement.
        pnl_path: ``(exchange ms, net P&L so far in dollars)`` after every step.
        actions: the policy's choices (decision points shown to it), by index.
        rejects: reject reasons of chosen actions that did not become orders, by reason.
        decisions: decision points shown to the policy; forced_holds: those skipped (only HOLD allowed).
        forced_hold_ms: the exchange times of those skipped points (with ``pnl_path``'s times, every point where
            the pipeline evaluated the checks: what the live loop's decision interval counts from).
        orders: every order the engine accepted, ``(exchange ms, intent)``, in time order.

    """

    market: str
    open_ms: int
    fills: list[ev.Fill] = field(default_factory=list)
    settlement_dollars: Decimal = Decimal(0)
    pnl_path: list[tuple[int, Decimal]] = field(default_factory=list)
    actions: Counter[int] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    decisions: int = 0
    forced_holds: int = 0
    forced_hold_ms: list[int] = field(default_factory=list)
    orders: list[tuple[int, OrderIntent]] = field(default_factory=list)

    def result(self, space: ActionSpace) -> ev.MarketResult:
        """The episode as an evaluation :class:`rl.evaluate.MarketResult`."""
        return ev.MarketResult(
            market=self.market,
            open_ms=self.open_ms,
            fills=tuple(self.fills),
            settlement_dollars=self.settlement_dollars,
            pnl_path=tuple(self.pnl_path),
            actions={space.names[i]: n for i, n in self.actions.items()},
            forced_hold_ms=tuple(self.forced_hold_ms),
        )


class _Episode:
    """The per-episode state (one market): engine, displayed book, bookkeeping, feature history, tape cursor."""

    __slots__ = (
        "account",
        "book",
        "close_ms",
        "columns",
        "exchange",
        "features",
        "fills_seen",
        "i",
        "n",
        "open",
        "open_ms",
        "orders",
        "pipeline",
        "portfolio",
        "record",
        "resting_order",
        "shown",
        "snapshotting",
        "start_value_micro",
        "t",
        "tape",
        "ticker",
        "value_micro",
    )

    account: Account
    book: OrderBook
    close_ms: int
    columns: tuple[list[int], list[int], list[int], list[int], list[int]]
    exchange: Exchange
    features: MarketFeatureState
    fills_seen: int
    i: int
    n: int
    open: bool
    open_ms: int
    orders: int
    pipeline: DecisionPipeline
    portfolio: Portfolio
    record: EpisodeRecord | None
    resting_order: EngineOrder | None
    shown: int
    snapshotting: bool
    start_value_micro: int
    t: int
    tape: MarketTape
    ticker: str
    value_micro: int


def _dollars(micro: int) -> Decimal:
    return Decimal(micro).scaleb(-6)


class KalshiTapeEnv(gym.Env[npt.NDArray[np.float32], np.int64]):
    """One recorded market per episode, filled by the simulator's engine (see the module docstring).

    Args:
        markets: the decoded markets to draw episodes from (:func:`rl.tapes.load_markets`).
        config: what actions do (:class:`EnvConfig`).
        record: keep an :class:`EpisodeRecord` of each episode (``last_episode``) for the evaluation.
        check_invariants: compare the bookkeeping with the engine's account after every step (tests).

    Raises:
        EnvError: no markets.

    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        markets: list[MarketTape],
        config: EnvConfig | None = None,
        *,
        record: bool = False,
        check_invariants: bool = False,
    ) -> None:
        if not markets:
            raise EnvError("the environment needs at least one market")
        self.markets = list(markets)
        self.config = config or EnvConfig()
        self.space = self.config.space()
        self.limits = self.config.limits()
        self.record = record
        self.check_invariants = check_invariants
        self.observation_space = gym.spaces.Box(OBS_LOW, OBS_HIGH, (N_FEATURES,), np.float32)
        self.action_space = gym.spaces.Discrete(len(self.space))
        self.last_episode: EpisodeRecord | None = None
        self._order: list[int] = []
        self._ep: _Episode | None = None
        self._ctx: CheckContext | None = None
        self._mask: Sequence[bool] = [True] + [False] * (len(self.space) - 1)
        self._interval = self.config.decision_interval_ms
        self._cash_micro = self.config.initial_cash_cents * 10_000

    # -- gymnasium API ---------------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
        """Start an episode on the next market of the seeded permutation, or ``options["market"]``.

        Raises:
            EnvError: an unknown market in ``options``, or a tape the engine cannot replay.

        """
        super().reset(seed=seed)
        if seed is not None:
            self._order = []
        wanted = (options or {}).get("market")
        if wanted is not None:
            index = next((i for i, m in enumerate(self.markets) if m.ticker == wanted), None)
            if index is None:
                raise EnvError(f"market {wanted!r} is not among this environment's {len(self.markets)} markets")
        else:
            if not self._order:
                self._order = [int(i) for i in self.np_random.permutation(len(self.markets))[::-1]]
            index = self._order.pop()
        self._start(self.markets[index])
        done, _ = self._next_decision(None)
        if done:
            raise EnvError(f"{self.markets[index].ticker}: the tape has no decision point before the close")
        return self._observe(), {"market": self.markets[index].ticker}

    def step(self, action: np.int64 | int) -> tuple[npt.NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Execute ``action`` at the current decision point, replay to the next one, and return the reward.

        Raises:
            EnvError: ``step`` before ``reset`` or after the episode ended; an impossible book.
            EnvInvariantError: with ``check_invariants``, bookkeeping that disagrees with the engine.

        """
        ep = self._ep
        ctx = self._ctx
        if ep is None or ctx is None:
            raise EnvError("call reset() before step() (and again after an episode ends)")
        action = int(action)
        decision = ep.pipeline.resolve(action, ctx)
        if ep.record is not None:
            ep.record.actions[action] += 1
            ep.record.decisions += 1
        info: dict[str, Any] = {}
        if decision.reject is not None:
            info["reject"] = decision.reject
            if ep.record is not None:
                ep.record.rejects[decision.reject] += 1
        elif decision.intent is not None:
            self._execute(ep, decision.intent)
        done, value = self._next_decision(ep.t)
        reward = (value - ep.value_micro) / _MICRO
        ep.value_micro = value
        if self.check_invariants:
            self._check(ep)
        if done:
            info.update(self._finish(ep))
            obs = self._last_obs
        else:
            obs = self._observe()
        return obs, reward, done, False, info

    def action_masks(self) -> npt.NDArray[np.bool_]:
        """The current decision point's action mask (sb3-contrib MaskablePPO's hook)."""
        return np.array(self._mask, dtype=bool)

    @property
    def record_so_far(self) -> EpisodeRecord | None:
        """The running episode's record so far (with ``record=True``), else the last finished one, else None."""
        ep = self._ep
        if ep is not None and ep.record is not None:
            return ep.record
        return self.last_episode

    @property
    def portfolio(self) -> Portfolio | None:
        """The running episode's bookkeeping (:class:`rl.decision.Portfolio`), or None between episodes."""
        return self._ep.portfolio if self._ep is not None else None

    def policy_observation(self, features: npt.NDArray[np.float32] | None = None) -> tuple[Observation, list[bool]]:
        """The current decision point as the pipeline's policies see it: ``(Observation, action mask)``.

        Args:
            features: the observation vector ``reset``/``step`` returned, for policies with ``needs_features``.

        Raises:
            EnvError: no decision point is pending (before ``reset`` or after the episode ended).

        """
        ep, ctx = self._ep, self._ctx
        if ep is None or ctx is None:
            raise EnvError("no decision point is pending: call reset() first")
        return ep.pipeline.observation(ctx, features), list(self._mask)

    # -- episode mechanics -----------------------------------------------------------------------------------

    def _start(self, tape: MarketTape) -> None:
        d = tape.definition
        ticker = d.ticker
        catalog = Catalog("tape", f"episode {ticker}", {}, {}, {ticker: d})
        start = int(tape.times[0])
        exchange = Exchange(catalog, EventBus(), offset_ms=0, start_ms=start, fee_schedule=self.limits.fee_schedule)
        exchange.init_lifecycle()
        book = OrderBook(ticker, _grid(d))
        book.apply_snapshot((), (), start)
        ep = _Episode()
        ep.shown = 0
        ep.snapshotting = False

        def show(side: Any, price_cc: int, delta_lots: int) -> None:
            # one displayed change = one WebSocket delta live: the feature history sees each, as the live loop does
            # (a recorded snapshot, one frame on Kalshi's feed, is seen once, after it is applied: see _replay)
            book.apply_delta(side, price_cc, delta_lots)
            ep.shown += 1
            if not ep.snapshotting:
                on_book(book, exchange.now_ms)

        exchange.markets[ticker].book.sink = show
        ep.tape = tape
        ep.ticker = ticker
        ep.exchange = exchange
        ep.account = exchange.create_account(_ACCOUNT, self.config.initial_cash_cents)
        ep.book = book
        ep.portfolio = Portfolio(cash_micro=self._cash_micro)
        ep.pipeline = DecisionPipeline(self.space, self.limits, ep.portfolio)
        ep.features = MarketFeatureState(
            open_ms=d.open_ms,
            close_ms=d.close_ms,
            reference_capital_micro=self._cash_micro,
            position_scale_lots=self.limits.max_position_lots,
        )
        on_book = ep.features.on_book
        ep.columns = (tape.times.tolist(), tape.kinds.tolist(), tape.a.tolist(), tape.b.tolist(), tape.c.tolist())
        ep.i = 0
        ep.n = len(tape)
        ep.open_ms = d.open_ms
        ep.close_ms = d.close_ms
        ep.open = exchange.markets[ticker].status == "active"
        ep.t = start
        ep.fills_seen = 0
        ep.orders = 0
        ep.resting_order = None
        ep.value_micro = ep.start_value_micro = self._cash_micro
        ep.record = EpisodeRecord(ticker, d.open_ms) if self.record else None
        self._ep = ep
        self._ctx = None

    def _replay(self, ep: _Episode, target_ms: int | None) -> bool:
        """Apply whole exchange-millisecond batches until one ends at or after ``target_ms``; False at the close."""
        times, kinds, col_a, col_b, col_c = ep.columns
        i, n, close = ep.i, ep.n, ep.close_ms
        exchange = ep.exchange
        ticker = ep.ticker
        apply_delta = exchange.apply_delta
        apply_trade = exchange.apply_trade
        on_trade = ep.features.on_trade
        fills = ep.account.fills
        try:
            while i < n:
                t = times[i]
                if t >= close:
                    break
                exchange.now_ms = t
                if not ep.open and t >= ep.open_ms:
                    exchange.open_market(ticker)
                    ep.open = True
                shown = ep.shown
                traded = False
                while True:
                    kind = kinds[i]
                    if kind == KIND_DELTA:
                        apply_delta(ticker, _SIDES[col_a[i]], col_b[i], col_c[i])
                    elif kind == KIND_TRADE:
                        traded = True
                        taker = col_a[i]
                        apply_trade(ticker, col_b[i], col_c[i], _TAKERS[taker])
                        on_trade(col_b[i], col_c[i], "yes" if taker == 0 else "no", t)
                    else:
                        yes, no = ep.tape.snapshot(col_a[i])
                        ep.snapshotting = True
                        try:
                            exchange.apply_snapshot(ticker, yes, no)
                        finally:
                            ep.snapshotting = False
                        ep.features.on_book(ep.book, t)
                    i += 1
                    if i >= n or times[i] != t:
                        break
                if len(fills) != ep.fills_seen:
                    self._absorb(ep)
                if ep.open and (target_ms is None or t >= target_ms) and (traded or ep.shown != shown):
                    ep.i = i
                    ep.t = t
                    return True
        except BookIntegrityError as exc:
            raise EnvError(f"{ticker}: the displayed book became impossible at frame {i}: {exc}") from exc
        ep.i = i
        return False

    def _next_decision(self, after_ms: int | None) -> tuple[bool, int]:
        """Replay to the next decision point shown to the policy; return ``(episode over, V in micro-dollars)``."""
        ep = self._ep
        assert ep is not None
        target = None if after_ms is None else after_ms + max(self._interval, 1)
        while True:
            if not self._replay(ep, target):
                self._settle(ep)
                self._ctx = None
                self._mask = [True] + [False] * (len(self.space) - 1)
                return True, ep.portfolio.cash_micro
            ctx = ep.pipeline.context(ep.ticker, ep.book.top(), ep.t, ep.close_ms)
            mask = ep.pipeline.mask(ctx)
            if self.config.skip_forced_holds and not any(mask[1:]):
                if ep.record is not None:
                    ep.record.forced_holds += 1
                    ep.record.forced_hold_ms.append(ep.t)
                target = ep.t + max(self._interval, 1)
                continue
            self._ctx = ctx
            self._mask = mask
            value = ep.portfolio.cash_micro + self._liquidation(ep)
            if ep.record is not None:
                ep.record.pnl_path.append((ep.t, _dollars(value - ep.start_value_micro)))
            return False, value

    def _observe(self) -> npt.NDArray[np.float32]:
        ep = self._ep
        assert ep is not None
        obs = observe(ep.book, ep.features, ep.t)
        self._last_obs = obs
        return obs

    def _liquidation(self, ep: _Episode) -> int:
        """Proceeds of selling the position into the displayed bids (own resting orders excluded), micro-dollars."""
        pos = ep.portfolio.position_lots(ep.ticker)
        if not pos:
            return 0
        held: Literal["yes", "no"] = "yes" if pos > 0 else "no"
        lots = pos if pos > 0 else -pos
        prices, sizes = ep.book.bid_view(held)
        resting = ep.portfolio.market(ep.ticker).resting
        own_price, own_lots = -1, 0
        if resting is not None:
            # a buy of s rests as an s bid at its price; a sell of s as a bid of the other side at 1 - price
            rest_side = resting.side if resting.action == "buy" else ("no" if resting.side == "yes" else "yes")
            if rest_side == held:
                own_price = resting.price_cc if resting.action == "buy" else _CC - resting.price_cc
                own_lots = resting.remaining_lots
        total = 0
        for k in range(len(prices) - 1, -1, -1):
            price = prices[k]
            take = sizes[price] - (own_lots if price == own_price else 0)
            if take <= 0:
                continue
            if take >= lots:
                return total + lots * price
            total += take * price
            lots -= take
        return total

    # -- orders and fills ------------------------------------------------------------------------------------

    def _execute(self, ep: _Episode, intent: OrderIntent) -> None:
        exchange, account = ep.exchange, ep.account
        if intent.replaces is not None and ep.resting_order is not None:
            try:
                exchange.cancel_order(account, ep.resting_order.order_id)
            except ApiError as exc:
                self._reject(ep, f"exchange:{exc.code}")
                return
            ep.portfolio.on_order_done(ep.ticker, ep.resting_order.order_id)
            ep.resting_order = None
            self._sync_features(ep)
        ep.orders += 1
        yes_cc = intent.price_cc if intent.side == "yes" else _CC - intent.price_cc
        order_intent = EngineIntent(
            ticker=ep.ticker,
            client_order_id=f"env-{ep.orders}",
            book_side=book_side_of(intent.side, intent.action),
            yes_price=Decimal(yes_cc).scaleb(-4),
            count=intent.count_contracts,
            side=intent.side,
            action=intent.action,
            time_in_force=intent.time_in_force,
            self_trade_prevention_type="taker_at_cross",
            api="v1",
            post_only=intent.post_only,
            reduce_only=intent.reduce_only,
        )
        try:
            order = exchange.place_order(account, order_intent)
        except ApiError as exc:
            self._reject(ep, f"exchange:{exc.code}")
            return
        if ep.record is not None:
            ep.record.orders.append((ep.t, intent))
        if order.status == RESTING and order.remaining_lots > 0:
            ep.resting_order = order
            ep.portfolio.on_resting(
                ep.ticker,
                RestingOrder(order.order_id, intent.side, intent.action, intent.price_cc, order.remaining_lots, ep.t),
            )
        if len(account.fills) != ep.fills_seen:
            self._absorb(ep)
        else:
            self._sync_features(ep)

    def _reject(self, ep: _Episode, reason: str) -> None:
        if ep.record is not None:
            ep.record.rejects[reason] += 1

    def _absorb(self, ep: _Episode) -> None:
        """Feed the engine's new fills of our orders to the bookkeeping, the feature state and the record."""
        fills = ep.account.fills
        portfolio = ep.portfolio
        for record in fills[ep.fills_seen :]:
            lots = int(record.count * 100)
            yes_cc = int(record.yes_price * _CC)
            fee = int(record.fee * _MICRO)
            before = portfolio.position_lots(ep.ticker)
            bid = record.book_side == "bid"
            portfolio.on_fill(
                Fill(
                    ep.ticker,
                    "bid" if bid else "ask",
                    lots,
                    yes_cc,
                    fee,
                    record.is_taker,
                    record.order_id,
                    record.ts_ms,
                )
            )
            # our fill prints a public trade the live trade channel shows (the taker bought YES on a bid fill when we
            # took, on an ask fill when we made)
            ep.features.on_trade(yes_cc, lots, "yes" if bid == record.is_taker else "no", record.ts_ms)
            if ep.record is not None:
                ep.record.fills.extend(_normalised(bid, lots, yes_cc, fee, record.is_taker, before, record.ts_ms))
        ep.fills_seen = len(fills)
        order = ep.resting_order
        if order is not None:
            if order.status != RESTING or order.remaining_lots <= 0:
                portfolio.on_order_done(ep.ticker, order.order_id)
                ep.resting_order = None
            else:
                # the engine shrinks a resting reduce-only order when the position shrinks (the live loop hears it on
                # the user_orders channel)
                mine = portfolio.market(ep.ticker).resting
                if mine is not None and mine.remaining_lots != order.remaining_lots:
                    portfolio.on_resting(ep.ticker, replace(mine, remaining_lots=order.remaining_lots))
        self._sync_features(ep)

    def _sync_features(self, ep: _Episode) -> None:
        state = ep.portfolio.market(ep.ticker)
        ep.features.set_portfolio(
            position_lots=state.position_lots, cost_micro=state.cost_micro, cash_micro=ep.portfolio.free_cash_micro()
        )
        r = state.resting
        ep.features.resting = (
            None if r is None else FeatureResting(r.side, r.action, r.price_cc, r.remaining_lots, r.placed_ms)
        )

    def _settle(self, ep: _Episode) -> None:
        """The close: the engine sweeps resting orders, determines and pays; the bookkeeping settles the same way."""
        exchange = ep.exchange
        exchange.now_ms = max(ep.t, ep.close_ms)
        ep.t = exchange.now_ms
        exchange.close_market(ep.ticker)
        if ep.resting_order is not None:
            ep.portfolio.on_order_done(ep.ticker, ep.resting_order.order_id)
            ep.resting_order = None
        exchange.determine_market(ep.ticker)
        exchange.finalize_market(ep.ticker)
        result = ep.tape.result
        if result not in ("yes", "no"):
            raise EnvError(f"{ep.ticker}: recorded result {result!r} cannot settle")
        payout = ep.portfolio.on_settlement(ep.ticker, "yes" if result == "yes" else "no")
        if ep.record is not None:
            ep.record.settlement_dollars = _dollars(payout)
            ep.record.pnl_path.append((ep.t, _dollars(ep.portfolio.cash_micro - ep.start_value_micro)))
        if self.check_invariants:
            self._check(ep)

    def _finish(self, ep: _Episode) -> dict[str, Any]:
        net = ep.portfolio.cash_micro - ep.start_value_micro
        state = ep.portfolio.market(ep.ticker)
        if ep.record is not None:
            self.last_episode = ep.record
        self._ep = None
        return {
            "market": ep.ticker,
            "net_pnl_dollars": net / _MICRO,
            "fees_dollars": state.fees_micro / _MICRO,
            "orders": ep.orders,
            "fills": ep.fills_seen,
        }

    def _check(self, ep: _Episode) -> None:
        account = ep.account
        cash = int(account.cash * _MICRO)
        pos = account.positions.get(ep.ticker)
        lots = int(pos.position * 100) if pos is not None else 0
        mine = ep.portfolio.market(ep.ticker)
        if cash != ep.portfolio.cash_micro or lots != mine.position_lots:
            raise EnvInvariantError(
                f"{ep.ticker} at {ep.t}: engine cash {cash} micro-$ / position {lots} lots, bookkeeping "
                f"{ep.portfolio.cash_micro} / {mine.position_lots}"
            )
        if pos is not None and int(pos.exposure * _MICRO) != mine.cost_micro:
            raise EnvInvariantError(
                f"{ep.ticker} at {ep.t}: engine cost basis {pos.exposure}, bookkeeping {mine.cost_micro} micro-$"
            )


def _grid(definition: Any) -> PriceGrid:
    """The market's tick grid for the displayed book: its standard structure, else its ``price_ranges``."""
    try:
        return PriceGrid.from_structure(definition.price_level_structure)
    except ValueError:
        ranges = [{"start": str(r.start), "end": str(r.end), "step": str(r.step)} for r in definition.price_ranges]
        return PriceGrid.from_price_ranges(ranges, definition.price_level_structure)


def _normalised(
    buy_yes: bool, lots: int, yes_cc: int, fee: int, is_taker: bool, before: int, ts_ms: int
) -> list[ev.Fill]:
    """A fill as sells of the held side (the part that closed it) and buys (the rest): cash flows without netting."""
    held_opposite = -before if buy_yes else before
    closing = min(lots, held_opposite) if held_opposite > 0 else 0
    out = []
    if closing:
        # buying YES while holding NO = selling NO at 1 - y; buying NO while holding YES = selling YES at y
        side: Literal["yes", "no"] = "no" if buy_yes else "yes"
        price = _CC - yes_cc if buy_yes else yes_cc
        count = Decimal(closing).scaleb(-2)
        out.append(ev.Fill(ts_ms, side, "sell", count, Decimal(price).scaleb(-4), _dollars(fee), is_taker))
        fee = 0
    if lots - closing:
        side = "yes" if buy_yes else "no"
        price = yes_cc if buy_yes else _CC - yes_cc
        count = Decimal(lots - closing).scaleb(-2)
        out.append(ev.Fill(ts_ms, side, "buy", count, Decimal(price).scaleb(-4), _dollars(fee), is_taker))
    return out
