"""The simulator over real HTTP and the training environment fill the same orders identically on the same tape.

The environment trades a scripted sequence of TAKE and MAKE orders on a recorded gold market; the same orders are
then sent at the same tape instants to a real simulator server (REST, signed requests, replay clock moved with the
control API). Both must report the same fills (size, price, fee, taker/maker, direction, time) and end with the
same cash after settlement: one fill model, one fee model, by construction and by test.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from rl.decision import OrderIntent
from rl.env import EnvConfig, KalshiTapeEnv
from rl.tapes import default_cache_dir, load_markets
from simulator.timeutil import iso_ms
from tests.simulator.conftest import requires_tape, running
from tests.simulator.tape_oracle import DATA_DIR

pytestmark = requires_tape

MARKET = "KXGOLD15M-26AUG101800-00"
SCRIPT = {
    15: ("BUY_YES_TAKE",),
    40: ("BUY_NO_MAKE",),
    160: ("BUY_YES_MAKE",),
    420: ("SELL_YES_TAKE", "SELL_NO_TAKE"),
    600: ("BUY_NO_TAKE",),
    900: ("BUY_YES_MAKE",),
    1_300: ("SELL_YES_MAKE", "SELL_NO_MAKE", "BUY_NO_MAKE"),
}
"""Decision number -> actions (the first one allowed is taken, at that decision or the first later one allowing one)."""


class ScriptedEnv(KalshiTapeEnv):
    """The environment, keeping each order it sends and its episode (the engine's account) for the comparison."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[int, OrderIntent]] = []
        self.episode: Any = None

    def _execute(self, ep: Any, intent: OrderIntent) -> None:
        self.sent.append((ep.t, intent))
        self.episode = ep
        super()._execute(ep, intent)


def _run_env() -> tuple[ScriptedEnv, list[Any], int]:
    market = load_markets(DATA_DIR, [MARKET], cache_dir=default_cache_dir())
    env = ScriptedEnv(market, EnvConfig(), record=True, check_invariants=True)
    env.reset()
    pending = sorted(SCRIPT.items())
    step, done = 0, False
    while not done:
        action = 0
        if pending and step >= pending[0][0]:
            mask = env.action_masks()
            allowed = [env.space.index(name) for name in pending[0][1] if mask[env.space.index(name)]]
            if allowed:
                action = allowed[0]
                pending.pop(0)
        _, _, done, _, _ = env.step(action)
        step += 1
    assert not pending, f"the script could not place {pending}"
    account = env.episode.account
    return env, list(account.fills), int(account.cash * 100)


async def test_the_http_simulator_and_the_env_fill_the_same_orders_identically() -> None:
    env, env_fills, env_cash_cents = _run_env()
    assert len(env.sent) == len(SCRIPT)
    assert any(not f.is_taker for f in env_fills) and any(f.is_taker for f in env_fills), "want maker and taker fills"
    definition = env.markets[0].definition
    async with running() as sim:
        trader = await sim.trader(balance_cents=env.config.initial_cash_cents)
        resting: str | None = None
        for t, intent in env.sent:
            await sim.goto(iso_ms(t))
            if intent.replaces is not None:
                assert resting is not None
                r = await trader.delete(f"/portfolio/orders/{resting}")
                assert r.status_code == 200, r.text
                resting = None
            body = {
                "ticker": MARKET,
                "side": intent.side,
                "action": intent.action,
                "count_fp": str(intent.count_contracts),
                f"{intent.side}_price_dollars": str(intent.price_dollars),
                "time_in_force": intent.time_in_force,
                "post_only": intent.post_only,
                "reduce_only": intent.reduce_only,
                "client_order_id": uuid.uuid4().hex,
            }
            r = await trader.post("/portfolio/orders", json=body)
            assert r.status_code == 201, (intent, r.text)
            order = r.json()["order"]
            if order["status"] == "resting":
                resting = order["order_id"]
        await sim.goto(iso_ms(definition.settlement_ms + 2_000))
        r = await trader.get("/portfolio/fills", params={"ticker": MARKET, "limit": 1000})
        assert r.status_code == 200, r.text
        newest_first = r.json()["fills"]
        sim_fills = [f for _, f in sorted(enumerate(reversed(newest_first)), key=lambda x: (x[1]["ts_ms"], x[0]))]
        sim_cash = await trader.balance_cents()
        settlements = (await trader.get("/portfolio/settlements")).json()["settlements"]

    def env_row(f: Any) -> tuple[Any, ...]:
        return (f.book_side, f.side, f.action, f.count, f.yes_price, f.fee, f.is_taker)

    def sim_row(f: dict[str, Any]) -> tuple[Any, ...]:
        return (
            f["book_side"],
            f["side"],
            f["action"],
            Decimal(f["count_fp"]),
            Decimal(f["yes_price_dollars"]),
            Decimal(f["fee_cost"]),
            f["is_taker"],
        )

    assert [sim_row(f) for f in sim_fills] == [env_row(f) for f in env_fills]
    # the same instants: the simulator serves tape time shifted by one constant offset
    offsets = {f["ts_ms"] - e.ts_ms for f, e in zip(sim_fills, env_fills, strict=True)}
    assert len(offsets) == 1, offsets
    assert sim_cash == env_cash_cents
    record = env.last_episode
    assert record is not None
    assert sum(int(s["revenue"]) for s in settlements) == int(record.settlement_dollars * 100)
