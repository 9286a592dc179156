"""Auth, public market data, the order book against the tape, pagination, discovery (real HTTP)."""

from __future__ import annotations

import email.utils
import time
from decimal import Decimal

import httpx

from simulator.timeutil import parse_iso_ms
from tests.simulator import tape_oracle
from tests.simulator.conftest import PREFIX, private_key, public_pem, requires_tape, running, sign_headers

pytestmark = requires_tape

GOLD = "KXGOLD15M"
_AUTH_FIELDS = {
    "code": "authentication_error",
    "message": "authentication_error",
    "details": "INCORRECT_API_KEY_SIGNATURE",
}
AUTH_BODY_SIG = {**_AUTH_FIELDS, "error": _AUTH_FIELDS}


async def test_auth_good_bad_unknown_stale_and_public_unsigned() -> None:
    async with running() as sim:
        trader = await sim.trader()
        path = PREFIX + "/portfolio/balance"
        ok = await sim.http.get(path, headers=sign_headers(trader.key_id, trader.key, "GET", path))
        assert ok.status_code == 200
        assert ok.json()["balance"] == 1_000_000
        assert ok.json()["balance_dollars"] == "10000.0000"

        signed_other_path = sign_headers(trader.key_id, trader.key, "GET", PREFIX + "/portfolio/positions")
        bad = await sim.http.get(path, headers=signed_other_path)
        assert bad.status_code == 401
        assert bad.json() == AUTH_BODY_SIG

        wrong_key = sign_headers(trader.key_id, private_key(1), "GET", path)
        assert (await sim.http.get(path, headers=wrong_key)).json() == AUTH_BODY_SIG

        unknown = await sim.http.get(path, headers=sign_headers("nobody", trader.key, "GET", path))
        assert unknown.status_code == 401
        assert unknown.json()["error"]["details"] == "UNKNOWN_API_KEY"

        stale_ts = time.time_ns() // 1_000_000 - 31_000
        stale = await sim.http.get(path, headers=sign_headers(trader.key_id, trader.key, "GET", path, stale_ts))
        assert stale.status_code == 401
        assert stale.json()["error"]["details"] == "STALE_TIMESTAMP"

        missing = await sim.http.get(path)
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "authentication_error"

        # the query string is not signed
        with_query = await sim.http.get(
            PREFIX + "/portfolio/orders",
            params={"limit": 5},
            headers=sign_headers(trader.key_id, trader.key, "GET", PREFIX + "/portfolio/orders"),
        )
        assert with_query.status_code == 200

        # public market data: no auth needed, a bad signature is ignored there
        assert (await sim.http.get(PREFIX + "/markets")).status_code == 200
        assert (await sim.http.get(PREFIX + "/exchange/status", headers=signed_other_path)).status_code == 200


async def test_keys_dir_registers_accounts(tmp_path) -> None:
    (tmp_path / "desk-1.pub.pem").write_text(public_pem(private_key(0)))
    async with running(keys_dir=tmp_path) as sim:
        path = PREFIX + "/portfolio/balance"
        r = await sim.http.get(path, headers=sign_headers("desk-1", private_key(0), "GET", path))
        assert r.status_code == 200
        assert r.json()["balance"] == 1_000_000


async def test_markets_superset_fields_and_date_header() -> None:
    async with running() as sim:
        r = await sim.http.get(PREFIX + "/markets", params={"series_ticker": GOLD, "status": "open"})
        assert r.status_code == 200
        markets = r.json()["markets"]
        assert [m["ticker"] for m in markets] == ["KXGOLD15M-26AUG101800-00"]
        m = markets[0]
        for key in (
            "yes_bid",
            "yes_bid_dollars",
            "yes_ask",
            "no_bid",
            "no_ask",
            "last_price",
            "volume",
            "volume_fp",
            "open_interest",
            "notional_value",
            "previous_yes_bid",
            "liquidity",
            "response_price_units",
            "tick_size",
            "risk_limit_cents",
            "category",
            "price_ranges",
            "settlement_timer_seconds",
            "expiration_time",
            "latest_expiration_time",
            "rules_primary",
        ):
            assert key in m, key
        assert m["status"] == "active"
        assert m["result"] == ""
        clock = (await sim.ctl("GET", "/clock")).json()
        # times are shifted: the open was 60 s before the served "now"
        assert parse_iso_ms(m["open_time"]) == clock["now_ms"] - 60_000
        date = email.utils.parsedate_to_datetime(r.headers["Date"])
        assert int(date.timestamp()) == clock["now_ms"] // 1000
        one = await sim.http.get(f"{PREFIX}/markets/{m['ticker']}")
        assert one.json()["market"]["ticker"] == m["ticker"]
        missing = await sim.http.get(f"{PREFIX}/markets/NOPE-1")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        event = (await sim.http.get(f"{PREFIX}/events/{m['event_ticker']}")).json()
        assert event["event"]["series_ticker"] == GOLD
        assert [x["ticker"] for x in event["markets"]] == [m["ticker"]]
        series = (await sim.http.get(f"{PREFIX}/series/{GOLD}")).json()["series"]
        assert series["ticker"] == GOLD
        status = (await sim.http.get(PREFIX + "/exchange/status")).json()
        assert status == {"exchange_active": True, "trading_active": True, "exchange_estimated_resume_time": None}


def _assert_sane(book: dict[str, dict[Decimal, Decimal]]) -> None:
    for side in ("yes", "no"):
        assert all(size > 0 for size in book[side].values()), book
    if book["yes"] and book["no"]:
        assert max(book["yes"]) + max(book["no"]) < 1, "crossed book"


async def test_orderbook_equals_tape_fold_across_a_market_including_resnapshot() -> None:
    ticker = "KXGOLD15M-26AUG102030-30"  # re-snapshot (reconnect) at 00:16:45.236Z
    async with running(start="2026-08-11T00:15:00Z") as sim:
        instants = [
            "2026-08-11T00:15:40Z",
            "2026-08-11T00:16:45.100Z",
            "2026-08-11T00:16:45.300Z",
            "2026-08-11T00:20:00.500Z",
            "2026-08-11T00:25:31Z",
            "2026-08-11T00:29:59.999Z",
        ]
        for instant in instants:
            await sim.goto(instant)
            served = await sim.book(ticker)
            expected = tape_oracle.fold(ticker, parse_iso_ms(instant))
            assert served == expected, instant
            _assert_sane(served)
            assert served["yes"] or served["no"]
        r = await sim.http.get(f"{PREFIX}/markets/{ticker}/orderbook", params={"depth": 2})
        body = r.json()
        assert len(body["orderbook_fp"]["yes_dollars"]) == 2
        yes = body["orderbook_fp"]["yes_dollars"]
        assert Decimal(yes[0][0]) < Decimal(yes[1][0]), "ascending, best bid last"
        legacy = body["orderbook"]
        assert legacy["yes_dollars"] == yes
        assert all(isinstance(p, int) and isinstance(c, int) for p, c in legacy["yes"])
        # the empty snapshot at close empties the book
        await sim.goto("2026-08-11T00:30:05Z")
        assert await sim.book(ticker) == {"yes": {}, "no": {}}


async def test_orderbook_multi_and_trades_feed() -> None:
    async with running() as sim:
        await sim.advance(120)
        t = "KXGOLD15M-26AUG101800-00"
        r = await sim.http.get(PREFIX + "/markets/orderbooks", params=[("tickers", t), ("tickers", t)])
        assert r.status_code == 200
        assert [b["ticker"] for b in r.json()["orderbooks"]] == [t, t]
        trades = (await sim.http.get(PREFIX + "/markets/trades", params={"ticker": t, "limit": 5})).json()
        assert len(trades["trades"]) == 5 and trades["cursor"]
        first = trades["trades"][0]
        for key in (
            "trade_id",
            "count",
            "count_fp",
            "yes_price",
            "no_price",
            "yes_price_dollars",
            "taker_side",
            "taker_outcome_side",
            "taker_book_side",
            "created_time",
            "price",
        ):
            assert key in first
        times = [parse_iso_ms(x["created_time"]) for x in trades["trades"]]
        assert times == sorted(times, reverse=True)
        nxt = (
            await sim.http.get(PREFIX + "/markets/trades", params={"ticker": t, "limit": 5, "cursor": trades["cursor"]})
        ).json()
        assert not {x["trade_id"] for x in nxt["trades"]} & {x["trade_id"] for x in trades["trades"]}


async def test_pagination_cursors_cover_everything_once() -> None:
    async with running() as sim:
        seen: list[str] = []
        cursor = ""
        while True:
            params: dict[str, str | int] = {"limit": 5}
            if cursor:
                params["cursor"] = cursor
            page = (await sim.http.get(PREFIX + "/markets", params=params)).json()
            seen.extend(m["ticker"] for m in page["markets"])
            cursor = page["cursor"]
            if not cursor:
                break
        assert len(seen) == 34 == len(set(seen))
        bad = await sim.http.get(PREFIX + "/markets", params={"cursor": "garbage!"})
        assert bad.status_code == 400
        too_big = await sim.http.get(PREFIX + "/markets", params={"limit": 1001})
        assert too_big.status_code == 400


async def test_discovery_by_series_follows_the_clock() -> None:
    async with running() as sim:

        async def open_tickers() -> list[str]:
            r = await sim.http.get(PREFIX + "/markets", params={"series_ticker": GOLD, "status": "open"})
            return [m["ticker"] for m in r.json()["markets"]]

        async def count(status: str) -> int:
            r = await sim.http.get(PREFIX + "/markets", params={"series_ticker": GOLD, "status": status, "limit": 1000})
            return len(r.json()["markets"])

        assert await open_tickers() == ["KXGOLD15M-26AUG101800-00"]
        settled_before = await count("settled")
        unopened_before = await count("unopened")
        await sim.goto("2026-08-10T22:00:30Z")
        assert await open_tickers() == ["KXGOLD15M-26AUG101815-15"]
        await sim.goto("2026-08-10T22:15:30Z")
        assert await open_tickers() == ["KXGOLD15M-26AUG101830-30"]
        assert await count("settled") == settled_before + 2
        assert await count("unopened") == unopened_before - 2
        r = await sim.http.get(PREFIX + "/markets", params={"status": "bogus"})
        assert r.status_code == 400


async def test_malformed_json_gets_flat_bad_request() -> None:
    async with running() as sim:
        trader = await sim.trader()
        r = await trader.post("/portfolio/orders", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        body = r.json()
        assert body["code"] == "bad_request" and "error" not in body


async def test_unknown_paths_get_json_404() -> None:
    async with running() as sim, httpx.AsyncClient(base_url=sim.server.base_url) as http:
        for path in (PREFIX + "/markets/x/y/z", "/nothing", "/sim/v1/nothing"):
            r = await http.get(path)
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
