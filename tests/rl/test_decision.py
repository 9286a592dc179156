"""The decision pipeline (rl/decision/) against the trader's original pipeline (frozen in tests/rl/legacy_pipeline.py).

The proof phase B needed before it deleted the old code (rl/policy.py, rl/pretrade.py; the live epoch now runs
rl/decision), kept as the oracle: on the same inputs, the new package chooses the same
actions with the imbalance rule, builds the same orders and rejects with the same reasons, for every one of the
original five actions. Two differences are deliberate and asserted as such (rl/decision/checks.py): a sell of a
side not held is ``nothing_to_sell`` (the original said ``no_liquidity``), and the cash reserve uses Kalshi's fee
rounding (equal on whole-cent notionals, at most a cent cheaper otherwise).

Inputs are drawn from a seeded generator around the limits' edges (spreads at the cap, positions at the limit,
cash at the reserve, orders just inside and outside the throttle and the closing window).
"""

from __future__ import annotations

import random
import subprocess
import sys
from decimal import Decimal

import pytest

from kalshi.orderbook import OrderBook, TopOfBook
from models.fees import FeeSchedule
from models.trader import BookTop, ExitRules, RiskLimits, TradeAction
from rl.decision import (
    ActionSpace,
    ActionSpaceError,
    DecisionPipeline,
    Fill,
    HoldPolicy,
    ImbalancePolicy,
    Limits,
    Portfolio,
    RandomPolicy,
    RestingOrder,
    action_mask,
    baseline,
    check,
    intent_for,
    top_of_book,
)
from tests.rl import legacy_pipeline as pretrade
from tests.rl.legacy_pipeline import ImbalancePolicy as OldImbalance
from tests.rl.legacy_pipeline import build_observation

D = Decimal
TICKER = "KXTEST-1"
LEGACY = (TradeAction.BUY_YES, TradeAction.SELL_YES, TradeAction.BUY_NO, TradeAction.SELL_NO)


def _case(rng: random.Random) -> dict:
    risk = RiskLimits(
        order_size_contracts=D(rng.choice([1, 5, 10])),
        max_position_contracts=D(rng.choice([5, 10, 20])),
        max_open_positions=rng.choice([1, 2, 5]),
        max_spread_dollars=D(rng.choice(["0.01", "0.03", "0.05"])),
        per_market_throttle_ms=rng.choice([0, 250, 1000]),
        max_entry_price_dollars=D(rng.choice(["0.50", "0.90"])),
    )
    exits = ExitRules(market_closing_window_s=rng.choice([0.0, 300.0]), cash_reserve_cents=rng.choice([0, 10_000]))
    yes_bid = rng.choice([None, *range(1, 99)])
    spread = rng.choice([1, 2, 3, 5, 6, 20])
    no_bid = rng.choice([None, 100 - yes_bid - spread if yes_bid and yes_bid + spread < 100 else 50])
    if no_bid is not None and (no_bid <= 0 or (yes_bid is not None and yes_bid + no_bid >= 100)):
        no_bid = None
    book = BookTop(
        yes_bid_dollars=None if yes_bid is None else D(yes_bid) / 100,
        yes_bid_size=D(rng.randint(1, 400)) if yes_bid is not None else D(0),
        no_bid_dollars=None if no_bid is None else D(no_bid) / 100,
        no_bid_size=D(rng.randint(1, 400)) if no_bid is not None else D(0),
    )
    limit = int(risk.max_position_contracts)
    position = D(rng.choice([0, 0, 1, -1, limit, -limit, limit - 1, 3, -3]))
    others = {f"OTHER-{i}": D(rng.choice([0, 2, -2])) for i in range(rng.choice([0, 1, 4]))}
    now = 1_000_000
    throttle = risk.per_market_throttle_ms
    last = rng.choice([None, now - throttle, now - throttle + 1, now - 5_000])
    close_in_ms = rng.choice([None, 1_000, 299_999, 300_000, 600_000])
    return {
        "risk": risk,
        "exits": exits,
        "book": book,
        "position": position,
        "others": others,
        "balance_cents": rng.choice([0, 10_000, 10_050, 10_500, 12_000, 1_000_000]),
        "last": last,
        "now": now,
        "close_in_ms": close_in_ms,
        "errors": rng.choice([0, 0, 0, 5]),
        "group": rng.random() < 0.1,
        "age": rng.choice([0.0, 6_000.0]),
        "threshold": D(rng.choice(["0", "0.35", "0.5"])),
    }


def _old(c: dict):
    obs = build_observation(
        TICKER,
        c["book"],
        c["position"],
        c["balance_cents"],
        None if c["close_in_ms"] is None else c["close_in_ms"] / 1000,
        book_age_ms=c["age"],
    )
    state = pretrade.PretradeState(
        positions={TICKER: c["position"], **c["others"]},
        balance_cents=c["balance_cents"],
        last_order_ms={} if c["last"] is None else {TICKER: float(c["last"])},
        consecutive_errors=c["errors"],
        order_group_triggered=c["group"],
    )

    def run(action: TradeAction) -> tuple[pretrade.OrderIntent | None, str | None]:
        intent = pretrade.intent_for(action, obs, c["risk"])
        if intent is None:
            return None, "no_liquidity"
        reason = pretrade.check(
            intent, obs, state, c["risk"], c["exits"], float(c["now"]), max_consecutive_errors=5, max_book_age_ms=5_000
        )
        return intent, reason

    chosen = OldImbalance(c["threshold"], c["risk"].max_spread_dollars).select_action(obs)
    return obs, run, chosen


def _new(c: dict, space: ActionSpace):
    portfolio = Portfolio(cash_micro=c["balance_cents"] * 10_000, consecutive_errors=c["errors"])
    portfolio.order_group_triggered = c["group"]
    portfolio.market(TICKER).position_lots = int(c["position"] * 100)
    portfolio.market(TICKER).last_order_ms = c["last"]
    for ticker, pos in c["others"].items():
        portfolio.market(ticker).position_lots = int(pos * 100)
    limits = Limits.from_settings(c["risk"], c["exits"], max_consecutive_errors=5, max_book_age_ms=5_000)
    pipeline = DecisionPipeline(space, limits, portfolio)
    close = None if c["close_in_ms"] is None else c["now"] + c["close_in_ms"]
    ctx = pipeline.context(TICKER, top_of_book(c["book"]), c["now"], close, c["age"])
    return pipeline, ctx


@pytest.mark.parametrize("space", [ActionSpace.take_only(), ActionSpace.full()], ids=["take_only", "full"])
def test_new_pipeline_reproduces_the_original_checks_and_decisions(space: ActionSpace) -> None:
    rng = random.Random(20260811)
    compared = rejected = intended = renamed = 0
    reasons: set[str] = set()
    for _ in range(4_000):
        c = _case(rng)
        _, old_run, old_choice = _old(c)
        pipeline, ctx = _new(c, space)
        mask = pipeline.mask(ctx)
        for action in LEGACY:
            index = space.legacy_index(action)
            old_intent, old_reason = old_run(action)
            new = intent_for(space[index], ctx)
            assert new is not None  # only HOLD has no intent
            new_reason = new if isinstance(new, str) else check(new, ctx)
            held = (c["position"] if action == TradeAction.SELL_YES else -c["position"]) if "SELL" in action else None
            if old_reason == "no_liquidity" and new_reason == "nothing_to_sell":
                assert held is not None and held <= 0, c  # the one renamed reason: selling what is not held
                renamed += 1
            else:
                assert new_reason == old_reason, (action, c)
            assert mask[index] == (new_reason is None)
            if new_reason is None:
                assert old_intent is not None and not isinstance(new, str) and new is not None
                assert (new.side, new.action, new.count_contracts, new.price_dollars, new.reduce_only) == (
                    old_intent.side,
                    old_intent.action,
                    old_intent.count_contracts,
                    old_intent.price_dollars,
                    old_intent.reduce_only,
                )
                assert new.time_in_force == "immediate_or_cancel" and not new.post_only and new.replaces is None
                intended += 1
            else:
                reasons.add(new_reason)
                rejected += 1
            compared += 1
        # the imbalance rule chooses the same action, and the pipeline ends where the original did
        policy = ImbalancePolicy(space, c["threshold"], int(c["risk"].max_spread_dollars * 10_000))
        decision = pipeline.decide(policy, ctx)
        assert decision.name == ActionSpace.take_only().names[ActionSpace.take_only().legacy_index(old_choice)], c
        if old_choice != TradeAction.HOLD:
            _, old_reason = old_run(old_choice)
            assert decision.reject == old_reason or (old_reason, decision.reject) == ("no_liquidity", "nothing_to_sell")
            assert (decision.intent is None) == (old_reason is not None)
    assert compared == 16_000 and intended > 300 and rejected > 2_000 and renamed > 100, (intended, rejected, renamed)
    expected = {
        "no_liquidity", "nothing_to_sell", "circuit_open", "order_group_triggered", "market_unknown",
        "market_closing", "stale_book", "throttle", "spread", "price_cap", "position_limit",
        "max_open_positions", "cash_reserve",
    }  # fmt: skip
    assert expected <= reasons, expected - reasons


def test_cash_reserve_uses_kalshis_fee_rounding() -> None:
    """Whole-cent notional: the same cost as the original; sub-cent notional: at most one cent less."""
    risk = RiskLimits(order_size_contracts=D("2.5"))
    exits = ExitRules(market_closing_window_s=0, cash_reserve_cents=0)
    book = BookTop(yes_bid_dollars=D("0.36"), yes_bid_size=D(10), no_bid_dollars=D("0.63"), no_bid_size=D(10))
    # buy 2.5 YES at $0.37: notional $0.925, taker fee 0.07*2.5*.37*.63 = $0.0407925
    # original: 0.925 + ceil_cent(0.0408) = 0.975 -> ceil 98 cents; Kalshi: floor(-0.925 - 0.0408) = -0.97
    for cents, old_ok, new_ok in ((97, False, True), (98, True, True), (96, False, False)):
        c = {
            "risk": risk, "exits": exits, "book": book, "position": D(0), "others": {}, "balance_cents": cents,
            "last": None, "now": 10**6, "close_in_ms": 10**6, "errors": 0, "group": False, "age": 0.0,
            "threshold": D("0.35"),
        }  # fmt: skip
        _, old_run, _ = _old(c)
        _, ctx = _new(c, ActionSpace.take_only())
        assert (old_run(TradeAction.BUY_YES)[1] is None) == old_ok
        intent = intent_for(ActionSpace.take_only()[1], ctx)
        assert not isinstance(intent, str) and intent is not None
        assert (check(intent, ctx) is None) == new_ok


# -- MAKE actions, resting orders, bookkeeping ----------------------------------------------------------------------


def _pipeline(space: ActionSpace | None = None, **limits) -> tuple[DecisionPipeline, Portfolio]:
    portfolio = Portfolio(cash_micro=1_000 * 1_000_000)
    return DecisionPipeline(space or ActionSpace.full(), Limits(**limits), portfolio), portfolio


def _top(yes_bid: int, yes_ask: int, bid_lots: int = 1_000, ask_lots: int = 1_000) -> TopOfBook:
    book = OrderBook(TICKER)
    book.apply_snapshot([(yes_bid, bid_lots)], [(10_000 - yes_ask, ask_lots)])
    return book.top()


def test_make_orders_rest_at_the_touch_and_replace_the_markets_own_order() -> None:
    pipeline, portfolio = _pipeline(cash_reserve_micro=0)
    space = pipeline.space
    ctx = pipeline.context(TICKER, _top(4_200, 4_500), 0, 10**9)
    buy = pipeline.resolve(space.index("BUY_YES_MAKE"), ctx)
    assert buy.intent is not None
    assert (buy.intent.price_cc, buy.intent.post_only, buy.intent.time_in_force) == (4_200, True, "good_till_canceled")
    sell_no = intent_for(space[space.index("BUY_NO_MAKE")], ctx)
    assert not isinstance(sell_no, str) and sell_no is not None and sell_no.price_cc == 10_000 - 4_500
    portfolio.on_resting(TICKER, RestingOrder("o1", "yes", "buy", 4_200, 500, 0))
    later = pipeline.context(TICKER, _top(4_200, 4_500), 1_000, 10**9)
    mask = pipeline.mask(later)
    assert not mask[space.index("BUY_YES_MAKE")]  # the same order already rests there
    assert check(intent_for(space[space.index("BUY_YES_MAKE")], later), later) == "unchanged"  # type: ignore[arg-type]
    moved = pipeline.context(TICKER, _top(4_300, 4_500), 1_000, 10**9)
    again = pipeline.resolve(space.index("BUY_YES_MAKE"), moved)
    assert again.intent is not None and again.intent.replaces == "o1" and again.intent.price_cc == 4_300
    # a TAKE never replaces anything
    take = pipeline.resolve(space.index("BUY_NO_TAKE"), pipeline.context(TICKER, _top(4_300, 4_500), 5_000, 10**9))
    assert take.intent is not None and take.intent.replaces is None and take.intent.price_cc == 10_000 - 4_300


def test_the_resting_buy_holds_cash_back_unless_it_is_the_order_being_replaced() -> None:
    pipeline, portfolio = _pipeline(cash_reserve_micro=0)
    portfolio.cash_micro = 5 * 4_200 * 100 + 30_000  # $2.13: one 5-lot buy at $0.42 plus a little
    space = pipeline.space
    portfolio.on_resting(TICKER, RestingOrder("o1", "yes", "buy", 4_100, 500, 0))
    ctx = pipeline.context(TICKER, _top(4_200, 4_500), 0, 10**9)
    assert check(intent_for(space[space.index("BUY_YES_MAKE")], ctx), ctx) is None  # type: ignore[arg-type]
    assert check(intent_for(space[space.index("BUY_YES_TAKE")], ctx), ctx) == "cash_reserve"  # type: ignore[arg-type]


def test_throttle_and_closing_window_mask_everything_but_hold() -> None:
    pipeline, _ = _pipeline(cash_reserve_micro=0)
    ctx = pipeline.context(TICKER, _top(4_200, 4_500), 10_000, 10_000 + 400_000)
    assert pipeline.resolve(1, ctx).intent is not None  # BUY_YES_TAKE sent: the throttle starts
    assert pipeline.mask(pipeline.context(TICKER, _top(4_200, 4_500), 10_100, 410_000)) == (True,) + (False,) * 8
    late = pipeline.mask(pipeline.context(TICKER, _top(4_200, 4_500), 200_000, 410_000))  # 210 s before the close
    assert late == (True,) + (False,) * 8


def test_bookkeeping_follows_kalshis_net_position_model() -> None:
    portfolio = Portfolio(cash_micro=100 * 1_000_000)
    # buy 10 YES at $0.40 (taker, fee $0.17), then buy 4 NO at $0.55 (= sell 4 YES at $0.45): pairs redeem for $1
    portfolio.on_fill(Fill(TICKER, "bid", 1_000, 4_000, 170_000, True, "a"))
    state = portfolio.market(TICKER)
    assert (state.position_lots, state.cost_micro, portfolio.cash_micro) == (1_000, 4_000_000, 95_830_000)
    cash = portfolio.on_fill(Fill(TICKER, "ask", 400, 4_500, 80_000, True, "b"))
    assert cash == -400 * 5_500 + 400 * 10_000 - 80_000  # pays $2.20 for NO, redeems 4 pairs for $4.00
    assert (state.position_lots, state.cost_micro, state.realized_micro) == (600, 2_400_000, 200_000)
    assert state.fees_micro == 250_000
    assert portfolio.on_settlement(TICKER, "yes") == 6_000_000
    assert portfolio.cash_micro == 100_000_000 - 4_000_000 - 170_000 + 1_800_000 - 80_000 + 6_000_000
    assert state.position_lots == 0 and state.realized_micro == 200_000 + 6_000_000 - 2_400_000


def test_a_fill_of_the_resting_order_shrinks_it() -> None:
    portfolio = Portfolio(cash_micro=10**9)
    portfolio.on_resting(TICKER, RestingOrder("r", "no", "buy", 5_800, 500, 0))
    assert portfolio.free_cash_micro() == 10**9 - 5_800 * 500
    portfolio.on_fill(Fill(TICKER, "ask", 200, 4_200, 0, False, "r"))
    assert portfolio.market(TICKER).resting.remaining_lots == 300
    portfolio.on_fill(Fill(TICKER, "ask", 300, 4_200, 0, False, "r"))
    assert portfolio.market(TICKER).resting is None and portfolio.position_lots(TICKER) == -500


def test_baselines_and_action_spaces() -> None:
    full, take = ActionSpace.full(), ActionSpace.take_only()
    assert full.names[:5] == take.names == ("HOLD", "BUY_YES_TAKE", "SELL_YES_TAKE", "BUY_NO_TAKE", "SELL_NO_TAKE")
    assert [take.legacy_index(a) for a in TradeAction] == [0, 1, 2, 3, 4]
    with pytest.raises(ActionSpaceError):
        ActionSpace(["BUY_YES_TAKE", "HOLD"])
    with pytest.raises(ActionSpaceError):
        ActionSpace(["HOLD", "BUY_MAYBE"])
    with pytest.raises(ValueError, match="maker"):
        baseline("maker", take)  # the passive maker needs MAKE actions
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline("momentum", full)
    pipeline, _ = _pipeline(cash_reserve_micro=0)
    ctx = pipeline.context(TICKER, _top(4_200, 4_500), 0, 10**9)
    mask = pipeline.mask(ctx)
    assert pipeline.decide(HoldPolicy(full), ctx).name == "HOLD"
    picks = {RandomPolicy(full, seed).act(pipeline.observation(ctx), mask) for seed in range(40)}
    assert picks <= {i for i, ok in enumerate(mask) if ok} and len(picks) > 2
    assert action_mask(full, ctx)[0] is True
    longshot = baseline("longshot", full)
    cheap = pipeline.context(TICKER, _top(500, 800), 0, 10**9)  # YES is a longshot at an ask of 8 cents
    assert longshot.act(pipeline.observation(cheap), pipeline.mask(cheap)) in (0, full.index("BUY_NO_TAKE"))
    maker = baseline("maker", full)
    assert full[maker.act(pipeline.observation(ctx), mask)].style == "make"


def test_maker_fee_series_budget_the_maker_fee_for_make_buys() -> None:
    pipeline, portfolio = _pipeline(
        fee_schedule=FeeSchedule.for_series("quadratic_with_maker_fees"), cash_reserve_micro=0
    )
    # 5 YES at $0.42 as maker: $2.10 + 0.0175*5*.42*.58 = $0.0213 -> $2.13 (taker at $0.43 would need $2.24)
    portfolio.cash_micro = 2_130_000
    space = pipeline.space
    ctx = pipeline.context(TICKER, _top(4_200, 4_300), 0, 10**9)
    assert check(intent_for(space[space.index("BUY_YES_MAKE")], ctx), ctx) is None  # type: ignore[arg-type]
    assert check(intent_for(space[space.index("BUY_YES_TAKE")], ctx), ctx) == "cash_reserve"  # type: ignore[arg-type]
    portfolio.cash_micro -= 10_000
    assert check(intent_for(space[space.index("BUY_YES_MAKE")], ctx), ctx) == "cash_reserve"  # type: ignore[arg-type]


def test_the_pipeline_needs_neither_numpy_nor_temporal() -> None:
    code = "import sys, rl.decision\nprint(sorted(m for m in ('numpy', 'torch', 'temporalio') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_remembered_mask_always_equals_the_checks() -> None:
    """DecisionPipeline.mask remembers its last answer; along a random session it must equal action_mask."""
    rng = random.Random(5)
    pipeline, portfolio = _pipeline(cash_reserve_micro=50_000_000, max_position_lots=1_000)
    portfolio.cash_micro = 60_000_000
    close = 1_000_000
    now = 0
    checked = 0
    for _ in range(3_000):
        now += rng.choice([0, 50, 100, 400])
        bid = rng.choice([4_000, 4_100, 4_200])
        top = _top(bid, bid + rng.choice([100, 300, 600]), rng.choice([100, 500]), rng.choice([100, 500]))
        event = rng.random()
        if event < 0.05:
            portfolio.market(TICKER).position_lots = rng.choice([-500, 0, 500, 1_000])  # a market_positions message
        elif event < 0.10:
            portfolio.on_fill(Fill(TICKER, rng.choice(["bid", "ask"]), 100, bid, 10_000, True))
        elif event < 0.15:
            portfolio.on_resting(TICKER, rng.choice([None, RestingOrder("o", "yes", "buy", bid, 500, now)]))
        elif event < 0.18:
            portfolio.consecutive_errors = rng.choice([0, 5])
        elif event < 0.20:
            portfolio.on_order_sent(TICKER, now)
        elif event < 0.22:
            portfolio.market("OTHER").position_lots = rng.choice([0, 100])
        ctx = pipeline.context(TICKER, top, now, close if rng.random() < 0.95 else now + 1_000)
        assert pipeline.mask(ctx) == tuple(action_mask(pipeline.space, ctx))
        checked += 1
    assert checked == 3_000
