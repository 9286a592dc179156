"""Kalshi's tapered deci-cent grid end to end: market metadata, books, orders on and off the grid, fees.

``tapered_deci_cent`` (kalshi-api.md §4) steps $0.001 below $0.10 and above $0.90 and $0.01 in between; the
bitcoin 15-minute markets trade on it. No recording of such a market is available here, so the simulator's
synthetic markets are generated on that grid (``synthetic_grid="tapered_deci_cent"``) and the market of the
test is taken to a moment where it trades in the deci-cent band: YES around $0.05, NO around $0.94. The
project's own client (:mod:`kalshi.rest`, :mod:`kalshi.feed`) talks to the simulator over real HTTP and
WebSocket.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from kalshi.errors import KalshiError
from kalshi.feed import MarketDataFeed
from kalshi.models import CreateOrderRequest
from kalshi.orderbook import BookStore, OffTickPriceError, PriceGrid
from kalshi.rest import KalshiRestClient
from models.fees import single_fill_fee_dollars
from tests.kalshi.test_ws_client import TIMEOUT, key_pair, make_client, register
from tests.simulator.conftest import PREFIX, running, sign_headers

D = Decimal
MARKET = "KXSYNTH15M-26JAN050015-15"
IN_DECI_BAND = "2026-01-05T00:09:30Z"  # the first synthetic market (seed 0) trades near $0.05 / $0.94 here
SIM = {"synthetic": True, "synthetic_grid": "tapered_deci_cent", "synthetic_markets": 2}


def sub_cent(price: Decimal) -> bool:
    return price % D("0.01") != 0


async def test_tapered_grid_books_orders_rejects_and_fees() -> None:
    async with running(**SIM) as sim:
        await sim.goto(IN_DECI_BAND)
        maker_signer = await register(sim, "maker", 0)
        taker_signer = await register(sim, "taker", 1)
        async with (
            KalshiRestClient(sim.server.rest_url, maker_signer) as maker,
            KalshiRestClient(sim.server.rest_url, taker_signer) as taker,
            make_client(sim, taker_signer) as ws,
        ):
            # -- the market says which grid it trades on, and the client builds the same one
            market = await taker.get_market(MARKET)
            assert market.price_level_structure == "tapered_deci_cent"
            assert [(r.start_dollars, r.end_dollars, r.step_dollars) for r in market.price_ranges] == [
                (D("0"), D("0.1"), D("0.001")),
                (D("0.1"), D("0.9"), D("0.01")),
                (D("0.9"), D("1"), D("0.001")),
            ]
            assert PriceGrid.from_market(market) is PriceGrid.tapered_deci_cent()

            # -- books: REST and the WebSocket feed agree, with sub-cent levels on both sides
            await ws.wait_ready(TIMEOUT)
            feed = MarketDataFeed(ws)
            await feed.add_markets([market])
            await ws.list_subscriptions()
            rest = await sim.book(MARKET)
            book = feed.book(MARKET)
            assert book is not None and book.trusted and book.grid is PriceGrid.tapered_deci_cent()
            assert book.as_decimal_levels() == rest
            assert any(sub_cent(p) for p in rest["yes"]) and any(sub_cent(p) for p in rest["no"])
            best_bid, best_ask = book.best_bid_dollars("yes"), book.best_ask_dollars("yes")
            assert best_bid is not None and best_ask is not None and best_ask < D("0.10")
            # a client left on the default linear_cent grid could not even hold this book
            with pytest.raises(OffTickPriceError):
                BookStore().book(MARKET).apply_wire_snapshot(book.snapshot())
            for _ in range(3):  # sub-cent deltas keep flowing into the right levels
                await sim.advance(2)
                await ws.list_subscriptions()
                assert book.as_decimal_levels() == await sim.book(MARKET)
            assert feed.counters.deltas_applied > 0 and feed.counters.off_tick_errors == 0
            assert feed.counters.integrity_errors == 0

            # -- orders on the grid: a maker's ask strictly inside the spread, at a sub-cent price
            best_bid, best_ask = book.best_bid_dollars("yes"), book.best_ask_dollars("yes")
            assert best_bid is not None and best_ask is not None and best_ask - best_bid >= D("0.002")
            price = best_bid + D("0.001")
            assert sub_cent(price) and price < D("0.10")
            ask = CreateOrderRequest(
                ticker=MARKET, side="yes", action="sell", count_fp=D(10), price_dollars=price,
                client_order_id=uuid.uuid4().hex, post_only=True,
            )  # fmt: skip
            ask.check_against_market(market)  # on the grid
            ack = await maker.create_order(ask)
            assert ack.status == "resting" and ack.remaining_count_fp == D(10)
            await ws.list_subscriptions()
            assert book.best_ask_dollars("yes") == price and book.ask_size_lots("yes") == 1000
            assert (await sim.book(MARKET))["no"][D(1) - price] == D(10)

            # -- off the grid: refused by the client's pre-trade check and by the exchange
            for off in (price + D("0.0005"), D("0.5550"), D("0.9005"), D("0.0955")):
                bad = ask.model_copy(update={"price_dollars": off, "client_order_id": uuid.uuid4().hex})
                with pytest.raises(ValueError, match="tick"):
                    bad.check_against_market(market)
                with pytest.raises(KalshiError) as info:
                    await maker.create_order(bad)
                assert info.value.status == 400 and "tick grid" in str(info.value)
            # the same through the raw V1 API, as any other client would send it
            async with httpx.AsyncClient(base_url=sim.server.base_url) as raw:
                body = {"ticker": MARKET, "side": "yes", "action": "buy", "count": 1, "yes_price_dollars": "0.0955",
                        "client_order_id": uuid.uuid4().hex}  # fmt: skip
                path = f"{PREFIX}/portfolio/orders"
                key = load_pem_private_key(key_pair(1)[0], password=None)  # the key "taker" registered
                r = await raw.post(path, json=body, headers=sign_headers("taker", key, "POST", path))  # type: ignore[arg-type]
                assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_order"
                assert r.json()["error"]["details"] == "price is not on the market's tick grid"

            # -- a taker buys the 10 at the sub-cent price: fee as models.fees computes it, cash exact
            cash_before = (await taker.get_balance()).balance_cents
            buy = CreateOrderRequest(
                ticker=MARKET, side="yes", action="buy", count_fp=D(10), price_dollars=price,
                client_order_id=uuid.uuid4().hex, time_in_force="immediate_or_cancel",
            )  # fmt: skip
            filled = await taker.create_order(buy)
            assert filled.status == "executed" and filled.fill_count_fp == D(10)
            (fill,) = await taker.get_fills(ticker=MARKET)
            assert fill.is_taker and fill.yes_price_dollars == price and fill.count_fp == D(10)
            fee = single_fill_fee_dollars(D(10), price)
            assert fill.fee_cost_dollars == fee and fee > 0
            cash_after = (await taker.get_balance()).balance_cents
            assert D(cash_before - cash_after) / 100 == D(10) * price + fee
            (maker_fill,) = await maker.get_fills(ticker=MARKET)
            assert not maker_fill.is_taker and maker_fill.fee_cost_dollars == 0
            assert maker_fill.no_price_dollars == D(1) - price and sub_cent(maker_fill.no_price_dollars)
            await ws.list_subscriptions()
            assert book.as_decimal_levels() == await sim.book(MARKET)
            await feed.close()
